"""Querying the audit chain for the admin browser. Reads event columns and, for events about a student, the
school the student is at now (a clear column): never any decrypted data."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import School, Student
from models.audit import AuditEvent

PER_PAGE = 50


@dataclass(frozen=True)
class AuditFilters:
    student: str | None = None
    user: str | None = None
    action: str | None = None
    date_from: date | None = None
    date_to: date | None = None

    def as_detail(self) -> dict[str, Any]:
        """The filters as they go into the audit.browse event (dates as ISO text, empty ones left out)."""
        out: dict[str, Any] = {}
        for key in ("student", "user", "action", "date_from", "date_to"):
            value = getattr(self, key)
            if value not in (None, ""):
                out[key] = value.isoformat() if isinstance(value, date) else value
        return out


@dataclass
class AuditPage:
    events: list[AuditEvent]
    total: int
    page: int
    pages: int


def _local_midnight_utc(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz).astimezone(ZoneInfo("UTC"))


def browse(
    session: Session, filters: AuditFilters, page: int = 1, *, tz: str = "Asia/Shanghai", per_page: int = PER_PAGE
) -> AuditPage:
    """Newest first. Dates are local calendar days (the school's time zone), both ends inclusive."""
    zone = ZoneInfo(tz)
    conditions = []
    if filters.student:
        conditions.append(AuditEvent.student_public_id == filters.student.strip().lower())
    if filters.user:
        conditions.append(AuditEvent.actor == filters.user.strip())
    if filters.action:
        action = filters.action.strip()
        if action.endswith("*"):
            prefix = action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            conditions.append(AuditEvent.action.like(prefix + "%", escape="\\"))
        else:
            conditions.append(AuditEvent.action == action)
    if filters.date_from:
        conditions.append(AuditEvent.at >= _local_midnight_utc(filters.date_from, zone))
    if filters.date_to:
        conditions.append(AuditEvent.at < _local_midnight_utc(filters.date_to + timedelta(days=1), zone))
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(*conditions)) or 0
    pages = max(1, -(-total // per_page))
    page = min(max(1, page), pages)
    events = list(
        session.scalars(
            select(AuditEvent)
            .where(*conditions)
            .order_by(AuditEvent.seq.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return AuditPage(events, int(total), page, pages)


def known_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def schools_of(session: Session, events: list[AuditEvent]) -> dict[str, str]:
    """Student public id -> the name of the school the student is at now, for the events of one page (one query)."""
    ids = {e.student_public_id for e in events if e.student_public_id}
    if not ids:
        return {}
    rows = session.execute(
        select(Student.public_id, School.name).join(School, School.id == Student.school_id)
        .where(Student.public_id.in_(ids))
    ).all()
    return {pid: name for pid, name in rows}
