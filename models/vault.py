"""The one door to sealed data.

Sealing: `Vault.seal_identity` and `Vault.seal_into` encrypt under the student's data key (created on first use,
stored wrapped by the current master key version). Opening: only through `Vault.reveal` / `Vault.reveal_many`,
which write the access-audit event first, then hand back a reader. No other module calls the cipher.

Decrypted data keys are cached on the Vault instance, which lives for one request (``app.vault.get_vault``)
or one job; nothing is cached beyond that.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from . import crypto
from .audit import Actor, append_event
from .base import utcnow
from .roster import DataKey, EmergencyAccess, Student, counselor_schools

_JSON = json.JSONEncoder(ensure_ascii=False)  # what json.dumps(value, ensure_ascii=False) uses, made once
IDENTITY_COLUMNS = ("name", "student_number", "national_id", "guardians")
BLIND_INDEXED = {"name": "students.name", "student_number": "students.student_number"}

# (model class, column base names) for every sealed column outside `students`; rows carry `uid` and `student_id`.
SEALED_REGISTRY: list[tuple[type[Any], tuple[str, ...]]] = []
_M = TypeVar("_M")


def register_sealed(*columns: str) -> Callable[[type[_M]], type[_M]]:
    """Class decorator: declares which `<column>_enc` attributes of a model are sealed (for verify and scans)."""

    def deco(model: type[_M]) -> type[_M]:
        SEALED_REGISTRY.append((model, columns))
        return model

    return deco


class ErasedStudentError(crypto.CryptoError):
    """The student's data key was destroyed: their sealed data can no longer be opened."""


@dataclass
class Identity:
    name: str | None = None
    student_number: str | None = None
    national_id: str | None = None
    guardians: list[dict[str, str]] = field(default_factory=list)


class Vault:
    def __init__(self, session: Session, keyring: crypto.KeyRing, actor: Actor):
        self.session = session
        self.keyring = keyring
        self.actor = actor
        self._keys: dict[int, bytes] = {}
        self._new_key_rows: list[dict[str, Any]] | None = None
        # (column, value, index key version) -> blind index, for the Vault's life (one request or import file):
        # the import computes a number's index to match it and again to store it
        self._bidx: dict[tuple[str, str, int], str] = {}

    # -- keys ---------------------------------------------------------------------------------------
    def _key_for(self, student: Student, create: bool = False) -> tuple[int, bytes]:
        if student.data_key_id is None:
            if not create:
                raise crypto.CryptoError("student has no data key")
            key_id, dek = crypto.new_key_id(), crypto.new_data_key()
            wrapped, version = self.keyring.wrap(dek, key_id)
            if self._new_key_rows is not None:
                self._new_key_rows.append({"id": key_id, "wrapped": wrapped, "master_version": version})
            else:
                self.session.add(DataKey(id=key_id, wrapped=wrapped, master_version=version))
            student.data_key_id = key_id
            self._keys[key_id] = dek
            return key_id, dek
        return student.data_key_id, self._lookup(student.data_key_id)

    def _lookup(self, key_id: int) -> bytes:
        if key_id not in self._keys:
            row = self.session.get(DataKey, key_id)
            if row is None:
                raise crypto.CryptoError(f"unknown data key {key_id}")
            if row.wrapped is None or row.destroyed_at is not None:
                raise ErasedStudentError("data key destroyed")
            self._keys[key_id] = self.keyring.unwrap(row.wrapped, key_id, row.master_version)
        return self._keys[key_id]

    @contextmanager
    def collecting_new_keys(self) -> Iterator[list[dict[str, Any]]]:
        """For bulk writers (the roster import): inside the block, a data key made for a new student is not added
        to the session as a `DataKey` object but appended to the yielded list as its row values (`id`, `wrapped`,
        `master_version`: the same freshly generated key, wrapped by the current master key). The caller inserts
        them (one executemany, e.g. `insert(DataKey.__table__)`) before the rows that reference them, and may
        clear the list after each insert. Building thousands of ORM objects was most of a large import's time.
        """
        if self._new_key_rows is not None:
            raise RuntimeError("already collecting new data keys")
        rows: list[dict[str, Any]] = []
        self._new_key_rows = rows
        try:
            yield rows
        finally:
            self._new_key_rows = None

    def preload_keys(self, key_ids: Iterable[int | None]) -> None:
        """Unwrap many data keys with one query (list pages)."""
        missing = {k for k in key_ids if k is not None and k not in self._keys}
        if not missing:
            return
        # Plain columns, not ORM entities: a 3,000-student list spends most of its time building objects otherwise.
        live = live_key()
        for chunk in _chunks(sorted(missing), 900):
            rows = self.session.execute(
                select(DataKey.id, DataKey.wrapped, DataKey.master_version).where(DataKey.id.in_(chunk), live)
            )
            for key_id, wrapped, version in rows:
                self._keys[key_id] = self.keyring.unwrap(wrapped, key_id, version)

    # -- sealing ------------------------------------------------------------------------------------
    def seal_identity(self, student: Student, **values: Any) -> None:
        """Seal identity fields given as keyword arguments (name, student_number, national_id, guardians)."""
        if not student.public_id:
            import uuid

            student.public_id = str(uuid.uuid4())
        key_id, dek = self._key_for(student, create=True)
        sealer = crypto.Sealer(dek, key_id)  # one keyed cipher for this student's values
        for column, value in values.items():
            if column not in IDENTITY_COLUMNS:
                raise ValueError(f"not an identity column: {column}")
            if column == "guardians":
                value = _JSON.encode(value or [])
            blob = None
            if value not in (None, ""):
                blob = sealer.seal(str(value), crypto.aad_for("students", column, student.public_id))
            setattr(student, f"{column}_enc", blob)
            if column in BLIND_INDEXED:
                setattr(student, f"{column}_bidx", self.blind_index(column, value) if value else None)
        indexed = [c for c in values if c in BLIND_INDEXED]
        if indexed:
            # bidx_version promises that EVERY index of the row is under that version: a partial write on a row
            # still on an older version leaves it marked old, so `flask keys rotate-index` recomputes all of it.
            current = self.keyring.index_version
            prior = getattr(student, "bidx_version", None)
            whole = len(indexed) == len(BLIND_INDEXED)
            student.bidx_version = current if whole or prior is None else min(prior, current)

    def seal_into(self, row: Any, column: str, value: Any, *, student: Student) -> None:
        """Seal `value` (str, or JSON-able) into `row.<column>_enc`, bound to the row's table, column and uid."""
        uid = row.ensure_uid()
        if value is None:
            setattr(row, f"{column}_enc", None)
            return
        if not isinstance(value, str):
            value = json.dumps(value, ensure_ascii=False, sort_keys=True)
        key_id, dek = self._key_for(student, create=True)
        setattr(row, f"{column}_enc", crypto.seal(dek, key_id, value, crypto.aad_for(row.__tablename__, column, uid)))

    def blind_index(self, column: str, value: str) -> str:
        """The index written for `value` (current index key version)."""
        return self._blind_index(column, value, self.keyring.index_version)

    def blind_indexes(self, column: str, value: str) -> list[str]:
        """What a lookup of `value` must match: its index under every index key version the ring holds (one
        outside a rotation; during `flask keys rotate-index` rows not yet recomputed are still under the old)."""
        return [self._blind_index(column, value, v) for v in self.keyring.index_versions]

    def _blind_index(self, column: str, value: str, version: int) -> str:
        key = (column, value, version)
        found = self._bidx.get(key)
        if found is None:
            found = self._bidx[key] = self.keyring.blind_index(BLIND_INDEXED[column], value, version)
        return found

    def reindex(self, student: Student) -> None:
        """Recompute the student's blind indexes under the current index key from their sealed values.

        Nothing is revealed to anyone (the plaintext is hashed and dropped here), so no access event is written;
        `flask keys rotate-index` audits the rebuild as a whole. Raises `CryptoError` if a value does not open.
        """
        for column in BLIND_INDEXED:
            plain = self._open_identity(student, column)
            setattr(student, f"{column}_bidx", self.blind_index(column, plain) if plain else None)
        student.bidx_version = self.keyring.index_version

    # -- opening (audited) --------------------------------------------------------------------------
    def reveal(
        self, student: Student, action: str, *, target: str | None = None, detail: dict[str, Any] | None = None
    ) -> Reader:
        """Write one audit event for `action` on this student, then return a reader of their sealed data.

        A counselor who reaches the student through emergency access (break the glass) gets an `emergency.read`
        event instead, naming the grant (`emergency:<uid>`) and the page's own action and target in its detail:
        each page read under emergency access is its own event, listed on the grant's review."""
        grant = self.emergency_grant(student)
        if grant is not None:
            append_event(
                self.session, self.actor, "emergency.read", student_public_id=student.public_id,
                target=f"emergency:{grant.uid}",
                detail={"read": action, **({"target": target} if target else {}), **(detail or {})},
            )
        else:
            append_event(
                self.session, self.actor, action, student_public_id=student.public_id, target=target, detail=detail
            )
        return Reader(self, student)

    def emergency_grant(self, student: Student) -> EmergencyAccess | None:
        """The actor's unexpired emergency access to `student`, if that is how they reach the file (a counselor
        with the student's school in their own scope reads as usual)."""
        if self.actor.role != "counselor" or self.actor.user_id is None:
            return None
        grant = self.session.scalars(
            select(EmergencyAccess).where(
                EmergencyAccess.user_id == self.actor.user_id, EmergencyAccess.student_id == student.id,
                EmergencyAccess.expires_at > utcnow(),
            ).order_by(EmergencyAccess.expires_at.desc())
        ).first()  # one indexed query on a table of a few rows; nothing more for nearly every reveal
        if grant is None:
            return None
        own = self.session.scalar(select(counselor_schools.c.school_id).where(
            counselor_schools.c.user_id == self.actor.user_id, counselor_schools.c.school_id == student.school_id))
        return grant if own is None else None

    def reveal_many(
        self,
        students: Sequence[Student],
        action: str,
        *,
        columns: Sequence[str] = ("name", "student_number"),
        detail: dict[str, Any] | None = None,
    ) -> dict[int, Identity]:
        """Decrypt identity columns of many students (a list page) under ONE audit event with the count.

        Erased students come back with empty identities rather than failing the whole page.
        """
        info = dict(detail or {})
        info["count"] = len(students)
        append_event(self.session, self.actor, action, detail=info)
        self.preload_keys(s.data_key_id for s in students)
        out: dict[int, Identity] = {}
        for s in students:
            ident = Identity()
            if s.data_key_id in self._keys:
                for column in columns:
                    _set_identity(ident, column, self._open_identity(s, column))
            out[s.id] = ident
        return out

    def reveal_rows(
        self, rows: Sequence[Any], column: str, action: str, *, detail: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """Open `column` of many student-owned rows (a class grid's drafts) under ONE audit event with the count:
        {row uid: the JSON value}. Rows whose student's key is destroyed are left out."""
        info = dict(detail or {})
        info["count"] = len(rows)
        append_event(self.session, self.actor, action, detail=info)
        out: dict[str, Any] = {}
        for row in rows:
            try:
                plain = self._open_row(row, column)
            except crypto.CryptoError:
                continue
            out[row.uid] = json.loads(plain) if plain is not None else None
        return out

    def scan_identities(
        self, rows: Sequence[Any], columns: Sequence[str] = ("name", "student_number")
    ) -> dict[int, tuple[str | None, ...]]:
        """Open the names and/or numbers of many students for an in-memory comparison (the partial and pinyin
        search, app/roster/search.py), writing NO audit event: nothing opened here is shown to anyone; the caller
        reveals what it shows (the matches) through `reveal_many`, which audits. `rows` are plain rows (id,
        public_id, data_key_id and `<column>_enc` of each of `columns`, a subset of name and student_number), not
        ORM objects: a 3,000-student scope is read in one query. Rows may also carry their student's wrapped data
        key (`wrapped`, `master_version`: the query joined `DataKey` on `live_key()`, app/roster/search.py); then the
        keys are unwrapped from the rows, with no second query of 3,000 key ids. Returns {student id: the values, in
        `columns` order}.

        Erased students (key destroyed) and values that do not open are left out; the result lives as long as the
        caller keeps it (one request).
        """
        if not rows:
            return {}
        # Rows are read by position (a named row's attribute costs more than its index, 15,000 times a search)
        fields = rows[0]._fields
        i_id, i_public, i_key = fields.index("id"), fields.index("public_id"), fields.index("data_key_id")
        blobs = [(fields.index(f"{c}_enc"), c) for c in columns]
        keys = self._keys
        if "wrapped" in fields:
            i_wrapped, i_version = fields.index("wrapped"), fields.index("master_version")
            unwrap = self.keyring.unwrap
            for r in rows:
                key_id = r[i_key]
                if r[i_wrapped] is not None and key_id not in keys:
                    keys[key_id] = unwrap(r[i_wrapped], key_id, r[i_version])
        else:
            self.preload_keys(r[i_key] for r in rows)
        out: dict[int, tuple[str | None, ...]] = {}
        lookup = keys.__getitem__
        open_sealed, aad_for = crypto.open_sealed, crypto.aad_for
        for r in rows:
            if r[i_key] not in keys:
                continue
            values: list[str | None] = []
            try:
                for at, column in blobs:
                    blob = r[at]
                    values.append(None if blob is None else open_sealed(
                        bytes(blob), lookup, aad_for("students", column, r[i_public])).decode())
            except crypto.CryptoError:
                continue
            out[r[i_id]] = tuple(values)
        return out

    # -- internals ----------------------------------------------------------------------------------
    def _open_identity(self, student: Student, column: str) -> str | None:
        blob = getattr(student, f"{column}_enc")
        if blob is None:
            return None
        return crypto.open_sealed(blob, self._lookup, crypto.aad_for("students", column, student.public_id)).decode()

    def _open_row(self, row: Any, column: str) -> str | None:
        blob = getattr(row, f"{column}_enc")
        if blob is None:
            return None
        return crypto.open_sealed(blob, self._lookup, crypto.aad_for(row.__tablename__, column, row.uid)).decode()

    def check_opens(self, obj: Any, column: str) -> bool:
        """Authenticate and decrypt one sealed value and throw the plaintext away (`flask keys verify`).

        Returns False when the column is empty, True when it opens; raises `ErasedStudentError` when the
        student's key was destroyed and `CryptoError` for any other failure. Writes no audit event because
        nothing is revealed to anyone.
        """
        if isinstance(obj, Student) and column in IDENTITY_COLUMNS:
            return self._open_identity(obj, column) is not None
        return self._open_row(obj, column) is not None

    def matches(self, student: Student, column: str, value: str) -> bool:
        """Confirm a blind-index hit by comparing normalised plaintexts (drops false positives).

        Used inside flows that have already written their own audit event (search, self-identification).
        """
        try:
            plain = self._open_identity(student, column)
        except crypto.CryptoError:
            return False
        return plain is not None and crypto.normalise(plain) == crypto.normalise(value)


class Reader:
    """Decrypts one student's sealed data; only handed out by `Vault.reveal`, after the audit event."""

    def __init__(self, vault: Vault, student: Student):
        self._vault = vault
        self.student = student
        self._identity: Identity | None = None

    @property
    def identity(self) -> Identity:
        if self._identity is None:
            ident = Identity()
            for column in IDENTITY_COLUMNS:
                _set_identity(ident, column, self._vault._open_identity(self.student, column))
            self._identity = ident
        return self._identity

    @property
    def name(self) -> str | None:
        return self.identity.name

    @property
    def student_number(self) -> str | None:
        return self.identity.student_number

    def get(self, row: Any, column: str) -> str | None:
        return self._vault._open_row(row, column)

    def get_json(self, row: Any, column: str) -> Any:
        text = self.get(row, column)
        return None if text is None else json.loads(text)


def _set_identity(ident: Identity, column: str, value: str | None) -> None:
    if column == "guardians":
        ident.guardians = json.loads(value) if value else []
    else:
        setattr(ident, column, value)


def live_key() -> ColumnElement[bool]:
    """The condition on `DataKey` of a key that still opens (not destroyed by an erasure)."""
    return DataKey.wrapped.is_not(None) & DataKey.destroyed_at.is_(None)


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def destroy_data_key(session: Session, student: Student) -> None:
    """Crypto-shredding: forget the wrapped key; every ciphertext of this student becomes noise."""
    if student.data_key_id is not None:
        row = session.get(DataKey, student.data_key_id)
        if row is not None:
            row.wrapped = None
            row.destroyed_at = utcnow()
