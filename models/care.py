"""Care cases (个案) with their sealed plan and timeline, and care-group check-ins."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, Index, Integer, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import CLINICAL, Base, HasUid, UTCDateTime, utcnow
from .roster import Student, StudentOwned, User
from .vault import register_sealed

CASE_STATUSES = ("open", "following", "referred", "closed")
ENTRY_KINDS = (
    "interview",  # 约谈
    "checkin",  # 随访 / check-in
    "parent_contact",  # 家校沟通
    "observation",  # 班主任观察记录
    "referral",  # 转介
    "return",  # 返校
    "confidentiality",  # confidentiality broken because of risk of harm: who was told, when, why
    "note",
)
VISIBILITIES = ("counselor", "shared")


@register_sealed("plan", "close_reason")
class CareCase(Base, HasUid, StudentOwned):
    __tablename__ = "care_cases"
    __table_args__ = (
        CheckConstraint("status IN ('open','following','referred','closed')", name="status"),
        Index("ix_care_cases_school_status", "school_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    warning_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id"))
    level: Mapped[str] = mapped_column(String(5))
    status: Mapped[str] = mapped_column(String(10), default="open")
    plan_enc: Mapped[bytes | None] = mapped_column(
        LargeBinary, info=CLINICAL
    )  # JSON {goals, measures, responsibilities}
    plan_review_on: Mapped[date | None] = mapped_column(Date)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    close_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Optimistic locking: a second save from a stale form is refused (StaleDataError), nothing lost.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    student: Mapped[Student] = relationship()
    owner: Mapped[User | None] = relationship()
    entries: Mapped[list[CaseEntry]] = relationship(back_populates="case", order_by="CaseEntry.occurred_on")


CONSENT_HOWS = ("phone", "in_person", "written")  # how the guardian's consent to a referral was given


@register_sealed("note", "destination", "feedback", "told_whom", "consent_by", "no_consent_reason", "service_feedback")
class CaseEntry(Base, HasUid, StudentOwned):
    """A timeline entry: interview, check-in, parent contact, observation, referral, return, confidentiality.

    `case_id` may be empty: a head teacher's observation on a student who has no open case still reaches the
    counselor. Referral entries carry destination, status and feedback; confidentiality entries carry who was
    told (sealed), when (`occurred_on`) and why (`note`).
    """

    __tablename__ = "case_entries"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('interview','checkin','parent_contact','observation','referral','return','confidentiality',"
            "'note')",
            name="kind",
        ),
        CheckConstraint("visibility IN ('counselor','shared')", name="visibility"),
        CheckConstraint(
            "referral_status IS NULL OR referral_status IN ('planned','sent','accepted','feedback','closed')",
            name="referral_status",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("care_cases.id"), index=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    occurred_on: Mapped[date] = mapped_column(Date)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    visibility: Mapped[str] = mapped_column(String(10), default="counselor")
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    destination_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    referral_status: Mapped[str | None] = mapped_column(String(10))
    feedback_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    told_whom_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    # A referral made because the safety assessment found imminent risk (emergency services, a hospital today).
    emergency: Mapped[bool] = mapped_column(default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    seen_by_counselor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A referral's guardian consent (app/care/referrals.py), recorded before its packet may be printed: who gave it
    # (sealed), on which day and how (phone / in person / written, in clear); or, without consent, the reason
    # (sealed, e.g. imminent risk). `consent_recorded_at` says either was recorded.
    consent_how: Mapped[str | None] = mapped_column(String(10))
    consent_on: Mapped[date | None] = mapped_column(Date)
    consent_by_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    no_consent_reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    consent_recorded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The service's feedback: JSON {impression, advice, next_appointment}, sealed; when it was recorded in clear
    # (the worklist's overdue feedback and the district's count of feedback received read it).
    service_feedback_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    feedback_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    case: Mapped[CareCase | None] = relationship(back_populates="entries")
    author: Mapped[User | None] = relationship()


@register_sealed("note")
class CareCheckin(Base, HasUid, StudentOwned):
    """A termly check-in with a care-group student (by head teacher or counselor)."""

    __tablename__ = "care_checkins"

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    term: Mapped[str] = mapped_column(String(20))
    occurred_on: Mapped[date] = mapped_column(Date)
    by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    by_role: Mapped[str] = mapped_column(String(20))
    guardian_contacted: Mapped[bool] = mapped_column(default=False)
    note_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# -- the structured crisis response of a level-1 warning (docs/decisions.md, "Crisis response") ---------------------
# The brief suicide safety assessment follows the structure of NIMH's BSSA (Brief Suicide Safety Assessment,
# ASQ toolkit): the counselor asks about the thoughts, a plan, past attempts, access to means and supports, and
# ends with one of three outcomes. The safety plan follows the six steps of the Stanley-Brown safety planning
# intervention (Stanley & Brown 2012).
ASSESSMENT_QUESTIONS = ("thoughts", "plan", "past_attempts", "means", "supports")
ASSESSMENT_ANSWERS = ("yes", "no", "unknown")
ASSESSMENT_OUTCOMES = ("imminent", "further_evaluation", "no_current_risk")
SAFETY_PLAN_STEPS = ("warning_signs", "coping", "distractions", "help_people", "professionals", "environment")
SAFETY_PLAN_STATUSES = ("active", "ended")


@register_sealed("answers", "reason")
class SafetyAssessment(Base, HasUid, StudentOwned):
    """A brief suicide safety assessment of one level-1 warning. Answers and reason are sealed; the outcome is a
    category in clear (like a level) because the next steps and the district counts depend on it."""

    __tablename__ = "safety_assessments"
    __table_args__ = (
        CheckConstraint("outcome IN ('imminent','further_evaluation','no_current_risk')", name="outcome"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    warning_id: Mapped[int] = mapped_column(ForeignKey("warnings.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("care_cases.id"), index=True)
    counselor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answers_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)  # JSON {question: {answer, note}}
    outcome: Mapped[str] = mapped_column(String(20))
    reason_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)

    counselor: Mapped[User | None] = relationship()


@register_sealed(*SAFETY_PLAN_STEPS)
class SafetyPlan(Base, HasUid, StudentOwned):
    """The student's safety plan (one per case): the six Stanley-Brown steps, each sealed, and a review date."""

    __tablename__ = "safety_plans"
    __table_args__ = (CheckConstraint("status IN ('active','ended')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("care_cases.id"), unique=True)
    warning_id: Mapped[int | None] = mapped_column(ForeignKey("warnings.id"), index=True)  # the L1 warning answered
    warning_signs_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    coping_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    distractions_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    help_people_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    professionals_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    environment_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    review_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="active")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


# -- a student's request to talk (我想找老师聊聊), from the student entrance or raised by a head teacher --------------
HELP_URGENCIES = ("urgent", "soon", "whenever")


@register_sealed("message")
class HelpRequest(Base, HasUid, StudentOwned):
    """A request to talk to the counselor. `urgent` is treated like a crisis (alert now, re-alert while nobody
    acknowledged it); the others go to the worklist. The student's optional message is sealed."""

    __tablename__ = "help_requests"
    __table_args__ = (
        CheckConstraint("urgency IN ('urgent','soon','whenever')", name="urgency"),
        CheckConstraint("raised_by IN ('student','head_teacher')", name="raised_by"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    student_id: Mapped[int] = mapped_column(ForeignKey("students.id"), index=True)
    school_id: Mapped[int] = mapped_column(ForeignKey("schools.id"), index=True)
    urgency: Mapped[str] = mapped_column(String(10))
    raised_by: Mapped[str] = mapped_column(String(20))
    raised_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    message_enc: Mapped[bytes | None] = mapped_column(LargeBinary, info=CLINICAL)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
