"""Recheck lists (/rechecks), the recheck part of the student file and the area's signal receivers."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, render_template
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select

from app.db import db
from app.listing import Listing, ListSpec, scope_options
from app.roster.search import name_sort_key
from app.security import roles
from app.ui import instrument_name, local_today
from app.vault import get_vault
from models import School, Student, counselor_schools
from screening import RANK

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
RECHECK_LIST = ListSpec(sorts=("name", "school", "level", "instrument", "due"), default="due")


@bp.route("")
@roles("counselor")
def index():
    schools = list(
        db.session.scalars(
            select(School).join(counselor_schools, counselor_schools.c.school_id == School.id)
            .where(counselor_schools.c.user_id == current_user.id).order_by(School.name)
        )
    )
    listing = Listing.parse(RECHECK_LIST, scope_options(db.session, current_user))
    lists = service.recheck_lists(db.session, current_user, local_today(), listing.school_id)
    school_names = {s.id: s.name for s in schools}

    def kept(rows: list[Any]) -> list[Any]:
        return [r for r in rows if listing.keep(r.school_id, r.student.grade, r.student.class_id)]

    lists.overdue, lists.due_this_week, lists.recently_done = (
        kept(lists.overdue), kept(lists.due_this_week), kept(lists.recently_done))
    vault = get_vault()
    names: dict[int, Any] = {}
    everyone = lists.overdue + lists.due_this_week + lists.recently_done
    if listing.sort_key == "name" and everyone:  # names are sealed: the scope's are opened to sort (one event)
        students = list({r.student_id: r.student for r in everyone}.values())
        names = vault.reveal_many(students, "rechecks.list", detail={"page": "rechecks", "sort": "name"})
    keys = {
        "name": lambda r: name_sort_key(names[r.student_id].name),
        "school": lambda r: school_names.get(r.school_id),
        "level": lambda r: RANK.get(r.level, 9),
        "instrument": lambda r: instrument_name(r.instrument_id),
        "due": lambda r: (r.due_on, r.id),
    }
    pages = {
        "overdue": listing.page_of(listing.sort(lists.overdue, keys), "overdue_page"),
        "week": listing.page_of(listing.sort(lists.due_this_week, keys), "week_page"),
        "done": listing.page_of(listing.sort(lists.recently_done, keys), "done_page"),
    }
    shown = [r for p in pages.values() for r in p.rows]
    if listing.sort_key != "name" and shown:
        students = list({r.student_id: r.student for r in shown}.values())
        names = vault.reveal_many(students, "rechecks.list", detail={"page": "rechecks"})
    return render_template(
        "rechecks/index.html", lists=lists, pages=pages, listing=listing, names=names, schools=schools,
        school_id=listing.school_id, school_names=school_names,
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
