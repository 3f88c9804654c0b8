"""The lease that keeps the scheduler to ONE running process (see app/scheduler/runner.py and docs/scheduler.md).

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a dedicated connection. The server frees
  it the moment that connection dies, so a killed scheduler is replaced within one renew interval.
- SQLite: the `scheduler_leases` row. A holder renews `expires_at` every `renew_every` seconds; another process
  takes the row over only after it expired (`ttl` seconds without renewal).

`confirm(session)` re-checks the lease INSIDE a job's own transaction (SQLite: an UPDATE that renews the row only if
this process still holds it; PostgreSQL: pg_locks shows this backend holding the lock).
"""
from __future__ import annotations

import os
import socket
import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from models import SchedulerLease, utcnow
from models.db import rowcount

LEASE_NAME = "scheduler"
ADVISORY_KEY = 7261843  # fits in 32 bits: pg_locks shows it as classid 0, objid KEY, objsubid 1


def new_holder_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SqliteLease:
    kind = "lease-row"

    def __init__(self, engine: Engine, holder: str, ttl: float = 60.0):
        self.engine, self.holder, self.ttl = engine, holder, timedelta(seconds=ttl)

    def try_acquire(self, now: datetime | None = None) -> bool:
        """Renew our lease, or take it when it is free or expired. True while we hold it."""
        now = now or utcnow()
        with self.engine.begin() as conn:
            taken = conn.execute(
                update(SchedulerLease)
                .where(
                    SchedulerLease.name == LEASE_NAME,
                    or_(SchedulerLease.holder == self.holder, SchedulerLease.expires_at < now),
                )
                .values(holder=self.holder, expires_at=now + self.ttl)
            ).rowcount
            if taken:
                return True
            if conn.scalar(select(SchedulerLease.name).where(SchedulerLease.name == LEASE_NAME)) is not None:
                return False
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    insert(SchedulerLease).values(
                        name=LEASE_NAME, holder=self.holder, expires_at=now + self.ttl, acquired_at=now
                    )
                )
            return True
        except IntegrityError:
            return False  # another process inserted it first

    def confirm(self, session: Session, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return bool(
            rowcount(session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == self.holder,
                       SchedulerLease.expires_at >= now)
                .values(expires_at=now + self.ttl)
                .execution_options(synchronize_session=False)
            ))
        )

    def release(self) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    delete(SchedulerLease).where(
                        SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == self.holder
                    )
                )
        except SQLAlchemyError:
            pass


class PostgresLease:
    kind = "advisory-lock"

    def __init__(self, engine: Engine, holder: str, ttl: float = 60.0):
        self.engine, self.holder = engine, holder
        self.conn: Connection | None = None
        self.pid: int | None = None
        self.held = False

    def try_acquire(self, now: datetime | None = None) -> bool:
        try:
            if self.conn is None:
                self.conn = self.engine.execution_options(isolation_level="AUTOCOMMIT").connect()
                self.pid = self.conn.scalar(text("SELECT pg_backend_pid()"))
                self.held = False
            if self.held:
                self.conn.scalar(text("SELECT 1"))  # still connected means still holding
            else:
                self.held = bool(self.conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}))
        except SQLAlchemyError:
            self._drop()
        return self.held

    def confirm(self, session: Session, now: datetime | None = None) -> bool:
        if not self.held or self.pid is None:
            return False
        return bool(
            session.scalar(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 0 AND objid = :k "
                    "AND objsubid = 1 AND pid = :pid AND granted"
                ),
                {"k": ADVISORY_KEY, "pid": self.pid},
            )
        )

    def release(self) -> None:
        if self.conn is not None and self.held:
            try:
                self.conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
            except SQLAlchemyError:
                pass
        self._drop()

    def _drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.invalidate()
                self.conn.close()
            except Exception:  # noqa: BLE001 - the connection is already gone
                pass
        self.conn, self.pid, self.held = None, None, False


def make_lease(engine: Engine, holder: str | None = None, ttl: float = 60.0) -> SqliteLease | PostgresLease:
    cls = PostgresLease if engine.dialect.name == "postgresql" else SqliteLease
    return cls(engine, holder or new_holder_id(), ttl)
