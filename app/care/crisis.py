"""The structured crisis response of a level-1 warning: the brief suicide safety assessment, the safety plan, and
the next steps the assessment's outcome requires before the case may move on.

A level-1 warning is not "done" when the counselor confirms it. The case gets a brief suicide safety assessment
(the structure of NIMH's BSSA: thoughts, plan, past attempts, access to means, supports; outcome imminent risk /
further evaluation needed / no current risk, with the reason) the same day (school time zone, models/clock.py).
The outcome decides what must be recorded before the case is closed or its level lowered:

- imminent: the guardian informed (a parent-contact entry) and an emergency referral (a referral entry marked
  emergency), both on or after the warning's day;
- further evaluation: a referral, due within `referral_days()` of the assessment, and a safety plan;
- no current risk: a safety plan, or a documented reason to lower the level (lowering takes a reason: the
  confirm form's reason is that document, sealed in the warning's history).

The rules live here (service layer), not in the views: `check_can_close` and `check_can_lower` raise
`CrisisStepsMissing` naming what is missing. Every function takes the session and the acting user, flushes,
never commits, seals free text through the vault and writes its audit event.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Actor, CareCase, CaseEntry, SafetyAssessment, SafetyPlan, Warning, WarningChange, append_event, clock
from models.care import ASSESSMENT_ANSWERS, ASSESSMENT_OUTCOMES, ASSESSMENT_QUESTIONS, SAFETY_PLAN_STEPS
from models.vault import Vault

from .errors import CareError

# POLICY: a "further evaluation needed" outcome is referred within 3 calendar days of the assessment. NIMH's
# ASQ pathway sends such a student for a full mental-health evaluation without a fixed interval in the outpatient
# chart; SPRC advises follow-up care within 48 hours of a crisis transition. 3 days (72 hours) leaves a weekend
# in reach while staying inside a school week. A district changes it with the setting CRISIS_REFERRAL_DAYS.
REFERRAL_DAYS = 3
# POLICY: a safety plan is reviewed within 7 days unless the counselor sets another date: the level-1 recheck
# interval of config/warning_policy.yaml (7 days), so the plan is looked at again when the student is rechecked.
PLAN_REVIEW_DAYS = 7

STEP_KEYS = ("assessment", "guardian", "emergency_referral", "referral", "safety_plan")


class CrisisStepsMissing(CareError):
    """A level-1 case may not move on yet: `missing` lists the step keys (STEP_KEYS) still to record."""

    def __init__(self, action: str, missing: list[str]):
        super().__init__(f"level-1 case cannot be {action}: missing {', '.join(missing)}")
        self.action = action
        self.missing = missing


def referral_days() -> int:
    if has_app_context():
        return int(current_app.config.get("CRISIS_REFERRAL_DAYS", REFERRAL_DAYS))
    return REFERRAL_DAYS


def local_day(moment: datetime, tz: Any = None) -> date:
    """The calendar day of a UTC instant in the school time zone."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return aware.astimezone(clock.school_timezone(tz)).date()


def is_level_one(warning: Warning) -> bool:
    level = warning.confirmed_level or warning.suggested_level
    return level == "L1" and warning.status in ("suggested", "confirmed")


# -- writes -------------------------------------------------------------------------------------------------------
def record_assessment(
    db: Session, actor: Actor, vault: Vault, warning: Warning, answers: dict[str, dict[str, str]], outcome: str,
    reason: str | None, *, at: datetime | None = None,
) -> SafetyAssessment:
    """Record a brief suicide safety assessment of a level-1 warning. `answers`: question -> {answer, note}.
    `at` (default now) is given for historical loads (the demo's story)."""
    if actor.role not in ("counselor", "system"):
        raise CareError("Only a counselor records a safety assessment.")
    if not is_level_one(warning):
        raise CareError("A safety assessment is recorded for an open level-1 warning.")
    clean: dict[str, dict[str, str]] = {}
    for question in ASSESSMENT_QUESTIONS:
        given = answers.get(question) or {}
        answer = given.get("answer")
        if answer not in ASSESSMENT_ANSWERS:
            raise CareError(f"Answer every question (yes, no or unknown): {question}.")
        clean[question] = {"answer": str(answer), "note": (given.get("note") or "").strip()}
    if outcome not in ASSESSMENT_OUTCOMES:
        raise CareError("Choose the outcome of the assessment.")
    if reason is None or not reason.strip():
        raise CareError("Give the reason for the outcome.")
    case = _case_of(db, warning)
    row = SafetyAssessment(
        student_id=warning.student_id, warning_id=warning.id, case_id=case.id if case else None,
        counselor_id=actor.user_id, assessed_at=at or clock.now(), outcome=outcome,
    )
    row.ensure_uid()
    vault.seal_into(row, "answers", clean, student=warning.student)
    vault.seal_into(row, "reason", reason.strip(), student=warning.student)
    db.add(row)
    db.flush()
    append_event(db, actor, "crisis.assessment_recorded", student_public_id=warning.student.public_id,
                 target=f"assessment:{row.uid}", detail={"warning": warning.uid, "outcome": outcome})
    return row


def save_safety_plan(
    db: Session, actor: Actor, vault: Vault, case: CareCase, steps: dict[str, str], review_on: date | None,
    *, at: datetime | None = None,
) -> SafetyPlan:
    """Create or update the case's safety plan (six Stanley-Brown steps, each sealed) and its review date.
    `at` (default now) is given for historical loads (the demo's story)."""
    if actor.role not in ("counselor", "system"):
        raise CareError("Only a counselor writes a safety plan.")
    if case.status == "closed":
        raise CareError("This case is closed.")
    clean = {step: (steps.get(step) or "").strip() for step in SAFETY_PLAN_STEPS}
    if not clean["warning_signs"]:
        raise CareError("Step 1 (warning signs) is required.")
    if not clean["professionals"]:
        raise CareError("Step 5 (professionals and services) is required.")
    if review_on is None:
        raise CareError("Give the review date of the safety plan.")
    plan = plan_of(db, case)
    created = plan is None
    if plan is None:
        plan = SafetyPlan(student_id=case.student_id, case_id=case.id, warning_id=case.warning_id,
                          created_by_id=actor.user_id, created_at=at or clock.now(), status="active")
        plan.ensure_uid()
        db.add(plan)
    for step, text in clean.items():
        vault.seal_into(plan, step, text or None, student=case.student)
    plan.review_on = review_on
    plan.status = "active"
    plan.updated_at = at or clock.now()
    db.flush()
    append_event(db, actor, "crisis.safety_plan_saved", student_public_id=case.student.public_id,
                 target=f"safety_plan:{plan.uid}", detail={"created": created, "review_on": review_on.isoformat()})
    return plan


def end_plan_on_close(db: Session, case: CareCase) -> None:
    """A closed case's safety plan ends: its review no longer appears on the worklist."""
    plan = plan_of(db, case)
    if plan is not None:
        plan.status = "ended"


# -- reads --------------------------------------------------------------------------------------------------------
def _case_of(db: Session, warning: Warning) -> CareCase | None:
    return db.scalars(
        select(CareCase).where(CareCase.warning_id == warning.id, CareCase.status != "closed")
    ).first()


def latest_assessment(db: Session, warning_id: int | None) -> SafetyAssessment | None:
    if warning_id is None:
        return None
    return db.scalars(
        select(SafetyAssessment).where(SafetyAssessment.warning_id == warning_id)
        .order_by(SafetyAssessment.assessed_at.desc(), SafetyAssessment.id.desc())
    ).first()


def plan_of(db: Session, case: CareCase) -> SafetyPlan | None:
    return db.scalars(select(SafetyPlan).where(SafetyPlan.case_id == case.id)).first()


@dataclass
class Step:
    key: str  # one of STEP_KEYS
    done: bool
    due: date | None = None


@dataclass
class CrisisResponse:
    """Where a level-1 warning's response stands: its assessment, the plan, and the steps its outcome needs."""

    warning: Warning
    assessment: SafetyAssessment | None
    plan: SafetyPlan | None
    steps: list[Step] = field(default_factory=list)
    same_day: bool | None = None  # the assessment was recorded on the warning's day (school time zone)
    lowered: bool = False

    @property
    def missing(self) -> list[str]:
        return [s.key for s in self.steps if not s.done]

    @property
    def outcome(self) -> str | None:
        return self.assessment.outcome if self.assessment else None


def response_for(db: Session, warning: Warning, case: CareCase | None = None, tz: Any = None) -> CrisisResponse:
    """The steps of the warning's crisis response, by its latest assessment's outcome."""
    warning_day = local_day(warning.created_at, tz)
    assessment = latest_assessment(db, warning.id)
    case = case or _case_of(db, warning)
    plan = plan_of(db, case) if case is not None else None
    out = CrisisResponse(warning, assessment, plan)
    out.steps.append(Step("assessment", assessment is not None, warning_day))
    if assessment is None:
        return out
    assessed_day = local_day(assessment.assessed_at, tz)
    out.same_day = assessed_day == warning_day
    entries = db.execute(
        select(CaseEntry.kind, CaseEntry.emergency).where(
            CaseEntry.student_id == warning.student_id, CaseEntry.occurred_on >= warning_day,
            CaseEntry.kind.in_(("parent_contact", "referral")),
        )
    ).all()
    guardian = any(kind == "parent_contact" for kind, _ in entries)
    emergency = any(kind == "referral" and bool(flag) for kind, flag in entries)
    referral = any(kind == "referral" for kind, _ in entries)
    has_plan = plan is not None and plan.status == "active"
    if assessment.outcome == "imminent":
        out.steps += [Step("guardian", guardian, assessed_day), Step("emergency_referral", emergency, assessed_day)]
    elif assessment.outcome == "further_evaluation":
        out.steps += [Step("referral", referral, assessed_day + timedelta(days=referral_days())),
                      Step("safety_plan", has_plan)]
    else:
        out.steps.append(Step("safety_plan", has_plan))
    out.lowered = db.scalar(
        select(WarningChange.id).where(WarningChange.warning_id == warning.id,
                                       WarningChange.action.in_(("lowered", "dismissed"))).limit(1)
    ) is not None
    return out


# -- the rules ----------------------------------------------------------------------------------------------------
def check_can_close(db: Session, case: CareCase) -> None:
    """A level-1 case closes only when its warning's assessment and every step its outcome requires are recorded."""
    if case.level != "L1" or case.warning_id is None:
        return
    warning = db.get_one(Warning, case.warning_id)
    missing = response_for(db, warning, case).missing
    if missing:
        raise CrisisStepsMissing("closed", missing)


def check_can_lower(db: Session, warning: Warning) -> None:
    """A level-1 warning is lowered or dismissed only after its assessment; an imminent risk only once the guardian
    and the emergency referral are recorded, a further evaluation once the referral and the safety plan are. A no
    current risk outcome may be lowered with the reason the confirm form asks for (the documented reason)."""
    response = response_for(db, warning)
    missing = response.missing
    if response.outcome == "no_current_risk":
        missing = [m for m in missing if m != "safety_plan"]
    if missing:
        raise CrisisStepsMissing("lowered", missing)
