"""The rechecks' sweep (job `rechecks`): open rechecks move forward by date and the right people are told once
per stage. The database holds every due date; the sweep is a few set-based statements.

The sweep takes `now` (an aware datetime: the controllable clock) and is idempotent: state moves forward only
(planned -> due -> overdue -> escalated) and each notification carries a dedup key that the unique index
(user_id, dedup_key) and a NOT EXISTS guard keep from being created twice. Each recheck records the stage whose
people were told (`notified_stage`), so the notifying statements look only at the rechecks whose status differs
from it: with nothing new, a sweep over 100,000 open rechecks reads a few index ranges and writes nothing (the
NOT EXISTS guard, evaluated per recheck and recipient, was most of its time before). The scheduler
(app/scheduler/) runs it inside ONE transaction, so a crash mid-sweep leaves nothing half-done and the next run
completes it.

Who is told: a recheck falling due or overdue: the case owner when the recheck has a case with an active owner,
otherwise every counselor of the school; an escalated recheck (overdue for `escalate_after_days_overdue` days):
every counselor of the school, so a colleague sees what the owner has not done.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, cast, exists, func, literal, or_, select, update
from sqlalchemy.orm import Session

from app.notifications.service import notify_selected
from app.scheduler.spec import Job, Sweep, SweepContext
from models import CareCase, Notification, Recheck, User, counselor_schools
from models.base import UTCDateTime
from models.db import rowcount

from .policy import RecheckPolicy
from .service import local_date

log = logging.getLogger("xinmiao.sweeps")
STAGES = (("escalated", "recheck_escalated"), ("overdue", "recheck_overdue"), ("due", "recheck_due"))


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def advance_rechecks(db: Session, now: datetime, policy: RecheckPolicy, tz: ZoneInfo | None = None) -> dict[str, int]:
    """Move open rechecks forward by date, then tell the right people once per stage."""
    now = _aware(now)
    today = local_date(now, tz)
    escalate_on_or_before = today - timedelta(days=policy.escalate_after_days_overdue)
    escalated = _update_if_any(
        db, (Recheck.status.in_(("planned", "due", "overdue")), Recheck.due_on <= escalate_on_or_before),
        {"status": "escalated", "escalated_at": now, "overdue_at": func.coalesce(Recheck.overdue_at, now)},
    )
    overdue = _update_if_any(
        db, (Recheck.status.in_(("planned", "due")), Recheck.due_on < today), {"status": "overdue", "overdue_at": now}
    )
    due = _update_if_any(
        db, (Recheck.status == "planned", Recheck.due_on <= today + policy.due_notice()),
        {"status": "due", "marked_due_at": now},
    )
    db.expire_all()  # the bulk UPDATEs bypassed the identity map; reload rechecks on next access
    created = 0
    for status, kind in STAGES:
        created += notify_recheck_stage(db, status, kind, now)
    return {
        "rechecks_marked_due": due,
        "rechecks_marked_overdue": overdue,
        "rechecks_escalated": escalated,
        "notifications_created": created,
    }


def _any(db: Session, where: tuple[Any, ...]) -> bool:
    """Whether any recheck matches: read first, so that a sweep with nothing to do writes nothing and never takes
    the write lock (SQLite has one per database; an UPDATE matching no row would still take it)."""
    return db.scalar(select(Recheck.id).where(*where).limit(1)) is not None


def _update_if_any(db: Session, where: tuple[Any, ...], values: dict[str, Any]) -> int:
    if not _any(db, where):
        return 0
    return rowcount(db.execute(update(Recheck).where(*where).values(**values)
                               .execution_options(synchronize_session=False)))


def _key(prefix: str, column: Any) -> Any:
    return literal(prefix, String) + cast(column, String)


def _not_notified(user_col: Any, key: Any) -> Any:
    return ~exists().where(Notification.user_id == user_col, Notification.dedup_key == key)


def _changed(status: str) -> Any:
    """The rechecks in `status` whose people have not been told of that stage yet."""
    return and_(Recheck.status == status,
                or_(Recheck.notified_stage.is_(None), Recheck.notified_stage.in_(sorted(_OTHER_STAGES[status]))))


_STAGE_NAMES = tuple(status for status, _ in STAGES)
_OTHER_STAGES = {status: set(_STAGE_NAMES) - {status} for status in _STAGE_NAMES}


def notify_recheck_stage(db: Session, status: str, kind: str, now: datetime) -> int:
    """INSERT ... SELECT one notification per recheck newly in `status` and recipient, unless it exists already;
    then record the stage on those rechecks that had someone to tell (one without, e.g. a school with no active
    counselor yet, is looked at again by the next sweep)."""
    if not _any(db, (_changed(status),)):
        return 0
    created = _insert_stage_notifications(db, status, kind, now)
    active_counselor = (
        select(counselor_schools.c.user_id)
        .join(User, User.id == counselor_schools.c.user_id)
        .where(counselor_schools.c.school_id == Recheck.school_id, User.active.is_(True), User.role == "counselor")
        .correlate(Recheck)
    )
    told: Any = active_counselor.exists()
    if status != "escalated":
        active_owner = (
            select(CareCase.owner_id)
            .join(User, User.id == CareCase.owner_id)
            .where(CareCase.id == Recheck.case_id, User.active.is_(True))
            .correlate(Recheck)
        )
        told = or_(active_owner.exists(), told)
    db.execute(update(Recheck).where(_changed(status), told).values(notified_stage=status)
               .execution_options(synchronize_session=False))
    return created


def _insert_stage_notifications(db: Session, status: str, kind: str, now: datetime) -> int:
    key = _key(f"{kind}:", Recheck.id)

    def values(user_col: Any) -> list[Any]:  # in the order of notify_selected's SELECTED_COLUMNS
        return [
            user_col, literal(kind, String), key, Recheck.student_id, Recheck.id, literal("{}", String),
            literal(False), literal(now, UTCDateTime()),
        ]

    active_owner = (
        select(CareCase.owner_id)
        .join(User, User.id == CareCase.owner_id)
        .where(CareCase.id == Recheck.case_id, User.active.is_(True))
        .correlate(Recheck)
    )
    # The rechecks in `status` drive the join and reach their school's counselors through an automatic index on
    # school_id; the user filter is an uncorrelated IN evaluated once ("+ 0" keeps SQLite from probing the
    # (user_id, school_id) key once per counselor instead). With users first it walked users x rechecks.
    active_counselors = select(User.id).where(User.active.is_(True), User.role == "counselor")
    member = counselor_schools.c.user_id
    school_counselors = (
        select(*values(member))
        .select_from(Recheck)
        .join(counselor_schools, counselor_schools.c.school_id == Recheck.school_id)
        .where(_changed(status), (member + 0).in_(active_counselors), _not_notified(member, key))
    )

    def run(select_stmt: Any) -> int:
        return notify_selected(db, select_stmt)

    if status == "escalated":
        return run(school_counselors)
    owners = (
        select(*values(CareCase.owner_id))
        .select_from(Recheck)
        .join(CareCase, CareCase.id == Recheck.case_id)
        .join(User, User.id == CareCase.owner_id)
        .where(_changed(status), User.active.is_(True), _not_notified(CareCase.owner_id, key))
    )
    return run(owners) + run(school_counselors.where(~active_owner.exists()))


def _sweep(db: Session, now: datetime, ctx: SweepContext) -> dict[str, int]:
    return advance_rechecks(db, now, ctx.policy, ctx.tz)


JOBS = (Job("rechecks", (Sweep("rechecks", _sweep),), "rechecks_minutes"),)
