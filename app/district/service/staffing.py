"""Counselors per school and students per full-time counselor (schools are not children: this table names them)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from models import User
from models.roster import counselor_schools

from ..suppression import cell_text
from .context import TWO_TYPES, SchoolInfo, district_schools
from .figures import Figures


@dataclass
class StaffingRow:
    school: SchoolInfo
    full_time: int
    part_time: int
    students_text: str
    per_counselor: str
    gap: bool


def staffing(db: Session, district_id: int | None, k: int,
             figures: Figures | None = None) -> tuple[list[StaffingRow], int]:
    """Counselors per school and students per full-time counselor; two-type schools with none are gaps.

    Student counts here are the school's enrolled students (在籍, `on_roll`); a count below k reads "<k" and the
    ratio over it is hidden, like everywhere else. With `figures` (the dashboard's protected figures of the
    latest term), a school in them shows exactly the dashboard's cell: a roll the dashboard hides to protect a
    small school beside it ("*") is hidden here too, or the two pages together would give the small one away.
    Returns the rows and the number of distinct full-time counselors.
    """
    schools = district_schools(db, district_id, with_enrolled=True)
    counts: dict[int, tuple[int, int]] = {}
    stmt = (
        select(counselor_schools.c.school_id,
               func.count(case((User.full_time.is_(True), User.id))),
               func.count(case((User.full_time.is_(False), User.id))))
        .join(User, User.id == counselor_schools.c.user_id)
        .where(User.role == "counselor", User.active.is_(True))
        .group_by(counselor_schools.c.school_id)
    )
    for sid, ft, pt in db.execute(stmt):
        counts[sid] = (int(ft), int(pt))
    total_ft = db.execute(
        select(func.count(distinct(User.id)))
        .join(counselor_schools, counselor_schools.c.user_id == User.id)
        .where(User.role == "counselor", User.active.is_(True), User.full_time.is_(True),
               counselor_schools.c.school_id.in_(list(schools) or [-1]))
    ).scalar_one()
    rows = []
    for school in schools.values():
        ft, pt = counts.get(school.id, (0, 0))
        n = school.enrolled_all
        hidden = 1 <= n < k
        text = cell_text(n, "primary" if hidden else "shown", k)
        if figures is not None and school.id in figures.scopes.all:
            cell = (frozenset([school.id]), None, None)
            text, hidden = figures.text("on_roll", cell), figures.value("on_roll", cell) is None
        ratio = "—" if hidden or ft == 0 else f"{n / ft:.0f}"
        rows.append(StaffingRow(school, ft, pt, text, ratio, school.type in TWO_TYPES and ft == 0))
    return rows, int(total_ft)

