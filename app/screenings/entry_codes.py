"""Personal entry codes: the secret a student types at the student entrance, one per student and class session.

The student number is known to classmates and the birth month is part of the national student number, so
neither is a secret. An entry code is: 6 characters of the session code's alphabet (no 0/O, 1/I/L: 31^6 ≈ 887
million), drawn from the OS CSPRNG when the session opens (or when the counselor asks for a new one), valid only
for that session, read out from the counselor's session console or handed out on printed slips.

Stored sealed, never in clear: `nonce | AES-256-GCM(purpose_key("student-entry-code", v), code)` behind a 4-byte
master key version, with associated data naming the session and the student, so a code copied to another row or
session does not open. The console opens them to show them (they are the counselor's to hand out).

Wrong codes are counted per student and session (`EntryCode.failures`): after `STUDENT_ENTRY_CODE_MAX_FAILURES`
(5) the student is locked out of that session for `STUDENT_ENTRY_LOCK_MINUTES` (10), audited; the counselor can
unlock at once. Nothing is counted per client address: a classroom behind one school address is not locked out
by one student's typos. The per-session cap is in the entrance (app/student_entry/views.py).

Functions take the database session and the audit actor, flush, never commit.
"""
from __future__ import annotations

import hmac
import os
import secrets
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from models import Actor, ClassSession, EntryCode, Student, append_event, utcnow
from models.crypto import CryptoError, KeyRing

PURPOSE = "student-entry-code"
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # the session code's: no 0/O, 1/I/L
LENGTH = 6
MAX_FAILURES = 5
LOCK_MINUTES = 10
_VERSION = struct.Struct(">I")
_NONCE = 12


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def normalise(code: str | None) -> str:
    """Upper case, only letters and digits (a student may type spaces or a dash, or lower case)."""
    return "".join(ch for ch in (code or "").upper() if ch.isascii() and ch.isalnum())[:16]


def _aad(session_id: int, student_id: int, version: int) -> bytes:
    return b"xinmiao/entry-code/v1|%d|%d|%d" % (session_id, student_id, version)


def seal(ring: KeyRing, session_id: int, student_id: int, code: str) -> bytes:
    key, version = ring.purpose_key(PURPOSE)
    nonce = os.urandom(_NONCE)
    return _VERSION.pack(version) + nonce + AESGCM(key).encrypt(
        nonce, code.encode("ascii"), _aad(session_id, student_id, version))


def unseal(ring: KeyRing, row: EntryCode) -> str:
    blob = bytes(row.code_enc)
    (version,) = _VERSION.unpack(blob[:4])
    key, _ = ring.purpose_key(PURPOSE, version)
    try:
        return AESGCM(key).decrypt(blob[4:4 + _NONCE], blob[4 + _NONCE:],
                                   _aad(row.session_id, row.student_id, version)).decode("ascii")
    except InvalidTag:
        raise CryptoError("an entry code does not open") from None


def _enrolled(db: Session, cs: ClassSession) -> list[Student]:
    return list(db.scalars(select(Student).where(Student.class_id == cs.class_id, Student.status == "enrolled")
                           .order_by(Student.id)))


def issue_codes(db: Session, ring: KeyRing, actor: Actor, cs: ClassSession) -> int:
    """A code for every enrolled student of the session's class who has none yet; returns how many were made."""
    have = set(db.scalars(select(EntryCode.student_id).where(EntryCode.session_id == cs.id)))
    made = 0
    for student in _enrolled(db, cs):
        if student.id not in have:
            sealed = seal(ring, cs.id, student.id, new_code())
            db.add(EntryCode(session_id=cs.id, student_id=student.id, code_enc=sealed, failures=0, issued_at=utcnow()))
            made += 1
    if made:
        db.flush()
        append_event(db, actor, "session.entry_codes_issued", target=f"session:{cs.id}", detail={"codes": made})
    return made


def renew_code(db: Session, ring: KeyRing, actor: Actor, cs: ClassSession, student: Student) -> None:
    """A new code for one student (lost slip, a classmate saw it, or a student added after the session opened):
    the old one stops working; failures and lock are cleared."""
    row = db.scalars(select(EntryCode).where(EntryCode.session_id == cs.id, EntryCode.student_id == student.id)).first()
    if row is None:
        row = EntryCode(session_id=cs.id, student_id=student.id, failures=0, issued_at=utcnow())
        db.add(row)
    row.code_enc = seal(ring, cs.id, student.id, new_code())
    row.failures, row.locked_until, row.issued_at = 0, None, utcnow()
    db.flush()
    append_event(db, actor, "session.entry_code_renewed", student_public_id=student.public_id,
                 target=f"session:{cs.id}")


def unlock(db: Session, actor: Actor, cs: ClassSession, student: Student) -> bool:
    """Lift a student's lock (and failures) for this session; False if they had no code."""
    row = db.scalars(select(EntryCode).where(EntryCode.session_id == cs.id, EntryCode.student_id == student.id)).first()
    if row is None:
        return False
    row.failures, row.locked_until = 0, None
    db.flush()
    append_event(db, actor, "session.entry_unlocked", student_public_id=student.public_id, target=f"session:{cs.id}")
    return True


@dataclass(frozen=True)
class CodeState:
    code: str
    failures: int
    locked_until: datetime | None

    def locked(self, now: datetime | None = None) -> bool:
        return self.locked_until is not None and (now or utcnow()) < self.locked_until


def codes_of(db: Session, ring: KeyRing, cs: ClassSession) -> dict[int, CodeState]:
    """Every code of the session by student id, opened (for the counselor's console and the slips)."""
    return {row.student_id: CodeState(unseal(ring, row), row.failures, row.locked_until)
            for row in db.scalars(select(EntryCode).where(EntryCode.session_id == cs.id))}


@dataclass(frozen=True)
class Check:
    ok: bool
    locked: bool = False


def check(db: Session, ring: KeyRing, actor: Actor, cs: ClassSession, student: Student, code: str, *,
          max_failures: int = MAX_FAILURES, lock_minutes: int = LOCK_MINUTES) -> Check:
    """Whether `code` is this student's code for this session. A locked student is refused without comparing; a
    wrong code counts (in the database: every worker sees it) and the last one allowed locks, audited."""
    row = db.scalars(select(EntryCode).where(EntryCode.session_id == cs.id, EntryCode.student_id == student.id)
                     .with_for_update()).first()
    now = utcnow()
    if row is None:
        return Check(False)
    if row.locked_until is not None and now < row.locked_until:
        return Check(False, locked=True)
    try:
        expected = unseal(ring, row)
    except CryptoError:
        return Check(False)
    if hmac.compare_digest(expected.encode("ascii"), normalise(code).encode("ascii")):
        if row.failures or row.locked_until:
            row.failures, row.locked_until = 0, None
            db.flush()
        return Check(True)
    db.execute(update(EntryCode).where(EntryCode.id == row.id).values(failures=EntryCode.failures + 1),
               execution_options={"synchronize_session": False})
    db.refresh(row)
    if row.failures >= max_failures:
        row.failures, row.locked_until = 0, now + timedelta(minutes=lock_minutes)
        db.flush()
        append_event(db, actor, "student.entry_locked", student_public_id=student.public_id,
                     target=f"session:{cs.id}", detail={"minutes": lock_minutes})
        return Check(False, locked=True)
    return Check(False)
