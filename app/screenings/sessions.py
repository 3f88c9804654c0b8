"""Class sessions: a counselor opens a code for one class in the computer room, students identify themselves with
it (app/student_entry/), the counselor follows who has finished and which crises are waiting.

Functions take the database session and the acting user (audit Actor) explicitly and flush, never commit.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Actor, Campaign, ClassSession, SchoolClass, Screening, Student, User, Warning, append_event, utcnow
from models.crypto import KeyRing
from models.vault import Vault

from . import entry_codes
from .campaigns import class_progress, self_instruments_for
from .recording import ScreeningError

# 6 characters without look-alikes (0/O, 1/I/L): 31^6 ≈ 887 million codes
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 6
DEFAULT_SESSION_MINUTES = 60
# an identified student may finish the instrument in hand a little after the code expired
SESSION_GRACE = timedelta(minutes=30)
STUDENT_ENTRANCE = "student-entrance"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str | None) -> str:
    return "".join(ch for ch in (code or "").upper() if ch.isalnum())


def open_session(
    db: Session,
    actor: Actor,
    campaign: Campaign,
    klass: SchoolClass,
    *,
    minutes: int = DEFAULT_SESSION_MINUTES,
    user: User | None = None,
    keyring: KeyRing | None = None,
) -> ClassSession:
    """Open a session with a fresh code; with the key ring (always, outside tests of the session alone) every
    enrolled student of the class gets a personal entry code for it (app/screenings/entry_codes.py)."""
    if campaign.status != "open":
        raise ScreeningError("the campaign is closed", code="closed")
    if klass.school_id not in {s.id for s in campaign.schools}:
        raise ScreeningError("this class is not in the campaign", code="class")
    if not self_instruments_for(campaign, klass.grade):
        raise ScreeningError("no student-report instrument is assigned to this grade", code="instruments")
    minutes = max(5, min(int(minutes), 240))
    now = utcnow()
    for _ in range(10):
        code = new_code()
        if db.scalar(select(ClassSession.id).where(ClassSession.code == code)) is None:
            break
    cs = ClassSession(
        campaign_id=campaign.id,
        class_id=klass.id,
        code=code,
        opened_by_id=user.id if user else actor.user_id,
        opened_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    cs.campaign = campaign
    cs.school_class = klass
    db.add(cs)
    db.flush()
    append_event(db, actor, "session.opened", target=f"session:{cs.id}", detail={"class": klass.id, "minutes": minutes})
    if keyring is not None:
        entry_codes.issue_codes(db, keyring, actor, cs)
    return cs


def close_session(db: Session, actor: Actor, cs: ClassSession) -> None:
    if cs.closed_at is None:
        cs.closed_at = utcnow()
        append_event(db, actor, "session.closed", target=f"session:{cs.id}")
        db.flush()


def session_is_open(cs: ClassSession, now: datetime | None = None, grace: timedelta = timedelta(0)) -> bool:
    now = now or utcnow()
    return cs.closed_at is None and cs.campaign.status == "open" and now < cs.expires_at + grace


def find_open_session(db: Session, code: str) -> ClassSession | None:
    code = normalise_code(code)
    if len(code) != CODE_LENGTH:
        return None
    cs = db.scalars(select(ClassSession).where(ClassSession.code == code)).first()
    if cs is None or not session_is_open(cs):
        return None
    return cs


def identify_student(db: Session, vault: Vault, cs: ClassSession, student_number: str) -> Student | None:
    """The enrolled student of this session's class with this student number, or None.

    The same path runs whether or not the number exists (one query, one decryption), so the answer takes as long
    either way; the caller then checks the student's personal entry code (entry_codes.check)."""
    number = (student_number or "").strip()
    bidxes = set(vault.blind_indexes("student_number", number or "-"))
    # one query for the whole class and exactly one decryption whatever the input: the number's candidate when
    # there is one, else the first student of the class as a decoy (its answer is discarded)
    rows = list(db.scalars(select(Student).where(Student.class_id == cs.class_id, Student.status == "enrolled")
                           .order_by(Student.id)))
    candidates = [s for s in rows if s.student_number_bidx in bidxes]
    found = None
    for student in candidates or rows[:1]:
        if vault.matches(student, "student_number", number) and student in candidates:
            found = student
    return found


def session_statuses(db: Session, cs: ClassSession) -> dict[str, Any]:
    """Who in this session's class finished / is in progress / has not started (ids only, no names)."""
    campaign = cs.campaign
    klass = cs.school_class
    progress = class_progress(db, campaign, [klass], self_only=True)[0]
    crises = db.execute(
        select(Warning.uid, Warning.student_id, Warning.acknowledged_at)
        .join(Screening, Screening.id == Warning.screening_id)
        .where(Screening.campaign_id == campaign.id, Screening.class_id == klass.id, Warning.suggested_level == "L1",
               Warning.status == "suggested")
        .order_by(Warning.created_at)
    ).all()
    return {
        "progress": progress,
        "crises": [{"warning": uid, "student": sid, "acknowledged": ack is not None} for uid, sid, ack in crises],
    }
