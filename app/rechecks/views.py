"""Recheck lists (/rechecks), the recheck part of the student file and the area's signal receivers."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template, request
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from app.db import db
from app.security import roles
from app.ui import local_today
from app.vault import get_vault
from models import School, Student, counselor_schools

from . import service

bp = Blueprint("rechecks", __name__, template_folder=None)


def check_policy(app: Flask) -> None:
    from .policy import load_recheck_policy

    load_recheck_policy()  # a broken policy file stops the app at start, with the field named, not at 3 a.m.


# -- receivers (flush only; they run inside the sender's transaction) ----------------------------------------
def on_level_confirmed(
    sender: Any, db: Any, actor: Any, warning: Any, case: Any = None, previous_level: Any = None, **_: Any
) -> None:
    service.schedule_recheck(db, warning, case.id if case is not None else None)


def on_screening_recorded(sender: Any, db: Any, actor: Any, screening: Any, warning: Any = None, **_: Any) -> None:
    service.complete_recheck(db, screening)


def on_case_closed(sender: Any, db: Any, actor: Any, case: Any, **_: Any) -> None:
    service.cancel_for_case(db, case.id)


# -- views ---------------------------------------------------------------------------------------------------
@bp.route("")
@roles("counselor")
def index():
    schools = list(
        db.session.scalars(
            select(School).join(counselor_schools, counselor_schools.c.school_id == School.id)
            .where(counselor_schools.c.user_id == current_user.id).order_by(School.name)
        )
    )
    school_id = request.args.get("school", type=int)
    if school_id is not None and school_id not in {s.id for s in schools}:
        school_id = None  # a school outside the counselor's scope is simply not a filter
    lists = service.recheck_lists(db.session, current_user, local_today(), school_id)
    rows = lists.overdue + lists.due_this_week + lists.recently_done
    students = list({r.student_id: r.student for r in rows}.values())
    names = get_vault().reveal_many(students, "rechecks.list", detail={"page": "rechecks"}) if students else {}
    return render_template(
        "rechecks/index.html", lists=lists, names=names, schools=schools, school_id=school_id,
        school_names={s.id: s.name for s in schools},
    )


def recheck_file_section(student: Student, reader: Any, user: Any) -> Markup | None:
    """The student file's recheck part: every recheck, due date, instrument, done on time or late."""
    from models import Recheck

    rows = list(
        db.session.scalars(
            select(Recheck).where(Recheck.student_id == student.id).order_by(Recheck.due_on.desc(), Recheck.id.desc())
        )
    )
    if not rows:
        return None
    return Markup(render_template("rechecks/_file_section.html", rechecks=rows, today=local_today()))
