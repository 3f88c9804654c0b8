"""Campaign and class-session pages (counselors): the campaigns, one campaign's progress per class, opt-outs, opening
a class session (code and QR code), following it live, closing it."""
from __future__ import annotations

import io
from datetime import timedelta

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select

from app.db import db
from app.security import current_actor, get_visible_or_404, roles
from app.ui import local_today
from app.vault import get_vault
from models import Campaign, ClassSession, SchoolClass, Student
from screening import list_instruments

from . import campaigns as campaign_service
from . import sessions as session_service
from .blueprint import STATUS_LABELS, bp, instrument_name
from .blueprint import my_schools as _my_schools
from .blueprint import user as _user
from .campaigns import (
    InstrumentRule,
    campaign_classes,
    class_progress,
    create_campaign,
    is_opted_out,
    self_instruments_for,
    set_opt_outs,
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
    return render_template("screenings/campaign_form.html", form=form, rule_rows=RULE_ROWS)


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
    opted = {s.id for s in students if is_opted_out(db.session, c.id, s.id)}
    return render_template(
        "screenings/opt_outs.html", campaign=c, klass=klass, students=students, names=names, opted=opted
    )


# -- class sessions ----------------------------------------------------------------------------------------------
@bp.route("/campaigns/<int:campaign_id>/classes/<int:class_id>/sessions", methods=["POST"])
@roles("counselor")
def open_session(campaign_id: int, class_id: int):
    c = _campaign_or_404(campaign_id)
    klass = _class_in_campaign(c, class_id)
    form = OpenSessionForm()
    minutes = form.minutes.data if form.validate() else DEFAULT_SESSION_MINUTES
    try:
        cs = session_service.open_session(
            db.session, current_actor(), c, klass, minutes=minutes or DEFAULT_SESSION_MINUTES, user=_user()
        )
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
    students = list(
        db.session.scalars(
            select(Student).where(Student.class_id == cs.class_id, Student.status == "enrolled").order_by(Student.id)
        )
    )
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
