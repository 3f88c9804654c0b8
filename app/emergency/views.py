"""Emergency access pages: the requester's search and request (counselors), the review list (admins and
district officers), and the admin's crisis-team switch. Thin: form -> app.emergency.service -> redirect."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from app import search_tokens
from app.audit.labels import action_label
from app.auth import service as auth_service
from app.auth.forms import EmptyForm
from app.db import db
from app.security import current_actor, recent_login_required, roles
from app.ui import format_datetime
from app.vault import get_vault
from models import User

from . import service
from .forms import REASON_LABELS, VERDICT_LABELS, CrisisTeamForm, RequestForm, SearchForm, VerdictForm

bp = Blueprint("emergency", __name__)


def _hours() -> int:
    return int(current_app.config.get("EMERGENCY_ACCESS_HOURS", service.DEFAULT_HOURS))


def _me() -> User:
    return current_user._get_current_object()


def file_section(student: Any, reader: Any, user: Any) -> Markup | None:
    """The student file's emergency part: for a reader under emergency access, until when and that every page is
    recorded; for the school's own counselors, the emergency accesses to this student (who, why, until when)."""
    grant = get_vault().emergency_grant(student)
    if grant is not None:
        return Markup(render_template("emergency/_file_banner.html", grant=grant))
    grants = service.grants_for_student(db.session, student)
    if not grants:
        return None
    return Markup(render_template("emergency/_file_section.html", grants=grants, reasons=REASON_LABELS))


@bp.route("/")
@roles("counselor")
def index():
    user = _me()
    allowed = service.may_request(db.session, user)
    query = search_tokens.recall(request.args.get("r")) if allowed else None
    matches = service.find_students(db.session, get_vault(), current_actor(), user, query) if query else None
    return render_template("emergency/index.html", form=SearchForm(), allowed=allowed, matches=matches,
                           grants=service.active_grants(db.session, user), hours=_hours(),
                           reasons=REASON_LABELS, now=service.utcnow())


@bp.route("/search", methods=["POST"])
@roles("counselor")
def search():
    form = SearchForm()
    if not form.validate_on_submit():
        flash(_("Type the student's full name or student number."), "error")
        return redirect(url_for("emergency.index"))
    # the name never goes into a URL: the query waits sealed in the session (app/search_tokens.py)
    return redirect(url_for("emergency.index", **search_tokens.result_args(request.form, ())))


@bp.route("/students/<public_id>", methods=["GET", "POST"])
@roles("counselor")
def request_access(public_id: str):
    user = _me()
    student = service.requestable_student(db.session, user, public_id)
    if student is None:
        abort(404)
    form = RequestForm()
    second_factor = auth_service.second_factor_due(user)
    form.answer.label.text = _("Code from your authenticator app") if second_factor else _("Your password")
    if form.validate_on_submit():
        try:
            grant = service.request_access(
                db.session, current_actor(), user, student, reason=form.reason.data,
                reason_text=form.reason_text.data, answer=form.answer.data, hours=_hours(),
            )
        except service.EmergencyError as exc:
            if exc.locked:
                auth_service.end_session(user, current_actor(), reason="logout_locked")
                flash(_("Too many failed attempts. This account is locked for a while; try again later."), "error")
                return redirect(url_for("auth.login"))
            getattr(form, exc.field or "answer").errors.append(str(exc))
        else:
            flash(_("Emergency access granted until %(until)s. The school's counselors, the administrators and "
                    "the district's reviewers have been told.", until=format_datetime(grant.expires_at)), "success")
            return redirect(url_for("roster.student", public_id=student.public_id))
    return render_template("emergency/request.html", form=form, student=student, hours=_hours(),
                           second_factor=second_factor)


@bp.route("/grants/<uid>/end", methods=["POST"])
@roles("counselor")
def end_access(uid: str):
    grant = service.own_grant(db.session, _me(), uid)
    if grant is None:
        abort(404)
    if EmptyForm().validate_on_submit() and service.end_access(db.session, current_actor(), grant):
        flash(_("Emergency access ended."), "success")
    return redirect(url_for("emergency.index"))


@bp.route("/review")
@roles("admin", "district")
def review():
    pending = request.args.get("show") == "pending"
    rows = service.review_rows(db.session, _me(), pending_only=pending)
    return render_template("emergency/review.html", rows=rows, pending=pending, form=VerdictForm(),
                           reasons=REASON_LABELS, verdicts=VERDICT_LABELS, action_label=action_label)


@bp.route("/review/<uid>", methods=["POST"])
@roles("admin", "district")
def record_verdict(uid: str):
    grant = service.reviewable_grant(db.session, _me(), uid)
    if grant is None:
        abort(404)
    form = VerdictForm()
    if form.validate_on_submit():
        try:
            service.record_verdict(db.session, current_actor(), _me(), grant, form.verdict.data, form.note.data)
        except service.EmergencyError as exc:
            flash(str(exc), "error")
        else:
            flash(_("Verdict recorded."), "success")
    else:
        flash(_("Choose a verdict."), "error")
    return redirect(url_for("emergency.review"))


@bp.route("/crisis-team/<int:user_id>", methods=["POST"])
@roles("admin")
@recent_login_required
def crisis_team(user_id: int):
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    form = CrisisTeamForm()
    if form.validate_on_submit():
        try:
            changed = service.set_crisis_team(db.session, current_actor(), user, bool(form.on.data))
        except service.EmergencyError as exc:
            flash(str(exc), "error")
        else:
            flash(_("Saved.") if changed else _("Nothing changed."), "success")
    return redirect(url_for("admin.edit_user", user_id=user.id))
