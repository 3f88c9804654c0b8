"""Exactly one scheduler: `flask scheduler run` in its own process, guarded by a lease held in the database.

Web workers never run jobs. Several scheduler processes may be started (by mistake, or as a hot standby): only
the one holding the lease runs jobs; the others wait and take over when the holder dies.

- PostgreSQL: a session-level advisory lock (`pg_try_advisory_lock`) on a dedicated connection. The server frees
  it the moment that connection dies, so a killed scheduler is replaced within one renew interval.
- SQLite: the `scheduler_leases` row. A holder renews `expires_at` every `renew_every` seconds; another process
  takes the row over only after it expired (`ttl` seconds without renewal).

Every job re-checks the lease INSIDE its own transaction (SQLite: an UPDATE that renews the row only if this
process still holds it; PostgreSQL: pg_locks shows this backend holding the lock), so a holder that lost the
lease while paused cannot run a job twice. A job is one transaction: a crash mid-sweep leaves nothing.

APScheduler traps avoided: a memory job store (never shared across processes), stable job ids added with
replace_existing (a restart re-adds rather than piling up), coalesce, max_instances=1 and a misfire grace time
of 5 minutes (the default of 1 s silently skips late jobs). On start and on takeover every job runs once at
once, so sweeps catch up after downtime.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import sys
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import delete, or_, select, text, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from models import SchedulerLease, utcnow

LEASE_NAME = "scheduler"
ADVISORY_KEY = 7261843  # fits in 32 bits: pg_locks shows it as classid 0, objid KEY, objsubid 1
JOB_DEFAULTS = {"coalesce": True, "max_instances": 1, "misfire_grace_time": 300}


@dataclass(frozen=True)
class JobSpec:
    id: str
    sweeps: tuple[str, ...]  # rechecks sweeps (app.rechecks.tasks.SWEEPS), or one "module:function(db, now)"
    minutes_key: str = ""  # interval: a key of the recheck policy's schedule, else an app config key (minutes)
    at_key: str = ""  # instead of an interval: daily at HH:MM (app config key; scheduler time zone)


JOBS = (
    JobSpec("rechecks", ("rechecks",), "rechecks_minutes"),
    JobSpec("crisis_realerts", ("crisis_realerts",), "crisis_minutes"),
    JobSpec("reminders", ("checkin_reminders", "weekly_digest"), "reminders_minutes"),
    JobSpec("mail", ("mail",), "mail_minutes"),
    JobSpec("district_rollups", ("app.district.tasks:refresh_due_rollups",), "DISTRICT_ROLLUP_REFRESH_MINUTES"),
    JobSpec("district_rollups_nightly", ("app.district.tasks:refresh_all_rollups",), at_key="DISTRICT_NIGHTLY_REFRESH_AT"),
)


def _call_sweep(name: str, session: Session, now: datetime) -> dict[str, Any]:
    from app.rechecks.tasks import run_sweep

    if ":" not in name:
        return run_sweep(name, session, now)
    import importlib

    module, func = name.split(":", 1)
    return getattr(importlib.import_module(module), func)(session, now)


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
                .where(SchedulerLease.name == LEASE_NAME, or_(SchedulerLease.holder == self.holder, SchedulerLease.expires_at < now))
                .values(holder=self.holder, expires_at=now + self.ttl)
            ).rowcount
            if taken:
                return True
            if conn.scalar(select(SchedulerLease.name).where(SchedulerLease.name == LEASE_NAME)) is not None:
                return False
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    SchedulerLease.__table__.insert().values(
                        name=LEASE_NAME, holder=self.holder, expires_at=now + self.ttl, acquired_at=now
                    )
                )
            return True
        except IntegrityError:
            return False  # another process inserted it first

    def confirm(self, session: Session, now: datetime | None = None) -> bool:
        now = now or utcnow()
        return bool(
            session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == self.holder, SchedulerLease.expires_at >= now)
                .values(expires_at=now + self.ttl)
                .execution_options(synchronize_session=False)
            ).rowcount
        )

    def release(self) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(delete(SchedulerLease).where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == self.holder))
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


class SchedulerRunner:
    """Adds the jobs, keeps the lease, and runs each job (in one transaction) only while holding it."""

    def __init__(
        self,
        app: Flask,
        lease: SqliteLease | PostgresLease,
        renew_every: float = 15.0,
        out: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = utcnow,
        parent_pid: int | None = None,
    ):
        self.app, self.lease, self.renew_every = app, lease, renew_every
        self.out = out or (lambda line: print(line, flush=True))
        self.clock = clock
        self.parent_pid = parent_pid
        self.held = False
        self.scheduler: Any = None

    def add_jobs(self, scheduler: Any) -> None:
        """Idempotent: stable ids and replace_existing, so calling it again (a restart) never duplicates jobs."""
        from app.rechecks.policy import load_recheck_policy

        policy = load_recheck_policy()
        self.scheduler = scheduler
        scheduler.add_job(
            self.tick_lease, "interval", seconds=self.renew_every, id="lease", name="scheduler lease",
            replace_existing=True, next_run_time=datetime.now(timezone.utc), **JOB_DEFAULTS,
        )
        for job in JOBS:
            if job.at_key:
                hour, minute = (int(x) for x in str(self.app.config[job.at_key]).split(":", 1))
                trigger: dict[str, Any] = {"trigger": "cron", "hour": hour, "minute": minute}
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
            self.held = self.lease.try_acquire(self.clock())
        except SQLAlchemyError as exc:
            self.held = False
            self.out(f"scheduler: lease check failed ({type(exc).__name__}); not running jobs")
        if self.held and not was:
            self.out(f"scheduler: lease acquired by {self.lease.holder} ({self.lease.kind}); catching up")
            if self.scheduler is not None:
                now = datetime.now(timezone.utc)
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
        with self.app.app_context():
            with db.transaction() as session:
                if not self.lease.confirm(session, now):
                    self.held = False
                    self.out(f"scheduler: job {job_id} skipped, lease not held")
                    return None
                counts = {name: _call_sweep(name, session, now) for name in spec.sweeps}
        self.out("job " + json.dumps({"job": job_id, "holder": self.lease.holder, "at": now.isoformat(), "counts": counts}, sort_keys=True))
        return counts


def run_scheduler(app: Flask, ttl: float, renew_every: float, parent_pid: int | None = None) -> None:
    from apscheduler.executors.pool import ThreadPoolExecutor
    from apscheduler.schedulers.blocking import BlockingScheduler

    engine = app.extensions["xinmiao_engine"]
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


scheduler_cli = AppGroup("scheduler", help="The one process that runs the periodic sweeps.")


@scheduler_cli.command("run")
@click.option("--lease-ttl", type=float, default=60.0, show_default=True, help="SQLite: seconds before a dead holder's lease expires.")
@click.option("--renew-every", type=float, default=15.0, show_default=True, help="Seconds between lease renewals.")
@click.option("--parent-pid", type=int, default=None, hidden=True, help="Stop when this parent process is gone (used by `flask serve`).")
@with_appcontext
def scheduler_run(lease_ttl: float, renew_every: float, parent_pid: int | None) -> None:
    """Run the scheduler in the foreground (BlockingScheduler). Start it once, beside the web workers."""
    if lease_ttl < 1:
        raise click.BadParameter("--lease-ttl must be at least 1 second")
    if renew_every * 2 > lease_ttl:
        raise click.BadParameter("renew at least twice per lease lifetime (--renew-every <= --lease-ttl / 2)")
    run_scheduler(current_app._get_current_object(), lease_ttl, renew_every, parent_pid)  # type: ignore[attr-defined]


@scheduler_cli.command("status")
@with_appcontext
def scheduler_status() -> None:
    """Show who holds the scheduler lease (SQLite) or whether the advisory lock is taken (PostgreSQL)."""
    from app.db import db

    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        n = session.scalar(
            text("SELECT count(*) FROM pg_locks WHERE locktype='advisory' AND classid=0 AND objid=:k AND objsubid=1 AND granted"),
            {"k": ADVISORY_KEY},
        )
        click.echo("scheduler: running (advisory lock held)" if n else "scheduler: not running (advisory lock free)")
        return
    row = session.get(SchedulerLease, LEASE_NAME)
    if row is None:
        click.echo("scheduler: not running (no lease)")
    else:
        state = "running" if row.expires_at >= utcnow() else "not running (lease expired)"
        click.echo(f"scheduler: {state}; holder {row.holder}, lease until {row.expires_at.isoformat()}")


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
@click.option("--reload/--no-reload", default=None, help="Restart on code changes (default: on in development).")
@click.option("--scheduler/--no-scheduler", "with_scheduler", default=True, help="Run one scheduler process beside the server.")
@with_appcontext
def serve_command(host: str, port: int, reload: bool | None, with_scheduler: bool) -> None:
    """The development server plus ONE scheduler child process; stopping one stops both.

    Under the reloader this command runs twice (the watcher, then the server child with WERKZEUG_RUN_MAIN set);
    only the watcher starts the scheduler, so reloads never double it.
    """
    import subprocess
    import threading

    from werkzeug.serving import run_simple

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if reload is None:
        reload = app.config.get("ENV_NAME") == "development"
    in_reloader_child = os.environ.get("WERKZEUG_RUN_MAIN") == "true"
    child: subprocess.Popen[bytes] | None = None
    if with_scheduler and not in_reloader_child:
        child = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "scheduler", "run", "--parent-pid", str(os.getpid())],
            env=dict(os.environ),
        )

        def watch() -> None:
            code = child.wait()
            if not stopping.is_set():
                click.echo(f"scheduler process exited ({code}); stopping the server too", err=True)
                os.kill(os.getpid(), signal.SIGINT)

        stopping = threading.Event()
        threading.Thread(target=watch, daemon=True, name="scheduler-watch").start()

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        run_simple(host, port, app, use_reloader=reload, use_debugger=bool(app.debug), threaded=True)
    except KeyboardInterrupt:
        pass
    finally:
        if child is not None:
            stopping.set()
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
