"""Transfer requests (转学申请): a school asks for a student of another school of the district; the file moves
only when the sending side approves (app/care/transfer_requests.py)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, false, or_, select
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from .base import Base, HasUid, UTCDateTime, utcnow
from .roster import School, SchoolClass, Student, User, counselor_schools

TRANSFER_STATUSES = ("pending", "approved", "refused", "cancelled")


class TransferRequest(Base, HasUid):
    """One request to move `student` from `from_school` to `to_class` (of `to_school`).

    Who asked (`requested_by`, or a CLI operator named in `requested_as`) and who decided (`decided_by`), when and
    why (`reason`: an administrative note, never clinical text). Both sides see it: the receiving school's
    counselors (who must not learn anything of the student before approval) and the sending school's (who decide);
    where the sending school has no counselor, the district's officers and admins decide.
    """

    __tablename__ = "transfer_requests"
    __table_args__ = (
        CheckConstraint("status IN ('pending','approved','refused','cancelled')", name="status"),
        CheckConstraint("source IN ('import','form','cli')", name="source"),
        Index("ix_transfer_requests_from_status", "from_school_id", "status"),
        Index("ix_transfer_requests_to_status", "to_school_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    from_school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    to_school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    to_class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"))
    source: Mapped[str] = mapped_column(String(10), default="form")
    status: Mapped[str] = mapped_column(String(10), default="pending")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_as: Mapped[str] = mapped_column(String(64))  # the actor's name (a user, or "cli:<os user>")
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(300))

    student: Mapped[Student] = relationship()
    from_school: Mapped[School] = relationship(foreign_keys=[from_school_id])
    to_school: Mapped[School] = relationship(foreign_keys=[to_school_id])
    to_class: Mapped[SchoolClass] = relationship()
    requested_by: Mapped[User | None] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @classmethod
    def visible_to(cls, user: User) -> ColumnElement[bool]:
        """Counselors see the requests from and to their schools; district officers and admins those of their
        district's schools (they decide where the sending school has no counselor); head teachers none."""
        if not user.is_authenticated or not user.active:
            return false()
        if user.role == "counselor":
            mine = select(counselor_schools.c.school_id).where(counselor_schools.c.user_id == user.id)
            return or_(cls.from_school_id.in_(mine), cls.to_school_id.in_(mine))
        if user.role in ("district", "admin") and user.district_id is not None:
            return cls.from_school_id.in_(select(School.id).where(School.district_id == user.district_id))
        return false()
