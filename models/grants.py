"""Clinical access grants (separation of duties): a counselor's school or a head teacher's class is granted only
when a second person approves what an admin proposed (app/admin/grants.py). The effective access stays where the
scope rule reads it (`counselor_schools`, `teacher_classes`); these rows are the proposals, decisions and
revocations, the review list of who was given or lost access, by whom, when."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, HasUid, UTCDateTime, utcnow
from .roster import School, SchoolClass, User

GRANT_STATUSES = ("pending", "approved", "refused", "cancelled", "revoked")


class AccessGrant(Base, HasUid):
    __tablename__ = "access_grants"
    __table_args__ = (
        CheckConstraint("status IN ('pending','approved','refused','cancelled','revoked')", name="status"),
        CheckConstraint("(school_id IS NULL) <> (class_id IS NULL)", name="one_target"),
        Index("ix_access_grants_status", "status", "school_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    school_id: Mapped[int | None] = mapped_column(ForeignKey("schools.id", ondelete="CASCADE"))  # a counselor's
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"))  # a head teacher's
    status: Mapped[str] = mapped_column(String(10), default="pending")
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    proposed_as: Mapped[str] = mapped_column(String(64))  # the proposer's name (a user, "cli:<os user>", the seed)
    proposed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_as: Mapped[str | None] = mapped_column(String(64))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(300))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    school: Mapped[School | None] = relationship()
    school_class: Mapped[SchoolClass | None] = relationship()
    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    @property
    def target_school_id(self) -> int:
        """The school whose records the grant opens (a class's school for a head teacher)."""
        if self.school_id is not None:
            return self.school_id
        assert self.school_class is not None  # one_target: a class when there is no school
        return self.school_class.school_id
