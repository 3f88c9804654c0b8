"""The scheduler keeps the district rollups fresh: every few minutes for running terms, a full refresh nightly."""
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from app.district import tasks
from app.scheduler.jobs import JOBS
from app.scheduler.lease import make_lease
from app.scheduler.runner import JOB_DEFAULTS, SchedulerRunner
from models import DistrictRollup, utcnow
from tests.integration.district_world import build


def test_the_district_jobs_are_scheduled_every_few_minutes_and_nightly(app, engine):
    from apscheduler.schedulers.background import BackgroundScheduler

    assert {"district_rollups", "district_rollups_nightly"} <= {j.id for j in JOBS}
    scheduler = BackgroundScheduler(job_defaults=dict(JOB_DEFAULTS), timezone=app.config["TIMEZONE"])
    scheduler.start(paused=True)
    try:
        for _ in range(2):  # a restart re-adds, never duplicates
            SchedulerRunner(app, make_lease(engine, "x")).add_jobs(scheduler)
        frequent = scheduler.get_job("district_rollups")
        nightly = scheduler.get_job("district_rollups_nightly")
        assert frequent.trigger.interval == timedelta(minutes=app.config["DISTRICT_ROLLUP_REFRESH_MINUTES"])
        assert app.config["DISTRICT_ROLLUP_REFRESH_MINUTES"] < app.config["DISTRICT_OPEN_ROLLUP_MAX_AGE_MINUTES"]
        fields = {f.name: str(f) for f in nightly.trigger.fields}
        hour, minute = app.config["DISTRICT_NIGHTLY_REFRESH_AT"].split(":")
        assert (fields["hour"], fields["minute"]) == (str(int(hour)), str(int(minute)))
        assert [j.id for j in scheduler.get_jobs()].count("district_rollups") == 1
    finally:
        scheduler.shutdown(wait=False)


def test_the_frequent_job_rolls_up_the_running_term_and_the_nightly_job_everything(app, db_session, factory):
    world = build(factory)
    now = datetime(2026, 10, 15, 2, 0, tzinfo=UTC)
    with app.app_context():
        assert tasks.refresh_due_rollups(db_session, now) == {"terms_refreshed": 1}
        assert tasks.refresh_due_rollups(db_session, now) == {"terms_refreshed": 0}  # still fresh: not recomputed
        before = set(db_session.scalars(select(DistrictRollup.refreshed_at)))
        assert tasks.refresh_all_rollups(db_session, now) == {"terms_refreshed": 1}
    after = set(db_session.scalars(select(DistrictRollup.refreshed_at)))
    assert after and max(after) >= max(before)
    keys = set(db_session.scalars(select(DistrictRollup.key)))
    assert f"d{world.district_user.district_id}:term:{world.campaign.term}:full" in keys
    assert all(utcnow() - t < timedelta(minutes=1) for t in after)
    assert date(2026, 10, 15).isoformat() in db_session.scalar(select(DistrictRollup.stamp))  # the school day


def test_a_read_request_that_cannot_store_the_rollup_still_gets_its_figures(fresh_database):
    """SQLite: a deferred read transaction whose snapshot predates another commit cannot write (busy snapshot)."""
    from sqlalchemy.orm import Session

    from app.cli import upgrade_database
    from app.district import service
    from app.district.service import Selection
    from models import Campaign, District, School
    from models.db import make_engine

    upgrade_database(fresh_database.url)
    engine = make_engine(fresh_database.url)
    try:
        with Session(engine) as s:
            district = District(code="D9", name="九区")
            s.add(district)
            s.flush()
            s.add(School(district_id=district.id, code="S9", name="九校", type="urban", stage="junior"))
            s.add(Campaign(name="秋季", term="2026-2027-1", starts_on=date(2026, 9, 1), ends_on=date(2026, 9, 30)))
            s.commit()
            district_id = district.id
        reader = Session(engine.execution_options(sqlite_begin="DEFERRED"))
        writer = Session(engine)
        try:
            ctx = service.load_context(reader, district_id, Selection("2026-2027-1", None))  # the snapshot starts
            writer.add(School(district_id=district_id, code="S10", name="十校", type="urban", stage="junior"))
            writer.commit()
            ctx, figures = service.compute_figures(reader, district_id, Selection("2026-2027-1", None), 5,
                                                   date(2026, 9, 15))
            assert ctx.as_of is not None
            assert figures.value("screened", (figures.scopes.all, None, None)) == 0
            reader.commit()
        finally:
            reader.close()
            writer.close()
    finally:
        engine.dispose()
