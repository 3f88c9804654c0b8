"""The scheduler's lease (one lease row with a fencing token, SQLite and PostgreSQL) and its job table."""
from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.scheduler.jobs import JOBS
from app.scheduler.lease import LEASE_NAME, make_lease
from app.scheduler.runner import JOB_DEFAULTS, SchedulerRunner
from models import SchedulerLease

from .scheduler_support import migrated_engine, wait_for


@pytest.fixture
def fresh_engine(fresh_database):  # type: ignore[no-untyped-def]
    eng = migrated_engine(fresh_database.url)
    yield eng
    eng.dispose()


def test_only_one_holder_gets_the_lease_and_a_second_waits(fresh_engine):
    first, second = make_lease(fresh_engine, "first", ttl=30), make_lease(fresh_engine, "second", ttl=30)
    try:
        assert first.try_acquire() is True
        assert second.try_acquire() is False
        assert first.try_acquire() is True  # renewing keeps it
        assert second.try_acquire() is False
    finally:
        first.release()
        second.release()


def _row_token(engine) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        return int(session.scalar(select(SchedulerLease.token).where(SchedulerLease.name == LEASE_NAME)) or 0)


def test_the_lease_passes_on_when_the_holder_stops_renewing_and_the_token_grows(fresh_engine):
    # The holder stops renewing (dead, hung or SIGSTOPped): nothing it holds can block the takeover, on
    # PostgreSQL too (there the lease was a session-level advisory lock, which a stopped process keeps for ever).
    first, second = make_lease(fresh_engine, "first", ttl=1), make_lease(fresh_engine, "second", ttl=1)
    try:
        assert first.try_acquire()
        assert first.token == 1 == _row_token(fresh_engine)
        wait_for(second.try_acquire, timeout=15, what="the standby to take over the expired lease")
        assert second.token == 2 == _row_token(fresh_engine)  # a takeover increments the fencing token
        with Session(fresh_engine) as session:
            assert first.confirm(session) is False  # the old holder's token is no longer current
            session.rollback()
    finally:
        first.release()
        second.release()


def test_renewing_keeps_the_token_and_a_release_then_takeover_increments_it(fresh_engine):
    first, second = make_lease(fresh_engine, "first", ttl=30), make_lease(fresh_engine, "second", ttl=30)
    try:
        assert first.try_acquire() and first.try_acquire()
        assert first.token == 1
        first.release()
        assert second.try_acquire() and second.token == 2
        second.release()
        assert first.try_acquire() and first.token == 3  # tokens never go back, even for a former holder
    finally:
        first.release()
        second.release()


def test_a_job_confirms_the_lease_inside_its_own_transaction(fresh_engine):
    holder, other = make_lease(fresh_engine, "holder", ttl=30), make_lease(fresh_engine, "other", ttl=30)
    try:
        assert holder.try_acquire()
        with Session(fresh_engine) as session:
            assert holder.confirm(session) is True
            assert other.confirm(session) is False
            session.commit()
    finally:
        holder.release()
        other.release()


def test_releasing_frees_the_lease_at_once(fresh_engine):
    first, second = make_lease(fresh_engine, "first", ttl=60), make_lease(fresh_engine, "second", ttl=60)
    try:
        assert first.try_acquire()
        first.release()
        assert second.try_acquire() is True
    finally:
        second.release()


def test_adding_the_jobs_again_as_on_a_restart_does_not_duplicate_them(app, fresh_engine):
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(job_defaults=dict(JOB_DEFAULTS))
    scheduler.start(paused=True)
    try:
        for _ in range(3):
            SchedulerRunner(app, make_lease(fresh_engine, "x")).add_jobs(scheduler)
        jobs = scheduler.get_jobs()
        assert sorted(j.id for j in jobs) == sorted(["lease", *(j.id for j in JOBS)])
        for job in jobs:
            assert job.coalesce is True and job.max_instances == 1 and job.misfire_grace_time >= 60
    finally:
        scheduler.shutdown(wait=False)


def test_a_runner_that_does_not_hold_the_lease_runs_nothing(app, fresh_engine):
    lines: list[str] = []
    holder = make_lease(fresh_engine, "holder", ttl=30)
    try:
        assert holder.try_acquire()
        standby = SchedulerRunner(app, make_lease(fresh_engine, "standby", ttl=30), out=lines.append)
        standby.tick_lease()
        assert standby.held is False
        assert standby.run_job("rechecks") is None
        assert not any(line.startswith("job ") for line in lines)
    finally:
        holder.release()


def test_a_runner_that_lost_the_lease_since_its_last_renewal_skips_the_job(app):
    from app.db import db

    lines: list[str] = []
    with app.app_context():
        engine = db.session.get_bind().engine
    runner = SchedulerRunner(app, make_lease(engine, "stale", ttl=30), out=lines.append)
    runner.held = True  # believed held at the last renewal, but the database says otherwise
    assert runner.run_job("rechecks") is None
    assert runner.held is False
    assert any("refused, lease lost" in line for line in lines)
    assert not any(line.startswith("job ") for line in lines)


def test_scheduler_status_says_whether_a_scheduler_holds_the_lock(app):
    result = app.test_cli_runner().invoke(args=["scheduler", "status"])
    assert result.exit_code == 0, result.output
    assert "not running" in result.output


def test_scheduler_run_refuses_a_renewal_slower_than_half_the_lease(app):
    result = app.test_cli_runner().invoke(args=["scheduler", "run", "--lease-ttl", "10", "--renew-every", "8"])
    assert result.exit_code != 0
    assert "renew" in result.output
