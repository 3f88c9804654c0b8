"""The notification list (/notifications) with mark read / mark all read, and the top bar's badge count.

A notification stores a kind, references and non-clinical params; its text is rendered here per locale, so
the stored row never carries clinical text and a language switch re-renders old notifications too.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from app.db import db
from app.security import ALL_ROLES, get_visible_or_404, roles, safe_next
from app.vault import get_vault
from models import Notification, Recheck, Student, Warning, utcnow

from . import groups as groups_mod

bp = Blueprint("notifications", __name__)


def unread_count(user: Any) -> int:
    """The badge: subjects with something unread (a crisis and its reminders count once)."""
    return groups_mod.unread_subjects(db.session, user)


@dataclass
class Shown:
    note: Notification
    text: str
    link: str | None
    link_label: str | None


def _params(note: Notification) -> dict[str, Any]:
    try:
        value = json.loads(note.params or "{}")
        return value if isinstance(value, dict) else {}
    except ValueError:
        return {}


def render_notification(note: Notification, students: dict[int, Student], rechecks: dict[int, Recheck]) -> Shown:
    """The text for the current locale, from kind and params only."""
    p = _params(note)
    student = students.get(note.student_id or 0)
    file_link = f"/students/{student.public_id}" if student is not None else None
    recheck = rechecks.get(note.recheck_id or 0)
    due = recheck.due_on.isoformat() if recheck is not None else "—"
    open_file = _("Open file")
    if note.kind == "crisis":
        return Shown(note, _("A level 1 warning needs your attention today."), file_link, open_file)
    if note.kind == "crisis_realert":
        return Shown(
            note,
            _("A level 1 warning is still not acknowledged."),
            file_link,
            open_file,
        )
    if note.kind == "crisis_unassigned":
        return Shown(
            note,
            _(
                "A level 1 warning arrived at %(school)s, which has no active counselor to receive it. "
                "Assign a counselor to this school now.",
                school=p.get("school", "—"),
            ),
            "/admin/users",
            _("Users"),
        )
    if note.kind == "recheck_due":
        return Shown(note, _("A recheck is due on %(date)s.", date=due), file_link, open_file)
    if note.kind == "recheck_overdue":
        return Shown(note, _("A recheck is overdue (it was due on %(date)s).", date=due), file_link, open_file)
    if note.kind == "recheck_escalated":
        return Shown(
            note,
            _("A recheck at your school is long overdue (it was due on %(date)s).", date=due),
            file_link,
            open_file,
        )
    if note.kind == "checkin_due":
        return Shown(
            note,
            _("%(count)s care-group students in your class have no check-in this term yet (the term ends on %(date)s).",
              count=p.get("count", 0), date=p.get("ends_on", "—")),
            "/care/groups", _("Check-ins"),
        )
    if note.kind == "help_urgent":
        return Shown(note, _("A student asked to talk to you urgently."), file_link, open_file)
    if note.kind == "help_realert":
        return Shown(note, _("An urgent request to talk is still not acknowledged."), file_link, open_file)
    if note.kind == "help_request":
        return Shown(note, _("A student asked to talk to you."), file_link, open_file)
    if note.kind == "observation":
        return Shown(note, _("A head teacher added an observation."), file_link, open_file)
    if note.kind == "digest":
        return Shown(
            note,
            _(
                "Weekly summary: %(overdue)s overdue rechecks, %(due)s due this week, "
                "%(crises)s level 1 warnings not acknowledged, %(unread)s unread notifications.",
                overdue=p.get("overdue", 0),
                due=p.get("due_this_week", 0),
                crises=p.get("crises", 0),
                unread=p.get("unread", 0),
            ),
            "/rechecks",
            _("Rechecks"),
        )
    if note.kind in ("access_proposed", "access_granted", "access_revoked"):
        where = p.get("school", "—") + (f" · {p['class']}" if p.get("class") else "")
        texts = {
            "access_proposed": _("Clinical access to %(where)s is proposed for %(user)s: approve or refuse it.",
                                 where=where, user=p.get("user", "—")),
            "access_granted": _("%(user)s now has clinical access to %(where)s.", where=where, user=p.get("user", "—")),
            "access_revoked": _("%(user)s no longer has clinical access to %(where)s.", where=where,
                                user=p.get("user", "—")),
        }
        return Shown(note, texts[note.kind], "/admin/access-grants", _("Access grants"))
    if note.kind == "emergency_access":
        text = _("%(user)s opened the file of a grade %(grade)s student of %(school)s under emergency access, "
                 "until %(until)s.", user=p.get("user", "—"), grade=p.get("grade", "—"), school=p.get("school", "—"),
                 until=p.get("until", "—"))
        if file_link:  # the school's own counselor: the student is theirs
            return Shown(note, text, file_link, open_file)
        return Shown(note, text, "/emergency/review", _("Emergency access review"))
    if note.kind == "retention_due":
        return Shown(note, _("%(count)s files of students who left are due for erasure: confirm or hold each one.",
                             count=p.get("count", 0)), "/retention", _("Retention review"))
    return Shown(note, _("Notification"), None, None)


@bp.route("")
@roles(*ALL_ROLES)
def index():
    show = "unread" if request.args.get("show") == "unread" else "all"
    page = request.args.get("page", "1")
    groups, pages = groups_mod.page_of_groups(
        db.session, current_user, unread_only=show == "unread", page=int(page) if page.isdigit() else 1
    )
    groups_mod.attach_students(db.session, current_user, get_vault(), groups)
    students = {g.student.id: g.student for g in groups if g.student is not None}
    recheck_ids = {g.latest.recheck_id for g in groups if g.latest.recheck_id}
    rechecks = (
        {r.id: r for r in db.session.scalars(select(Recheck).where(Recheck.id.in_(recheck_ids)))} if recheck_ids else {}
    )
    warning_ids = {g.latest.warning_id for g in groups if g.latest.warning_id}
    warnings = (
        {w.id: w for w in db.session.scalars(select(Warning).where(Warning.id.in_(warning_ids)))} if warning_ids else {}
    )
    shown = [(g, render_notification(g.latest, students, rechecks)) for g in groups]
    current = min(max(int(page) if page.isdigit() else 1, 1), pages)
    return render_template(
        "notifications/index.html", shown=shown, warnings=warnings, unread=unread_count(current_user), show=show,
        page=current, pages=pages,
    )


@bp.route("/<int:note_id>/read", methods=["POST"])
@roles(*ALL_ROLES)
def mark_read(note_id: int):
    note = get_visible_or_404(db.session, current_user, Notification, note_id)  # someone else's does not exist
    if note.read_at is None:
        note.read_at = utcnow()
    return redirect(url_for("notifications.index"))


@bp.route("/group/<key>/read", methods=["POST"])
@roles(*ALL_ROLES)
def mark_group_read(key: str):
    """Every notification of one subject (a crisis and its reminders, a recheck...), except crisis alerts whose
    warning nobody acknowledged yet."""
    groups_mod.mark_subject_read(db.session, current_user, key)
    return redirect(safe_next(request.form.get("next"), url_for("notifications.index")))


@bp.route("/read-all", methods=["POST"])
@roles(*ALL_ROLES)
def mark_all_read():
    """Everything except crisis alerts whose warning nobody acknowledged yet: those stay until handled."""
    n = groups_mod.mark_everything_read(db.session, current_user)
    flash(_("%(n)s notifications marked as read.", n=n), "success")
    return redirect(url_for("notifications.index"))
