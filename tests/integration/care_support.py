"""Helpers for the care tests: warnings, rechecks and the actors/vaults a service call needs."""
from __future__ import annotations

import json
from datetime import date, timedelta
from typing import Any

from sqlalchemy.orm import Session

from models import Actor, Recheck, Student, User, Warning, WarningChange, clock, utcnow
from models.crypto import KeyRing
from models.vault import Vault


def make_warning(db: Session, student: Student, level: str = "L2", *, due: date | None = None,
                 reason: str = "PHQ-A 筛查阳性（总分 16）") -> Warning:
    warning = Warning(
        student_id=student.id, school_id=student.school_id, suggested_level=level,
        reasons=json.dumps([{"zh": f"预警：{reason}", "en": f"warning: {reason}"}], ensure_ascii=False),
        status="suggested", created_at=utcnow(), interview_due_on=due,
    )
    warning.student = student
    warning.ensure_uid()
    db.add(warning)
    db.flush()
    db.add(WarningChange(warning_id=warning.id, student_id=student.id, action="suggested", to_level=level, at=utcnow()))
    db.flush()
    return warning


def make_recheck(db: Session, student: Student, *, negative: bool | None = None, done_days_ago: int | None = None,
                 due: date | None = None, status: str | None = None) -> Recheck:
    recheck = Recheck(
        student_id=student.id, school_id=student.school_id, level="L2", instrument_id="phqa",
        due_on=due or clock.today(), status=status or ("done" if done_days_ago is not None else "planned"),
        negative=negative,
        completed_at=(utcnow() - timedelta(days=done_days_ago)) if done_days_ago is not None else None,
    )
    db.add(recheck)
    db.flush()
    return recheck


def actor_vault(db: Session, keyring: KeyRing, user: User) -> tuple[Actor, Vault]:
    actor = Actor.for_user(user)
    return actor, Vault(db, keyring, actor)


def raw_bytes(db: Session, table: str, column: str, where: str, params: dict[str, Any]) -> bytes:
    from sqlalchemy import text

    value = db.execute(text(f"SELECT {column} FROM {table} WHERE {where}"), params).scalar()
    return bytes(value) if value is not None else b""
