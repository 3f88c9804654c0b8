"""Referral packets (转介材料) and the service's feedback: consent first, a packet of the chosen sections, feedback.

A referral is a timeline entry (`CaseEntry`, kind "referral", app/care/service.py). On top of it:

- **Consent first.** The guardian's consent is recorded before a packet may be printed: who gave it (sealed), the
  day and how (phone / in person / written). A referral without consent records the reason instead (sealed;
  e.g. imminent risk, when the student is taken to the emergency service before a guardian is reached).
- **The packet** is a PDF (app/reports machinery) of the sections the counselor ticks, and nothing else: the
  reason, the screening results with their dates, the observed risk (the case level and the latest safety
  assessment), the safety plan, the contacts (guardians, the counselor). Every line of the packet's student
  header (name, gender, birth month, school, class, the destination) is what any referral form carries.
  Unticked sections are not even opened. Generating it is an audited read of the file (`referral.packet`, with
  the sections in the detail).
- **Feedback** from the service (diagnosis impression, advice, next appointment) is sealed as one JSON value
  into `service_feedback_enc`; `feedback_at` (clear) is when it was recorded. A referral still without feedback
  `feedback_days()` after it was made is a worklist item (`referral_feedback`, app/care/queries.py); the district
  figures count referrals and feedback received (app/district/service/cubes.py), never names.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import (
    Actor,
    CareCase,
    CaseEntry,
    SafetyAssessment,
    Screening,
    Student,
    User,
    append_event,
    utcnow,
)
from models.care import CONSENT_HOWS, SAFETY_PLAN_STEPS
from models.vault import Reader, Vault

from .errors import CareError

# A referral with no feedback this many days after it was made comes onto the counselor's worklist. Two weeks: an
# outpatient mental-health service in China usually sees a referred student within one to two weeks, and the
# school should know by then whether the student went. A district changes it with REFERRAL_FEEDBACK_DAYS.
FEEDBACK_DAYS = 14
PACKET_SECTIONS = ("reason", "screenings", "risk", "safety_plan", "contacts")
NO_CONSENT = "none"  # the consent form's "without consent" choice (the reason is then required)
OPEN_STATUSES = ("planned", "sent", "accepted")  # a referral awaiting the service's feedback


def feedback_days() -> int:
    if has_app_context():
        return int(current_app.config.get("REFERRAL_FEEDBACK_DAYS", FEEDBACK_DAYS))
    return FEEDBACK_DAYS


def _referral(entry: CaseEntry) -> None:
    if entry.kind != "referral":
        raise CareError("Not a referral.")


def has_consent_record(entry: CaseEntry) -> bool:
    """The guardian's consent, or the reason for going without it, is on record (the packet may be printed)."""
    return entry.consent_recorded_at is not None


def record_consent(
    db: Session, actor: Actor, vault: Vault, entry: CaseEntry, student: Student, *, how: str,
    by: str | None = None, on: date | None = None, no_consent_reason: str | None = None,
) -> None:
    """Record the guardian's consent to the referral (who, when, how), or the reason there is none."""
    _referral(entry)
    if how == NO_CONSENT:
        reason = (no_consent_reason or "").strip()
        if not reason:
            raise CareError("A referral without the guardian's consent needs a reason.")
        entry.consent_how, entry.consent_on = None, None
        vault.seal_into(entry, "consent_by", None, student=student)
        vault.seal_into(entry, "no_consent_reason", reason, student=student)
    elif how in CONSENT_HOWS:
        who = (by or "").strip()
        if not who or on is None:
            raise CareError("Say who gave consent and when.")
        entry.consent_how, entry.consent_on = how, on
        vault.seal_into(entry, "consent_by", who, student=student)
        vault.seal_into(entry, "no_consent_reason", None, student=student)
    else:
        raise CareError("Say how consent was given.")
    entry.consent_recorded_at = utcnow()
    db.flush()
    append_event(db, actor, "referral.consent_recorded", student_public_id=student.public_id,
                 target=f"entry:{entry.uid}", detail={"how": how})


def record_feedback(
    db: Session, actor: Actor, vault: Vault, entry: CaseEntry, student: Student, *, impression: str | None,
    advice: str | None, next_appointment: date | None,
) -> None:
    """The service's feedback, sealed; the referral's status becomes "feedback received"."""
    _referral(entry)
    value = {"impression": (impression or "").strip(), "advice": (advice or "").strip(),
             "next_appointment": next_appointment.isoformat() if next_appointment else ""}
    if not (value["impression"] or value["advice"]):
        raise CareError("Record the service's impression or advice.")
    vault.seal_into(entry, "service_feedback", value, student=student)
    entry.feedback_at = utcnow()
    entry.referral_status = "feedback"
    db.flush()
    append_event(db, actor, "referral.feedback_recorded", student_public_id=student.public_id,
                 target=f"entry:{entry.uid}", detail={"next_appointment": bool(next_appointment)})


def service_feedback(reader: Reader, entry: CaseEntry) -> dict[str, str] | None:
    if entry.service_feedback_enc is None:
        return None
    value = reader.get_json(entry, "service_feedback") or {}
    return {k: str(value.get(k) or "") for k in ("impression", "advice", "next_appointment")}


def consent_view(reader: Reader, entry: CaseEntry) -> dict[str, Any] | None:
    if not has_consent_record(entry):
        return None
    return {"how": entry.consent_how or NO_CONSENT, "on": entry.consent_on, "by": reader.get(entry, "consent_by"),
            "no_consent_reason": reader.get(entry, "no_consent_reason"), "recorded_at": entry.consent_recorded_at}


# -- the packet -----------------------------------------------------------------------------------------------
@dataclass
class Packet:
    """What the packet prints: the header (always) and the chosen sections (None when not chosen)."""

    entry: CaseEntry
    student: Student
    name: str | None
    destination: str | None
    sections: tuple[str, ...]
    consent: dict[str, Any] | None
    reason: str | None = None
    screenings: list[dict[str, Any]] | None = None
    risk: dict[str, Any] | None = None
    safety_plan: list[tuple[str, str]] | None = None
    contacts: dict[str, Any] | None = None


def _ordered_answers(answers: dict[str, Any] | None) -> list[tuple[str, dict[str, Any]]]:
    from models.care import ASSESSMENT_QUESTIONS

    answers = answers or {}
    return [(q, answers[q]) for q in ASSESSMENT_QUESTIONS if q in answers]


def _screening_row(s: Screening) -> dict[str, Any]:
    """One result as the file's screening section shows it: date, instrument, total, the band's name."""
    from app.texts import pick
    from screening.errors import UnknownInstrument
    from screening.registry import get_instrument

    band = None
    try:
        inst = get_instrument(s.instrument_id)
        found = inst.total.band_for(s.total) if inst.total and s.total is not None else None
        band = pick(found.label) if found else None
    except UnknownInstrument:  # an instrument no longer in the registry: the date and the score still say enough
        band = None
    return {"on": s.administered_on, "instrument_id": s.instrument_id, "total": s.total, "band": band,
            "positive": bool(s.positive)}


def chosen_sections(values: list[str]) -> tuple[str, ...]:
    """The ticked sections, in the packet's order; anything else is ignored."""
    picked = set(values)
    return tuple(s for s in PACKET_SECTIONS if s in picked)


def build_packet(db: Session, vault: Vault, entry: CaseEntry, student: Student, sections: tuple[str, ...],
                 counselor: User) -> Packet:
    """Open the file (one audit event, `referral.packet`, listing the sections) and gather ONLY the chosen
    sections. Refused until the consent (or the reason without it) is on record."""
    _referral(entry)
    if not has_consent_record(entry):
        raise CareError("Record the guardian's consent (or the reason without it) before the packet.")
    if not sections:
        raise CareError("Choose at least one section for the packet.")
    reader = vault.reveal(student, "referral.packet", target=f"entry:{entry.uid}",
                          detail={"format": "pdf", "sections": list(sections)})
    packet = Packet(entry=entry, student=student, name=reader.name, destination=reader.get(entry, "destination"),
                    sections=sections, consent=consent_view(reader, entry))
    case: CareCase | None = entry.case
    if "reason" in sections:
        packet.reason = reader.get(entry, "note") or ""
    if "screenings" in sections:
        packet.screenings = [_screening_row(s) for s in db.scalars(
            select(Screening).where(Screening.student_id == student.id, Screening.valid.is_(True))
            .order_by(Screening.administered_on.desc(), Screening.id.desc()).limit(20)
        )]
    if "risk" in sections:
        assessment = None
        if case is not None:
            assessment = db.scalars(
                select(SafetyAssessment).where(SafetyAssessment.case_id == case.id)
                .order_by(SafetyAssessment.assessed_at.desc())
            ).first()
        if assessment is None:
            assessment = db.scalars(
                select(SafetyAssessment).where(SafetyAssessment.student_id == student.id)
                .order_by(SafetyAssessment.assessed_at.desc())
            ).first()
        from .forms import LEVEL_CHOICES

        level = case.level if case is not None else None
        packet.risk = {
            "level": str(dict(LEVEL_CHOICES).get(level, level)) if level else None,
            "emergency": entry.emergency,
            "assessment": assessment,
            "answers": _ordered_answers(reader.get_json(assessment, "answers")) if assessment else None,
            "reason": reader.get(assessment, "reason") if assessment else None,
        }
    if "safety_plan" in sections:
        from .crisis import plan_of

        plan = plan_of(db, case) if case is not None else None
        packet.safety_plan = [(step, reader.get(plan, step) or "") for step in SAFETY_PLAN_STEPS] if plan else []
    if "contacts" in sections:
        packet.contacts = {"guardians": reader.identity.guardians, "counselor": counselor.display_name,
                           "school": student.school.name}
    return packet
