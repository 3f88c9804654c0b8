"""Creating in-app notifications: the one place that writes them. Idempotent by (user, dedup_key); never carries
clinical text.

- `notify`: one notification (a crisis alert, an observation);
- `notify_many`: a sweep's batch of rows (re-alerts, reminders, the digest), skipping those that exist;
- `notify_selected`: an `INSERT ... SELECT` of rows a sweep selects in the database (recheck stages).

A notification names a kind and references (student, warning, recheck) plus non-clinical params (counts,
dates); it is rendered per locale when shown. E-mail (when SMTP is configured) only says "you have N items to
review" with a link; see app/notifications for delivery.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from models import Notification, User, counselor_schools
from models.base import table_of

KINDS = (
    "crisis",  # a level-1 warning: stays until acknowledged
    "crisis_realert",  # still unacknowledged after the policy's window
    "crisis_unassigned",  # to admins: a crisis arrived at a school with no active counselor (no student named)
    "recheck_due",
    "recheck_overdue",
    "recheck_escalated",
    "checkin_due",  # care-group check-in reminder (head teachers)
    "observation",  # a head teacher's observation reached the counselor
    "digest",  # weekly digest per counselor
    "access_proposed",  # to a school's counselors: an admin proposes clinical access there (user, school; no student)
    "access_granted",  # to a school's counselors: that access was approved
    "access_revoked",  # to a school's counselors: a user lost access there
    "help_urgent",  # a student asked to talk, urgently (app/care/help_requests.py): stays until acknowledged
    "help_realert",  # an urgent help request still unacknowledged after the crisis window
    "help_request",  # a student asked to talk, not urgently
    "emergency_access",  # to a school's counselors, the admins, the reviewers: a file opened by break the glass
    "retention_due",  # to a school's counselors: files of students who left are due for erasure review (a count)
)


def notify(
    db: Session,
    user: User | int,
    kind: str,
    dedup_key: str,
    *,
    student_id: int | None = None,
    warning_id: int | None = None,
    recheck_id: int | None = None,
    params: dict[str, Any] | None = None,
    requires_ack: bool = False,
) -> Notification | None:
    """Create one notification unless this user already has one with `dedup_key` (then return None)."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind}")
    user_id = user if isinstance(user, int) else user.id
    exists = db.scalar(
        select(Notification.id).where(Notification.user_id == user_id, Notification.dedup_key == dedup_key)
    )
    if exists is not None:
        return None
    note = Notification(
        user_id=user_id,
        kind=kind,
        dedup_key=dedup_key,
        student_id=student_id,
        warning_id=warning_id,
        recheck_id=recheck_id,
        params=json.dumps(params or {}, ensure_ascii=False, sort_keys=True),
        requires_ack=requires_ack,
    )
    db.add(note)
    db.flush()
    return note


def notify_many(db: Session, rows: list[dict[str, Any]]) -> int:
    """Batched insert of the rows whose (user_id, dedup_key) does not exist yet; returns how many were new.

    Each row: user_id, kind, dedup_key, params (JSON text), created_at, and optionally student_id, warning_id,
    recheck_id, requires_ack."""
    if not rows:
        return 0
    for kind in {r["kind"] for r in rows}:
        if kind not in KINDS:
            raise ValueError(f"unknown notification kind {kind}")
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
        db.execute(insert(table_of(Notification)), fresh[i:i + 1000])
    return len(fresh)


SELECTED_COLUMNS = ("user_id", "kind", "dedup_key", "student_id", "recheck_id", "params", "requires_ack", "created_at")


def notify_selected(db: Session, rows: Any) -> int:
    """`INSERT ... SELECT` of the notifications a select statement yields, its columns in SELECTED_COLUMNS order.
    The statement itself must leave out the (user_id, dedup_key) pairs that exist (a NOT EXISTS guard; the unique
    index is the last line). Returns how many were inserted."""
    table = table_of(Notification)
    # RETURNING counts the inserted rows on both backends (psycopg reports -1 for INSERT ... SELECT).
    return len(db.execute(insert(table).from_select(list(SELECTED_COLUMNS), rows).returning(table.c.id)).all())


def admins(db: Session) -> list[User]:
    return list(db.scalars(select(User).where(User.role == "admin", User.active.is_(True)).order_by(User.id)))


def counselors_of_school(db: Session, school_id: int) -> list[User]:
    return list(
        db.scalars(
            select(User)
            .join(counselor_schools, counselor_schools.c.user_id == User.id)
            .where(counselor_schools.c.school_id == school_id, User.active.is_(True), User.role == "counselor")
            .order_by(User.id)
        )
    )


def counselor_ids_by_school(db: Session, school_ids: Iterable[int]) -> dict[int, list[int]]:
    """{school id: ids of its active counselors, in id order} for many schools at once (the sweeps)."""
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
