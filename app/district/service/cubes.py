"""The aggregate queries: every measure as a fine cube, counts per (school, grade, gender).

Screening figures follow the screenings of the selected campaigns (warnings, cases, rechecks and referrals are
those that came from them). Care-group measures are per triggering care group of the app's warning policy
(app/care_groups.py). Every statement counts over columns in clear: no identity or clinical column is read.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from app.care_groups import triggering_groups
from models import Student, clock
from models.care import CareCase, CaseEntry, SafetyAssessment, SafetyPlan
from models.rechecks import Recheck
from models.roster import StudentCareGroup
from models.screenings import Screening, Warning

from .context import WARNING_LEVELS, Context

Cube = dict[tuple[int, int, str], int]  # (school_id, grade, gender) -> count


def _local_date(db: Session, column: Any, tz_name: str) -> Any:
    """The calendar date of a UTC timestamp in the school time zone, computed by the database."""
    dialect = db.get_bind().dialect.name
    if dialect == "postgresql":
        return func.date(func.timezone(tz_name, column))
    offset = clock.local_now(tz_name).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset else 0
    return func.date(column, f"{minutes:+d} minutes")


def _cube(rows: Iterable[Any], n_measures: int) -> list[Cube]:
    cubes: list[Cube] = [dict() for _ in range(n_measures)]
    for row in rows:
        key = (row[0], row[1], row[2])
        for i in range(n_measures):
            value = row[3 + i] or 0
            if value:
                cubes[i][key] = cubes[i].get(key, 0) + int(value)
    return cubes


def enrolled_by_school(db: Session, school_ids: Iterable[int]) -> Cube:
    """Enrolled students per (school, grade, gender): the current roster, the same for every term."""
    ids = list(school_ids)
    if not ids:
        return {}
    return {
        (sid, grade, gender): int(n)
        for sid, grade, gender, n in db.execute(
            select(Student.school_id, Student.grade, Student.gender, func.count(Student.id))
            .where(Student.status == "enrolled", Student.school_id.in_(ids))
            .group_by(Student.school_id, Student.grade, Student.gender)
        )
    }


def eligible_enrolled(ctx: Context, enrolled: Cube) -> Cube:
    """Students enrolled in the grades the selected campaigns screen, in their schools."""
    return {key: n for key, n in enrolled.items() if key[1] in ctx.eligible.get(key[0], ())}


def roll_cubes(ctx: Context, enrolled: Cube) -> dict[str, Cube]:
    """在籍 (`on_roll`: every grade of the schools in play) and 应测 (`eligible`: the grades the campaigns target)."""
    return {"on_roll": {key: n for key, n in enrolled.items() if key[0] in ctx.eligible},
            "eligible": eligible_enrolled(ctx, enrolled)}


def query_cubes(db: Session, ctx: Context, today: date, tz_name: str, enrolled: Cube | None = None) -> dict[str, Cube]:
    """Every measure as a fine cube (school, grade, gender) -> count. Aggregate queries only."""
    if enrolled is None:
        enrolled = enrolled_by_school(db, ctx.school_ids)
    cubes: dict[str, Cube] = roll_cubes(ctx, enrolled)
    cubes.update(screening_cubes(db, ctx, today, tz_name))
    return cubes


def screening_cubes(db: Session, ctx: Context, today: date, tz_name: str) -> dict[str, Cube]:
    """The measures that follow the screenings of the selected campaigns (what the rollups keep)."""
    cubes: dict[str, Cube] = {}
    if not ctx.campaign_ids:
        return cubes
    in_campaigns = and_(Screening.campaign_id.in_(ctx.campaign_ids), Screening.valid.is_(True))

    # Students screened and positive, overall, care-group students vs others, and per care group. One row per
    # student first (inner GROUP BY), so each student counts once and the groups partition the students.
    def flag(condition: Any) -> Any:
        return func.max(case((condition, 1), else_=0))

    care_groups = triggering_groups()  # the app's policy: the groups that raise a level, in file order

    flags = (
        select(
            StudentCareGroup.student_id.label("sid"),
            flag(StudentCareGroup.group.in_(care_groups)).label("any_care"),
            *[flag(StudentCareGroup.group == g).label(f"cg_{g}") for g in care_groups],
        )
        .group_by(StudentCareGroup.student_id)
        .subquery("care_flags")
    )
    per = (
        select(Screening.student_id.label("sid"), func.min(Screening.school_id).label("school_id"),
               func.min(Screening.grade).label("grade"), flag(Screening.positive.is_(True)).label("pos"))
        .where(in_campaigns)
        .group_by(Screening.student_id)
        .subquery("per_student")
    )
    care_any = func.coalesce(flags.c.any_care, 0)
    columns = [func.count(), func.sum(per.c.pos), func.sum(care_any), func.sum(care_any * per.c.pos),
               func.sum(1 - care_any), func.sum((1 - care_any) * per.c.pos)]
    names = ["screened", "positive", "screened_care", "positive_care", "screened_other", "positive_other"]
    for g in care_groups:
        member = func.coalesce(flags.c[f"cg_{g}"], 0)
        columns += [func.sum(member), func.sum(member * per.c.pos)]
        names += [f"screened_{g}", f"positive_{g}"]
    stmt = (
        select(per.c.school_id, per.c.grade, Student.gender, *columns)
        .select_from(per)
        .join(Student, Student.id == per.c.sid)
        .outerjoin(flags, flags.c.sid == per.c.sid)
        .group_by(per.c.school_id, per.c.grade, Student.gender)
    )
    cubes.update(zip(names, _cube(db.execute(stmt), len(names)), strict=True))

    # Screens and positive screens per instrument.
    per_instrument: dict[str, tuple[Cube, Cube]] = defaultdict(lambda: ({}, {}))
    stmt = (
        select(Screening.instrument_id, Screening.school_id, Screening.grade, Student.gender, func.count(Screening.id),
               func.count(case((Screening.positive.is_(True), Screening.id))))
        .join(Student, Student.id == Screening.student_id)
        .where(in_campaigns)
        .group_by(Screening.instrument_id, Screening.school_id, Screening.grade, Student.gender)
    )
    for instrument, sid, grade, gender, n, pos in db.execute(stmt):
        screens, positives = per_instrument[instrument]
        screens[(sid, grade, gender)] = int(n)
        if pos:
            positives[(sid, grade, gender)] = int(pos)
    for instrument in sorted(set(per_instrument) | set(ctx.instruments)):
        screens, positives = per_instrument.get(instrument, ({}, {}))
        cubes[f"screens:{instrument}"] = screens
        cubes[f"positives:{instrument}"] = positives

    # Warnings by confirmed level, crisis timeliness, interviews within the policy window.
    contact = func.coalesce(Warning.first_contact_at, Warning.acknowledged_at)
    crisis = and_(Warning.status != "superseded", or_(Warning.suggested_level == "L1", Warning.confirmed_level == "L1"))
    confirmed_day = _local_date(db, Warning.confirmed_at, tz_name)
    w_cols = [
        func.count(case((crisis, Warning.id))),
        func.count(case((and_(crisis, contact.is_not(None),
                              _local_date(db, contact, tz_name) == _local_date(db, Warning.created_at, tz_name)),
                         Warning.id))),
        func.count(case((and_(Warning.status != "superseded", Warning.interview_due_on.is_not(None),
                              or_(Warning.confirmed_at.is_not(None), Warning.interview_due_on < today)), Warning.id))),
        func.count(case((and_(Warning.status != "superseded", Warning.interview_due_on.is_not(None),
                              Warning.confirmed_at.is_not(None), confirmed_day <= Warning.interview_due_on),
                         Warning.id))),
    ]
    # The crisis response (app/care/crisis.py): level-1 warnings with a safety assessment recorded on the warning's
    # own day (school time zone), and with a safety plan. Only the link, the outcome's time and the warning ids are
    # read: answers, reasons and plan steps are sealed and never touched here.
    assessed_same_day = exists().where(
        SafetyAssessment.warning_id == Warning.id,
        _local_date(db, SafetyAssessment.assessed_at, tz_name) == _local_date(db, Warning.created_at, tz_name),
    )
    has_safety_plan = exists().where(SafetyPlan.warning_id == Warning.id)
    w_cols += [
        func.count(case((and_(crisis, assessed_same_day), Warning.id))),
        func.count(case((and_(crisis, has_safety_plan), Warning.id))),
    ]
    w_names = [
        "crisis",
        "crisis_same_day",
        "interview_due",
        "interview_on_time",
        "crisis_assessed_same_day",
        "crisis_safety_plan",
    ]
    stmt = (
        select(Screening.school_id, Screening.grade, Student.gender, *w_cols)
        .select_from(Warning)
        .join(Screening, Screening.id == Warning.screening_id)
        .join(Student, Student.id == Warning.student_id)
        .where(in_campaigns)
        .group_by(Screening.school_id, Screening.grade, Student.gender)
    )
    cubes.update(zip(w_names, _cube(db.execute(stmt), len(w_names)), strict=True))

    cubes.update(_students_by_level(db, in_campaigns))

    # Rechecks that came from those warnings: due (done or late) and done on time.
    stmt = (
        select(Screening.school_id, Screening.grade, Student.gender,
               func.count(case((or_(Recheck.on_time.is_not(None), Recheck.status.in_(("overdue", "escalated", "done"))),
                               Recheck.id))),
               func.count(case((Recheck.on_time.is_(True), Recheck.id))))
        .select_from(Recheck)
        .join(Warning, Warning.id == Recheck.warning_id)
        .join(Screening, Screening.id == Warning.screening_id)
        .join(Student, Student.id == Recheck.student_id)
        .where(in_campaigns, Recheck.status != "cancelled")
        .group_by(Screening.school_id, Screening.grade, Student.gender)
    )
    cubes.update(zip(["recheck_due", "recheck_on_time"], _cube(db.execute(stmt), 2), strict=True))

    # Cases from those warnings: still open, and referred (a referral entry on the case); the open ones by status
    # (open + following + referred = still open: the school page shows them, linked to the open total).
    referred = (
        select(CaseEntry.case_id).where(CaseEntry.kind == "referral").group_by(CaseEntry.case_id).subquery("referred")
    )
    stmt = (
        select(Screening.school_id, Screening.grade, Student.gender,
               func.count(case((CareCase.status != "closed", CareCase.id))),
               func.count(case((referred.c.case_id.is_not(None), CareCase.id))),
               *[func.count(case((CareCase.status == s, CareCase.id))) for s in ("open", "following", "referred")])
        .select_from(CareCase)
        .join(Warning, Warning.id == CareCase.warning_id)
        .join(Screening, Screening.id == Warning.screening_id)
        .join(Student, Student.id == CareCase.student_id)
        .outerjoin(referred, referred.c.case_id == CareCase.id)
        .where(in_campaigns)
        .group_by(Screening.school_id, Screening.grade, Student.gender)
    )
    names = ["cases_open", "cases_referred", "cases_status_open", "cases_status_following", "cases_status_referred"]
    cubes.update(zip(names, _cube(db.execute(stmt), len(names)), strict=True))

    # Referrals made for those cases, and those whose service's feedback was recorded (app/care/referrals.py):
    # counts of timeline entries, never a name (the same protection as every other figure).
    stmt = (
        select(Screening.school_id, Screening.grade, Student.gender,
               func.count(CaseEntry.id),
               func.count(case((or_(CaseEntry.feedback_at.is_not(None), CaseEntry.referral_status == "feedback"),
                                CaseEntry.id))))
        .select_from(CaseEntry)
        .join(CareCase, CareCase.id == CaseEntry.case_id)
        .join(Warning, Warning.id == CareCase.warning_id)
        .join(Screening, Screening.id == Warning.screening_id)
        .join(Student, Student.id == CaseEntry.student_id)
        .where(in_campaigns, CaseEntry.kind == "referral")
        .group_by(Screening.school_id, Screening.grade, Student.gender)
    )
    cubes.update(zip(["referrals", "referrals_feedback"], _cube(db.execute(stmt), 2), strict=True))
    return cubes



def _students_by_level(db: Session, in_campaigns: Any) -> dict[str, Cube]:
    """Students (人) by their highest confirmed level in the selection: `warn_L1`, `warn_L2`, `warn_L3`, `warn_care`.

    Each student once (docs/figures.md): a warning ranks by its confirmed level when confirmed, and a care-level
    warning still open ranks as care (a care level needs no interview); dismissed, superseded and unconfirmed L1-L3
    warnings do not rank. A student whose warnings came from two schools counts at the first one's cell (as
    `screened` does).
    """
    order = {"L1": 4, "L2": 3, "L3": 2, "care": 1}
    rank = case(
        *[(and_(Warning.status == "confirmed", Warning.confirmed_level == lv), n) for lv, n in order.items()],
        (and_(Warning.status == "suggested", Warning.suggested_level == "care"), 1),
        else_=0,
    )
    per = (
        select(Warning.student_id.label("sid"), func.min(Screening.school_id).label("school_id"),
               func.min(Screening.grade).label("grade"), func.max(rank).label("rank"))
        .select_from(Warning)
        .join(Screening, Screening.id == Warning.screening_id)
        .where(in_campaigns)
        .group_by(Warning.student_id)
        .subquery("per_student_level")
    )
    stmt = (
        select(per.c.school_id, per.c.grade, Student.gender,
               *[func.sum(case((per.c.rank == order[lv], 1), else_=0)) for lv in WARNING_LEVELS])
        .select_from(per)
        .join(Student, Student.id == per.c.sid)
        .group_by(per.c.school_id, per.c.grade, Student.gender)
    )
    return dict(zip([f"warn_{lv}" for lv in WARNING_LEVELS], _cube(db.execute(stmt), len(WARNING_LEVELS)),
                    strict=True))
