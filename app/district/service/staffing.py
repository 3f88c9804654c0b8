"""Counselors per school and students per full-time counselor (schools are not children: this table names them)."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from models import User
from models.roster import counselor_schools

from ..suppression import cell_text
from .context import TWO_TYPES, SchoolInfo, district_schools


@dataclass
class StaffingRow:
    school: SchoolInfo
    full_time: int
    part_time: int
    students_text: str
    per_counselor: str
    gap: bool


def staffing(db: Session, district_id: int | None, k: int) -> tuple[list[StaffingRow], int]:
    """Counselors per school and students per full-time counselor; two-type schools with none are gaps.

    Student counts here are the school's enrolled students; a count below k reads "<k" and the ratio over it
    is hidden, like everywhere else. Returns the rows and the number of distinct full-time counselors.
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
        small = 1 <= n < k
        text = cell_text(n, "primary" if small else "shown", k)
        ratio = "—" if small or ft == 0 else f"{n / ft:.0f}"
        rows.append(StaffingRow(school, ft, pt, text, ratio, school.type in TWO_TYPES and ft == 0))
    return rows, int(total_ft)

