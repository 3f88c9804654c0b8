"""Campaign and class-session pages (counselors): the campaigns, one campaign's progress per class, opt-outs, opening
a class session (code and QR code), following it live, closing it."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from app import form_tokens
from app.db import db
from app.listing import Listing, ScopeOptions, scope_options
from app.qr import qr_svg
from app.security import current_actor, get_visible_or_404, roles
from app.ui import local_today
from app.vault import get_vault, keyring
from models import Campaign, ClassSession, SchoolClass, Student, append_event, utcnow
from screening import list_instruments

from . import campaigns as campaign_service
from . import entry_codes
from . import sessions as session_service
from .blueprint import STATUS_LABELS, bp, instrument_name
from .blueprint import my_schools as _my_schools
from .blueprint import user as _user
from .campaigns import (
    InstrumentRule,
    campaign_classes,
    class_progress,
    create_campaign,
    grades_without_suicide_item,
    opted_out_ids,
    rule_refusal,
    self_instruments_for,
    set_opt_outs,
    suicide_item_instruments,
)
from .forms import RULE_ROWS, CampaignForm, OpenSessionForm
from .recording import ScreeningError
from .sessions import DEFAULT_SESSION_MINUTES, SESSION_GRACE, session_is_open, session_statuses


# -- campaigns -----------------------------------------------------------------------------------------------
@bp.route("/campaigns")
@roles("counselor")
def campaigns():
    rows = list(db.session.scalars(select(Campaign).where(Campaign.visible_to(_user()))
                                   .order_by(Campaign.starts_on.desc(), Campaign.id.desc())))
    return render_template("screenings/campaigns.html", campaigns=rows)


def _campaign_form() -> CampaignForm:
    form = CampaignForm()
    form.schools.choices = [(s.id, f"{s.name}（{s.code}）") for s in _my_schools()]
    choices = [("", _("— none —"))] + [
        (i.id, f"{i.short_name}{'' if i.audience == 'student' else ' · ' + _('parent report')}")
        for i in list_instruments()
    ]
    for i in range(1, RULE_ROWS + 1):
        getattr(form, f"rule{i}_instrument").choices = choices
    return form


@bp.route("/campaigns/new", methods=["GET", "POST"])
@roles("counselor")
def new_campaign():
    form = _campaign_form()
    if request.method == "GET":
        today = local_today()
        year = today.year if today.month >= 8 else today.year - 1
        form.term.data = f"{year}-{year + 1}-{1 if today.month >= 8 or today.month == 1 else 2}"
        form.name.data = (
            _("Autumn mental-health screening")
            if form.term.data.endswith("-1")
            else _("Spring mental-health screening")
        )
        form.starts_on.data = today
        form.ends_on.data = today + timedelta(days=30)
        form.schools.data = [s.id for s in _my_schools()]
        # ASQ beside the others from grade 4: the only suicide item a primary pupil may answer (issue 14)
        for i, (inst, lo, hi) in enumerate([("cesdc", 4, 6), ("phqa", 7, 9), ("gad7", 7, 9), ("asq", 4, 9)],
                                           start=1):
            getattr(form, f"rule{i}_instrument").data = inst
            getattr(form, f"rule{i}_from").data = str(lo)
            getattr(form, f"rule{i}_to").data = str(hi)
    missing_suicide: list[int] = []
    if form.validate_on_submit():
        rules = []
        rule_error = False
        for i in range(1, RULE_ROWS + 1):
            inst = getattr(form, f"rule{i}_instrument").data
            if not inst:
                continue
            lo, hi = int(getattr(form, f"rule{i}_from").data), int(getattr(form, f"rule{i}_to").data)
            if hi < lo:
                getattr(form, f"rule{i}_to").errors.append(_("The last grade is before the first."))
                rule_error = True
                continue
            refusal = rule_refusal(InstrumentRule(inst, lo, hi))
            if refusal is not None:
                getattr(form, f"rule{i}_instrument").errors.append(refusal)
                rule_error = True
                continue
            rules.append(InstrumentRule(inst, lo, hi))
        if not rules and not rule_error:
            form.rule1_instrument.errors.append(_("Choose at least one instrument."))
            rule_error = True
        if not rule_error:
            missing_suicide = grades_without_suicide_item(rules)
            if missing_suicide and not form.no_suicide_item_ok.data:
                rule_error = True  # shown as a warning above the rules; ticking the box creates it anyway
        if not rule_error and form_tokens.already_sent(db.session, request.form, "campaign-new",
                                                       f"user:{_user().id}"):
            flash(_("This form was already sent; it was not carried out a second time."), "error")
            return redirect(url_for("screenings.campaigns"))
        if not rule_error:
            mine = {s.id: s for s in _my_schools()}
            schools = [mine[i] for i in form.schools.data if i in mine]
            campaign = create_campaign(
                db.session,
                current_actor(),
                name=form.name.data,
                term=form.term.data,
                starts_on=form.starts_on.data,
                ends_on=form.ends_on.data,
                schools=schools,
                rules=rules,
                guardian_notice=form.guardian_notice.data or None,
                guardian_notice_on=form.guardian_notice_on.data,
                created_by=_user(),
            )
            flash(_("Campaign created."), "success")
            return redirect(url_for("screenings.campaign", campaign_id=campaign.id))
    suggestions = {g: suicide_item_instruments(g) for g in missing_suicide}
    return render_template("screenings/campaign_form.html", form=form, rule_rows=RULE_ROWS,
                           missing_suicide=missing_suicide, suggestions=suggestions)


def _campaign_or_404(campaign_id: int) -> Campaign:
    return get_visible_or_404(db.session, _user(), Campaign, campaign_id)


@bp.route("/campaigns/<int:campaign_id>")
@roles("counselor")
def campaign(campaign_id: int):
    c = _campaign_or_404(campaign_id)
    classes = campaign_classes(db.session, c, _user().school_ids)
    progress = class_progress(db.session, c, classes)
    totals = {
        k: sum(getattr(p, k) for p in progress)
        for k in ("assigned", "completed", "in_progress", "not_started", "opted_out")
    }
    sessions = list(
        db.session.scalars(
            select(ClassSession)
            .where(ClassSession.campaign_id == c.id, ClassSession.visible_to(_user()))
            .order_by(ClassSession.opened_at.desc())
            .limit(30)
        )
    )
    open_by_class = {}
    for cs in sessions:
        if session_is_open(cs) and cs.class_id not in open_by_class:
            open_by_class[cs.class_id] = cs
    return render_template("screenings/campaign.html", campaign=c, progress=progress, totals=totals, sessions=sessions,
                           open_by_class=open_by_class,
                           session_form=OpenSessionForm(), is_open=session_is_open, instrument_name=instrument_name,
                           may_close=campaign_service.covers_only_schools_of(c, _user()),
                           self_instruments=self_instruments_for)


@bp.route("/campaigns/<int:campaign_id>/close", methods=["POST"])
@roles("counselor")
def close_campaign(campaign_id: int):
    c = _campaign_or_404(campaign_id)
    try:
        campaign_service.close_campaign(db.session, current_actor(), c, user=_user())
    except campaign_service.CampaignScopeError:
        abort(403)
    flash(_("Campaign closed. Its sessions are closed too."), "success")
    return redirect(url_for("screenings.campaign", campaign_id=c.id))


def _class_in_campaign(c: Campaign, class_id: int) -> SchoolClass:
    klass = get_visible_or_404(db.session, _user(), SchoolClass, class_id)
    if klass.school_id not in {s.id for s in c.schools}:
        abort(404)
    return klass


@bp.route("/campaigns/<int:campaign_id>/classes/<int:class_id>/opt-outs", methods=["GET", "POST"])
@roles("counselor")
def opt_outs(campaign_id: int, class_id: int):
    c = _campaign_or_404(campaign_id)
    klass = _class_in_campaign(c, class_id)
    students = list(db.session.scalars(select(Student).where(Student.class_id == klass.id, Student.status == "enrolled")
                                       .order_by(Student.id)))
    if request.method == "POST":
        by_public = {s.public_id: s.id for s in students}
        chosen = [by_public[p] for p in request.form.getlist("opted_out") if p in by_public]
        added, removed = set_opt_outs(db.session, current_actor(), c, klass, chosen, _user())
        flash(_("Opt-outs saved: %(added)s added, %(removed)s removed.", added=added, removed=removed), "success")
        return redirect(url_for("screenings.campaign", campaign_id=c.id))
    names = get_vault().reveal_many(students, "roster.list", detail={"class": klass.id, "purpose": "opt_outs"})
    opted = opted_out_ids(db.session, c.id, [s.id for s in students])
    return render_template(
        "screenings/opt_outs.html", campaign=c, klass=klass, students=students, names=names, opted=opted
    )


@bp.route("/campaigns/<int:campaign_id>/opt-outs")
@roles("counselor")
def opt_out_list(campaign_id: int):
    """Every opted-out student of the campaign in the counselor's scope: paged, sorted, filtered by school, grade
    and class (app/listing.py); the filters offer the campaign's schools only. Changes are made per class."""
    c = _campaign_or_404(campaign_id)
    mine = scope_options(db.session, _user())
    covered = {s.id for s in c.schools}
    classes = [k for k in mine.classes if k.school_id in covered]
    options = ScopeOptions([s for s in mine.schools if s.id in covered], sorted({k.grade for k in classes}), classes)
    listing = Listing.parse(campaign_service.OPT_OUT_LIST, options)
    page = campaign_service.opt_out_list(db.session, get_vault(), _user(), c, listing)
    return render_template("screenings/opt_out_list.html", campaign=c, page=page, rows=page.rows, listing=listing)


# -- class sessions ----------------------------------------------------------------------------------------------
@bp.route("/campaigns/<int:campaign_id>/classes/<int:class_id>/sessions", methods=["POST"])
@roles("counselor")
def open_session(campaign_id: int, class_id: int):
    c = _campaign_or_404(campaign_id)
    klass = _class_in_campaign(c, class_id)
    if form_tokens.already_sent(db.session, request.form, "session-open", f"user:{_user().id}"):
        # a second click on "open a session": one session, one set of entry codes (the campaign page shows it)
        flash(_("This form was already sent; it was not carried out a second time."), "error")
        return redirect(url_for("screenings.campaign", campaign_id=c.id))
    form = OpenSessionForm()
    minutes = form.minutes.data if form.validate() else DEFAULT_SESSION_MINUTES
    try:
        cs = session_service.open_session(
            db.session, current_actor(), c, klass, minutes=minutes or DEFAULT_SESSION_MINUTES, user=_user(),
            keyring=keyring(),
        )
    except ScreeningError as exc:
        messages = {"closed": _("The campaign is closed."),
                    "instruments": _("No student-report instrument is assigned to this grade.")}
        flash(messages.get(exc.code, str(exc)), "error")
        return redirect(url_for("screenings.campaign", campaign_id=c.id))
    return redirect(url_for("screenings.session_page", session_id=cs.id))


def _session_or_404(session_id: int) -> ClassSession:
    return get_visible_or_404(db.session, _user(), ClassSession, session_id)


def entrance_url(code: str) -> str:
    base = request.host_url.rstrip("/")  # the address the classroom already reaches this server by
    return f"{base}{url_for('student_entry.start', code=code)}"


@bp.route("/sessions/<int:session_id>")
@roles("counselor")
def session_page(session_id: int):
    cs = _session_or_404(session_id)
    info = session_statuses(db.session, cs)
    students = list(
        db.session.scalars(
            select(Student).where(Student.class_id == cs.class_id, Student.status == "enrolled").order_by(Student.id)
        )
    )
    names = get_vault().reveal_many(students, "roster.list", detail={"session": cs.id})
    by_id = {s.id: s for s in students}
    url = entrance_url(cs.code)
    return render_template(
        "screenings/session.html", cs=cs, info=info, students=by_id, names=names, url=url, qr=qr_svg(url),
        open=session_is_open(cs), status_labels=STATUS_LABELS, instrument_name=instrument_name,
        instruments=self_instruments_for(cs.campaign, cs.school_class.grade),
        crisis_students={c["student"] for c in info["crises"] if not c["acknowledged"]},
        codes=entry_codes.codes_of(db.session, keyring(), cs), now=utcnow(),
        entrance_capped=current_app.extensions["xinmiao_student_session_failures"].is_locked(f"session:{cs.id}"),
    )


def _display_data(cs: ClassSession) -> dict[str, object]:
    """What the projected screen may show: the code, time left and three counts. No names, no levels, no crises
    (a crisis must not change anything a class can see)."""
    p = session_statuses(db.session, cs)["progress"]
    left = max(0, int((cs.expires_at - utcnow()).total_seconds())) if session_is_open(cs) else 0
    return {
        "open": session_is_open(cs),
        "polling": session_is_open(cs, grace=SESSION_GRACE),
        "seconds_left": left,
        "counts": {"completed": p.completed, "in_progress": p.in_progress, "not_started": p.not_started},
    }


@bp.route("/sessions/<int:session_id>/display")
@roles("counselor")
def session_display(session_id: int):
    """The 投屏 view for the classroom projector: large code, QR code, time left, counts only."""
    cs = _session_or_404(session_id)
    url = entrance_url(cs.code)
    return render_template("screenings/session_display.html", cs=cs, url=url, qr=qr_svg(url),
                           data=_display_data(cs))


@bp.route("/sessions/<int:session_id>/display.json")
@roles("counselor")
def session_display_status(session_id: int):
    """Polled by the display view: counts and time left only, never a student, a level or a crisis."""
    return jsonify(_display_data(_session_or_404(session_id)))


@bp.route("/sessions/<int:session_id>/slips")
@roles("counselor")
def session_slips(session_id: int):
    """One small slip per student (name, class, personal entry code) to print and cut, for this session only."""
    cs = _session_or_404(session_id)
    students = list(
        db.session.scalars(
            select(Student).where(Student.class_id == cs.class_id, Student.status == "enrolled").order_by(Student.id)
        )
    )
    names = get_vault().reveal_many(students, "session.slips", detail={"session": cs.id})
    codes = entry_codes.codes_of(db.session, keyring(), cs)
    slips = [(names[s.id].name, codes[s.id].code) for s in students if s.id in codes]  # in roster order
    return render_template("screenings/slips.html", cs=cs, slips=slips, url=entrance_url(cs.code),
                           missing=sum(1 for s in students if s.id not in codes))


def _session_student_or_404(cs: ClassSession, public_id: str) -> Student:
    student = get_visible_or_404(db.session, _user(), Student, public_id)
    if student.class_id != cs.class_id:
        abort(404)
    return student


@bp.route("/sessions/<int:session_id>/students/<public_id>/entry-code", methods=["POST"])
@roles("counselor")
def renew_entry_code(session_id: int, public_id: str):
    cs = _session_or_404(session_id)
    student = _session_student_or_404(cs, public_id)
    entry_codes.renew_code(db.session, keyring(), current_actor(), cs, student)
    flash(_("A new entry code was made; the old one no longer works."), "success")
    return redirect(url_for("screenings.session_page", session_id=cs.id))


@bp.route("/sessions/<int:session_id>/students/<public_id>/unlock", methods=["POST"])
@roles("counselor")
def unlock_entry(session_id: int, public_id: str):
    cs = _session_or_404(session_id)
    student = _session_student_or_404(cs, public_id)
    entry_codes.unlock(db.session, current_actor(), cs, student)
    flash(_("Unlocked: the student can enter their code again."), "success")
    return redirect(url_for("screenings.session_page", session_id=cs.id))


@bp.route("/sessions/<int:session_id>/reopen-entrance", methods=["POST"])
@roles("counselor")
def reopen_entrance(session_id: int):
    """Lift the session's cap on wrong identities (too many wrong entry codes in this session)."""
    cs = _session_or_404(session_id)
    current_app.extensions["xinmiao_student_session_failures"].reset(f"session:{cs.id}")
    append_event(db.session, current_actor(), "session.entrance_reopened", target=f"session:{cs.id}")
    flash(_("The student entrance of this session accepts codes again."), "success")
    return redirect(url_for("screenings.session_page", session_id=cs.id))


@bp.route("/sessions/<int:session_id>/status.json")
@roles("counselor")
def session_status(session_id: int):
    """Polled by the session page: statuses and crises by public id. No names, no scores."""
    cs = _session_or_404(session_id)
    info = session_statuses(db.session, cs)
    ids = [sp.student_id for sp in info["progress"].students]
    public = (
        dict(db.session.execute(select(Student.id, Student.public_id).where(Student.id.in_(ids))).tuples().all())
        if ids
        else {}
    )
    p = info["progress"]
    return jsonify({
        "open": session_is_open(cs),
        # students already in may submit for a while after the code ends; after that the page stops polling (so an
        # unattended page does not keep the counselor's session alive for ever)
        "polling": session_is_open(cs, grace=SESSION_GRACE),
        "counts": {"assigned": p.assigned, "completed": p.completed, "in_progress": p.in_progress,
                   "not_started": p.not_started, "opted_out": p.opted_out},
        "students": {public[sp.student_id]: sp.status for sp in p.students},
        "labels": {k: str(v) for k, v in STATUS_LABELS.items()},
        "crises": [{"warning": c["warning"], "student": public.get(c["student"]), "acknowledged": c["acknowledged"],
                    "ack_url": url_for("screenings.acknowledge", uid=c["warning"])} for c in info["crises"]],
    })


@bp.route("/sessions/<int:session_id>/close", methods=["POST"])
@roles("counselor")
def close_session(session_id: int):
    cs = _session_or_404(session_id)
    session_service.close_session(db.session, current_actor(), cs)
    flash(_("Session closed: the code no longer works."), "success")
    return redirect(url_for("screenings.session_page", session_id=cs.id))
