"""Rechecks (复查) and the scheduler's lease. Every due date lives here; jobs hold no state of their own."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, UTCDateTime, utcnow
from .roster import Student, StudentOwned

RECHECK_STATUSES = ("planned", "due", "overdue", "escalated", "done", "cancelled")


class Recheck(Base, StudentOwned):
    __tablename__ = "rechecks"
    __table_args__ = (
        CheckConstraint("status IN ('planned','due','overdue','escalated','done','cancelled')", name="status"),
        Index("ix_rechecks_status_due", "status", "due_on"),
        Index("ix_rechecks_status_notified", "status", "notified_stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    warning_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("care_cases.id"), index=True)
    level: Mapped[str] = mapped_column(String(5))
    instrument_id: Mapped[str] = mapped_column(String(32))
    due_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="planned")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    marked_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    overdue_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    screening_id: Mapped[int | None] = mapped_column(ForeignKey("screenings.id", use_alter=True))
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    negative: Mapped[bool | None] = mapped_column(Boolean)  # result of the recheck screening
    # The stage (due / overdue / escalated) whose people the sweep has told: a sweep looks only at the rechecks
    # whose status differs from it (app/rechecks/tasks.py), so a steady state costs nothing per recheck.
    notified_stage: Mapped[str | None] = mapped_column(String(10))

    student: Mapped[Student] = relationship()


class SchedulerLease(Base):
    """A lease row: the scheduler process holding it (and renewing it) is the only one that runs jobs."""

    __tablename__ = "scheduler_leases"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acquired_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Fencing token: incremented by every takeover, never reset; a job commits only while its holder's token is
    # still the row's (app/scheduler/lease.py).
    token: Mapped[int] = mapped_column(BigInteger, default=1, server_default="1")


class SchedulerJobRun(Base):
    """The last outcome of each scheduler job (admin page /admin/scheduler, docs/operations.md): when it last
    succeeded and with what counts, when it last failed and why. Written by the runner (app/scheduler/runner.py)."""

    __tablename__ = "scheduler_job_runs"

    job_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(100), default="")
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_counts: Mapped[str] = mapped_column(Text, default="{}")
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(500))
    failures: Mapped[int] = mapped_column(Integer, default=0)
