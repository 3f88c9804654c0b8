"""Exactly one scheduler: `flask scheduler run` in its own process, guarded by a lease held in the database.

Web workers never run jobs. Several scheduler processes may be started (by mistake, or as a hot standby): only
the one holding the lease runs jobs; the others wait and take over when the holder dies or hangs.

The lease (app/scheduler/lease.py) is the row `scheduler_leases(name='scheduler')` on SQLite and PostgreSQL alike:
renewed every `renew_every` seconds, taken over by another process once nobody renewed it for `ttl` seconds, and
carrying a fencing token that every takeover increments. Every job ends with `lease.confirm(session)` INSIDE its
own transaction, just before the commit: if the token is no longer current the job's writes are rolled back, so a
holder that was paused (SIGSTOP, a VM freeze) and lost the lease cannot write. A job is one transaction: a crash
mid-sweep leaves nothing. On PostgreSQL the scheduler's sessions carry `idle_in_transaction_session_timeout`, so a
process stopped in the middle of a transaction does not keep its row locks (nor the lease row) for ever.

APScheduler traps avoided: a memory job store (never shared across processes), stable job ids added with
replace_existing (a restart re-adds rather than piling up), coalesce, max_instances=1 and a misfire grace time
of 5 minutes (the default of 1 s silently skips late jobs). On start and on takeover every job runs once at
once, so sweeps catch up after downtime.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from app.rechecks.policy import load_recheck_policy
from app.rechecks.service import school_timezone
from models import clock, utcnow

from .jobs import JOBS
from .lease import Lease, LeaseLost, make_lease
from .spec import SweepContext

JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}
_OUT_LOCK = threading.Lock()


def _print_line(line: str) -> None:
    """One whole line per call: jobs run in several threads, and print() writes the text and its newline apart,
    so two lines could interleave (`job {...}` lines are read back as JSON)."""
    with _OUT_LOCK:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


class SchedulerRunner:
    """Adds the jobs, keeps the lease, and runs each job (in one transaction) only while holding it."""

    def __init__(
        self,
        app: Flask,
        lease: Lease,
        renew_every: float = 15.0,
        out: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        parent_pid: int | None = None,
    ):
        self.app, self.lease, self.renew_every = app, lease, renew_every
        self.out = out or _print_line
        self.clock = clock
        self.parent_pid = parent_pid
        self.held = False
        self.scheduler: Any = None

    def add_jobs(self, scheduler: Any) -> None:
        """Idempotent: stable ids and replace_existing, so calling it again (a restart) never duplicates jobs."""
        policy = load_recheck_policy()
        self.scheduler = scheduler
        scheduler.add_job(
            self.tick_lease, "interval", seconds=self.renew_every, id="lease", name="scheduler lease",
            # APScheduler keeps the real time: "run now" to it is the wall clock, even when models.clock is moved.
            replace_existing=True, next_run_time=clock.wall_now(), **JOB_DEFAULTS,
        )
        for job in JOBS:
            if job.at_key:
                hour, minute = (int(x) for x in str(self.app.config[job.at_key]).split(":", 1))
                trigger: dict[str, Any] = {"trigger": "cron", "hour": hour, "minute": minute}
                if job.day_key:
                    trigger["day"] = int(self.app.config[job.day_key])
            elif job.seconds_key:
                trigger = {"trigger": "interval", "seconds": float(self.app.config[job.seconds_key])}
            else:
                minutes = policy.schedule.get(job.minutes_key) or self.app.config[job.minutes_key]
                trigger = {"trigger": "interval", "minutes": int(minutes)}
            scheduler.add_job(
                self.run_job, args=[job.id], id=job.id, name=f"sweep {job.id}", replace_existing=True,
                **trigger, **JOB_DEFAULTS,
            )

    def tick_lease(self) -> None:
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            self.out("scheduler: parent process gone, stopping")
            os.kill(os.getpid(), signal.SIGTERM)
            return
        was = self.held
        try:
            self.held = self.lease.try_acquire()
        except SQLAlchemyError as exc:
            self.held = False
            self.out(f"scheduler: lease check failed ({type(exc).__name__}); not running jobs")
        if self.held and not was:
            self.out(
                f"scheduler: lease acquired by {self.lease.holder} ({self.lease.kind}, token {self.lease.token}); "
                "catching up"
            )
            if self.scheduler is not None:
                now = clock.wall_now()  # APScheduler's own (real) clock; the jobs get self.clock()
                for job in JOBS:
                    self.scheduler.modify_job(job.id, next_run_time=now)
        elif was and not self.held:
            self.out(f"scheduler: lease lost by {self.lease.holder}; standing by")

    def run_job(self, job_id: str) -> dict[str, Any] | None:
        from app.db import db

        if not self.held:
            return None
        spec = next(j for j in JOBS if j.id == job_id)
        now = self.clock()
        token = self.lease.token
        from .runs import record_failure, record_success

        try:
            with self.app.app_context():
                with db.transaction() as session:
                    ctx = SweepContext(load_recheck_policy(), school_timezone())
                    counts = {sweep.name: sweep.run(session, now, ctx) for sweep in spec.sweeps}
                    idle = spec.quiet and not _did_something(counts)
                    if idle:  # a frequent job that found nothing to do: write nothing (no run row, no lease write)
                        session.rollback()
                    else:
                        record_success(session, job_id, self.lease.holder, now, counts)
                        if not self.lease.confirm(session):  # the fence: our token must be current to commit
                            raise LeaseLost(job_id)
        except LeaseLost:
            self.held = False
            self.out(f"scheduler: job {job_id} refused, lease lost (token {token} no longer current); rolled back")
            return None
        except Exception as exc:
            try:  # the admin page shows the last failure of each job; the job's own work was rolled back
                with self.app.app_context():
                    with db.transaction() as session:
                        record_failure(session, job_id, self.lease.holder, now, exc)
            except Exception:  # noqa: BLE001 - the original error is the one to report
                pass
            raise
        line = {"job": job_id, "holder": self.lease.holder, "token": token, "at": now.isoformat(), "counts": counts}
        if not idle:
            self.out("job " + json.dumps(line, sort_keys=True))
        return counts


def _did_something(counts: dict[str, dict[str, int]]) -> bool:
    return any(value for sweep in counts.values() for value in sweep.values())


IDLE_IN_TRANSACTION_FLOOR_S = 30.0


def bound_idle_transactions(engine: Engine, ttl: float) -> None:
    """PostgreSQL: the server ends any of this process's sessions left idle inside a transaction for
    max(ttl, 30 s), so a scheduler stopped mid-job (SIGSTOP) releases its row locks — and the lease row a job's
    `confirm` locked — instead of blocking the standby's jobs and takeover for ever."""
    if engine.dialect.name != "postgresql":
        return
    timeout_ms = int(max(ttl, IDLE_IN_TRANSACTION_FLOOR_S) * 1000)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(f"SET idle_in_transaction_session_timeout = {timeout_ms}")
        dbapi_connection.commit()

    engine.dispose()  # pooled connections opened before the listener get replaced by configured ones


def run_scheduler(app: Flask, ttl: float, renew_every: float, parent_pid: int | None = None) -> None:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.blocking import BlockingScheduler

    engine = app.extensions["xinmiao_engine"]
    bound_idle_transactions(engine, ttl)
    lease = make_lease(engine, ttl=ttl)
    runner = SchedulerRunner(app, lease, renew_every=renew_every, parent_pid=parent_pid)
    scheduler = BlockingScheduler(
        timezone=app.config["TIMEZONE"], job_defaults=dict(JOB_DEFAULTS), executors={"default": ThreadPoolExecutor(4)}
    )
    runner.add_jobs(scheduler)

    def stop(signum: int, _frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    runner.out(f"scheduler: started as {lease.holder}; lease {lease.kind}, ttl {ttl:g}s, renew every {renew_every:g}s")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        try:
            scheduler.shutdown(wait=True)
        except Exception:  # noqa: BLE001 - not running any more
            pass
        lease.release()
        runner.out("scheduler: stopped, lease released")
