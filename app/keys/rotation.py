"""Blind-index key rotation (add a version, recompute every index) and the removal of unused old key versions.

Like `service.rewrap_data_keys`, the rebuild commits one batch at a time through the `commit` callable it is
given: an interruption loses at most the batch in flight, and a rerun continues with the rows still below the
current index version (`students.bidx_version`). While it runs, lookups keep working in every process that has
loaded the key file since the new version was added: `Vault.blind_indexes` tries every index key version the
ring holds, so rows not yet recomputed are still found under the old one.

`prune_versions` forgets master-key versions that no live data key is wrapped by any more, and index-key versions
that no student's indexes are computed under any more; it refuses a version still in use.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from models import crypto
from models.audit import Actor, append_event
from models.roster import DataKey, Student
from models.vault import Vault

from .service import KeyOperationError

# -- blind-index key rotation -----------------------------------------------------------------------------------


def _stale(keyring: crypto.KeyRing) -> ColumnElement[bool]:
    return Student.bidx_version != keyring.index_version


def index_status(session: Session, keyring: crypto.KeyRing) -> dict[int, int]:
    """{index key version: students whose indexes are computed under it}."""
    rows = session.execute(select(Student.bidx_version, func.count()).group_by(Student.bidx_version)).all()
    return {int(v): int(n) for v, n in rows}


def pending_reindex(session: Session, keyring: crypto.KeyRing) -> int:
    return int(session.scalar(select(func.count()).select_from(Student).where(_stale(keyring))) or 0)


def add_index_version(keyring: crypto.KeyRing, key_file: str, session: Session, actor: Actor) -> int:
    """Add a blind-index key version, save the key file atomically and read it back before any index changes."""
    version = keyring.add_index_version()
    keyring.save(key_file)
    reloaded = crypto.KeyRing.from_file(key_file)
    if reloaded.index_versions != keyring.index_versions or reloaded.index_version != version:
        raise KeyOperationError(f"the key file {key_file} did not read back with index version {version}")
    append_event(
        session, actor, "key.add_index_version", target=f"index:{version}", detail={"versions": keyring.index_versions}
    )
    return version


@dataclass
class ReindexResult:
    to_version: int
    rebuilt: int = 0
    batches: int = 0
    failures: list[str] = field(default_factory=list)  # public ids of students whose values did not open
    left: int = 0  # rows still below the current version at the end (written meanwhile by an old process)


def rebuild_blind_indexes(
    session: Session,
    keyring: crypto.KeyRing,
    actor: Actor,
    *,
    batch_size: int = 500,
    commit: Callable[[], None] | None = None,
    after_batch: Callable[[int], None] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ReindexResult:
    """Recompute every student's blind indexes under the current index key version, one commit per batch.

    Students are taken in id order among those whose `bidx_version` is not the current one; a student whose
    sealed values do not open is reported and left as it was (it stays on the old version, so the old index key
    cannot be pruned while it is there). Erased students (no identity left) are only marked. Audited as
    `key.index_rotate` events (started, finished with counts), never with names or numbers.
    """
    if batch_size < 1:
        raise KeyOperationError("batch size must be at least 1")
    commit = commit or session.commit
    result = ReindexResult(keyring.index_version)
    append_event(
        session, actor, "key.index_rotate", target=f"index:{keyring.index_version}",
        detail={"phase": "rebuild_started", "to_version": keyring.index_version,
                "pending": pending_reindex(session, keyring)},
    )
    commit()
    after_id = 0
    while True:
        rows = session.scalars(
            select(Student).where(_stale(keyring), Student.id > after_id).order_by(Student.id).limit(batch_size)
        ).all()
        if not rows:
            break
        vault = Vault(session, keyring, actor)  # a fresh data-key cache per batch
        vault.preload_keys(s.data_key_id for s in rows if s.status != "erased")
        for student in rows:
            after_id = student.id
            if student.status == "erased" or student.data_key_id is None:
                student.name_bidx = student.student_number_bidx = None
                student.bidx_version = keyring.index_version
                result.rebuilt += 1
                continue
            try:
                vault.reindex(student)
            except (crypto.CryptoError, UnicodeDecodeError) as exc:
                result.failures.append(f"{student.public_id}: {exc}")
                continue
            result.rebuilt += 1
        session.flush()
        commit()
        result.batches += 1
        if progress is not None:
            progress(result.rebuilt)
        if after_batch is not None:
            after_batch(result.batches)
        for student in rows:
            session.expunge(student)
    result.left = pending_reindex(session, keyring) - len(result.failures)
    append_event(
        session, actor, "key.index_rotate", target=f"index:{keyring.index_version}",
        detail={"phase": "rebuild_finished", "to_version": keyring.index_version, "rebuilt": result.rebuilt,
                "failed": len(result.failures), "left": result.left},
    )
    commit()
    return result


# -- removal of old versions ------------------------------------------------------------------------------------


@dataclass
class PruneReport:
    master_in_use: dict[int, int]  # old master version -> live data keys still wrapped by it
    index_in_use: dict[int, int]  # old index version -> students whose indexes are still computed under it
    master_removed: list[int] = field(default_factory=list)
    index_removed: list[int] = field(default_factory=list)


def master_usage(session: Session, version: int) -> int:
    """Live data keys wrapped by master key `version` (destroyed keys need no master key any more), plus the
    users' TOTP secrets sealed under its purpose key (app/auth/two_factor.py)."""
    from app.auth.two_factor import secrets_on_master_version

    return int(
        session.scalar(
            select(func.count()).select_from(DataKey).where(
                DataKey.master_version == version, DataKey.wrapped.is_not(None), DataKey.destroyed_at.is_(None)
            )
        )
        or 0
    ) + secrets_on_master_version(session, version)


def index_usage(session: Session, version: int) -> int:
    """Students with an index computed under index key `version`."""
    has_index = or_(Student.name_bidx.is_not(None), Student.student_number_bidx.is_not(None))
    return int(
        session.scalar(
            select(func.count()).select_from(Student).where(Student.bidx_version == version, has_index)
        )
        or 0
    )


def prune_plan(
    session: Session, keyring: crypto.KeyRing, master: list[int] | None = None, index: list[int] | None = None
) -> PruneReport:
    """What a prune would remove: the named versions (default: every old one), each with its current use."""
    old_master = [v for v in keyring.versions if v != keyring.current_version]
    old_index = [v for v in keyring.index_versions if v != keyring.index_version]
    for version in master or []:
        if version == keyring.current_version:
            raise KeyOperationError(f"master key version {version} is the current one: it is never pruned")
        if version not in old_master:
            raise KeyOperationError(f"master key version {version} is not in the key ring")
    for version in index or []:
        if version == keyring.index_version:
            raise KeyOperationError(f"index key version {version} is the current one: it is never pruned")
        if version not in old_index:
            raise KeyOperationError(f"index key version {version} is not in the key ring")
    masters = old_master if master is None else master
    indexes = old_index if index is None else index
    return PruneReport({v: master_usage(session, v) for v in masters}, {v: index_usage(session, v) for v in indexes})


def prune_versions(
    session: Session,
    keyring: crypto.KeyRing,
    key_file: str,
    actor: Actor,
    master: list[int] | None = None,
    index: list[int] | None = None,
) -> PruneReport:
    """Remove the named old versions (default: every old one) from the key file, if nothing uses them.

    Refuses (KeyOperationError, nothing changed) when a version named explicitly is still in use; without names
    it removes the unused ones and reports the others. The file is saved atomically and read back; one
    `key.prune` audit event lists what was removed.
    """
    report = prune_plan(session, keyring, master, index)
    busy = [f"master key version {v} still wraps {n} data keys" for v, n in report.master_in_use.items() if n]
    busy += [f"index key version {v} still indexes {n} students" for v, n in report.index_in_use.items() if n]
    if busy and (master or index):
        raise KeyOperationError("; ".join(busy) + ": nothing removed")
    report.master_removed = [v for v, n in report.master_in_use.items() if not n]
    report.index_removed = [v for v, n in report.index_in_use.items() if not n]
    if not report.master_removed and not report.index_removed:
        return report
    for version in report.master_removed:
        keyring.remove_version(version)
    for version in report.index_removed:
        keyring.remove_index_version(version)
    keyring.save(key_file)
    reloaded = crypto.KeyRing.from_file(key_file)
    if reloaded.versions != keyring.versions or reloaded.index_versions != keyring.index_versions:
        raise KeyOperationError(f"the key file {key_file} did not read back as pruned")
    append_event(
        session, actor, "key.prune", target="key_file",
        detail={"master_removed": report.master_removed, "index_removed": report.index_removed,
                "master_versions": keyring.versions, "index_versions": keyring.index_versions},
    )
    return report
