"""The periodic sweeps. The database holds every due date; each sweep is a few set-based statements.

Every sweep takes `now` (an aware datetime: the controllable clock) and is idempotent: state moves forward only
(planned -> due -> overdue -> escalated) and each notification carries a dedup key that the unique index
(user_id, dedup_key) and a NOT EXISTS guard keep from being created twice. A caller runs a sweep inside ONE
transaction (`run_job` / the CLI), so a crash mid-sweep leaves nothing half-done and the next run completes it.

Who is told:
- a recheck falling due or overdue: the case owner when the recheck has a case with an active owner, otherwise
  every counselor of the school;
- an escalated recheck (overdue for `escalate_after_days_overdue` days): every counselor of the school, so a
  colleague sees what the owner has not done;
- an unacknowledged crisis: every counselor of the school, once per re-alert window;
- care-group check-ins missing this term: the class's head teachers;
- the weekly digest: each counselor with anything to review.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterable
from zoneinfo import ZoneInfo

from sqlalchemy import String, and_, cast, exists, func, insert, literal, not_, or_, select, update
from sqlalchemy.orm import Session

from models import (
    CareCase,
    CareCheckin,
    Notification,
    Recheck,
    Student,
    StudentCareGroup,
    User,
    Warning,
    counselor_schools,
    teacher_classes,
)
from models.base import UTCDateTime

from .policy import RecheckPolicy, load_recheck_policy
from .service import OPEN_STATUSES, local_date, school_timezone

log = logging.getLogger("xinmiao.sweeps")
STAGES = (("escalated", "recheck_escalated"), ("overdue", "recheck_overdue"), ("due", "recheck_due"))


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo else now.replace(tzinfo=timezone.utc)


# -- rechecks ------------------------------------------------------------------------------------------------
def advance_rechecks(db: Session, now: datetime, policy: RecheckPolicy, tz: ZoneInfo | None = None) -> dict[str, int]:
    """Move open rechecks forward by date, then tell the right people once per stage."""
    now = _aware(now)
    today = local_date(now, tz)
    escalate_on_or_before = today - timedelta(days=policy.escalate_after_days_overdue)
    opts = {"synchronize_session": False}
    escalated = db.execute(
        update(Recheck)
        .where(Recheck.status.in_(("planned", "due", "overdue")), Recheck.due_on <= escalate_on_or_before)
        .values(status="escalated", escalated_at=now, overdue_at=func.coalesce(Recheck.overdue_at, now))
        .execution_options(**opts)
    ).rowcount
    overdue = db.execute(
        update(Recheck)
        .where(Recheck.status.in_(("planned", "due")), Recheck.due_on < today)
        .values(status="overdue", overdue_at=now)
        .execution_options(**opts)
    ).rowcount
    due = db.execute(
        update(Recheck)
        .where(Recheck.status == "planned", Recheck.due_on <= today + policy.due_notice())
        .values(status="due", marked_due_at=now)
        .execution_options(**opts)
    ).rowcount
    db.expire_all()  # the bulk UPDATEs bypassed the identity map; reload rechecks on next access
    created = 0
    for status, kind in STAGES:
        created += notify_recheck_stage(db, status, kind, now)
    return {"rechecks_marked_due": due, "rechecks_marked_overdue": overdue, "rechecks_escalated": escalated, "notifications_created": created}


def _key(prefix: str, column: Any) -> Any:
    return literal(prefix, String) + cast(column, String)


def _not_notified(user_col: Any, key: Any) -> Any:
    return ~exists().where(Notification.user_id == user_col, Notification.dedup_key == key)


def notify_recheck_stage(db: Session, status: str, kind: str, now: datetime) -> int:
    """INSERT ... SELECT one notification per recheck in `status` and recipient, unless it exists already."""
    key = _key(f"{kind}:", Recheck.id)
    cols = ["user_id", "kind", "dedup_key", "student_id", "recheck_id", "params", "requires_ack", "created_at"]

    def values(user_col: Any) -> list[Any]:
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
        # RETURNING counts the inserted rows on both backends (psycopg reports -1 for INSERT ... SELECT).
        table = Notification.__table__
        return len(db.execute(insert(table).from_select(cols, select_stmt).returning(table.c.id)).all())

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


# -- crises --------------------------------------------------------------------------------------------------
def realert_crises(db: Session, now: datetime, policy: RecheckPolicy) -> dict[str, int]:
    """Level-1 warnings nobody acknowledged within the window: one re-alert per counselor per window."""
    now = _aware(now)
    window = timedelta(hours=policy.crisis_realert_hours)
    is_l1 = or_(Warning.confirmed_level == "L1", and_(Warning.confirmed_level.is_(None), Warning.suggested_level == "L1"))
    rows = db.execute(
        select(Warning.id, Warning.school_id, Warning.student_id, Warning.created_at).where(
            is_l1,
            Warning.status.in_(("suggested", "confirmed")),
            Warning.acknowledged_at.is_(None),
            Warning.created_at <= now - window,
        )
    ).all()
    if not rows:
        return {"re_alerts": 0, "warnings": 0, "notifications_created": 0}
    counselors = _counselors_by_school(db, {r.school_id for r in rows})
    new: list[dict[str, Any]] = []
    for wid, school_id, student_id, created_at in rows:
        k = int((now - _aware(created_at)) / window)  # which window this is: 1 after 2 hours, 2 after 4...
        for user_id in counselors.get(school_id, ()):
            new.append(
                {
                    "user_id": user_id, "kind": "crisis_realert", "dedup_key": f"crisis_realert:{wid}:{k}",
                    "student_id": student_id, "warning_id": wid, "params": json.dumps({"window": k}),
                    "requires_ack": True, "created_at": now,
                }
            )
    created = insert_new_notifications(db, new)
    return {"re_alerts": created, "warnings": len(rows), "notifications_created": created}


def _counselors_by_school(db: Session, school_ids: Iterable[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    ids = list(school_ids)
    for i in range(0, len(ids), 500):
        for school_id, user_id in db.execute(
            select(counselor_schools.c.school_id, User.id)
            .join(User, User.id == counselor_schools.c.user_id)
            .where(counselor_schools.c.school_id.in_(ids[i:i + 500]), User.active.is_(True), User.role == "counselor")
            .order_by(User.id)
        ):
            out.setdefault(school_id, []).append(user_id)
    return out


def insert_new_notifications(db: Session, rows: list[dict[str, Any]]) -> int:
    """Batched insert of the rows whose (user_id, dedup_key) does not exist yet; returns how many were new."""
    if not rows:
        return 0
    existing: set[tuple[int, str]] = set()
    keys = sorted({r["dedup_key"] for r in rows})
    for i in range(0, len(keys), 500):
        existing.update(
            db.execute(
                select(Notification.user_id, Notification.dedup_key).where(Notification.dedup_key.in_(keys[i:i + 500]))
            ).tuples()
        )
    fresh, seen = [], set()
    for r in rows:
        ident = (r["user_id"], r["dedup_key"])
        if ident not in existing and ident not in seen:
            seen.add(ident)
            fresh.append({"student_id": None, "warning_id": None, "recheck_id": None, "requires_ack": False, **r})
    for i in range(0, len(fresh), 1000):
        db.execute(insert(Notification.__table__), fresh[i:i + 1000])
    return len(fresh)


# -- care-group check-ins ------------------------------------------------------------------------------------
def remind_checkins(db: Session, now: datetime, policy: RecheckPolicy, tz: ZoneInfo | None = None) -> dict[str, int]:
    """Remind head teachers of classes whose care-group students have no check-in by them this term."""
    today = local_date(_aware(now), tz)
    span = policy.term_for(today)
    if span is None or not policy.checkin_groups:
        return {"reminders": 0, "classes": 0, "notifications_created": 0}
    term, _first, last = span
    reached = [p for p in policy.remind_days_before_term_end if today >= last - timedelta(days=p)]
    if not reached:
        return {"reminders": 0, "classes": 0, "notifications_created": 0}
    point = min(reached)  # after downtime only the latest reminder point is sent, not every missed one
    in_group = exists().where(StudentCareGroup.student_id == Student.id, StudentCareGroup.group.in_(policy.checkin_groups))
    checked = exists().where(
        CareCheckin.student_id == Student.id, CareCheckin.term == term, CareCheckin.by_role == "head_teacher"
    )
    missing = (
        select(Student.class_id, func.count(Student.id).label("n"))
        .where(Student.status == "enrolled", Student.class_id.is_not(None), in_group, not_(checked))
        .group_by(Student.class_id)
        .subquery()
    )
    rows = db.execute(
        select(missing.c.class_id, missing.c.n, User.id)
        .join(teacher_classes, teacher_classes.c.class_id == missing.c.class_id)
        .join(User, User.id == teacher_classes.c.user_id)
        .where(User.active.is_(True), User.role == "head_teacher")
    ).all()
    new = [
        {
            "user_id": user_id, "kind": "checkin_due", "dedup_key": f"checkin_due:{term}:{point}:{class_id}",
            "params": json.dumps({"count": int(n), "term": term, "ends_on": last.isoformat(), "class_id": class_id}),
            "created_at": _aware(now),
        }
        for class_id, n, user_id in rows
    ]
    created = insert_new_notifications(db, new)
    return {"reminders": created, "classes": len({r[0] for r in rows}), "notifications_created": created}


# -- weekly digest -------------------------------------------------------------------------------------------
def weekly_digest(db: Session, now: datetime, policy: RecheckPolicy, tz: ZoneInfo | None = None) -> dict[str, int]:
    """From the policy's weekday on, once per ISO week: one digest per counselor with anything to review."""
    now = _aware(now)
    today = local_date(now, tz)
    if today.weekday() < policy.digest_weekday:
        return {"digests": 0, "notifications_created": 0}
    iso = today.isocalendar()
    key = f"digest:{iso.year}-W{iso.week:02d}"
    week_end = today + timedelta(days=6 - today.weekday())
    per_school: dict[int, dict[str, int]] = {}

    def add(rows: Any, name: str) -> None:
        for school_id, n in rows:
            per_school.setdefault(school_id, {}).setdefault(name, 0)
            per_school[school_id][name] += int(n)

    add(db.execute(
        select(Recheck.school_id, func.count()).where(Recheck.status.in_(OPEN_STATUSES), Recheck.due_on < today)
        .group_by(Recheck.school_id)), "overdue")
    add(db.execute(
        select(Recheck.school_id, func.count())
        .where(Recheck.status.in_(OPEN_STATUSES), Recheck.due_on >= today, Recheck.due_on <= week_end)
        .group_by(Recheck.school_id)), "due_this_week")
    add(db.execute(
        select(Warning.school_id, func.count())
        .where(
            or_(Warning.confirmed_level == "L1", and_(Warning.confirmed_level.is_(None), Warning.suggested_level == "L1")),
            Warning.status.in_(("suggested", "confirmed")), Warning.acknowledged_at.is_(None))
        .group_by(Warning.school_id)), "crises")
    unread = dict(db.execute(
        select(Notification.user_id, func.count()).where(Notification.read_at.is_(None), Notification.kind != "digest")
        .group_by(Notification.user_id)).tuples().all())
    new = []
    counselors = db.execute(
        select(User.id, counselor_schools.c.school_id)
        .join(counselor_schools, counselor_schools.c.user_id == User.id, isouter=True)
        .where(User.role == "counselor", User.active.is_(True))
    ).all()
    totals: dict[int, dict[str, int]] = {}
    for user_id, school_id in counselors:
        t = totals.setdefault(user_id, {"overdue": 0, "due_this_week": 0, "crises": 0})
        for name, n in per_school.get(school_id, {}).items():
            t[name] += n
    for user_id, t in totals.items():
        t["unread"] = unread.get(user_id, 0)
        if any(t.values()):
            t["week"] = f"{iso.year}-W{iso.week:02d}"
            new.append({"user_id": user_id, "kind": "digest", "dedup_key": key, "params": json.dumps(t, sort_keys=True), "created_at": now})
    created = insert_new_notifications(db, new)
    return {"digests": created, "notifications_created": created}


# -- running -------------------------------------------------------------------------------------------------
def _mail(db: Session, now: datetime, policy: RecheckPolicy, tz: ZoneInfo | None = None) -> dict[str, int]:
    from app.notifications.mail import send_pending

    return send_pending(db, _aware(now))


SWEEPS: dict[str, Callable[..., dict[str, int]]] = {
    "rechecks": lambda db, now, policy, tz: advance_rechecks(db, now, policy, tz),
    "crisis_realerts": lambda db, now, policy, tz: realert_crises(db, now, policy),
    "checkin_reminders": lambda db, now, policy, tz: remind_checkins(db, now, policy, tz),
    "weekly_digest": lambda db, now, policy, tz: weekly_digest(db, now, policy, tz),
    "mail": lambda db, now, policy, tz: _mail(db, now, policy, tz),
}


def run_sweep(name: str, db: Session, now: datetime, policy: RecheckPolicy | None = None, tz: ZoneInfo | None = None) -> dict[str, int]:
    return SWEEPS[name](db, _aware(now), policy or load_recheck_policy(), tz or school_timezone())


def run_all_sweeps(db: Session, now: datetime, policy: RecheckPolicy | None = None, tz: ZoneInfo | None = None) -> dict[str, Any]:
    """Every sweep once, in order, in the caller's transaction. Returns counts per sweep and the total."""
    policy = policy or load_recheck_policy()
    tz = tz or school_timezone()
    out: dict[str, Any] = {}
    for name in SWEEPS:
        out[name] = run_sweep(name, db, now, policy, tz)
    out["notifications_created"] = sum(v.get("notifications_created", 0) for v in out.values() if isinstance(v, dict))
    return out
