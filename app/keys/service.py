"""Key operations: status, master-key rotation (rewrap), verification of every sealed value, erasure.

Functions take a SQLAlchemy session and an audit Actor and only flush, except `rewrap_data_keys`, which commits
one batch at a time through the `commit` callable it is given (a rotation of 100,000 keys must not be one
transaction, and an interruption must lose at most one batch). No function here writes plaintext anywhere:
data keys are unwrapped and rewrapped in memory; values are opened and thrown away.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import crypto
from models.audit import Actor, append_event
from models.base import utcnow
from models.roster import DataKey, Student
from models.vault import IDENTITY_COLUMNS, SEALED_REGISTRY, ErasedStudentError, Vault, destroy_data_key


class KeyOperationError(Exception):
    """A key operation refused to run (a clear message for the operator)."""


# -- status -----------------------------------------------------------------------------------------------------


@dataclass
class KeyStatus:
    versions: list[int]
    current: int
    per_version: dict[int, int]  # live (not destroyed) data keys per master-key version
    destroyed: int
    source: str

    @property
    def live(self) -> int:
        return sum(self.per_version.values())

    @property
    def pending(self) -> int:
        """Live data keys not yet on the current master-key version (an unfinished rotation)."""
        return sum(n for v, n in self.per_version.items() if v != self.current)


def key_status(session: Session, keyring: crypto.KeyRing, source: str = "") -> KeyStatus:
    live = dict(
        session.execute(
            select(DataKey.master_version, func.count())
            .where(DataKey.wrapped.is_not(None), DataKey.destroyed_at.is_(None))
            .group_by(DataKey.master_version)
        ).tuples().all()
    )
    destroyed = session.scalar(
        select(func.count())
        .select_from(DataKey)
        .where((DataKey.wrapped.is_(None)) | (DataKey.destroyed_at.is_not(None)))
    )
    return KeyStatus(
        keyring.versions,
        keyring.current_version,
        {int(v): int(n) for v, n in live.items()},
        int(destroyed or 0),
        source,
    )


# -- rotation ---------------------------------------------------------------------------------------------------


@dataclass
class RewrapResult:
    to_version: int
    rewrapped: int = 0
    batches: int = 0
    failures: list[tuple[int, str]] = field(default_factory=list)  # (data key id, reason)


def _pending_query(keyring: crypto.KeyRing, after_id: int, batch_size: int):
    return (
        select(DataKey)
        .where(
            DataKey.master_version != keyring.current_version,
            DataKey.wrapped.is_not(None),
            DataKey.destroyed_at.is_(None),
            DataKey.id > after_id,
        )
        .order_by(DataKey.id)
        .limit(batch_size)
    )


def rewrap_data_keys(
    session: Session,
    keyring: crypto.KeyRing,
    actor: Actor,
    *,
    batch_size: int = 500,
    commit: Callable[[], None] | None = None,
    after_batch: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> RewrapResult:
    """Rewrap every live data key that is not on the keyring's current master version, batch by batch.

    Each batch is committed by `commit` (default: `session.commit`) before the next is read, so rerunning after
    an interruption simply continues with the keys still on old versions. A key that does not unwrap is not
    touched and is reported (it is already unreadable; rewrapping cannot help). The data key exists only in
    memory between unwrap and wrap. `after_batch(n)` is called after the n-th commit (tests use it to simulate
    a crash).
    """
    if batch_size < 1:
        raise KeyOperationError("batch size must be at least 1")
    commit = commit or session.commit
    result = RewrapResult(keyring.current_version)
    pending = session.scalar(
        select(func.count())
        .select_from(DataKey)
        .where(
            DataKey.master_version != keyring.current_version,
            DataKey.wrapped.is_not(None),
            DataKey.destroyed_at.is_(None),
        )
    )
    append_event(
        session,
        actor,
        "key.rotate",
        target=f"master:{keyring.current_version}",
        detail={"phase": "rewrap_started", "to_version": keyring.current_version, "pending": int(pending or 0)},
    )
    commit()
    after_id = 0
    while True:
        rows = session.scalars(_pending_query(keyring, after_id, batch_size)).all()
        if not rows:
            break
        for row in rows:
            after_id = row.id
            try:
                dek = keyring.unwrap(row.wrapped, row.id, row.master_version)
            except crypto.CryptoError as exc:
                result.failures.append((row.id, str(exc)))
                continue
            row.wrapped, row.master_version = keyring.wrap(dek, row.id)
            del dek
            result.rewrapped += 1
        session.flush()
        commit()
        result.batches += 1
        if progress is not None:
            progress(result.rewrapped)
        if after_batch is not None:
            after_batch(result.batches)
        for row in rows:
            session.expunge(row)
    from app.auth.two_factor import reseal_secrets

    resealed, unreadable = reseal_secrets(session, keyring)  # the TOTP secrets, under the same master key
    commit()
    append_event(
        session,
        actor,
        "key.rotate",
        target=f"master:{keyring.current_version}",
        detail={
            "phase": "rewrap_finished",
            "to_version": keyring.current_version,
            "rewrapped": result.rewrapped,
            "failed": len(result.failures),
            "totp_resealed": resealed,
            "totp_unreadable": len(unreadable),
        },
    )
    commit()
    return result


def add_master_version(keyring: crypto.KeyRing, key_file: str, session: Session, actor: Actor) -> int:
    """Add a master-key version, save the key file atomically and read it back before anything is rewrapped.

    The new key must be durable before a single data key is wrapped under it: otherwise a crash would leave
    data keys wrapped by a key nobody has.
    """
    version = keyring.add_version()
    keyring.save(key_file)
    reloaded = crypto.KeyRing.from_file(key_file)
    if reloaded.versions != keyring.versions or reloaded.current_version != version:
        raise KeyOperationError(f"the key file {key_file} did not read back with version {version}; nothing rewrapped")
    append_event(session, actor, "key.add_version", target=f"master:{version}", detail={"versions": keyring.versions})
    return version


# -- verification -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SealedRef:
    model: type[Any]
    pk: Any
    column: str


@dataclass
class VerifyReport:
    checked: int = 0
    opened: int = 0
    empty: int = 0
    erased: int = 0  # values of erased students: expected not to open
    failures: list[tuple[str, str, str, str]] = field(default_factory=list)  # (table, column, row uid, reason)

    @property
    def ok(self) -> bool:
        return not self.failures


def sealed_columns() -> Iterator[tuple[type[Any], str]]:
    """Every (model, column base name) that holds sealed data: students' identity plus SEALED_REGISTRY."""
    for column in IDENTITY_COLUMNS:
        yield Student, column
    seen: set[tuple[type[Any], str]] = set()
    for model, columns in SEALED_REGISTRY:
        for column in columns:
            if (model, column) not in seen:
                seen.add((model, column))
                yield model, column


def _row_uid(obj: Any) -> str:
    if isinstance(obj, Student):
        return obj.public_id
    return str(getattr(obj, "uid", None) or getattr(obj, "id", "?"))


def _all_refs(session: Session) -> list[SealedRef]:
    refs: list[SealedRef] = []
    for model, column in sealed_columns():
        enc = getattr(model, f"{column}_enc")
        for pk in session.scalars(select(model.id).where(enc.is_not(None)).order_by(model.id)):
            refs.append(SealedRef(model, pk, column))
    return refs


def _student_of(session: Session, obj: Any) -> Student | None:
    if isinstance(obj, Student):
        return obj
    student_id = getattr(obj, "student_id", None)
    return session.get(Student, student_id) if student_id is not None else None


def verify_sealed(
    session: Session,
    keyring: crypto.KeyRing,
    actor: Actor,
    *,
    sample: int | None = None,
    rng: random.Random | None = None,
    batch_size: int = 500,
    expunge: bool = False,
) -> VerifyReport:
    """Open every sealed value (or a random sample of `sample` values) and discard the plaintexts.

    A value of an erased student (status 'erased' or data key destroyed) that does not open is counted as
    `erased`, not as a failure; one that still opens IS a failure (the erasure did not work).
    """
    report = VerifyReport()
    refs = _all_refs(session)
    if sample is not None and sample < len(refs):
        refs = (rng or random.SystemRandom()).sample(refs, sample)
        refs.sort(key=lambda r: (r.model.__name__, r.pk, r.column))
    for start in range(0, len(refs), batch_size):
        vault = Vault(session, keyring, actor)  # a fresh key cache per batch
        chunk = refs[start : start + batch_size]
        by_model: dict[type[Any], dict[Any, Any]] = {}
        for model in {r.model for r in chunk}:
            pks = [r.pk for r in chunk if r.model is model]
            by_model[model] = {o.id: o for o in session.scalars(select(model).where(model.id.in_(pks)))}
        students = {s.id: s for objs in by_model.values() for s in objs.values() if isinstance(s, Student)}
        owner_ids = (
            {
                getattr(o, "student_id", None)
                for objs in by_model.values()
                for o in objs.values()
                if not isinstance(o, Student)
            }
            - set(students)
            - {None}
        )
        if owner_ids:
            students.update(
                {s.id: s for s in session.scalars(select(Student).where(Student.id.in_(sorted(owner_ids))))}
            )
        for ref in chunk:
            obj = by_model[ref.model].get(ref.pk)
            if obj is None:  # deleted since the list was taken
                continue
            report.checked += 1
            student = (
                obj
                if isinstance(obj, Student)
                else students.get(getattr(obj, "student_id", -1)) or _student_of(session, obj)
            )
            erased = student is not None and student.status == "erased"
            table = ref.model.__tablename__
            try:
                if vault.check_opens(obj, ref.column):
                    if erased:
                        report.failures.append((table, ref.column, _row_uid(obj), "erased student's value still opens"))
                    else:
                        report.opened += 1
                else:
                    report.empty += 1
            except ErasedStudentError:
                report.erased += 1
            except crypto.CryptoError as exc:
                if erased:
                    report.erased += 1
                else:
                    report.failures.append((table, ref.column, _row_uid(obj), str(exc)))
            except (UnicodeDecodeError, ValueError) as exc:
                report.failures.append((table, ref.column, _row_uid(obj), f"not text: {exc}"))
        if expunge:
            for objs in by_model.values():
                for obj in objs.values():
                    if obj in session and obj not in session.dirty:
                        session.expunge(obj)
    append_event(
        session,
        actor,
        "key.verify",
        detail={
            "sample": sample,
            "checked": report.checked,
            "opened": report.opened,
            "erased": report.erased,
            "failed": len(report.failures),
        },
    )
    return report


# -- erasure ----------------------------------------------------------------------------------------------------

# What the tombstone keeps, and why (see docs/security.md, "Erasure"):
#   public_id        - audit events refer to it; it is a random UUID, not personal data by itself
#   school_id, grade, gender, care groups - categorical, like the screening results kept for district
#                      statistics, which are counted by school, grade, gender and care group: without them an
#                      erasure would move a student's past screenings from "care group" to "other" in published
#                      figures (app/retention: figures before and after an erasure are equal). No list shows them:
#                      every list and sweep excludes status 'erased'.
#   status 'erased'  - every list and search excludes it
# Everything else that describes the person is cleared: identity ciphertexts, blind indexes, class,
# birth year-month.
# Categorical screening results (instrument, band, level, dates) stay for statistics: they are no longer linked to
# anyone who can be named. Sealed notes, answers and plans stay as ciphertext under a destroyed key: noise.
TOMBSTONE_BIRTH_YM = ""


class StudentNotFound(KeyOperationError):
    pass


def erase_student(session: Session, actor: Actor, public_id: str) -> Student:
    """Crypto-shred one student: destroy their data key and leave a tombstone without personal data."""
    student = session.scalar(select(Student).where(Student.public_id == public_id))
    if student is None:
        raise StudentNotFound(f"no student with public id {public_id}")
    if student.status == "erased":
        raise KeyOperationError(f"student {public_id} is already erased")
    had_key = student.data_key_id is not None
    destroy_data_key(session, student)
    for column in IDENTITY_COLUMNS:
        setattr(student, f"{column}_enc", None)
    student.name_bidx = None
    student.student_number_bidx = None
    student.status = "erased"
    student.class_id = None
    student.school_class = None
    student.birth_ym = TOMBSTONE_BIRTH_YM
    student.updated_at = utcnow()
    session.flush()
    ended = _end_open_work(session, actor, student)
    append_event(
        session,
        actor,
        "student.erased",
        student_public_id=public_id,
        target=f"data_key:{student.data_key_id}" if had_key else None,
        detail={"data_key_destroyed": had_key, **ended},
    )
    return student


def _end_open_work(session: Session, actor: Actor, student: Student) -> dict[str, int]:
    """Nobody follows an erased student any more: their active cases close, their pending rechecks are cancelled
    (no reminder, no overdue sweep, not counted late), their pending transfer requests end. Warnings and screening
    results stay as they were (categorical history for the district's figures, like the tombstone's school,
    grade and gender)."""
    from sqlalchemy import update

    from app.care.policy import ACTIVE_CASE_STATUSES, PENDING_RECHECK_STATUSES
    from app.care.transfer_requests import cancel_for_erased
    from models import CareCase, Recheck
    from models.db import rowcount

    now = utcnow()
    cases = rowcount(session.execute(
        update(CareCase).where(CareCase.student_id == student.id, CareCase.status.in_(ACTIVE_CASE_STATUSES))
        .values(status="closed", closed_at=now, version=CareCase.version + 1)
        .execution_options(synchronize_session="fetch")
    ))
    rechecks = rowcount(session.execute(
        update(Recheck).where(Recheck.student_id == student.id, Recheck.status.in_(PENDING_RECHECK_STATUSES))
        .values(status="cancelled").execution_options(synchronize_session="fetch")
    ))
    requests = cancel_for_erased(session, actor, student)
    session.flush()
    return {"cases_closed": cases, "rechecks_cancelled": rechecks, "transfer_requests_cancelled": requests}
