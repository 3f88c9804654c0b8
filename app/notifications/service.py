"""Creating in-app notifications. Idempotent by (user, dedup_key); never carries clinical text.

A notification names a kind and references (student, warning, recheck) plus non-clinical params (counts,
dates); it is rendered per locale when shown. E-mail (when SMTP is configured) only says "you have N items to
review" with a link; see app/notifications for delivery.
"""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Notification, User, counselor_schools

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
    exists = db.scalar(select(Notification.id).where(Notification.user_id == user_id, Notification.dedup_key == dedup_key))
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
