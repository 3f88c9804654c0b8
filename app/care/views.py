"""Care pages: confirm a level, the case page, the worklist, the class care list, care groups, transfers."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from app import form_tokens
from app.care_groups import care_group_label
from app.db import db
from app.listing import Listing, scope_options
from app.security import current_actor, get_visible_or_404, recent_login_required, roles, safe_next
from app.texts import pick_list
from app.ui import local_today
from app.vault import get_vault
from models import CareCase, CaseEntry, Student, User, Warning, counselor_schools
from models.care import ASSESSMENT_QUESTIONS, SAFETY_PLAN_STEPS

from . import crisis, queries, referrals, service, warning_lifecycle
from .forms import (
    ANSWER_CHOICES,
    ASSESSMENT_OUTCOME_LABELS,
    ASSESSMENT_QUESTION_LABELS,
    CASE_STATUS_LABELS,
    CONSENT_HOW_LABELS,
    CRISIS_STEP_LABELS,
    ENTRY_KIND_LABELS,
    PACKET_SECTION_LABELS,
    REFERRAL_STATUS_LABELS,
    SAFETY_PLAN_STEP_LABELS,
    AssessmentForm,
    CheckinForm,
    CloseForm,
    ConfirmForm,
    ConsentForm,
    EntryForm,
    ObservationForm,
    PlanForm,
    ReferralForm,
    SafetyPlanForm,
    ServiceFeedbackForm,
)
from .policy import TIER_GUIDANCE, TIER_LABELS

bp = Blueprint("care", __name__, template_folder="../../templates")
WORKLIST_ROWS = 15  # rows per worklist section before "show all" (the most urgent first)


def init_templates(app) -> None:
    @app.context_processor
    def _care_labels():
        return {
            "entry_kind_labels": ENTRY_KIND_LABELS,
            "case_status_labels": CASE_STATUS_LABELS,
            "referral_status_labels": REFERRAL_STATUS_LABELS,
            "care_group_label": care_group_label,
            "crisis_step_labels": CRISIS_STEP_LABELS,
            "assessment_outcome_labels": ASSESSMENT_OUTCOME_LABELS,
            "assessment_question_labels": ASSESSMENT_QUESTION_LABELS,
            "answer_labels": dict(ANSWER_CHOICES),
            "safety_plan_step_labels": SAFETY_PLAN_STEP_LABELS,
            "consent_how_labels": CONSENT_HOW_LABELS,
            "packet_section_labels": PACKET_SECTION_LABELS,
        }


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def student_file_url(student: Student) -> str:
    return f"/students/{student.public_id}"


CRISIS_STEP_SHORT = {
    "assessment": _l("the safety assessment"),
    "guardian": _l("the guardian informed"),
    "emergency_referral": _l("the emergency referral"),
    "referral": _l("the referral"),
    "safety_plan": _l("the safety plan"),
}


def care_error_text(exc: service.CareError) -> str:
    """The user's text of a refusal; a level-1 case that may not move on names what is still to record."""
    if isinstance(exc, crisis.CrisisStepsMissing):
        sep = "、" if str(get_locale()).startswith("zh") else ", "
        steps = sep.join(str(CRISIS_STEP_SHORT[k]) for k in exc.missing)
        if exc.action == "closed":
            return _("This level-1 case cannot be closed yet. Still to record: %(steps)s.", steps=steps)
        return _("This level-1 warning cannot be lowered yet. Still to record: %(steps)s.", steps=steps)
    return _(str(exc))


# -- confirming a level ---------------------------------------------------------------------------------------
@bp.route("/warnings/<uid>/confirm", methods=["GET", "POST"])
@roles("counselor")
def confirm_warning(uid: str):
    warning: Warning = get_visible_or_404(db.session, current_user, Warning, uid)
    form = ConfirmForm()
    if request.method == "GET":
        form.level.data = warning.confirmed_level or warning.suggested_level
    closed = warning.status in ("dismissed", "superseded")
    if not closed and form.validate_on_submit():
        try:
            case = warning_lifecycle.confirm_level(
                db.session, current_actor(), get_vault(), warning, form.level.data, form.reason.data
            )
        except service.CareError as exc:
            form.reason.errors.append(care_error_text(exc))
        else:
            flash(_("Level saved."), "success")
            if case is not None:
                return redirect(url_for("care.case_page", uid=case.uid))
            return redirect(student_file_url(warning.student))
    reader = get_vault().reveal(warning.student, "warning.view", target=f"warning:{warning.uid}")
    history = [(c, reader.get(c, "reason")) for c in warning.history]
    response = crisis.response_for(db.session, warning, tz=_tz()) if crisis.is_level_one(warning) else None
    return render_template(
        "care/confirm.html", warning=warning, form=form, name=reader.name, history=history, closed=closed,
        reasons=pick_list(warning.reasons), student_file=student_file_url(warning.student), response=response,
    )


# -- the case page --------------------------------------------------------------------------------------------
def _render_case(case: CareCase, *, plan_form=None, entry_form=None, close_form=None, stale=False, status=200):
    vault = get_vault()
    reader = vault.reveal(case.student, "case.view", target=f"case:{case.uid}")
    plan = reader.get_json(case, "plan") or {}
    if plan_form is None:
        plan_form = PlanForm(formdata=None, data={**plan, "review_on": case.plan_review_on, "version": case.version,
                                                  "owner_id": case.owner_id or 0})
    plan_form.owner_id.choices = _owner_choices(case)
    entry_form = entry_form or EntryForm(formdata=None, data={"occurred_on": local_today()})
    close_form = close_form or CloseForm(formdata=None, data={"version": case.version})
    entries = db.session.scalars(
        select(CaseEntry).options(selectinload(CaseEntry.author)).where(CaseEntry.student_id == case.student_id)
        .order_by(CaseEntry.occurred_on.desc(), CaseEntry.created_at.desc())
    ).all()
    timeline = [_entry_view(e, reader) for e in entries]
    crisis_view = _crisis_view(case, reader)
    return render_template(
        "care/case.html", case=case, name=reader.name, plan=plan, plan_form=plan_form, entry_form=entry_form,
        crisis=crisis_view,
        close_form=close_form, timeline=timeline, stale=stale, referral_form=ReferralForm(formdata=None),
        close_suggested=service.closing_suggested(db.session, case),
        close_reason=reader.get(case, "close_reason") if case.status == "closed" else None,
        student_file=student_file_url(case.student),
    ), status


def _crisis_view(case: CareCase, reader) -> dict | None:
    """The crisis response of a level-1 case (or of a case whose warning was assessed): assessment, checklist."""
    if case.warning_id is None:
        return None
    warning = db.session.get_one(Warning, case.warning_id)
    response = crisis.response_for(db.session, warning, case, tz=_tz())
    if case.level != "L1" and response.assessment is None:
        return None
    assessment = response.assessment
    return {
        "warning": warning,
        "response": response,
        "answers": reader.get_json(assessment, "answers") if assessment else None,
        "reason": reader.get(assessment, "reason") if assessment else None,
        "form": AssessmentForm(formdata=None) if assessment is None else None,
        "questions": ASSESSMENT_QUESTIONS,
    }


def _owner_choices(case: CareCase) -> list[tuple[int, str]]:
    from app.notifications.service import counselors_of_school

    return [(0, _("Not assigned"))] + [(u.id, u.display_name) for u in counselors_of_school(db.session, case.school_id)]


def _entry_view(entry: CaseEntry, reader) -> dict:
    return {
        "entry": entry,
        "note": reader.get(entry, "note"),
        "destination": reader.get(entry, "destination"),
        "feedback": reader.get(entry, "feedback"),
        "told_whom": reader.get(entry, "told_whom"),
    }


@bp.route("/cases/<uid>")
@roles("counselor")
def case_page(uid: str):
    return _render_case(get_visible_or_404(db.session, current_user, CareCase, uid))


@bp.route("/cases/<uid>/plan", methods=["POST"])
@roles("counselor")
def save_plan(uid: str):
    case: CareCase = get_visible_or_404(db.session, current_user, CareCase, uid)
    form = PlanForm()
    if not form.validate_on_submit():
        return _render_case(case, plan_form=form)
    plan = {"goals": form.goals.data, "measures": form.measures.data, "responsibilities": form.responsibilities.data}
    owner_ids = {cid for cid, _label in _owner_choices(case) if cid}
    owner_id = form.owner_id.data if form.owner_id.data in owner_ids else None  # only a counselor of this school
    try:
        service.update_plan(db.session, current_actor(), get_vault(), case, plan, form.review_on.data,
                            expected_version=form.version.data, owner_id=owner_id)
    except (service.StaleCaseError, StaleDataError):
        return _stale(uid, plan_form=form)
    except service.CareError as exc:
        flash(_(str(exc)), "error")
        return _render_case(case, plan_form=form)
    flash(_("Plan saved."), "success")
    return redirect(url_for("care.case_page", uid=uid))


def _stale(uid: str, **forms):
    """Someone else saved the case meanwhile: keep their version, show this user's text back to re-apply."""
    db.session.rollback()
    case = get_visible_or_404(db.session, current_user, CareCase, uid)
    flash(
        _("Another counselor saved this case while you were editing. Your text is shown below and was NOT saved: "
          "check their changes, then save again."),
        "error",
    )
    return _render_case(case, stale=True, **forms)


@bp.route("/cases/<uid>/entries", methods=["POST"])
@roles("counselor")
def add_case_entry(uid: str):
    case: CareCase = get_visible_or_404(db.session, current_user, CareCase, uid)
    form = EntryForm()
    if form.validate_on_submit():
        if form_tokens.already_sent(db.session, request.form, "case-entry", f"user:{current_user.id}"):
            flash(_("This form was already sent; it was not carried out a second time."), "error")
            return redirect(url_for("care.case_page", uid=uid) + "#timeline")
        try:
            service.add_entry(
                db.session, current_actor(), get_vault(), case.student, form.kind.data, form.occurred_on.data,
                form.note.data, visibility=form.visibility.data, case=case, destination=form.destination.data,
                referral_status=form.referral_status.data, told_whom=form.told_whom.data,
                emergency=bool(form.emergency.data),
            )
        except service.CareError as exc:
            form.note.errors.append(_(str(exc)))
        else:
            flash(_("Entry added."), "success")
            return redirect(url_for("care.case_page", uid=uid) + "#timeline")
    return _render_case(case, entry_form=form)


@bp.route("/cases/<uid>/close", methods=["POST"])
@roles("counselor")
def close_case(uid: str):
    case: CareCase = get_visible_or_404(db.session, current_user, CareCase, uid)
    form = CloseForm()
    if form.validate_on_submit():
        try:
            service.close_case(db.session, current_actor(), get_vault(), case, form.reason.data,
                               expected_version=form.version.data)
        except (service.StaleCaseError, StaleDataError):
            return _stale(uid, close_form=form)
        except service.CareError as exc:
            form.reason.errors.append(care_error_text(exc))
        else:
            flash(_("Case closed."), "success")
            return redirect(url_for("care.case_page", uid=uid))
    return _render_case(case, close_form=form)


# -- the crisis response: safety assessment, safety plan ---------------------------------------------------------
@bp.route("/warnings/<uid>/assessment", methods=["GET", "POST"])
@roles("counselor")
def assessment(uid: str):
    warning: Warning = get_visible_or_404(db.session, current_user, Warning, uid)
    if not crisis.is_level_one(warning):
        abort(404)
    form = AssessmentForm()
    case = db.session.scalars(
        select(CareCase).where(CareCase.warning_id == warning.id, CareCase.status != "closed")
    ).first()
    if form.validate_on_submit():
        answers = {q: {"answer": getattr(form, q).data, "note": getattr(form, f"{q}_note").data}
                   for q in ASSESSMENT_QUESTIONS}
        try:
            crisis.record_assessment(db.session, current_actor(), get_vault(), warning, answers, form.outcome.data,
                                     form.reason.data)
        except service.CareError as exc:
            form.reason.errors.append(care_error_text(exc))
        else:
            flash(_("Safety assessment recorded. The next steps are listed below."), "success")
            if case is not None:
                return redirect(url_for("care.case_page", uid=case.uid) + "#crisis")
            return redirect(url_for("care.confirm_warning", uid=warning.uid))
    reader = get_vault().reveal(warning.student, "crisis.assessment_form", target=f"warning:{warning.uid}")
    return render_template("care/assessment.html", warning=warning, form=form, name=reader.name, case=case,
                           questions=ASSESSMENT_QUESTIONS, student_file=student_file_url(warning.student))


def _safety_plan_form(case: CareCase, reader) -> SafetyPlanForm:
    plan = crisis.plan_of(db.session, case)
    if plan is not None:
        data = {step: reader.get(plan, step) or "" for step in SAFETY_PLAN_STEPS}
        data["review_on"] = plan.review_on
    else:  # a new plan: the professionals step from the district's list, the review date a week on
        from app.support_resources import professionals_text

        data = {"professionals": professionals_text(str(get_locale())),
                "review_on": local_today() + timedelta(days=crisis.PLAN_REVIEW_DAYS)}
    return SafetyPlanForm(formdata=None, data=data)


@bp.route("/cases/<uid>/safety-plan", methods=["GET", "POST"])
@roles("counselor")
def safety_plan(uid: str):
    case: CareCase = get_visible_or_404(db.session, current_user, CareCase, uid)
    if request.method == "POST":
        form = SafetyPlanForm()
        if form.validate_on_submit():
            steps = {step: getattr(form, step).data for step in SAFETY_PLAN_STEPS}
            try:
                crisis.save_safety_plan(db.session, current_actor(), get_vault(), case, steps, form.review_on.data)
            except service.CareError as exc:
                flash(care_error_text(exc), "error")
            else:
                flash(_("Safety plan saved."), "success")
                return redirect(url_for("care.case_page", uid=case.uid) + "#crisis")
        reader = get_vault().reveal(case.student, "crisis.safety_plan_form", target=f"case:{case.uid}")
    else:
        reader = get_vault().reveal(case.student, "crisis.safety_plan_form", target=f"case:{case.uid}")
        form = _safety_plan_form(case, reader)
    return render_template("care/safety_plan.html", case=case, form=form, name=reader.name,
                           plan=crisis.plan_of(db.session, case), steps=SAFETY_PLAN_STEPS)


@bp.route("/cases/<uid>/safety-plan/print")
@roles("counselor")
def print_safety_plan(uid: str):
    case: CareCase = get_visible_or_404(db.session, current_user, CareCase, uid)
    plan = crisis.plan_of(db.session, case)
    if plan is None:
        abort(404)
    reader = get_vault().reveal(case.student, "crisis.safety_plan_printed", target=f"safety_plan:{plan.uid}")
    steps = [(step, reader.get(plan, step) or "") for step in SAFETY_PLAN_STEPS]
    return render_template("care/safety_plan_print.html", plan=plan, name=reader.name, steps=steps,
                           today=local_today())


@bp.route("/entries/<uid>/referral", methods=["POST"])
@roles("counselor")
def update_referral(uid: str):
    entry: CaseEntry = get_visible_or_404(db.session, current_user, CaseEntry, uid)
    form = ReferralForm()
    if not form.validate_on_submit():
        abort(400)
    student = db.session.get_one(Student, entry.student_id)
    try:
        service.update_referral(db.session, current_actor(), get_vault(), entry, student, form.status.data,
                                form.feedback.data)
    except service.CareError:
        abort(400)
    flash(_("Referral updated."), "success")
    if entry.case is not None:
        return redirect(url_for("care.case_page", uid=entry.case.uid) + "#timeline")
    return redirect(student_file_url(student))


@bp.route("/care/students/<public_id>/observations-seen", methods=["POST"])
@roles("counselor")
def observations_seen(public_id: str):
    student = get_visible_or_404(
        db.session, current_user, Student, public_id
    )  # CSRF is checked for every POST by CSRFProtect
    service.mark_observations_seen(db.session, current_actor(), student)
    return redirect(safe_next(request.form.get("back"), student_file_url(student)))


@bp.route("/care/referrals/<uid>/print")
@roles("counselor")
def print_referral(uid: str):
    entry: CaseEntry = get_visible_or_404(db.session, current_user, CaseEntry, uid)
    if entry.kind != "referral":
        abort(404)
    if not referrals.has_consent_record(entry):  # the same rule as the packet: consent (or its absence) first
        flash(_("Record the guardian's consent (or the reason without it) before the packet."), "error")
        return redirect(url_for("care.referral_page", uid=entry.uid) + "#consent")
    student = db.session.get_one(Student, entry.student_id)
    reader = get_vault().reveal(student, "referral.printed", target=f"entry:{entry.uid}")
    done: Sequence[CaseEntry] = []
    plan: dict[str, Any] = {}
    case = entry.case
    if case is not None:
        plan = reader.get_json(case, "plan") or {}
        done = db.session.scalars(
            select(CaseEntry)
            .where(
                CaseEntry.case_id == case.id,
                CaseEntry.id != entry.id,
                CaseEntry.kind.in_(("interview", "checkin", "parent_contact", "referral", "return")),
            )
            .order_by(CaseEntry.occurred_on)
        ).all()
    return render_template(
        "care/referral_print.html", entry=entry, student=student, identity=reader.identity,
        reason=reader.get(entry, "note"), destination=reader.get(entry, "destination"), plan=plan, done=done,
        today=local_today(),
    )


# -- referral packets and the service's feedback (app/care/referrals.py) ------------------------------------------
def _referral_of(uid: str) -> tuple[CaseEntry, Student]:
    entry: CaseEntry = get_visible_or_404(db.session, current_user, CaseEntry, uid)
    if entry.kind != "referral":
        abort(404)
    return entry, db.session.get_one(Student, entry.student_id)


def _render_referral(entry: CaseEntry, student: Student, *, consent_form=None, feedback_form=None):
    reader = get_vault().reveal(student, "referral.view", target=f"entry:{entry.uid}")
    consent = referrals.consent_view(reader, entry)
    consent_form = consent_form or ConsentForm(formdata=None, data={
        "how": entry.consent_how or (referrals.NO_CONSENT if consent else None),
        "by": consent["by"] if consent else "", "on": entry.consent_on or local_today(),
        "no_consent_reason": consent["no_consent_reason"] if consent else ""})
    feedback = referrals.service_feedback(reader, entry)
    feedback_form = feedback_form or ServiceFeedbackForm(formdata=None)
    return render_template(
        "care/referral.html", entry=entry, student=student, name=reader.name,
        destination=reader.get(entry, "destination"), reason=reader.get(entry, "note"), consent=consent,
        consent_form=consent_form, feedback=feedback, feedback_form=feedback_form,
        sections=referrals.PACKET_SECTIONS, case=entry.case, student_file=student_file_url(student),
    )


@bp.route("/care/referrals/<uid>")
@roles("counselor")
def referral_page(uid: str):
    entry, student = _referral_of(uid)
    return _render_referral(entry, student)


@bp.route("/care/referrals/<uid>/consent", methods=["POST"])
@roles("counselor")
def referral_consent(uid: str):
    entry, student = _referral_of(uid)
    form = ConsentForm()
    if form.validate_on_submit():
        try:
            referrals.record_consent(db.session, current_actor(), get_vault(), entry, student, how=form.how.data,
                                     by=form.by.data, on=form.on.data, no_consent_reason=form.no_consent_reason.data)
        except service.CareError as exc:
            form.how.errors = [*form.how.errors, _(str(exc))]
        else:
            flash(_("Consent recorded."), "success")
            return redirect(url_for("care.referral_page", uid=entry.uid))
    return _render_referral(entry, student, consent_form=form)


@bp.route("/care/referrals/<uid>/packet.pdf")
@roles("counselor")
@recent_login_required
def referral_packet(uid: str):
    """The referral packet of the ticked sections (`?section=reason&section=risk`), as a PDF. A read of the file,
    audited as `referral.packet` with the sections; refused until the consent (or the reason without it) is on
    record."""
    from app.reports import pdf_response, render_pdf

    entry, student = _referral_of(uid)
    chosen = referrals.chosen_sections(request.args.getlist("section"))
    try:
        packet = referrals.build_packet(db.session, get_vault(), entry, student, chosen, current_user)
    except service.CareError as exc:
        flash(_(str(exc)), "error")
        return redirect(url_for("care.referral_page", uid=entry.uid) + "#packet")
    pdf = render_pdf("care/referral_packet.html", title=_("Referral packet"), packet=packet)
    return pdf_response(pdf, f"referral-{entry.occurred_on.isoformat()}.pdf")


@bp.route("/care/referrals/<uid>/feedback", methods=["POST"])
@roles("counselor")
def referral_feedback(uid: str):
    entry, student = _referral_of(uid)
    form = ServiceFeedbackForm()
    if form.validate_on_submit():
        try:
            referrals.record_feedback(db.session, current_actor(), get_vault(), entry, student,
                                      impression=form.impression.data, advice=form.advice.data,
                                      next_appointment=form.next_appointment.data)
        except service.CareError as exc:
            form.impression.errors = [*form.impression.errors, _(str(exc))]
        else:
            flash(_("Feedback recorded."), "success")
            return redirect(url_for("care.referral_page", uid=entry.uid))
    return _render_referral(entry, student, feedback_form=form)


# -- counselor home -------------------------------------------------------------------------------------------
@bp.route("/care/worklist")
@roles("counselor")
def worklist():
    today = local_today()
    show = request.args.get("show")
    show = show if show in queries.SHORTENED else None  # ?show=overdue: that section in full, still one page
    work = queries.worklist(db.session, current_user, get_vault(), today, _tz(), str(get_locale()),
                            limit=WORKLIST_ROWS, show=show)
    return render_template("care/worklist.html", work=work, today=today, show=show)


# -- head teacher home ----------------------------------------------------------------------------------------
def _observation_form(everyone) -> ObservationForm:
    form = ObservationForm()
    form.student.choices = [("", _("Choose a student"))] + [(pid, f"{name} · {klass}") for pid, name, klass in everyone]
    if not form.occurred_on.data:
        form.occurred_on.data = local_today()
    return form


@bp.route("/care/class")
@roles("head_teacher")
def class_list():
    today = local_today()
    tiers, everyone = queries.class_care_list(db.session, current_user, get_vault(), today)
    form = _observation_form(everyone)
    from .help_views import URGENCY_LABELS

    return render_template("care/class_list.html", tiers=tiers, form=form, labels=TIER_LABELS,
                           guidance=TIER_GUIDANCE, today=today, counselors=_counselors_of(current_user),
                           help_urgencies=URGENCY_LABELS)


def _counselors_of(user: User) -> list[User]:
    """The active counselors of the schools of the head teacher's classes: whom "contact the counselor" means."""
    school_ids = {klass.school_id for klass in user.classes}
    if not school_ids:
        return []
    return list(db.session.scalars(
        select(User).join(counselor_schools, counselor_schools.c.user_id == User.id)
        .where(counselor_schools.c.school_id.in_(school_ids), User.role == "counselor", User.active.is_(True))
        .distinct().order_by(User.display_name)
    ))


@bp.route("/care/class/observations", methods=["POST"])
@roles("head_teacher")
def add_observation():
    form = ObservationForm()
    form.student.choices = []
    if not form.validate_on_submit():
        for field_errors in form.errors.values():
            for e in field_errors:
                flash(str(e), "error")
        return redirect(url_for("care.class_list"))
    student = get_visible_or_404(db.session, current_user, Student, form.student.data)
    if form_tokens.already_sent(db.session, request.form, "observation", f"user:{current_user.id}"):
        flash(_("This form was already sent; it was not carried out a second time."), "error")
        return redirect(url_for("care.class_list"))
    case = service.active_case(db.session, student.id)
    try:
        service.add_entry(db.session, current_actor(), get_vault(), student, form.kind.data, form.occurred_on.data,
                          form.note.data, visibility="shared", case=case)
    except service.CareError as exc:
        flash(_(str(exc)), "error")
        return redirect(url_for("care.class_list"))
    flash(_("Thank you. Your note has reached the counselor."), "success")
    back = request.form.get("back", "")
    if back == "student":
        return redirect(url_for("care.class_student", public_id=student.public_id))
    return redirect(url_for("care.class_list"))


@bp.route("/care/class/students/<public_id>")
@roles("head_teacher")
def class_student(public_id: str):
    student = get_visible_or_404(db.session, current_user, Student, public_id)
    reader = get_vault().reveal(student, "care.class_student")
    entries = db.session.scalars(
        select(CaseEntry).options(selectinload(CaseEntry.author))
        .where(CaseEntry.student_id == student.id, CaseEntry.visibility == "shared")
        .order_by(CaseEntry.occurred_on.desc(), CaseEntry.created_at.desc())
    ).all()
    shared = [(e, reader.get(e, "note")) for e in entries]
    case = service.active_case(db.session, student.id)
    tier = None
    from .policy import TIER_OF_LEVEL, triggering_groups

    if case is not None and case.level in TIER_OF_LEVEL:
        tier = TIER_OF_LEVEL[case.level]
    elif set(triggering_groups()) & set(student.care_groups):
        tier = "care"
    form = ObservationForm(formdata=None, data={"student": student.public_id, "occurred_on": local_today()})
    return render_template("care/class_student.html", student=student, name=reader.name, shared=shared, tier=tier,
                           labels=TIER_LABELS, guidance=TIER_GUIDANCE, form=form)


# -- care groups ----------------------------------------------------------------------------------------------
@bp.route("/care/groups")
@roles("counselor", "head_teacher")
def groups():
    from .policy import triggering_groups

    group = request.args.get("group") or None
    today = local_today()
    listing = Listing.parse(queries.ROSTER_LIST, scope_options(db.session, current_user))
    page = queries.care_roster(db.session, current_user, get_vault(), today, group, listing)
    return render_template("care/groups.html", page=page, rows=page.rows, listing=listing, group=group,
                           groups=triggering_groups(), today=today)


@bp.route("/care/groups/<public_id>/checkin", methods=["GET", "POST"])
@roles("counselor", "head_teacher")
def checkin(public_id: str):
    student = get_visible_or_404(db.session, current_user, Student, public_id)
    form = CheckinForm()
    if request.method == "GET":
        form.occurred_on.data = local_today()
    if form.validate_on_submit():
        service.record_checkin(db.session, current_actor(), get_vault(), student, form.occurred_on.data,
                               form.note.data, form.guardian_contacted.data)
        flash(_("Check-in recorded."), "success")
        return redirect(url_for("care.groups"))
    names = get_vault().reveal_many([student], "care.checkin_form", columns=("name",))
    return render_template("care/checkin.html", student=student, name=names[student.id].name, form=form)
