"""Helpers for the scheduler tests: a committed database, real `flask scheduler run` processes and their output."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from config import ROOT
from models import Notification, Recheck, SchedulerLease, clock
from models.clock import database_now
from models.crypto import KeyRing
from models.db import make_engine
from tests.waiting import wait_until

LEASE_TTL = 3.0  # seconds: the scheduler processes of these tests (`scheduler()`)


def migrated_engine(url: str) -> Engine:
    from app.cli import upgrade_database

    upgrade_database(url)
    return make_engine(url)


def seed_overdue_recheck(engine: Engine, keyring: KeyRing) -> int:
    """One counselor, one student and one recheck overdue by a day (real clock), committed."""
    from tests.factories import Factory

    with Session(engine) as session:
        factory = Factory(session, keyring)
        student = factory.student()
        factory.counselor(student.school)
        recheck = Recheck(
            student_id=student.id, school_id=student.school_id, level="L2", instrument_id="phqa",
            due_on=clock.today() - timedelta(days=2), status="planned",
        )
        session.add(recheck)
        session.commit()
        return recheck.id


def state(engine: Engine, recheck_id: int) -> tuple[str, int]:
    with Session(engine) as session:
        status = session.scalar(select(Recheck.status).where(Recheck.id == recheck_id))
        count = session.scalar(select(func.count()).where(Notification.recheck_id == recheck_id))
        return status, int(count or 0)


def process_env(url: str, tmp: Path) -> dict[str, str]:
    key_file = tmp / "keys.json"
    if not key_file.exists():
        KeyRing.generate_file(str(key_file))
    env = dict(os.environ)
    env.update(
        XINMIAO_ENV="development", DATABASE_URL=url, XINMIAO_KEY_FILE=str(key_file), XINMIAO_INSTANCE_DIR=str(tmp),
        PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1",
    )
    return env


class Proc:
    """A child process whose combined output goes to a file we can poll."""

    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        self.fh = log.open("wb")
        self.p = subprocess.Popen(
            args, env=env, cwd=str(ROOT), stdout=self.fh, stderr=subprocess.STDOUT, start_new_session=True
        )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def jobs(self) -> list[dict]:
        return [json.loads(line[4:]) for line in self.output().splitlines() if line.startswith("job {")]

    def kill_signal(self, sig: int) -> None:
        """Send a signal without waiting for the process to end (SIGSTOP, SIGCONT)."""
        if self.p.poll() is None:
            os.kill(self.p.pid, sig)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.p.poll() is None:
            os.kill(self.p.pid, sig)
        try:
            self.p.wait(timeout=20)
        finally:
            self.fh.close()


def scheduler(env: dict[str, str], log: Path, ttl: float = LEASE_TTL, renew: float = 0.5) -> Proc:
    args = [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "app",
        "scheduler",
        "run",
        "--lease-ttl",
        str(ttl),
        "--renew-every",
        str(renew),
    ]
    return Proc(args, env, log)


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    wait_until(condition, timeout, what, interval=0.1)


def lease_now(engine: Engine) -> datetime:
    """The database server's time: the clock every scheduler process compares its lease on (app/scheduler/lease.py)."""
    with engine.connect() as conn:
        return database_now(conn)


def lease_ticked_after(engine: Engine, moment: datetime) -> bool:
    """Whether the lease holder renewed the `scheduler_leases` row at or after `moment` (database time, see
    `lease_now`): expires_at = renewal + ttl, so the row says when. Both databases keep the lease in this row."""
    with engine.connect() as conn:
        expires = conn.scalar(select(SchedulerLease.expires_at))
    if expires is None:
        return False
    if expires.tzinfo is None:
        expires = expires.replace(tzinfo=moment.tzinfo)
    return expires - timedelta(seconds=LEASE_TTL) >= moment
