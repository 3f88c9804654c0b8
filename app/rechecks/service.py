"""Rechecks (复查): planned when a level is confirmed, re-planned when it changes, completed by a screening.

Services take the session and flush, never commit. Signal receivers (see area.py and views.py) call these inside the
sender's transaction, so a failure rolls the whole confirmation or screening back.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from models import CareCase, Recheck, School, Screening, User, Warning, counselor_schools, utcnow

from .policy import RecheckPolicy, load_recheck_policy

OPEN_STATUSES = ("planned", "due", "overdue", "escalated")
DEFAULT_TZ = "Asia/Shanghai"


def school_timezone() -> ZoneInfo:
    try:
        from flask import current_app

        return ZoneInfo(current_app.config["TIMEZONE"])
    except (RuntimeError, KeyError):
        return ZoneInfo(DEFAULT_TZ)


def local_date(moment: datetime, tz: ZoneInfo | None = None) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(tz or school_timezone()).date()


def open_rechecks(db: Session, student_id: int) -> list[Recheck]:
    return list(
        db.scalars(
            select(Recheck)
            .where(Recheck.student_id == student_id, Recheck.status.in_(OPEN_STATUSES))
            .order_by(Recheck.due_on, Recheck.id)
        )
    )


def _triggering_instrument(db: Session, warning: Warning) -> str | None:
    if warning.screening_id is None:
        return None
    return db.scalar(select(Screening.instrument_id).where(Screening.id == warning.screening_id))


def schedule_recheck(
    db: Session,
    warning: Warning,
    case_id: int | None = None,
    *,
    policy: RecheckPolicy | None = None,
    base: datetime | None = None,
) -> Recheck | None:
    """Plan (or re-plan) the student's one open recheck for the warning's confirmed level.

    A student has at most one open recheck: a changed level updates it (new level, due date, instrument) rather
    than adding a second; a dismissed warning or a level without a recheck (care, none) cancels it.
    """
    policy = policy or load_recheck_policy()
    level = warning.confirmed_level if warning.status == "confirmed" else None
    days = policy.interval_for(level)
    existing = open_rechecks(db, warning.student_id)
    if days is None or level is None:
        for r in existing:
            r.status = "cancelled"
        db.flush()
        return None
    moment = base or warning.confirmed_at or utcnow()
    due_on = local_date(moment) + timedelta(days=days)
    instrument = policy.instrument_for(level, _triggering_instrument(db, warning))
    keep, extra = (existing[0], existing[1:]) if existing else (None, [])
    for r in extra:  # never more than one open recheck per student
        r.status = "cancelled"
    if keep is None:
        keep = Recheck(student_id=warning.student_id, school_id=warning.school_id, status="planned")
        db.add(keep)
        _note_open(db, warning.student_id)
    elif keep.level == level and keep.warning_id == warning.id:
        if case_id is not None:
            keep.case_id = case_id
        db.flush()  # the same level confirmed again: the plan stands
        return keep
    keep.level = level
    keep.warning_id = warning.id
    keep.case_id = case_id if case_id is not None else keep.case_id
    keep.school_id = warning.school_id
    keep.instrument_id = instrument
    keep.due_on = due_on
    # A re-planned recheck starts its life again: the sweeps judge it by the new date.
    keep.status = "planned"
    keep.marked_due_at = keep.overdue_at = keep.escalated_at = None
    keep.notified_stage = None
    db.flush()
    return keep


def plan_follow_up(db: Session, done: Recheck, *, policy: RecheckPolicy | None = None) -> Recheck | None:
    """After a recheck while the case stays open, plan the next one at the same level from the completion day."""
    policy = policy or load_recheck_policy()
    if done.case_id is None:
        return None
    status = db.scalar(select(CareCase.status).where(CareCase.id == done.case_id))
    days = policy.interval_for(done.level)
    if status in (None, "closed") or days is None or open_rechecks(db, done.student_id):
        return None
    nxt = Recheck(
        student_id=done.student_id,
        school_id=done.school_id,
        warning_id=done.warning_id,
        case_id=done.case_id,
        level=done.level,
        instrument_id=done.instrument_id,
        due_on=local_date(done.completed_at or utcnow()) + timedelta(days=days),
        status="planned",
    )
    db.add(nxt)
    _note_open(db, done.student_id)
    db.flush()
    return nxt


BATCH_OPEN_KEY = "rechecks.open"


def _load_open_by_student(db: Session, student_ids: list[int]) -> dict[int, bool]:
    """{student id: has an open recheck} for every id given (one query per 900 ids)."""
    out = dict.fromkeys(student_ids, False)
    for i in range(0, len(student_ids), 900):
        chunk = student_ids[i:i + 900]
        for sid in db.scalars(select(Recheck.student_id).where(Recheck.student_id.in_(chunk),
                                                               Recheck.status.in_(OPEN_STATUSES)).distinct()):
            out[sid] = True
    return out


def _batch_open(db: Session) -> dict[int, bool] | None:
    """Inside a screenings `batch(...)`: which of the batch's students have an open recheck, prefetched once per
    batch (None outside a batch). Kept current by `_note_open` when a recheck is planned during the batch."""
    from app.screenings.recording import batch_prefetch

    return batch_prefetch(db, BATCH_OPEN_KEY, lambda ids: _load_open_by_student(db, ids))


def _note_open(db: Session, student_id: int) -> None:
    from app.screenings.recording import in_batch

    if in_batch(db):  # only inside a batch (never prefetches for this)
        known = _batch_open(db)
        if known is not None:
            known[student_id] = True


def complete_recheck(db: Session, screening: Screening, *, policy: RecheckPolicy | None = None) -> Recheck | None:
    """Link a screening to the student's open recheck with the same instrument; None when there is none.

    Inside a screenings `batch(...)` (a bulk load), the students without any open recheck are known from one
    prefetch and cost no query."""
    recheck: Recheck | None = None
    if screening.recheck_id is not None:
        recheck = db.get(Recheck, screening.recheck_id)
        if recheck is not None and recheck.status not in OPEN_STATUSES:
            return None
    if recheck is None:
        known = _batch_open(db)
        if known is not None and known.get(screening.student_id) is False:
            return None
        recheck = db.scalars(
            select(Recheck)
            .where(
                Recheck.student_id == screening.student_id,
                Recheck.instrument_id == screening.instrument_id,
                Recheck.status.in_(OPEN_STATUSES),
            )
            .order_by(Recheck.due_on, Recheck.id)
            .limit(1)
        ).first()
    if recheck is None:
        return None
    done_at = screening.recorded_at or utcnow()
    screening.recheck_id = recheck.id
    recheck.screening_id = screening.id
    recheck.status = "done"
    recheck.completed_at = done_at
    recheck.on_time = (screening.administered_on or local_date(done_at)) <= recheck.due_on
    recheck.negative = screening.positive is False and not screening.critical
    db.flush()
    plan_follow_up(db, recheck, policy=policy)
    return recheck


def cancel_for_case(db: Session, case_id: int) -> int:
    rows = list(db.scalars(select(Recheck).where(Recheck.case_id == case_id, Recheck.status.in_(OPEN_STATUSES))))
    for r in rows:
        r.status = "cancelled"
    db.flush()
    return len(rows)


# -- lists ---------------------------------------------------------------------------------------------------
def visible_rechecks(user: User) -> Any:
    """The permission rule: counselors see the rechecks of their schools; nobody else sees single rechecks."""
    if user.role != "counselor":
        return Recheck.id.is_(None)
    return Recheck.school_id.in_(select(counselor_schools.c.school_id).where(counselor_schools.c.user_id == user.id))


@dataclass
class RecheckLists:
    today: date
    week_end: date
    overdue: list[Recheck] = field(default_factory=list)
    due_this_week: list[Recheck] = field(default_factory=list)
    recently_done: list[Recheck] = field(default_factory=list)
    per_school: list[dict[str, Any]] = field(default_factory=list)
    per_counselor: list[dict[str, Any]] = field(default_factory=list)


def recheck_lists(
    db: Session, user: User, today: date, school_id: int | None = None, done_days: int = 90
) -> RecheckLists:
    """Due this week, overdue, recently done, and on-time vs late counts per school and per counselor."""
    week_end = today + timedelta(days=6 - today.weekday())
    scope = [visible_rechecks(user)]
    if school_id is not None:
        scope.append(Recheck.school_id == school_id)
    out = RecheckLists(today=today, week_end=week_end)
    out.overdue = list(
        db.scalars(
            select(Recheck)
            .options(selectinload(Recheck.student))
            .where(*scope, Recheck.status.in_(OPEN_STATUSES), Recheck.due_on < today)
            .order_by(Recheck.due_on, Recheck.id)
        )
    )
    out.due_this_week = list(
        db.scalars(
            select(Recheck)
            .options(selectinload(Recheck.student))
            .where(*scope, Recheck.status.in_(OPEN_STATUSES), Recheck.due_on >= today, Recheck.due_on <= week_end)
            .order_by(Recheck.due_on, Recheck.id)
        )
    )
    since = datetime.combine(today - timedelta(days=done_days), datetime.min.time(), tzinfo=UTC)
    out.recently_done = list(
        db.scalars(
            select(Recheck)
            .options(selectinload(Recheck.student))
            .where(*scope, Recheck.status == "done", Recheck.completed_at >= since)
            .order_by(Recheck.completed_at.desc(), Recheck.id.desc())
            .limit(200)
        )
    )

    def counts(group_col: Any) -> Any:
        return select(
            group_col,
            func.sum(case((and_(Recheck.status.in_(OPEN_STATUSES), Recheck.due_on < today), 1), else_=0)),
            func.sum(
                case(
                    (and_(Recheck.status.in_(OPEN_STATUSES), Recheck.due_on >= today, Recheck.due_on <= week_end), 1),
                    else_=0,
                )
            ),
            func.sum(case((and_(Recheck.status == "done", Recheck.on_time.is_(True)), 1), else_=0)),
            func.sum(
                case(
                    (and_(Recheck.status == "done", or_(Recheck.on_time.is_(False), Recheck.on_time.is_(None))), 1),
                    else_=0,
                )
            ),
        ).where(*scope)

    school_rows = db.execute(
        counts(Recheck.school_id).add_columns(School.name).join(School, School.id == Recheck.school_id)
        .group_by(Recheck.school_id, School.name).order_by(School.name)
    ).all()
    out.per_school = [_row(r[5], r[1:5]) for r in school_rows]
    owner_rows = db.execute(
        counts(CareCase.owner_id).add_columns(User.display_name)
        .join(CareCase, CareCase.id == Recheck.case_id, isouter=True)
        .join(User, User.id == CareCase.owner_id, isouter=True)
        .group_by(CareCase.owner_id, User.display_name).order_by(User.display_name)
    ).all()
    out.per_counselor = [_row(r[5], r[1:5]) for r in owner_rows]
    return out


def _row(label: Any, values: Sequence[Any]) -> dict[str, Any]:
    overdue, due, on_time, late = (int(v or 0) for v in values)
    return {"label": label, "overdue": overdue, "due_this_week": due, "on_time": on_time, "late": late}
