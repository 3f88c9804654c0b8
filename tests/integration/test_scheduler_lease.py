"""The scheduler's lease (SQLite lease row / PostgreSQL advisory lock) and its job table, in one process."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from app.scheduler.jobs import JOBS
from app.scheduler.lease import PostgresLease, SqliteLease, make_lease
from app.scheduler.runner import JOB_DEFAULTS, SchedulerRunner
from models import utcnow

from .scheduler_support import migrated_engine


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


def test_the_lease_passes_on_when_the_holder_dies(fresh_engine):
    first, second = make_lease(fresh_engine, "first", ttl=5), make_lease(fresh_engine, "second", ttl=5)
    try:
        assert first.try_acquire()
        if isinstance(first, PostgresLease):
            first._drop()  # the holder's connection is gone: the server frees the advisory lock
            assert second.try_acquire() is True
        else:
            assert isinstance(first, SqliteLease)
            now = utcnow()
            assert second.try_acquire(now + timedelta(seconds=4)) is False  # not expired yet
            assert second.try_acquire(now + timedelta(seconds=6)) is True  # not renewed for a whole ttl
            assert first.try_acquire(now + timedelta(seconds=7)) is False
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
    assert any("skipped, lease not held" in line for line in lines)


def test_scheduler_status_says_whether_a_scheduler_holds_the_lock(app):
    result = app.test_cli_runner().invoke(args=["scheduler", "status"])
    assert result.exit_code == 0, result.output
    assert "not running" in result.output


def test_scheduler_run_refuses_a_renewal_slower_than_half_the_lease(app):
    result = app.test_cli_runner().invoke(args=["scheduler", "run", "--lease-ttl", "10", "--renew-every", "8"])
    assert result.exit_code != 0
    assert "renew" in result.output
