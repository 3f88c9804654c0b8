"""Campaigns, class sessions, screenings (answers sealed, results in clear), warnings and their history."""
from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import ColumnElement

from .base import CLINICAL, IDENTITY, KEY, Base, HasUid, UTCDateTime, new_uid, utcnow
from .roster import School, SchoolClass, Student, StudentOwned, User, counselor_schools
from .vault import register_sealed

if TYPE_CHECKING:
    from screening import Result

MODES = ("self", "paper", "import")
LEVELS = ("L1", "L2", "L3", "care", "none")
WARNING_STATUSES = ("suggested", "confirmed", "dismissed", "superseded")

campaign_schools = Table(
    "campaign_schools",
    Base.metadata,
    Column("campaign_id", ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("school_id", ForeignKey("schools.id", ondelete="CASCADE"), primary_key=True),
)


class Campaign(Base):
    """A screening campaign (测评计划): instruments per grade range, a window, guardian notice."""

    __tablename__ = "campaigns"
    __table_args__ = (CheckConstraint("status IN ('draft','open','closed')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    term: Mapped[str] = mapped_column(String(20), index=True)  # e.g. 2026-2027-1 (autumn) / 2026-2027-2
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="open")
    guardian_notice: Mapped[str | None] = mapped_column(String(200))  # how guardians were informed (no PII)
    guardian_notice_on: Mapped[date | None] = mapped_column(Date)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    schools: Mapped[list[School]] = relationship(secondary=campaign_schools, order_by="School.code")
    instruments: Mapped[list[CampaignInstrument]] = relationship(
        cascade="all, delete-orphan", back_populates="campaign", order_by="CampaignInstrument.grade_from"
    )

    def instruments_for_grade(self, grade: int) -> list[str]:
        return [ci.instrument_id for ci in self.instruments if ci.grade_from <= grade <= ci.grade_to]

    @classmethod
    def visible_to(cls, user: User) -> ColumnElement[bool]:
        """A counselor sees the campaigns that cover one of their schools; nobody else manages campaigns."""
        if not user.is_authenticated or not user.active or user.role != "counselor":
            return false()
        mine = select(counselor_schools.c.school_id).where(counselor_schools.c.user_id == user.id)
        return cls.id.in_(select(campaign_schools.c.campaign_id).where(campaign_schools.c.school_id.in_(mine)))


class CampaignInstrument(Base):
    __tablename__ = "campaign_instruments"
    __table_args__ = (
        CheckConstraint("grade_from BETWEEN 1 AND 9 AND grade_to BETWEEN grade_from AND 9", name="grades"),
        UniqueConstraint("campaign_id", "instrument_id", "grade_from", name="uq_campaign_instruments_rule"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    instrument_id: Mapped[str] = mapped_column(String(32))
    grade_from: Mapped[int] = mapped_column(Integer)
    grade_to: Mapped[int] = mapped_column(Integer)

    campaign: Mapped[Campaign] = relationship(back_populates="instruments")


class CampaignOptOut(Base, StudentOwned):
    """A guardian declined screening for this campaign: the student is excluded from sessions and counted."""

    __tablename__ = "campaign_opt_outs"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), primary_key=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ClassSession(Base):
    """A class self-completing in the computer room (测评场次) with a short code that expires."""

    __tablename__ = "class_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), index=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id"), index=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    campaign: Mapped[Campaign] = relationship()
    school_class: Mapped[SchoolClass] = relationship()

    @classmethod
    def visible_to(cls, user: User) -> ColumnElement[bool]:
        """A class session is visible to the counselors of its class's school."""
        if not user.is_authenticated or not user.active or user.role != "counselor":
            return false()
        mine = select(counselor_schools.c.school_id).where(counselor_schools.c.user_id == user.id)
        return cls.class_id.in_(select(SchoolClass.id).where(SchoolClass.school_id.in_(mine)))


class EntryCode(Base):
    """A student's personal entry code for one class session (the student entrance asks for it with the session
    code and the student number). Never in clear: `code_enc` is AES-256-GCM under the master key's purpose key
    "student-entry-code" (app/screenings/entry_codes.py), bound to the session and the student. `failures` counts
    wrong codes since the last right one or lock; `locked_until` locks this student out of this session."""

    __tablename__ = "session_entry_codes"
    __table_args__ = (UniqueConstraint("session_id", "student_id", name="uq_session_entry_codes_one"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("class_sessions.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    code_enc: Mapped[bytes] = mapped_column(LargeBinary, info=KEY)  # a credential: sealed like key material
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


@register_sealed("answers")
class ResponseDraft(Base, HasUid, StudentOwned):
    """Answers saved as a student goes, so a dropped connection loses nothing. Sealed like final answers."""

    __tablename__ = "response_drafts"
    __table_args__ = (UniqueConstraint("session_id", "student_id", "instrument_id", name="uq_response_drafts_one"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("class_sessions.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    instrument_id: Mapped[str] = mapped_column(String(32))
    answers_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


@register_sealed("answers")
class PaperGridDraft(Base, HasUid, StudentOwned):
    """One student's row of a half-entered class grid of paper forms (app/screenings/grid.py): the answers typed
    so far, sealed under the student's key like every answer, until the grid is saved. One per class, instrument
    and student; any counselor of the school continues it."""

    __tablename__ = "paper_grid_drafts"
    __table_args__ = (
        UniqueConstraint("class_id", "instrument_id", "student_id", name="uq_paper_grid_drafts_one"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    class_id: Mapped[int] = mapped_column(ForeignKey("classes.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id", ondelete="CASCADE"), index=True)
    instrument_id: Mapped[str] = mapped_column(String(32))
    answers_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


@register_sealed("answers")
class Screening(Base, HasUid, StudentOwned):
    """One administered instrument. Answers are sealed; the derived result stays in clear for plain SQL."""

    __tablename__ = "screenings"
    __table_args__ = (
        CheckConstraint("mode IN ('self','paper','import')", name="mode"),
        # A student answers a campaign's instrument once (NULL campaign: ad-hoc/recheck, not constrained).
        UniqueConstraint("campaign_id", "student_id", "instrument_id", name="uq_screenings_campaign_student_instr"),
        Index("ix_screenings_school_date", "school_id", "administered_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # the client-side random uid doubles as the "insert sentinel": SQLite can then INSERT many screenings in one
    # statement and still match the returned ids to the rows (bulk imports); no schema change
    uid: Mapped[str] = mapped_column(String(36), unique=True, default=new_uid, insert_sentinel=True, info=IDENTITY)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))  # at the time of screening
    class_id: Mapped[int | None] = mapped_column(ForeignKey("classes.id"))
    grade: Mapped[int] = mapped_column(Integer)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(ForeignKey("class_sessions.id"))
    recheck_id: Mapped[int | None] = mapped_column(ForeignKey("rechecks.id", use_alter=True), index=True)
    instrument_id: Mapped[str] = mapped_column(String(32), index=True)
    instrument_version: Mapped[str] = mapped_column(String(20))
    mode: Mapped[str] = mapped_column(String(10))
    administered_on: Mapped[date] = mapped_column(Date)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    answers_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    valid: Mapped[bool] = mapped_column(Boolean)
    total: Mapped[int | None] = mapped_column(Integer, info=CLINICAL)
    band: Mapped[str | None] = mapped_column(String(30), info=CLINICAL)
    positive: Mapped[bool | None] = mapped_column(Boolean)
    critical: Mapped[bool] = mapped_column(Boolean, default=False)
    flags: Mapped[str] = mapped_column(Text, default="[]", info=CLINICAL)  # JSON list
    result_json: Mapped[str] = mapped_column(Text, default="{}", info=CLINICAL)  # subscales, short forms, explanation
    suggested_level: Mapped[str] = mapped_column(String(5))

    student: Mapped[Student] = relationship()

    # the engine result's details kept in result_json (the rest has its own column)
    RESULT_DETAIL = ("subscales", "short_forms", "explanation", "symptom_count", "severe", "critical_items",
                     "missing_items", "reason")

    @classmethod
    def from_result(
        cls, result: Result, student: Student, *, suggested_level: str, mode: str, administered_on: date,
        campaign_id: int | None = None, session_id: int | None = None, recheck_id: int | None = None,
        recorded_by_id: int | None = None,
    ) -> Screening:
        """The row of one scored instrument (`screening.Result`): the student's school, class and grade at the time,
        the result's figures in their columns and its details in `result_json`. The answers are sealed by the
        caller (they need the vault)."""
        detail = result.to_dict()
        return cls(
            student_id=student.id, school_id=student.school_id, class_id=student.class_id, grade=student.grade,
            campaign_id=campaign_id, session_id=session_id, recheck_id=recheck_id,
            instrument_id=result.instrument, instrument_version=result.version, mode=mode,
            administered_on=administered_on, recorded_by_id=recorded_by_id,
            valid=result.valid, total=result.total, band=result.band, positive=result.positive,
            critical=result.critical, flags=json.dumps(list(result.flags)),
            result_json=json.dumps({k: detail[k] for k in cls.RESULT_DETAIL}, ensure_ascii=False),
            suggested_level=suggested_level,
        )


class Warning(Base, HasUid, StudentOwned):
    """A warning (预警): the level the rules suggested, and the level a counselor confirmed and why."""

    __tablename__ = "warnings"
    __table_args__ = (
        CheckConstraint("suggested_level IN ('L1','L2','L3','care','none')", name="suggested"),
        CheckConstraint("confirmed_level IS NULL OR confirmed_level IN ('L1','L2','L3','care','none')",
                        name="confirmed"),
        CheckConstraint("status IN ('suggested','confirmed','dismissed','superseded')", name="status"),
        Index("ix_warnings_school_status", "school_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    screening_id: Mapped[int | None] = mapped_column(ForeignKey("screenings.id"), index=True)
    suggested_level: Mapped[str] = mapped_column(String(5))
    reasons: Mapped[str] = mapped_column(Text, default="[]", info=CLINICAL)  # JSON [{zh, en}] rule texts, no identity
    confirmed_level: Mapped[str | None] = mapped_column(String(5))
    status: Mapped[str] = mapped_column(String(12), default="suggested")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    interview_due_on: Mapped[date | None] = mapped_column(Date)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # crisis alert acknowledged
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    first_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # for same-day crisis contact figures

    student: Mapped[Student] = relationship()
    screening: Mapped[Screening | None] = relationship()
    history: Mapped[list[WarningChange]] = relationship(
        back_populates="warning", order_by="WarningChange.at", cascade="all, delete-orphan"
    )

    @property
    def level(self) -> str:
        return self.confirmed_level or self.suggested_level


@register_sealed("reason")
class WarningChange(Base, HasUid, StudentOwned):
    """History of a warning's level: suggested, confirmed, raised, lowered, dismissed. The reason is sealed."""

    __tablename__ = "warning_changes"
    __table_args__ = (
        CheckConstraint("action IN ('suggested','confirmed','raised','lowered','dismissed','superseded')",
                        name="action"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id", ondelete="CASCADE"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"))
    action: Mapped[str] = mapped_column(String(12))
    from_level: Mapped[str | None] = mapped_column(String(5))
    to_level: Mapped[str | None] = mapped_column(String(5))
    reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    warning: Mapped[Warning] = relationship(back_populates="history")
    by: Mapped[User | None] = relationship()


class Notification(Base):
    """An in-app notification. Holds a kind and references, never clinical text; rendered per locale.

    `dedup_key` makes creation idempotent: a sweep that runs twice finds the key and creates nothing.
    """

    __tablename__ = "notifications"
    __table_args__ = (UniqueConstraint("user_id", "dedup_key", name="uq_notifications_user_dedup"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # crisis, crisis_realert, recheck_due, recheck_overdue, ...
    dedup_key: Mapped[str] = mapped_column(String(120))
    student_id: Mapped[int | None] = mapped_column(ForeignKey("students.id"))
    warning_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id"))
    recheck_id: Mapped[int | None] = mapped_column(ForeignKey("rechecks.id", use_alter=True))
    params: Mapped[str] = mapped_column(Text, default="{}")  # JSON, non-clinical (counts, dates)
    requires_ack: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @classmethod
    def visible_to(cls, user: User) -> ColumnElement[bool]:
        """A notification is its recipient's alone (it may name a student; the recipient was in scope when told)."""
        return cls.user_id == user.id
