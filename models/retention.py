"""Retention: the review list of files due for erasure after a student left the district's schools.

A student who graduated, left or moved out of the district (`Student.left_on`, set when the roster records the
leaving status) keeps their file for the period of config/retention.yaml; then the monthly job
(app/retention/tasks.py) lists the file here. A counselor of the school or a district officer confirms (the file
is crypto-shredded: app/keys/service.erase_student) or holds it (a reason from a list and an end date; the file
comes back to the list when the hold ends). Rows stay after the erasure as the record of who confirmed it, when.
Nothing personal is kept here: the student row, dates, a reason code and who decided.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, String, false, select
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from .base import Base, HasUid, UTCDateTime, utcnow
from .roster import School, Student, User, counselor_schools

RETENTION_STATUSES = ("due", "held", "erased", "cancelled")
OPEN_RETENTION_STATUSES = ("due", "held")


class RetentionReview(Base, HasUid):
    __tablename__ = "retention_reviews"
    __table_args__ = (
        CheckConstraint("status IN ('due','held','erased','cancelled')", name="status"),
        Index("ix_retention_reviews_school_status", "school_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    left_on: Mapped[date] = mapped_column(Date)  # the basis of the period (copied: the tombstone keeps no date)
    due_on: Mapped[date] = mapped_column(Date)  # left_on + the period of config/retention.yaml
    status: Mapped[str] = mapped_column(String(10), default="due")
    listed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)  # first, or again after a hold
    hold_reason: Mapped[str | None] = mapped_column(String(30))  # a code of app/retention/policy.HOLD_REASONS
    held_until: Mapped[date | None] = mapped_column(Date)
    held_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_as: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    student: Mapped[Student] = relationship()
    school: Mapped[School] = relationship()
    held_by: Mapped[User | None] = relationship(foreign_keys=[held_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @classmethod
    def visible_to(cls, user: User) -> ColumnElement[bool]:
        """The school's counselors, and the district's officers (who see no names on it: app/retention/views)."""
        if not user.is_authenticated or not user.active:
            return false()
        if user.role == "counselor":
            return cls.school_id.in_(
                select(counselor_schools.c.school_id).where(counselor_schools.c.user_id == user.id))
        if user.role == "district" and user.district_id is not None:
            return cls.school_id.in_(select(School.id).where(School.district_id == user.district_id))
        return false()
