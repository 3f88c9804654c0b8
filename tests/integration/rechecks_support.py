"""Helpers for the recheck, scheduler and notification tests: screenings, warnings, cases, a clock."""
from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import signals
from models import Actor, CareCase, Notification, Recheck, Screening, Student, Warning

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(day: date, hour: int = 8, minute: int = 0) -> datetime:
    """A moment in school time (Asia/Shanghai), as the aware UTC datetime the sweeps take."""
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


def make_screening(
    db: Session, student: Student, instrument: str = "phqa", *, on: date | None = None, positive: bool = True,
    critical: bool = False, level: str = "L2", recorded_at: datetime | None = None,
) -> Screening:
    screening = Screening(
        student_id=student.id, school_id=student.school_id, class_id=student.class_id, grade=student.grade,
        instrument_id=instrument, instrument_version="1", mode="paper", administered_on=on or date(2026, 11, 2),
        valid=True, total=12, positive=positive, critical=critical, suggested_level=level,
        recorded_at=recorded_at or at(on or date(2026, 11, 2), 10),
    )
    db.add(screening)
    db.flush()
    return screening


def make_warning(
    db: Session, student: Student, level: str = "L2", *, screening: Screening | None = None,
    created_at: datetime | None = None, status: str = "suggested",
) -> Warning:
    warning = Warning(
        student_id=student.id, school_id=student.school_id, suggested_level=level, status=status,
        screening_id=screening.id if screening else None, created_at=created_at or at(date(2026, 11, 2), 10),
    )
    warning.ensure_uid()
    db.add(warning)
    db.flush()
    return warning


def make_case(db: Session, student: Student, warning: Warning, owner: Any = None, level: str = "L2") -> CareCase:
    case = CareCase(
        student_id=student.id, school_id=student.school_id, owner_id=owner.id if owner else None,
        warning_id=warning.id, level=level, status="open",
    )
    case.ensure_uid()
    db.add(case)
    db.flush()
    return case


def confirm(
    db: Session, warning: Warning, level: str, when: datetime, case: CareCase | None = None, user: Any = None,
) -> None:
    """What the care area does on confirmation, reduced to the signal this area listens to."""
    previous = warning.confirmed_level
    warning.confirmed_level = level
    warning.status = "dismissed" if level == "none" else "confirmed"
    warning.confirmed_at = when
    db.flush()
    actor = Actor.for_user(user) if user is not None else Actor.system("tests")
    signals.level_confirmed.send("tests", db=db, actor=actor, warning=warning, case=case, previous_level=previous)


def record(db: Session, screening: Screening, warning: Warning | None = None) -> None:
    signals.screening_recorded.send("tests", db=db, actor=Actor.system("tests"), screening=screening, warning=warning)


def open_rechecks(db: Session, student: Student) -> list[Recheck]:
    return list(
        db.scalars(
            select(Recheck)
            .where(Recheck.student_id == student.id, Recheck.status.not_in(("done", "cancelled")))
            .order_by(Recheck.id)
        )
    )


def notes(db: Session, kind: str | None = None, user: Any = None) -> list[Notification]:
    q = select(Notification)
    if kind:
        q = q.where(Notification.kind == kind)
    if user is not None:
        q = q.where(Notification.user_id == user.id)
    return list(db.scalars(q.order_by(Notification.id)))


def count_notifications(db: Session) -> int:
    return int(db.scalar(select(func.count()).select_from(Notification)) or 0)
