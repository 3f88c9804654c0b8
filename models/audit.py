"""The access audit: an append-only event log, hash-chained by a background linker.

Appending takes no shared lock. `append_event` only INSERTs a row (its `seq`, the insertion number, comes from
the database: a rowid on SQLite, an identity sequence on PostgreSQL) in the caller's transaction: nothing shared
is read, nothing shared is written, so two requests never wait on each other's audit write on PostgreSQL, and
on SQLite the write is that one INSERT in the short transaction at the end of a read (see below).

The hash chain is built afterwards by `link_pending` (the scheduler's `audit_link` job every second, and
`flask audit link`): under the linker's claim on the single `audit_head` row (a row lock on PostgreSQL; on
SQLite its transaction holds the write lock) it gives each unlinked event, in `seq` order, the next chain
position `chain_seq` (1, 2, 3, … without gaps), the previous event's hash and its own hash
(`chain_hash(prev_hash, payload)`, the payload naming `chain_seq` as "seq"), and records the new tip in
`audit_head`. Only the linker writes `audit_head`; requests never touch it.

`verify_chain` (and `flask audit verify`) walks the linked events by `chain_seq`: a changed, deleted or reordered
linked event breaks a hash or the run of positions, a deleted tail disagrees with `audit_head` (and the signed
checkpoints outside the database, models/audit_checkpoint.py). `unlinked_report` counts the events not yet
linked; one older than `AUDIT_UNLINKED_MAX_AGE_SECONDS` is a fault (the linker is stopped or refuses a broken
chain). The triggers of migration 0019 refuse DELETE, and any UPDATE except the linker's: setting the link
columns of a row that has none, every other column unchanged.

Read-only requests (GET) defer their events: `defer_events(session)` makes `append_event` queue the event (with
its time) instead of writing it, and the request's end writes the queue in a short transaction of its own
(`write_deferred`) before the response leaves: the page is never shown unless its access was recorded, and on
SQLite the page's reads run in a deferred transaction that holds no write lock.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Identity, Index, Integer, String, Text, bindparam, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import IDENTITY, Base, UTCDateTime, utcnow
from .crypto import chain_hash

GENESIS = "0" * 64

# The columns only the linker sets (once, on a row that has none of them): the triggers allow nothing else.
LINK_COLUMNS = ("chain_seq", "prev_hash", "hash")


class AuditHead(Base):
    """The linker's state: the chain position and hash of the last linked event. Written by the linker only
    (`link_pending`), which also claims this row to run alone; requests never read or write it."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        # The linker's work list: only the unlinked rows, in insertion order.
        Index("ix_audit_events_unlinked", "seq", sqlite_where=text("chain_seq IS NULL"),
              postgresql_where=text("chain_seq IS NULL")),
    )

    # Insertion number, assigned by the database at INSERT (no shared counter); gaps are normal (rolled-back
    # transactions on PostgreSQL). The order in which the linker chains events; not part of the hash.
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(64), index=True)
    student_public_id: Mapped[str | None] = mapped_column(String(36), index=True, info=IDENTITY)
    target: Mapped[str | None] = mapped_column(String(200))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    # Set by the linker: the position in the chain (1, 2, 3, … no gaps), the previous event's hash, this one's.
    chain_seq: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64))

    def payload(self) -> dict[str, Any]:
        """What the hash covers (with the previous hash); None as "seq" while the event is not linked."""
        return event_payload(self.chain_seq, self.at, self.actor_id, self.actor, self.role, self.action,
                             self.student_public_id, self.target, self.client_addr, self.detail)


def event_payload(chain_seq: int | None, at: datetime, actor_id: int | None, actor: str, role: str, action: str,
                  student: str | None, target: str | None, client: str | None, detail: str) -> dict[str, Any]:
    """The canonical content of one event. "seq" is the chain position: for events chained before migration
    0019 it equals their insertion number, so their stored hashes still verify."""
    return {
        "seq": chain_seq,
        "at": at.isoformat(),
        "actor_id": actor_id,
        "actor": actor,
        "role": role,
        "action": action,
        "student": student,
        "target": target,
        "client": client,
        "detail": detail,
    }


@dataclass(frozen=True)
class Actor:
    """Who is acting: a user in a request, or a named system job / CLI operator."""

    user_id: int | None
    username: str
    role: str
    client_addr: str | None = None

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(None, name, "system", None)

    @classmethod
    def for_user(cls, user: Any, client_addr: str | None = None) -> Actor:
        return cls(user.id, user.username, user.role, client_addr)


_DEFERRED_KEY = "xinmiao_deferred_audit"


def defer_events(session: Session) -> None:
    """From now on, `append_event` on this session queues events for `write_deferred` instead of writing."""
    session.info[_DEFERRED_KEY] = []


def take_deferred(session: Session) -> list[dict[str, Any]]:
    """The queued events (and stop queueing)."""
    return session.info.pop(_DEFERRED_KEY, None) or []


def write_deferred(session: Session, queued: list[dict[str, Any]]) -> None:
    """Insert queued events, in order, in the caller's transaction (one flush, never commits)."""
    if not queued:
        return
    session.add_all([_new_event(**item) for item in queued])
    session.flush()


def _new_event(actor: Actor, action: str, *, student_public_id: str | None = None, target: str | None = None,
               detail: dict[str, Any] | None = None, at: datetime | None = None) -> AuditEvent:
    return AuditEvent(
        at=at or utcnow(),
        actor_id=actor.user_id,
        actor=actor.username,
        role=actor.role,
        action=action,
        student_public_id=student_public_id,
        target=target,
        client_addr=actor.client_addr,
        detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str),
    )


def append_event(
    session: Session,
    actor: Actor,
    action: str,
    *,
    student_public_id: str | None = None,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> AuditEvent | None:
    """Insert one event inside the caller's transaction (flushes, never commits): one INSERT, no read of any
    shared row. The event is linked into the hash chain later by `link_pending`.

    On a session in deferred mode (see `defer_events`) the event is queued, stamped with the current time, and
    None is returned.
    """
    queue = session.info.get(_DEFERRED_KEY)
    if queue is not None:
        queue.append(dict(actor=actor, action=action, student_public_id=student_public_id, target=target,
                          detail=detail, at=at or utcnow()))
        return None
    event = _new_event(actor, action, student_public_id=student_public_id, target=target, detail=detail, at=at)
    session.add(event)
    session.flush()
    return event


# -- the linker ---------------------------------------------------------------------------------------------------


class ChainLinkError(Exception):
    """The linker refuses to extend a chain whose stored tip disagrees with `audit_head` (run `flask audit
    verify`): new events stay unlinked, and `flask audit verify` reports them once they are older than the bound."""


@dataclass(frozen=True)
class LinkResult:
    linked: int
    head_seq: int  # chain position of the last linked event (0: none)
    head_hash: str


def _claim_head(session: Session) -> tuple[int, str]:
    """Claim the linker's row for the rest of the transaction and read the tip it records.

    PostgreSQL: SELECT … FOR UPDATE, so a second linker waits here until the first commits, then reads the tip
    that one wrote (READ COMMITTED re-reads a row it waited for) and links only what is still unlinked. SQLite:
    the linker's transaction began IMMEDIATE and already holds the database's write lock."""
    claim = select(AuditHead.seq, AuditHead.last_hash).where(AuditHead.id == 1).with_for_update()
    row = session.execute(claim).first()
    if row is None:
        if session.scalar(select(AuditEvent.seq).where(AuditEvent.chain_seq.is_not(None)).limit(1)) is not None:
            raise ChainLinkError("the chain head row is missing but linked events exist")
        try:
            with session.begin_nested():
                session.add(AuditHead(id=1, seq=0, last_hash=GENESIS))
        except IntegrityError:  # another linker created it first (and we waited for its commit)
            pass
        row = session.execute(claim).one()
    return int(row[0]), str(row[1])


def _check_tip(session: Session, head_seq: int, head_hash: str) -> None:
    if head_seq:
        stored = session.scalar(select(AuditEvent.hash).where(AuditEvent.chain_seq == head_seq))
        if stored != head_hash:
            raise ChainLinkError(f"linked event {head_seq} does not carry the hash recorded in audit_head")
    beyond = session.scalar(select(AuditEvent.chain_seq).where(AuditEvent.chain_seq > head_seq).limit(1))
    if beyond is not None:
        raise ChainLinkError(f"linked event {beyond} lies beyond the head recorded in audit_head ({head_seq})")


_UNLINKED_COLUMNS = (AuditEvent.seq, AuditEvent.at, AuditEvent.actor_id, AuditEvent.actor, AuditEvent.role,
                     AuditEvent.action, AuditEvent.student_public_id, AuditEvent.target, AuditEvent.client_addr,
                     AuditEvent.detail)
_TABLE = AuditEvent.__table__
_LINK = (
    _TABLE.update()  # type: ignore[attr-defined]
    .where(_TABLE.c.seq == bindparam("b_seq"), _TABLE.c.chain_seq.is_(None))
    .values(chain_seq=bindparam("b_chain"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash"))
)


def link_pending(session: Session, *, batch: int = 500, max_events: int | None = None) -> LinkResult:
    """Link every unlinked event (or at most `max_events`), oldest insertion first, in batches of `batch`, in the
    caller's transaction (flushes, never commits). Deterministic: the order is `seq`, the hash covers the
    event's stored columns only. Idempotent: a second run (or a second linker, which waits for the first) finds
    nothing left to link. Raises ChainLinkError, linking nothing, if the stored tip disagrees with the head."""
    session.flush()
    head_seq, prev = _claim_head(session)
    _check_tip(session, head_seq, prev)
    linked = 0
    while max_events is None or linked < max_events:
        size = batch if max_events is None else min(batch, max_events - linked)
        rows = session.execute(
            select(*_UNLINKED_COLUMNS).where(AuditEvent.chain_seq.is_(None)).order_by(AuditEvent.seq).limit(size)
        ).all()
        if not rows:
            break
        first = head_seq + 1
        params = []
        for row in rows:
            head_seq += 1
            digest = chain_hash(prev, event_payload(head_seq, *row[1:]))
            params.append({"b_seq": row[0], "b_chain": head_seq, "b_prev": prev, "b_hash": digest})
            prev = digest
        session.execute(_LINK, params)
        done = session.scalar(select(func.count()).select_from(AuditEvent)
                              .where(AuditEvent.chain_seq.between(first, head_seq))) or 0
        if done != len(rows):  # pragma: no cover - only if another linker ran without the claim
            raise ChainLinkError(f"linked {done} of {len(rows)} events: another linker ran without the claim")
        _expire_linked(session, [row[0] for row in rows])
        linked += len(rows)
    if linked:
        session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=head_seq, last_hash=prev),
                        execution_options={"synchronize_session": False})
    return LinkResult(linked, head_seq, prev)


def _expire_linked(session: Session, seqs: list[int]) -> None:
    """Objects of the just-linked rows that this session holds read their link columns again when next used."""
    for seq in seqs:
        obj = session.identity_map.get(session.identity_key(AuditEvent, seq))
        if obj is not None:
            session.expire(obj, list(LINK_COLUMNS))


# -- verification -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainBreak:
    seq: int  # chain position where the chain breaks
    problem: str


def iter_events(session: Session, batch: int = 5000, after: int = 0) -> Iterator[AuditEvent]:
    """Linked events in chain order (`chain_seq` > after), in batches. Each batch is expunged after use (only
    those rows: the caller's other objects and pending changes in the session are left alone)."""
    last = after
    while True:
        page = (select(AuditEvent).where(AuditEvent.chain_seq > last).order_by(AuditEvent.chain_seq)
                .limit(batch).execution_options(populate_existing=True))
        rows = session.scalars(page).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].chain_seq or last
        for row in rows:
            if row in session:
                session.expunge(row)


def verify_chain(session: Session, batch: int = 5000) -> tuple[int, ChainBreak | None]:
    """Walk the linked chain; return (linked events checked, first break or None). Unlinked events are not
    part of the chain yet: see `unlinked_report`.

    Safe on a live system: events the linker commits while the walk runs (PostgreSQL's READ COMMITTED shows each
    statement the newest commits) are walked too, until the events read agree with the head row. A head that
    records more events than exist (a deleted tail) or fewer (rows linked behind its back) is a break.
    """
    prev, expected_seq, count = GENESIS, 1, 0
    for _round in range(1000):
        for event in iter_events(session, batch=batch, after=count):
            if event.chain_seq != expected_seq:
                return count, ChainBreak(expected_seq,
                                         f"event {expected_seq} is missing (next is {event.chain_seq})")
            if event.prev_hash != prev:
                return count, ChainBreak(expected_seq, "previous-hash link does not match")
            if event.hash is None or chain_hash(prev, event.payload()) != event.hash:
                return count, ChainBreak(expected_seq, "event content does not match its hash")
            prev, expected_seq, count = event.hash, expected_seq + 1, count + 1
        head = session.execute(select(AuditHead.seq, AuditHead.last_hash).where(AuditHead.id == 1)).first()
        if head is None:
            if count:
                return count, ChainBreak(count + 1, "the chain head row is missing")
            return count, None
        head_seq, head_hash = head
        if head_seq == count:
            if head_hash != prev:
                return count, ChainBreak(count, "the last event does not match the hash recorded in the head")
            return count, None
        if head_seq < count:
            return count, ChainBreak(head_seq + 1, f"events after {head_seq} are not recorded in the head")
        # head_seq > count: either events linked during the walk (walk on) or the tail was deleted.
        more = session.scalar(select(AuditEvent.chain_seq).where(AuditEvent.chain_seq > count).limit(1))
        if more is None:
            return count, ChainBreak(count + 1, f"chain ends at {count} but the head records {head_seq} events")
    return count, ChainBreak(count + 1, "the chain kept growing faster than it could be verified")


@dataclass(frozen=True)
class Unlinked:
    """Events not linked yet: `pending` in all, `stale` of them older than the bound (a fault), the oldest time."""

    pending: int
    stale: int
    oldest: datetime | None
    max_age_seconds: float

    @property
    def ok(self) -> bool:
        return self.stale == 0


def unlinked_report(session: Session, now: datetime, max_age_seconds: float) -> Unlinked:
    """Count the unlinked events (the partial index `ix_audit_events_unlinked` holds exactly them)."""
    cutoff = now - timedelta(seconds=max_age_seconds)
    unlinked = AuditEvent.chain_seq.is_(None)
    pending, oldest = session.execute(select(func.count(), func.min(AuditEvent.at)).where(unlinked)).one()
    stale = session.scalar(select(func.count()).select_from(AuditEvent)
                           .where(unlinked, AuditEvent.at < cutoff)) if pending else 0
    return Unlinked(int(pending or 0), int(stale or 0), oldest, max_age_seconds)
