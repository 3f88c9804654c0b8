"""The rechecks' sweep (job `rechecks`): open rechecks move forward by date and the right people are told once
per stage. The database holds every due date; the sweep is a few set-based statements.

The sweep takes `now` (an aware datetime: the controllable clock) and is idempotent: state moves forward only
(planned -> due -> overdue -> escalated) and each notification carries a dedup key that the unique index
(user_id, dedup_key) and a NOT EXISTS guard keep from being created twice. The scheduler (app/scheduler/) runs it
inside ONE transaction, so a crash mid-sweep leaves nothing half-done and the next run completes it.

Who is told: a recheck falling due or overdue: the case owner when the recheck has a case with an active owner,
otherwise every counselor of the school; an escalated recheck (overdue for `escalate_after_days_overdue` days):
every counselor of the school, so a colleague sees what the owner has not done.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, exists, func, literal, select, update
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
    opts = {"synchronize_session": False}
    escalated = rowcount(db.execute(
        update(Recheck)
        .where(Recheck.status.in_(("planned", "due", "overdue")), Recheck.due_on <= escalate_on_or_before)
        .values(status="escalated", escalated_at=now, overdue_at=func.coalesce(Recheck.overdue_at, now))
        .execution_options(**opts)
    ))
    overdue = rowcount(db.execute(
        update(Recheck)
        .where(Recheck.status.in_(("planned", "due")), Recheck.due_on < today)
        .values(status="overdue", overdue_at=now)
        .execution_options(**opts)
    ))
    due = rowcount(db.execute(
        update(Recheck)
        .where(Recheck.status == "planned", Recheck.due_on <= today + policy.due_notice())
        .values(status="due", marked_due_at=now)
        .execution_options(**opts)
    ))
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


def _key(prefix: str, column: Any) -> Any:
    return literal(prefix, String) + cast(column, String)


def _not_notified(user_col: Any, key: Any) -> Any:
    return ~exists().where(Notification.user_id == user_col, Notification.dedup_key == key)


def notify_recheck_stage(db: Session, status: str, kind: str, now: datetime) -> int:
    """INSERT ... SELECT one notification per recheck in `status` and recipient, unless it exists already."""
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
        .where(Recheck.status == status, (member + 0).in_(active_counselors), _not_notified(member, key))
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
        .where(Recheck.status == status, User.active.is_(True), _not_notified(CareCase.owner_id, key))
    )
    return run(owners) + run(school_counselors.where(~active_owner.exists()))


def _sweep(db: Session, now: datetime, ctx: SweepContext) -> dict[str, int]:
    return advance_rechecks(db, now, ctx.policy, ctx.tz)


JOBS = (Job("rechecks", (Sweep("rechecks", _sweep),), "rechecks_minutes"),)
