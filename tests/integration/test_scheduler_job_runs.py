"""The runner records each job's last success (in the job's own transaction) and last failure (after the rollback):
what /admin/scheduler shows."""
from __future__ import annotations

import json

import pytest
from sqlalchemy.orm import Session

from app.scheduler import runner as runner_module
from app.scheduler.lease import make_lease
from app.scheduler.runner import SchedulerRunner
from app.scheduler.spec import Job, Sweep
from models import SchedulerJobRun
from tests.conftest import make_test_app

from .scheduler_support import migrated_engine


@pytest.fixture
def fresh_engine(fresh_database):  # type: ignore[no-untyped-def]
    eng = migrated_engine(fresh_database.url)
    yield eng
    eng.dispose()


def _boom(session, now, ctx):  # type: ignore[no-untyped-def]
    raise RuntimeError("the mail server said no\nsecond line")


def test_success_and_failure_are_recorded_per_job(fresh_engine, keyring, monkeypatch):
    app = make_test_app(fresh_engine, keyring)
    failing = Job(id="always_fails", sweeps=(Sweep("boom", _boom),))
    monkeypatch.setattr(runner_module, "JOBS", (*runner_module.JOBS, failing))
    lease = make_lease(fresh_engine, "srv:1:t", ttl=30)
    runner = SchedulerRunner(app, lease, out=lambda line: None)
    try:
        runner.tick_lease()
        assert runner.held
        counts = runner.run_job("rechecks")
        assert counts is not None
        with pytest.raises(RuntimeError):
            runner.run_job("always_fails")
        with Session(fresh_engine) as session:
            ok = session.get(SchedulerJobRun, "rechecks")
            bad = session.get(SchedulerJobRun, "always_fails")
            assert ok is not None and ok.last_success_at is not None and ok.last_failure_at is None
            assert json.loads(ok.last_counts) == json.loads(json.dumps(counts, default=str))
            assert ok.holder == "srv:1:t"
            assert bad is not None and bad.last_success_at is None and bad.failures == 1
            assert bad.last_error == "RuntimeError: the mail server said no"
    finally:
        lease.release()
