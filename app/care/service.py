"""Care writes: cases and their timeline, check-ins, transfers. (A warning's levels: app/care/warning_lifecycle.py.)

Every function takes the session and the acting user (an audit `Actor`) explicitly, flushes and never commits,
writes its audit event, and seals free text through the vault. Views, the demo and CLI commands call these.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app import signals
from models import (
    Actor,
    CareCase,
    CareCheckin,
    CaseEntry,
    Recheck,
    School,
    SchoolClass,
    Student,
    Warning,
    append_event,
    utcnow,
)
from models.care import ENTRY_KINDS, VISIBILITIES
from models.db import rowcount
from models.vault import Vault

from . import crisis
from .errors import CareError, StaleCaseError
from .policy import ACTIVE_CASE_STATUSES, PENDING_RECHECK_STATUSES, term_of

__all__ = ["CareError", "StaleCaseError"]  # re-exported: callers catch service.CareError

REFERRAL_STATUSES = ("planned", "sent", "accepted", "feedback", "closed")
HEAD_TEACHER_KINDS = ("observation", "parent_contact")


def _require(text: str | None, message: str) -> str:
    if text is None or not str(text).strip():
        raise CareError(message)
    return str(text).strip()


# -- cases ----------------------------------------------------------------------------------------------------
def active_case(db: Session, student_id: int) -> CareCase | None:
    return db.scalars(
        select(CareCase)
        .where(CareCase.student_id == student_id, CareCase.status.in_(ACTIVE_CASE_STATUSES))
        .order_by(CareCase.opened_at.desc())
    ).first()


def open_or_update_case(db: Session, actor: Actor, warning: Warning, level: str) -> CareCase:
    """Open a case for the warning's student, or move the open one to this level and warning.

    The confirming counselor becomes the owner when the case has none.
    """
    case = active_case(db, warning.student_id)
    if case is None:
        case = CareCase(
            student_id=warning.student_id, school_id=warning.student.school_id, owner_id=actor.user_id,
            warning_id=warning.id, level=level, status="open", opened_at=utcnow(),
        )
        case.ensure_uid()
        db.add(case)
        db.flush()
        append_event(
            db, actor, "case.opened", student_public_id=warning.student.public_id, target=f"case:{case.uid}",
            detail={"level": level},
        )
    else:
        changed: dict[str, Any] = {}
        if case.level != level:
            changed["level"] = [case.level, level]
            case.level = level
        case.warning_id = warning.id
        if case.owner_id is None and actor.user_id is not None:
            case.owner_id = actor.user_id
            changed["owner"] = actor.user_id
        db.flush()
        append_event(
            db, actor, "case.updated", student_public_id=warning.student.public_id, target=f"case:{case.uid}",
            detail=changed,
        )
    return case


def _check_version(case: CareCase, expected_version: int | None) -> None:
    if expected_version is not None and int(expected_version) != case.version:
        raise StaleCaseError()


def update_plan(
    db: Session, actor: Actor, vault: Vault, case: CareCase, plan: dict[str, str], review_on: date | None,
    expected_version: int | None = None, owner_id: int | None = None,
) -> None:
    """Save the individual plan (一生一策: goals, measures, who does what), sealed, and its review date."""
    _check_version(case, expected_version)
    if case.status == "closed":
        raise CareError("This case is closed.")
    clean = {k: (plan.get(k) or "").strip() for k in ("goals", "measures", "responsibilities")}
    vault.seal_into(case, "plan", clean, student=case.student)
    case.plan_review_on = review_on
    if owner_id is not None:
        case.owner_id = owner_id
    case.updated_at = utcnow()
    db.flush()  # the version check happens here: a concurrent save raises StaleDataError
    append_event(
        db, actor, "case.plan_updated", student_public_id=case.student.public_id, target=f"case:{case.uid}",
        detail={"review_on": review_on.isoformat() if review_on else None},
    )


def add_entry(
    db: Session, actor: Actor, vault: Vault, student: Student, kind: str, occurred_on: date, note: str | None,
    *, visibility: str = "counselor", case: CareCase | None = None, destination: str | None = None,
    referral_status: str | None = None, feedback: str | None = None, told_whom: str | None = None,
    emergency: bool = False,
) -> CaseEntry:
    """Add a timeline entry. Head teachers add only shared observations and parent contacts.

    A confidentiality entry records who was told, when (`occurred_on`) and why (`note`); a referral its
    destination, status and feedback (`emergency`: the emergency referral an imminent risk requires).
    """
    if kind not in ENTRY_KINDS:
        raise CareError("Unknown entry kind.")
    if visibility not in VISIBILITIES:
        raise CareError("Unknown visibility.")
    if actor.role == "head_teacher":
        if kind not in HEAD_TEACHER_KINDS:
            raise CareError("Unknown entry kind.")
        visibility = "shared"
    if case is not None and case.status == "closed":
        raise CareError("This case is closed.")
    if kind == "confidentiality":
        _require(told_whom, "Say who was told.")
        _require(note, "Say why confidentiality was broken.")
    elif kind == "referral":
        _require(destination, "A referral needs a destination.")
        referral_status = referral_status or "planned"
        if referral_status not in REFERRAL_STATUSES:
            raise CareError("Unknown referral status.")
    else:
        _require(note, "A note is required.")
        referral_status = None
    entry = CaseEntry(
        case_id=case.id if case else None, student_id=student.id, kind=kind, occurred_on=occurred_on,
        author_id=actor.user_id, visibility=visibility, referral_status=referral_status, created_at=utcnow(),
        emergency=bool(emergency) and kind == "referral",
    )
    entry.ensure_uid()
    for column, value in (
        ("note", note),
        ("destination", destination),
        ("feedback", feedback),
        ("told_whom", told_whom),
    ):
        if value is not None and str(value).strip():
            vault.seal_into(entry, column, str(value).strip(), student=student)
    if actor.role == "counselor":
        entry.seen_by_counselor_at = entry.created_at
    db.add(entry)
    if case is not None:
        _advance_status(case, kind)
    if kind == "interview":
        _mark_first_contact(db, student.id)
    db.flush()
    append_event(
        db, actor, "case.entry_added", student_public_id=student.public_id, target=f"entry:{entry.uid}",
        detail={"kind": kind, "visibility": visibility, "case": case.uid if case else None,
                **({"emergency": True} if entry.emergency else {})},
    )
    if kind == "observation" or (actor.role == "head_teacher" and kind in HEAD_TEACHER_KINDS):
        from app.notifications.service import counselors_of_school, notify

        for counselor in counselors_of_school(db, student.school_id):
            notify(db, counselor, "observation", f"observation:{entry.uid}", student_id=student.id)
    return entry


def _advance_status(case: CareCase, kind: str) -> None:
    if kind == "referral":
        case.status = "referred"
    elif kind == "return" or (case.status == "open" and kind in ("interview", "checkin", "parent_contact")):
        case.status = "following"


def _mark_first_contact(db: Session, student_id: int) -> None:
    db.execute(
        update(Warning)
        .where(Warning.student_id == student_id, Warning.first_contact_at.is_(None),
               Warning.status.in_(("suggested", "confirmed")))
        .values(first_contact_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )


def update_referral(
    db: Session, actor: Actor, vault: Vault, entry: CaseEntry, student: Student, status: str, feedback: str | None
) -> None:
    if entry.kind != "referral":
        raise CareError("Not a referral.")
    if status not in REFERRAL_STATUSES:
        raise CareError("Unknown referral status.")
    entry.referral_status = status
    if feedback is not None and feedback.strip():
        vault.seal_into(entry, "feedback", feedback.strip(), student=student)
    db.flush()
    append_event(
        db, actor, "referral.updated", student_public_id=student.public_id, target=f"entry:{entry.uid}",
        detail={"status": status},
    )


def mark_observations_seen(db: Session, actor: Actor, student: Student) -> int:
    result = db.execute(
        update(CaseEntry)
        .where(CaseEntry.student_id == student.id, CaseEntry.seen_by_counselor_at.is_(None))
        .values(seen_by_counselor_at=utcnow())
        .execution_options(synchronize_session="fetch")
    )
    count = rowcount(result)
    if count:
        append_event(db, actor, "case.observations_seen", student_public_id=student.public_id,
                     detail={"count": count})
    return count


def close_case(
    db: Session, actor: Actor, vault: Vault, case: CareCase, reason: str, expected_version: int | None = None
) -> None:
    """Close a case by a counselor's decision, with a sealed reason. Pending rechecks of the case are cancelled
    by the rechecks area on `case_closed`. A level-1 case closes only once its crisis response is complete
    (app/care/crisis.py: the safety assessment and the steps its outcome requires)."""
    _check_version(case, expected_version)
    reason = _require(reason, "A reason is required.")
    if case.status == "closed":
        raise CareError("This case is closed.")
    crisis.check_can_close(db, case)
    crisis.end_plan_on_close(db, case)
    case.status = "closed"
    case.closed_at = utcnow()
    vault.seal_into(case, "close_reason", reason, student=case.student)
    db.flush()
    append_event(db, actor, "case.closed", student_public_id=case.student.public_id, target=f"case:{case.uid}")
    signals.case_closed.send("care", db=db, actor=actor, case=case)
    db.flush()


def closing_suggested(db: Session, case: CareCase) -> bool:
    """The default rule: the last two completed rechecks since the case opened were both negative."""
    rows = db.execute(
        select(Recheck.negative)
        .where(Recheck.student_id == case.student_id, Recheck.completed_at.is_not(None),
               Recheck.completed_at >= case.opened_at, Recheck.status == "done")
        .order_by(Recheck.completed_at.desc(), Recheck.id.desc())
        .limit(2)
    ).scalars().all()
    return case.status != "closed" and len(rows) == 2 and all(r is True for r in rows)


# -- care groups ----------------------------------------------------------------------------------------------
def record_checkin(
    db: Session, actor: Actor, vault: Vault, student: Student, occurred_on: date, note: str | None,
    guardian_contacted: bool = False,
) -> CareCheckin:
    """A termly check-in (谈心) with a care-group student, by their head teacher or a counselor."""
    if actor.role not in ("head_teacher", "counselor", "system"):
        raise CareError("Only a head teacher or a counselor records check-ins.")
    checkin = CareCheckin(
        student_id=student.id, school_id=student.school_id, term=term_of(occurred_on), occurred_on=occurred_on,
        by_id=actor.user_id, by_role=actor.role if actor.role != "system" else "counselor",
        guardian_contacted=bool(guardian_contacted), created_at=utcnow(),
    )
    checkin.ensure_uid()
    if note and note.strip():
        vault.seal_into(checkin, "note", note.strip(), student=student)
    db.add(checkin)
    db.flush()
    append_event(db, actor, "care.checkin_recorded", student_public_id=student.public_id,
                 target=f"checkin:{checkin.uid}", detail={"term": checkin.term})
    return checkin


# -- transfers ------------------------------------------------------------------------------------------------
def transfer_student(db: Session, actor: Actor, student: Student, to_class: SchoolClass) -> None:
    """Move a student (and their open warnings, cases and rechecks) to another school of the same district.

    Access follows `Student.school_id`: the old school's counselors lose the file, the new school's gain it.
    Audited on both sides (transfer.out / transfer.in).
    """
    from_school = db.get(School, student.school_id)
    to_school = to_class.school
    if from_school is None or to_school.district_id != from_school.district_id:
        raise CareError("Transfers stay within the district.")
    if to_school.id == from_school.id:
        raise CareError("Choose another school.")
    from_class_id = student.class_id
    student.school_id = to_school.id
    student.class_id = to_class.id
    student.grade = to_class.grade
    db.execute(
        update(Warning).where(Warning.student_id == student.id, Warning.status.in_(("suggested", "confirmed")))
        .values(school_id=to_school.id).execution_options(synchronize_session="fetch")
    )
    db.execute(
        update(CareCase).where(CareCase.student_id == student.id, CareCase.status.in_(ACTIVE_CASE_STATUSES))
        # the new school's counselor takes the case over; version bump keeps optimistic locking honest
        .values(school_id=to_school.id, owner_id=None, version=CareCase.version + 1)
        .execution_options(synchronize_session="fetch")
    )
    db.execute(
        update(Recheck).where(Recheck.student_id == student.id, Recheck.status.in_(PENDING_RECHECK_STATUSES))
        .values(school_id=to_school.id).execution_options(synchronize_session="fetch")
    )
    db.flush()
    detail: dict[str, Any] = {"from_school": from_school.code, "to_school": to_school.code,
                              "from_class": from_class_id, "to_class": to_class.id}
    append_event(db, actor, "transfer.out", student_public_id=student.public_id, target=f"school:{from_school.code}",
                 detail=detail)
    append_event(db, actor, "transfer.in", student_public_id=student.public_id, target=f"school:{to_school.code}",
                 detail=detail)
    signals.student_transferred.send(
        "care", db=db, actor=actor, student=student, from_school_id=from_school.id, to_school_id=to_school.id
    )
    db.flush()

