"""The access audit: an append-only, hash-chained event log.

Each event stores the hash of the previous one, so editing or deleting any row breaks the chain, which
`verify_chain` (and `flask audit verify`) detects. Appends are serialised through the single `audit_head` row:
an UPDATE of that row takes a write lock (a row lock on PostgreSQL, the database write lock on SQLite) that is
held until the transaction ends, so two workers can never read the same "last hash" and fork the chain.
On PostgreSQL a trigger (see the migration) also refuses UPDATE and DELETE on `audit_events`.

Read-only requests (GET) defer their events: `defer_events(session)` makes `append_event` queue the event (with
its time) instead of writing it, and the request's end writes the queue in a short transaction of its own
(`write_deferred`) before the response leaves. The page is still never shown unless its access was recorded,
but the chain's single head is locked for a few milliseconds instead of for a whole page render — otherwise
every audited page view in the district would queue behind every other.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Integer, String, Text, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from .base import IDENTITY, Base, UTCDateTime, utcnow
from .crypto import chain_hash
from .db import rowcount

GENESIS = "0" * 64


class AuditHead(Base):
    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


class AuditEvent(Base):
    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(64), index=True)
    student_public_id: Mapped[str | None] = mapped_column(String(36), index=True, info=IDENTITY)
    target: Mapped[str | None] = mapped_column(String(200))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    def payload(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "actor_id": self.actor_id,
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "student": self.student_public_id,
            "target": self.target,
            "client": self.client_addr,
            "detail": self.detail,
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


# The head row is only ever read with a column SELECT, so an UPDATE of it need not synchronise ORM objects; the
# default ("auto" -> "evaluate") scans the session's whole identity map on every append, which made bulk jobs
# holding thousands of rows (the demo seed, imports) spend most of their time here.
_NO_SYNC = {"synchronize_session": False}


_DEFERRED_KEY = "xinmiao_deferred_audit"


def defer_events(session: Session) -> None:
    """From now on, `append_event` on this session queues events for `write_deferred` instead of writing."""
    session.info[_DEFERRED_KEY] = []


def take_deferred(session: Session) -> list[dict[str, Any]]:
    """The queued events (and stop queueing)."""
    return session.info.pop(_DEFERRED_KEY, None) or []


def write_deferred(session: Session, queued: list[dict[str, Any]]) -> None:
    """Append queued events, in order, in the caller's transaction (flushes, never commits)."""
    for item in queued:
        append_event(session, **item)


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
    """Append one event to the chain inside the caller's transaction (flushes, never commits).

    On a session in deferred mode (see `defer_events`) the event is queued, stamped with the current time, and
    None is returned.
    """
    queue = session.info.get(_DEFERRED_KEY)
    if queue is not None:
        queue.append(dict(actor=actor, action=action, student_public_id=student_public_id, target=target,
                          detail=detail, at=at or utcnow()))
        return None
    session.flush()
    result = session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1),
                             execution_options=_NO_SYNC)
    if rowcount(result) == 0:
        # First event ever: create the head row inside a savepoint. A concurrent creator loses on the primary
        # key (on PostgreSQL it waits for the winner to commit first); it rolls back to the savepoint and
        # retries the UPDATE, which now finds the winner's row and queues behind its lock.
        try:
            with session.begin_nested():
                session.add(AuditHead(id=1, seq=1, last_hash=GENESIS))
        except IntegrityError:
            result = session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
            if rowcount(result) == 0:  # pragma: no cover - the row exists once the PK conflict was reported
                raise
    seq, prev = session.execute(select(AuditHead.seq, AuditHead.last_hash).where(AuditHead.id == 1)).one()
    event = AuditEvent(
        seq=seq,
        at=at or utcnow(),
        actor_id=actor.user_id,
        actor=actor.username,
        role=actor.role,
        action=action,
        student_public_id=student_public_id,
        target=target,
        client_addr=actor.client_addr,
        detail=json.dumps(detail or {}, ensure_ascii=False, sort_keys=True, default=str),
        prev_hash=prev,
    )
    event.hash = chain_hash(prev, event.payload())
    session.add(event)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=event.hash), execution_options=_NO_SYNC)
    session.flush()
    return event


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    problem: str


def iter_events(session: Session, batch: int = 5000, after: int = 0) -> Iterator[AuditEvent]:
    """Events in seq order, in batches. Each batch is expunged after use (only those rows: the caller's other
    objects and pending changes in the session are left alone)."""
    last = after
    while True:
        page = select(AuditEvent).where(AuditEvent.seq > last).order_by(AuditEvent.seq).limit(batch)
        rows = session.scalars(page).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        for row in rows:
            if row in session:
                session.expunge(row)


def verify_chain(session: Session, batch: int = 5000) -> tuple[int, ChainBreak | None]:
    """Walk the chain; return (events checked, first break or None).

    Safe on a live system: appends committed while the walk runs (PostgreSQL's READ COMMITTED shows each
    statement the newest commits) are walked too, until the events read agree with the head row. A head that
    records more events than exist (a deleted tail) or fewer (rows added behind its back) is a break.
    """
    prev, expected_seq, count = GENESIS, 1, 0
    for _round in range(1000):
        for event in iter_events(session, batch=batch, after=count):
            if event.seq != expected_seq:
                return count, ChainBreak(expected_seq, f"event {expected_seq} is missing (next is {event.seq})")
            if event.prev_hash != prev:
                return count, ChainBreak(event.seq, "previous-hash link does not match")
            if chain_hash(prev, event.payload()) != event.hash:
                return count, ChainBreak(event.seq, "event content does not match its hash")
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
        # head_seq > count: either appends committed during the walk (walk on) or the tail was deleted.
        more = session.scalar(select(AuditEvent.seq).where(AuditEvent.seq > count).limit(1))
        if more is None:
            return count, ChainBreak(count + 1, f"chain ends at {count} but the head records {head_seq} events")
    return count, ChainBreak(count + 1, "the chain kept growing faster than it could be verified")
