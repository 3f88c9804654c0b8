"""The retention review runs monthly (a cron trigger on one day of the month), through the scheduler's own runner:
one transaction that lists the files due and records the job's success."""
from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from app.scheduler.jobs import JOBS
from app.scheduler.lease import make_lease
from app.scheduler.runner import JOB_DEFAULTS, SchedulerRunner
from models import RetentionReview
from tests.conftest import _session_on, make_test_app


@pytest.fixture
def cli_app(engine, connection, keyring):  # type: ignore[no-untyped-def]
    return make_test_app(engine, keyring, lambda: _session_on(connection))


def test_the_retention_review_is_scheduled_monthly(app, engine):
    from apscheduler.schedulers.background import BackgroundScheduler

    job = next(j for j in JOBS if j.id == "retention_review")
    assert not job.by_hand  # not one of the follow-up sweeps of `flask rechecks sweep`
    scheduler = BackgroundScheduler(job_defaults=dict(JOB_DEFAULTS), timezone=app.config["TIMEZONE"])
    scheduler.start(paused=True)
    try:
        SchedulerRunner(app, make_lease(engine, "x")).add_jobs(scheduler)
        fields = {f.name: str(f) for f in scheduler.get_job("retention_review").trigger.fields}
        hour, minute = app.config["RETENTION_REVIEW_AT"].split(":")
        assert (fields["day"], fields["hour"], fields["minute"]) == (
            str(app.config["RETENTION_REVIEW_DAY"]), str(int(hour)), str(int(minute)))
        assert fields["month"] == "*"
    finally:
        scheduler.shutdown(wait=False)


def test_the_sweep_lists_a_left_student_once_its_period_ran_out(app, db_session, factory):
    from zoneinfo import ZoneInfo

    from app.rechecks.policy import load_recheck_policy
    from app.retention.tasks import review_sweep
    from app.scheduler.spec import SweepContext

    gone = factory.student(status="left")
    gone.left_on = date(2026, 1, 31)
    stays = factory.student()  # enrolled: never listed
    stays.left_on = None
    db_session.flush()
    ctx = SweepContext(load_recheck_policy(), ZoneInfo("Asia/Shanghai"))
    with app.app_context():
        # 24 months after 31 Jan 2026 is 31 Jan 2028 (school day; 16:30 UTC on the 30th is 00:30 on the 31st)
        assert review_sweep(db_session, datetime(2028, 1, 30, 15, 0, tzinfo=UTC), ctx)["listed"] == 0
        assert review_sweep(db_session, datetime(2028, 1, 30, 16, 30, tzinfo=UTC), ctx)["listed"] == 1
    rows = db_session.scalars(select(RetentionReview)).all()
    assert [(r.student_id, r.due_on, r.status) for r in rows] == [(gone.id, date(2028, 1, 31), "due")]


def test_flask_retention_list_due_runs_the_review_by_hand(cli_app, db_session, factory, moved_clock):
    gone = factory.student(status="graduated")
    gone.left_on = date(2020, 6, 30)
    db_session.flush()
    moved_clock(datetime(2022, 6, 29, 12, 0, tzinfo=UTC))  # school day 29 June 2022: one day early
    runner = cli_app.test_cli_runner()
    assert json.loads(runner.invoke(args=["retention", "list-due", "--json"]).output)["listed"] == 0
    moved_clock(datetime(2022, 6, 30, 12, 0, tzinfo=UTC))
    result = runner.invoke(args=["retention", "list-due", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"listed": 1, "returned_after_hold": 0, "cancelled": 0}
    result = runner.invoke(args=["retention", "list-due", "--json"])
    assert json.loads(result.output)["listed"] == 0
    assert "24 months" in runner.invoke(args=["retention", "policy"]).output
