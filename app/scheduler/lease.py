"""The lease that keeps the scheduler to ONE running process (see app/scheduler/runner.py and docs/scheduler.md).

One mechanism on SQLite and PostgreSQL: the row `scheduler_leases(name='scheduler')` with a holder id, `expires_at`
and a fencing `token`.

- `try_acquire()` renews the row if we hold it, or takes it over when it has expired (nobody renewed it for `ttl`
  seconds), with ONE conditional UPDATE. A takeover increments the token; a renewal keeps it. A holder that is
  killed, hung or SIGSTOPped stops renewing, so a standby takes over within `ttl` (plus one renew interval) — no
  lock is held between jobs, so nothing a stopped process holds can block the takeover. (Until issue 15 the
  PostgreSQL lease was a session-level advisory lock, which a stopped process keeps for ever.)
- `confirm(session)` runs INSIDE a job's transaction, just before its commit: an UPDATE that succeeds only while
  this process still holds the lease with the token it acquired (and the lease has not expired). It locks the
  lease row until the job commits, so a takeover is serialised with the job's commit: either the job commits
  first (and the lease it extended is not expired for the standby), or the standby took over first and the
  job's writes are rolled back. A holder that wakes up after losing the lease therefore cannot write.

Time: expiry is measured on the DATABASE server's clock (PostgreSQL `clock_timestamp()`, SQLite's real-time
`'now'`), never the product clock (`models/clock.py` / XINMIAO_NOW moves the product's idea of "now"; a moved clock
must not make leases eternal or expire at once), and one clock for every process even on several hosts.
"""
from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import CursorResult, case, insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from models import SchedulerLease
from models.clock import database_now

LEASE_NAME = "scheduler"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)  # `expires_at` of a released lease: expired for everybody
LOCK_TIMEOUT_MS = 2000  # PostgreSQL: a takeover attempt never waits longer than this on the lease row


class LeaseLost(Exception):
    """A job's `confirm` found the lease held by someone else (or expired): its transaction is rolled back."""


def new_holder_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    """The lease row with a fencing token (see the module docstring)."""

    kind = "lease-row"

    def __init__(self, engine: Engine, holder: str, ttl: float = 60.0):
        self.engine, self.holder, self.ttl = engine, holder, timedelta(seconds=ttl)
        self.token: int | None = None  # the fencing token of our current tenure; None while we do not hold it

    def try_acquire(self) -> bool:
        """Renew our lease, or take it over when it is free or expired. True while we hold it."""
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"))
            now = database_now(conn)
            mine = SchedulerLease.holder == self.holder
            token = conn.scalar(
                update(SchedulerLease)
                .where(SchedulerLease.name == LEASE_NAME, mine | (SchedulerLease.expires_at < now))
                .values(
                    holder=self.holder,
                    expires_at=now + self.ttl,
                    token=case((mine, SchedulerLease.token), else_=SchedulerLease.token + 1),
                    acquired_at=case((mine, SchedulerLease.acquired_at), else_=now),
                )
                .returning(SchedulerLease.token)
            )
            if token is not None:
                self.token = int(token)
                return True
            if conn.scalar(select(SchedulerLease.name).where(SchedulerLease.name == LEASE_NAME)) is not None:
                self.token = None
                return False
        try:
            with self.engine.begin() as conn:
                now = database_now(conn)
                conn.execute(
                    insert(SchedulerLease).values(
                        name=LEASE_NAME, holder=self.holder, expires_at=now + self.ttl, acquired_at=now, token=1
                    )
                )
            self.token = 1
            return True
        except IntegrityError:
            self.token = None
            return False  # another process inserted it first

    def confirm(self, session: Session) -> bool:
        """Inside a job's transaction, just before its commit: True only if we still hold the lease with our token.

        The UPDATE also renews the lease and keeps its row locked until the job's transaction ends, so no standby
        can take over between this check and the commit.
        """
        if self.token is None:
            return False
        now = database_now(session)
        result = session.execute(
            update(SchedulerLease)
            .where(
                SchedulerLease.name == LEASE_NAME,
                SchedulerLease.holder == self.holder,
                SchedulerLease.token == self.token,
                SchedulerLease.expires_at >= now,
            )
            .values(expires_at=now + self.ttl)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(result, CursorResult)
        return bool(result.rowcount)

    def release(self) -> None:
        """Expire our lease at once (the row and its token stay: tokens only ever grow)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(SchedulerLease)
                    .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == self.holder)
                    .values(expires_at=EPOCH)
                )
        except SQLAlchemyError:
            pass
        self.token = None


def make_lease(engine: Engine, holder: str | None = None, ttl: float = 60.0) -> Lease:
    return Lease(engine, holder or new_holder_id(), ttl)
