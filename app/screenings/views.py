"""Campaigns, class sessions, paper entry, import, the interview queue and crisis acknowledgement (counselors)."""
from __future__ import annotations

import base64
import binascii
import io
import json
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from app.db import db
from app.security import current_actor, get_visible_or_404, roles
from app.texts import pick
from app.ui import local_today
from app.vault import get_vault
from models import Campaign, ClassSession, School, SchoolClass, Screening, Student, Warning
from screening import get_instrument, list_instruments

from app.care.service import CareError
from app.care.warning_lifecycle import acknowledge_crisis, interview_queue, warning_for

from . import campaigns as campaign_service, importer, sessions as session_service
from .campaigns import (
    InstrumentRule,
    campaign_classes,
    class_progress,
    create_campaign,
    is_opted_out,
    open_campaigns_for_school,
    self_instruments_for,
    set_opt_outs,
)
from .finding import find_students
from .recording import ScreeningError, answer_error_text, result_of, screenings_of
from .sessions import DEFAULT_SESSION_MINUTES, SESSION_GRACE, session_is_open, session_statuses
from .submission import DuplicateScreening, Submission, submit_screening
from .forms import RULE_ROWS, CampaignForm, ImportForm, OpenSessionForm

bp = Blueprint("screenings", __name__)

STATUS_LABELS = {
    "completed": _l("Finished"),
    "in_progress": _l("In progress"),
    "not_started": _l("Not started"),
    "opted_out": _l("Opted out"),
}


def loc(text: Any) -> str:
    """Pick the zh or en side of a {"zh": ..., "en": ...} text from the engine or the policy."""
    return pick(text)


def instrument_name(instrument_id: str) -> str:
    try:
        inst = get_instrument(instrument_id)
    except KeyError:
        return instrument_id
    return f"{inst.short_name}"


def _user():  # type: ignore[no-untyped-def]
    return current_user._get_current_object()


def _my_schools() -> list[School]:
    return list(_user().schools)


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
    choices = [("", _("— none —"))] + [(i.id, f"{i.short_name}{'' if i.audience == 'student' else ' · ' + _('parent report')}")
                                       for i in list_instruments()]
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
        form.name.data = _("Autumn mental-health screening") if form.term.data.endswith("-1") else _("Spring mental-health screening")
        form.starts_on.data = today
        form.ends_on.data = today + timedelta(days=30)
        form.schools.data = [s.id for s in _my_schools()]
        for i, (inst, lo, hi) in enumerate([("cesdc", 4, 6), ("phqa", 7, 9), ("gad7", 7, 9)], start=1):
            getattr(form, f"rule{i}_instrument").data = inst
            getattr(form, f"rule{i}_from").data = str(lo)
            getattr(form, f"rule{i}_to").data = str(hi)
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
            rules.append(InstrumentRule(inst, lo, hi))
        if not rules and not rule_error:
            form.rule1_instrument.errors.append(_("Choose at least one instrument."))
            rule_error = True
        if not rule_error:
            mine = {s.id: s for s in _my_schools()}
            schools = [mine[i] for i in form.schools.data if i in mine]
            campaign = create_campaign(
                db.session, current_actor(), name=form.name.data, term=form.term.data, starts_on=form.starts_on.data,
                ends_on=form.ends_on.data, schools=schools, rules=rules, guardian_notice=form.guardian_notice.data or None,
                guardian_notice_on=form.guardian_notice_on.data, created_by=_user(),
            )
            flash(_("Campaign created."), "success")
            return redirect(url_for("screenings.campaign", campaign_id=campaign.id))
    return render_template("screenings/campaign_form.html", form=form, rule_rows=RULE_ROWS)


def _campaign_or_404(campaign_id: int) -> Campaign:
    return get_visible_or_404(db.session, _user(), Campaign, campaign_id)


@bp.route("/campaigns/<int:campaign_id>")
@roles("counselor")
def campaign(campaign_id: int):
    c = _campaign_or_404(campaign_id)
    classes = campaign_classes(db.session, c, _user().school_ids)
    progress = class_progress(db.session, c, classes)
    totals = {k: sum(getattr(p, k) for p in progress) for k in ("assigned", "completed", "in_progress", "not_started", "opted_out")}
    sessions = list(db.session.scalars(select(ClassSession).where(ClassSession.campaign_id == c.id, ClassSession.visible_to(_user()))
                                       .order_by(ClassSession.opened_at.desc()).limit(30)))
    open_by_class = {}
    for cs in sessions:
        if session_is_open(cs) and cs.class_id not in open_by_class:
            open_by_class[cs.class_id] = cs
    return render_template("screenings/campaign.html", campaign=c, progress=progress, totals=totals, sessions=sessions,
                           open_by_class=open_by_class,
                           session_form=OpenSessionForm(), is_open=session_is_open, instrument_name=instrument_name,
                           self_instruments=self_instruments_for)


@bp.route("/campaigns/<int:campaign_id>/close", methods=["POST"])
@roles("counselor")
def close_campaign(campaign_id: int):
    c = _campaign_or_404(campaign_id)
    campaign_service.close_campaign(db.session, current_actor(), c)
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
    opted = {s.id for s in students if is_opted_out(db.session, c.id, s.id)}
    return render_template("screenings/opt_outs.html", campaign=c, klass=klass, students=students, names=names, opted=opted)


# -- class sessions ----------------------------------------------------------------------------------------------
@bp.route("/campaigns/<int:campaign_id>/classes/<int:class_id>/sessions", methods=["POST"])
@roles("counselor")
def open_session(campaign_id: int, class_id: int):
    c = _campaign_or_404(campaign_id)
    klass = _class_in_campaign(c, class_id)
    form = OpenSessionForm()
    minutes = form.minutes.data if form.validate() else DEFAULT_SESSION_MINUTES
    try:
        cs = session_service.open_session(db.session, current_actor(), c, klass, minutes=minutes or DEFAULT_SESSION_MINUTES,
                                  user=_user())
    except ScreeningError as exc:
        messages = {"closed": _("The campaign is closed."),
                    "instruments": _("No student-report instrument is assigned to this grade.")}
        flash(messages.get(exc.code, str(exc)), "error")
        return redirect(url_for("screenings.campaign", campaign_id=c.id))
    return redirect(url_for("screenings.session_page", session_id=cs.id))


def _session_or_404(session_id: int) -> ClassSession:
    return get_visible_or_404(db.session, _user(), ClassSession, session_id)


def _qr_svg(data: str) -> Markup:
    import qrcode
    import qrcode.image.svg

    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf)
    svg = buf.getvalue().decode("utf-8")
    if svg.startswith("<?xml"):
        svg = svg[svg.index("?>") + 2:]
    return Markup(svg)


def entrance_url(code: str) -> str:
    base = request.host_url.rstrip("/")  # the address the classroom already reaches this server by
    return f"{base}{url_for('student_entry.start', code=code)}"


@bp.route("/sessions/<int:session_id>")
@roles("counselor")
def session_page(session_id: int):
    cs = _session_or_404(session_id)
    info = session_statuses(db.session, cs)
    students = list(db.session.scalars(select(Student).where(Student.class_id == cs.class_id, Student.status == "enrolled")
                                       .order_by(Student.id)))
    names = get_vault().reveal_many(students, "roster.list", detail={"session": cs.id})
    by_id = {s.id: s for s in students}
    url = entrance_url(cs.code)
    return render_template(
        "screenings/session.html", cs=cs, info=info, students=by_id, names=names, url=url, qr=_qr_svg(url),
        open=session_is_open(cs), status_labels=STATUS_LABELS, instrument_name=instrument_name,
        instruments=self_instruments_for(cs.campaign, cs.school_class.grade),
        crisis_students={c["student"] for c in info["crises"] if not c["acknowledged"]},
    )


@bp.route("/sessions/<int:session_id>/status.json")
@roles("counselor")
def session_status(session_id: int):
    """Polled by the session page: statuses and crises by public id. No names, no scores."""
    cs = _session_or_404(session_id)
    info = session_statuses(db.session, cs)
    ids = [sp.student_id for sp in info["progress"].students]
    public = dict(db.session.execute(select(Student.id, Student.public_id).where(Student.id.in_(ids))).all()) if ids else {}
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


# -- counselor entry from paper ----------------------------------------------------------------------------------
@bp.route("/screenings/enter")
@roles("counselor")
def enter():
    q = (request.args.get("q") or "").strip()
    found: list[Student] = []
    names: dict[int, Any] = {}
    if q:
        found = find_students(db.session, get_vault(), q, _user().school_ids)
        if found:
            names = get_vault().reveal_many(found, "roster.search", detail={"purpose": "paper_entry"})
    return render_template("screenings/enter_search.html", q=q, found=found, names=names)


def _entry_student(public_id: str) -> Student:
    return get_visible_or_404(db.session, _user(), Student, public_id)


@bp.route("/screenings/enter/<public_id>", methods=["GET", "POST"])
@roles("counselor")
def enter_form(public_id: str):
    student = _entry_student(public_id)
    instruments = list(list_instruments())
    inst_id = request.values.get("instrument") or ""
    inst = next((i for i in instruments if i.id == inst_id), None)
    campaigns = open_campaigns_for_school(db.session, student.school_id)
    errors: dict[str, str] = {}
    answers: dict[int, str] = {}
    administered = request.values.get("administered_on") or local_today().isoformat()
    if request.method == "POST" and inst is not None:
        for item in inst.items:
            answers[item.number] = request.form.get(f"q{item.number}", "")
        from datetime import date

        try:
            administered_on = date.fromisoformat(administered)
            if administered_on > local_today():
                errors["administered_on"] = _("The date is in the future.")
        except ValueError:
            errors["administered_on"] = _("Enter a date as YYYY-MM-DD.")
        campaign = None
        cid = request.form.get("campaign") or ""
        if cid:
            campaign = next((c for c in campaigns if str(c.id) == cid), None)
            if campaign is None:
                errors["campaign"] = _("Choose one of the open campaigns.")
        values: list[Any] = []
        for item in inst.items:
            raw = answers[item.number]
            if raw == "":
                values.append(None)
                continue
            try:
                values.append(int(raw))
            except ValueError:
                errors[f"q{item.number}"] = _("Choose one of the answers.")
                values.append(None)
        if not errors:
            try:
                screening = submit_screening(db.session, current_actor(), get_vault(),
                                             Submission(student, inst.id, values, administered_on, campaign=campaign),
                                             mode="paper")
            except DuplicateScreening:
                errors["campaign"] = _("This instrument is already recorded for this student in this campaign.")
            except ScreeningError as exc:
                errors[f"q{exc.item}" if exc.item else "form"] = answer_error_text(exc)
            else:
                return redirect(url_for("screenings.result", uid=screening.uid))
        flash(_("Please correct the marked answers."), "error")
    reader = get_vault().reveal(student, "student.view", detail={"purpose": "paper_entry"})
    return render_template("screenings/enter_form.html", student=student, name=reader.name, number=reader.student_number,
                           instruments=instruments, inst=inst, answers=answers, errors=errors, administered=administered,
                           campaigns=campaigns, loc=loc)


@bp.route("/screenings/<uid>")
@roles("counselor")
def result(uid: str):
    screening = get_visible_or_404(db.session, _user(), Screening, uid)
    student = screening.student
    reader = get_vault().reveal(student, "screening.view", target=f"screening:{screening.uid}")
    warning = warning_for(db.session, screening)
    inst = get_instrument(screening.instrument_id)
    detail = result_of(screening)
    answers = reader.get_json(screening, "answers") or []
    return render_template("screenings/result.html", screening=screening, student=student, name=reader.name, inst=inst,
                           detail=detail, answers=answers, warning=warning, reasons=json.loads(warning.reasons) if warning else [],
                           loc=loc, mode_label=MODE_LABELS)


MODE_LABELS = {"self": _l("Self-completed in class"), "paper": _l("Entered from paper"), "import": _l("Imported")}


# -- import -------------------------------------------------------------------------------------------------------
def _import_form() -> ImportForm:
    form = ImportForm()
    open_campaigns = list(db.session.scalars(select(Campaign).where(Campaign.visible_to(_user()), Campaign.status == "open")
                                             .order_by(Campaign.starts_on.desc())))
    form.campaign.choices = [("", _("— none —"))] + [(str(c.id), f"{c.name}（{c.term}）") for c in open_campaigns]
    return form


def _school_filter():  # type: ignore[no-untyped-def]
    return Student.school_id.in_(_user().school_ids or [-1])


@bp.route("/screenings/import", methods=["GET", "POST"])
@roles("counselor")
def import_upload():
    form = _import_form()
    if form.validate_on_submit():
        data = form.file.data.read(importer.MAX_BYTES + 1)
        filename = form.file.data.filename or ""
        return _preview(data, filename, form.campaign.data or "", bool(form.partial.data))
    return render_template("screenings/import.html", form=form, max_mb=importer.MAX_BYTES // (1024 * 1024),
                           instruments=list_instruments())


def _campaign_choice(value: str) -> Campaign | None:
    if not value:
        return None
    try:
        cid = int(value)
    except ValueError:
        abort(400)
    c = get_visible_or_404(db.session, _user(), Campaign, cid)
    if c.status != "open":
        abort(400)
    return c


def _preview(data: bytes, filename: str, campaign_value: str, partial: bool):  # type: ignore[no-untyped-def]
    campaign = _campaign_choice(campaign_value)
    try:
        report = importer.run_import(db.session, current_actor(), get_vault(), data, filename=filename,
                                     school_filter=_school_filter(), campaign=campaign, dry_run=True)
    except importer.ImportFileError as exc:
        flash(str(exc), "error")
        return render_template("screenings/import.html", form=_import_form(), max_mb=importer.MAX_BYTES // (1024 * 1024),
                               instruments=list_instruments()), 400
    return render_template("screenings/import_preview.html", report=report, filename=filename, campaign=campaign,
                           partial=partial, payload=base64.b64encode(data).decode("ascii"),
                           instrument_name=instrument_name)


@bp.route("/screenings/import/template.csv")
@roles("counselor")
def import_template():
    """An empty CSV (UTF-8 with BOM, so Excel opens it in Chinese) with the columns of one instrument."""
    from flask import Response

    inst_id = request.args.get("instrument", "phqa")
    try:
        columns = importer.sample_rows(inst_id)
    except KeyError:
        abort(404)
    body = "\ufeff" + ",".join(columns) + "\r\n"
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=screenings-{inst_id}.csv"})


@bp.route("/screenings/import/confirm", methods=["POST"])
@roles("counselor")
def import_confirm():
    try:
        data = base64.b64decode(request.form.get("payload", ""), validate=True)
    except (binascii.Error, ValueError):
        abort(400)
    filename = request.form.get("filename", "")[:200]
    campaign = _campaign_choice(request.form.get("campaign", ""))
    partial = request.form.get("partial") == "1"
    try:
        report = importer.run_import(db.session, current_actor(), get_vault(), data, filename=filename,
                                     school_filter=_school_filter(), campaign=campaign, partial=partial)
    except importer.ImportFileError as exc:
        flash(str(exc), "error")
        return redirect(url_for("screenings.import_upload"))
    if report.errors and not partial:
        flash(_("Nothing was imported: %(n)s row(s) have errors.", n=len(report.bad_rows)), "error")
        return render_template("screenings/import_preview.html", report=report, filename=filename, campaign=campaign,
                               partial=partial, payload=request.form.get("payload", ""), instrument_name=instrument_name), 400
    flash(_("%(n)s screening(s) imported.", n=report.written), "success")
    return redirect(url_for("screenings.interviews"))


# -- the interview queue and crisis acknowledgement ----------------------------------------------------------------
@bp.route("/interviews")
@roles("counselor")
def interviews():
    rows = interview_queue(db.session, _user())
    students = [w.student for w in rows]
    names = get_vault().reveal_many(students, "roster.list", detail={"purpose": "interviews"}) if students else {}
    today = local_today()
    return render_template("screenings/interviews.html", rows=rows, names=names, today=today, loc=loc,
                           reasons={w.id: json.loads(w.reasons or "[]") for w in rows})


@bp.route("/interviews/<uid>/acknowledge", methods=["POST"])
@roles("counselor")
def acknowledge(uid: str):
    warning = get_visible_or_404(db.session, _user(), Warning, uid)
    try:
        acknowledge_crisis(db.session, current_actor(), warning, _user())
    except CareError:
        abort(400)
    flash(_("Crisis alert acknowledged. Contact the student today."), "success")
    nxt = request.form.get("next") or ""
    from app.security import safe_next

    return redirect(safe_next(nxt, url_for("screenings.interviews")))


# -- the student file section ------------------------------------------------------------------------------------
def file_section(student: Student, reader: Any, user: Any) -> Markup | None:
    if getattr(user, "role", None) != "counselor":
        return None
    from app.charts import line_chart

    rows = screenings_of(db.session, student)
    groups: dict[str, list[Screening]] = {}
    for s in rows:
        groups.setdefault(s.instrument_id, []).append(s)
    blocks = []
    for inst_id, items in groups.items():
        try:
            inst = get_instrument(inst_id)
        except KeyError:
            continue
        chart = None
        points = [(s.administered_on, s.total) for s in items if s.total is not None]
        if inst.total is not None and points:
            cutoffs = []
            for cond in inst.total.positive:
                if cond.stat == "score":
                    cutoffs.append((cond.threshold(inst.setting_defaults), _("positive ≥%(n)s", n=int(cond.threshold(inst.setting_defaults)))))
            for band in inst.total.bands:
                if band.severe:
                    cutoffs.append((band.min, _("severe ≥%(n)s", n=band.min)))
            chart = line_chart({inst.short_name: points}, cutoffs, title=_("%(name)s totals over time", name=inst.short_name),
                               y_label=_("Total"), y_min=inst.total.lo, y_max=inst.total.hi, width=600, height=240)
        blocks.append({"inst": inst, "screenings": list(reversed(items)), "chart": chart})
    return Markup(render_template("screenings/_file_section.html", blocks=blocks, loc=loc, mode_label=MODE_LABELS,
                                  student=student))


