"""我想找老师聊聊: from the student entrance, without a session code, a student asks the counselor to talk.

The student names their school, student number and birth month (what the school already holds; no session code,
no entry code: asking for help must not need the counselor first). Limits are per student and per school, never per
client address (a classroom shares one address): wrong identities count per (school, typed number) and per school;
requests count per student. The answer is the same confirmation and the same support lines whatever the urgency,
so a classmate watching learns nothing. The request itself is app/care/help_requests.py.
"""
from __future__ import annotations

import hashlib
from typing import Any

from flask import Flask, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from app import form_tokens
from app.auth.throttle import make_rate_limiter
from app.care import help_requests
from app.care.help_views import URGENCY_LABELS
from app.db import db
from app.security import public
from app.vault import keyring
from models import Actor, School, Student
from models.vault import Vault

from .views import HELP_SCHOOL_KEY, bp, help_context

SENT_KEY = "help_sent"


def _actor() -> Actor:
    return Actor(None, "student-help", "student", request.remote_addr)


def _limits() -> tuple[Any, Any, Any]:
    ext = current_app.extensions
    return ext["xinmiao_help_identity_failures"], ext["xinmiao_help_school_failures"], ext["xinmiao_help_requests"]


def _number_key(school: School, number: str) -> str:
    return f"help:{school.id}:" + hashlib.sha256(number.encode("utf-8")).hexdigest()[:24]


def identify(vault: Vault, school: School, number: str, birth_month: str) -> Student | None:
    """The enrolled student of this school with this student number and birth month (YYYY-MM), or None."""
    bidxes = set(vault.blind_indexes("student_number", number or "-"))
    rows = db.session.scalars(select(Student).where(Student.school_id == school.id, Student.status == "enrolled",
                                                    Student.student_number_bidx.in_(bidxes))).all()
    for student in rows:
        if vault.matches(student, "student_number", number) and student.birth_ym == birth_month:
            return student
    return None


@bp.route("/help", methods=["GET", "POST"])
@public
def help_request() -> ResponseReturnValue:
    identity_failures, school_failures, requests_per_student = _limits()
    schools = db.session.scalars(select(School).order_by(School.name)).all()
    errors: dict[str, str] = {}
    form = {"school": request.form.get("school", ""), "student_number": (request.form.get("student_number") or "")
            .strip()[:40], "birth_month": (request.form.get("birth_month") or "").strip()[:7],
            "urgency": request.form.get("urgency", ""), "message": request.form.get("message") or ""}
    if request.method == "POST":
        school = next((s for s in schools if s.code == form["school"]), None)
        if school is None:
            errors["school"] = _("Choose your school.")
        if not form["student_number"]:
            errors["student_number"] = _("Enter your student number.")
        if len(form["birth_month"]) != 7:
            errors["birth_month"] = _("Enter your birth month, for example 2013-05.")
        if form["urgency"] not in URGENCY_LABELS:
            errors["urgency"] = _("Choose how urgent it feels.")
        if len(form["message"].strip()) > help_requests.MESSAGE_MAX:
            errors["message"] = _("Keep the message under %(n)s characters.", n=help_requests.MESSAGE_MAX)
        if not errors and school is not None:
            key = _number_key(school, form["student_number"])
            if identity_failures.is_locked(key) or school_failures.is_locked(f"help-school:{school.id}"):
                return render_template("student_entry/limited.html"), 429
            vault = Vault(db.session, keyring(), _actor())
            student = identify(vault, school, form["student_number"], form["birth_month"])
            if student is None:
                identity_failures.failure(key)
                school_failures.failure(f"help-school:{school.id}")
                errors["identity"] = _("The student number or birth month does not match. Check them, or ask any "
                                       "teacher to help you.")
            else:
                session[HELP_SCHOOL_KEY] = school.id
                # the same form sent twice (a double tap, a resend after a dropped connection): one request, the
                # same confirmation. A token spent elsewhere (the page reused by another student) is no reason
                # to lose a request: only the replay of this student's own form is skipped.
                spent = form_tokens.spend(db.session, request.form.get(form_tokens.FIELD), "student-help",
                                          f"student:{student.id}")
                if spent is not form_tokens.Spend.REPLAY and requests_per_student.hit(f"help-student:{student.id}"):
                    help_requests.raise_request(db.session, _actor(), vault, student, form["urgency"],
                                                form["message"])
                # over the limit the student still sees the same confirmation: the earlier request stands
                session[SENT_KEY] = True
                return redirect(url_for("student_entry.help_sent"))
    return render_template("student_entry/help.html", schools=schools, form=form, errors=errors,
                           urgencies=URGENCY_LABELS, message_max=help_requests.MESSAGE_MAX)


@bp.route("/help/sent")
@public
def help_sent() -> ResponseReturnValue:
    if not session.get(SENT_KEY):
        return redirect(url_for("student_entry.help_request"))
    return render_template("student_entry/help_sent.html", **help_context(session.get(HELP_SCHOOL_KEY)))


def init_help_limiters(app: Flask) -> None:
    cfg = app.config
    window = int(cfg.get("STUDENT_HELP_WINDOW_SECONDS", 600))
    ext = app.extensions
    ext.setdefault("xinmiao_help_identity_failures", cfg.get("STUDENT_HELP_IDENTITY_LIMITER") or make_rate_limiter(
        cfg, "help-identity", int(cfg.get("STUDENT_HELP_MAX_IDENTITY_FAILURES", 5)), window))
    ext.setdefault("xinmiao_help_school_failures", cfg.get("STUDENT_HELP_SCHOOL_LIMITER") or make_rate_limiter(
        cfg, "help-school", int(cfg.get("STUDENT_HELP_SCHOOL_MAX_FAILURES", 100)), window))
    ext.setdefault("xinmiao_help_requests", cfg.get("STUDENT_HELP_REQUESTS_LIMITER") or make_rate_limiter(
        cfg, "help-requests", int(cfg.get("STUDENT_HELP_MAX_REQUESTS", 3)),
        int(cfg.get("STUDENT_HELP_REQUESTS_WINDOW_SECONDS", 3600))))
