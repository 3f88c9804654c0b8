"""The care parts of the counselor's student file: warnings and their history (30), the case and its timeline
(40), care-group check-ins (60). Rendered with the file page's reader: no second audit event."""
from __future__ import annotations

from typing import Any

from flask import render_template
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.db import db
from app.texts import pick_list
from models import CareCase, CareCheckin, CaseEntry, Warning, WarningChange

from .service import closing_suggested


def warnings_section(student: Any, reader: Any, user: Any) -> Markup | None:
    if user.role != "counselor":
        return None
    warnings = db.session.scalars(
        select(Warning).options(selectinload(Warning.history).selectinload(WarningChange.by))
        .where(Warning.student_id == student.id).order_by(Warning.created_at.desc())
    ).all()
    rows = [(w, pick_list(w.reasons), [(c, reader.get(c, "reason")) for c in w.history]) for w in warnings]
    return Markup(render_template("care/_section_warnings.html", rows=rows, student=student))


def case_section(student: Any, reader: Any, user: Any) -> Markup | None:
    if user.role != "counselor":
        return None
    cases = db.session.scalars(
        select(CareCase).options(selectinload(CareCase.owner))
        .where(CareCase.student_id == student.id).order_by(CareCase.opened_at.desc())
    ).all()
    entries = db.session.scalars(
        select(CaseEntry).options(selectinload(CaseEntry.author)).where(CaseEntry.student_id == student.id)
        .order_by(CaseEntry.occurred_on.desc(), CaseEntry.created_at.desc())
    ).all()
    timeline = [
        {"entry": e, "note": reader.get(e, "note"), "destination": reader.get(e, "destination"),
         "feedback": reader.get(e, "feedback"), "told_whom": reader.get(e, "told_whom")}
        for e in entries
    ]
    plans = {c.id: reader.get_json(c, "plan") or {} for c in cases}
    unseen = any(e.seen_by_counselor_at is None for e in entries)
    suggest = {c.id: closing_suggested(db.session, c) for c in cases if c.status != "closed"}
    return Markup(render_template("care/_section_case.html", cases=cases, plans=plans, timeline=timeline,
                                  unseen=unseen, suggest=suggest, student=student))


def checkins_section(student: Any, reader: Any, user: Any) -> Markup | None:
    if user.role != "counselor":
        return None
    checkins = db.session.scalars(
        select(CareCheckin).where(CareCheckin.student_id == student.id).order_by(CareCheckin.occurred_on.desc())
    ).all()
    if not checkins and not student.care_groups:
        return None
    rows = [(c, reader.get(c, "note")) for c in checkins]
    return Markup(render_template("care/_section_checkins.html", rows=rows, student=student))
