"""The demo step (order 20) on factory data: an autumn campaign with realistic completed screenings."""
from __future__ import annotations

import random
from datetime import date, datetime

from sqlalchemy import func, select

from app.areas import DemoStep
from app.demo import DemoContext
from app.demo.cli import run_demo
from app.screenings.demo import demo_screenings
from models import Actor, Campaign, Screening, Warning, clock
from models.vault import Vault


def _context(db_session, keyring, seed=5, today=date(2026, 11, 29)):
    return DemoContext(session=db_session, keyring=keyring, vault=Vault(db_session, keyring, Actor.system("demo")),
                       rng=random.Random(seed), today=today, password="x")


def test_the_demo_step_adds_an_autumn_campaign_with_screenings_for_every_grade_band(app, db_session, factory, keyring):
    # `app`: the care area's receivers (which open the warnings) are connected by create_app
    school = factory.school(stage="nine_year")
    factory.counselor(school)
    for grade in (4, 5, 6, 7, 8, 9):
        klass = factory.klass(school, grade=grade)
        for _ in range(25):
            factory.student(school=school, klass=klass)
    summary = demo_screenings(_context(db_session, keyring))
    assert summary.startswith("screenings: campaign 2026-2027-1")
    campaign = db_session.scalars(select(Campaign)).one()
    assert campaign.term == "2026-2027-1" and campaign.guardian_notice
    by_instrument = dict(
        db_session.execute(select(Screening.instrument_id, func.count()).group_by(Screening.instrument_id)).all()
    )
    assert set(by_instrument) == {"cesdc", "phqa", "gad7"}
    rows = db_session.scalars(select(Screening)).all()
    assert {s.grade for s in rows if s.instrument_id == "cesdc"} <= {4, 5, 6}
    assert {s.grade for s in rows if s.instrument_id in ("phqa", "gad7")} <= {7, 8, 9}
    positive = sum(1 for s in rows if s.positive)
    assert 0.04 <= positive / len(rows) <= 0.30
    assert db_session.scalar(select(func.count()).select_from(Warning)) > 0


def test_the_demo_step_is_deterministic_for_a_seed(db_session, factory, keyring):
    school = factory.school(stage="junior")
    klass = factory.klass(school, grade=8)
    for _ in range(40):
        factory.student(school=school, klass=klass)
    first = demo_screenings(_context(db_session, keyring, seed=9))
    second = demo_screenings(_context(db_session, keyring, seed=9))
    assert first == second


def test_the_demo_follows_the_clock(app, db_session, factory, keyring, moved_clock):
    moved_clock(datetime(2028, 2, 29, 8, 0, tzinfo=clock.school_timezone("Asia/Shanghai")))
    seen = []
    with app.app_context():
        run_demo(db_session, keyring, "x", steps=[DemoStep(1, lambda ctx: seen.append(ctx.today) or "noted")])
    assert seen == [date(2028, 2, 29)]  # `flask demo seed` takes its today from models.clock
    school = factory.school(stage="junior")
    klass = factory.klass(school, grade=8)
    for _ in range(30):
        factory.student(school=school, klass=klass)
    with app.app_context():
        summary = demo_screenings(_context(db_session, keyring, today=seen[0]))
    campaign = db_session.scalars(select(Campaign)).one()
    assert summary.startswith("screenings: campaign 2027-2028-2") and campaign.term == "2027-2028-2"
    assert campaign.starts_on == date(2028, 2, 15) and "春季" in campaign.name
    days = {s.administered_on for s in db_session.scalars(select(Screening))}
    assert days and all(campaign.starts_on <= d < date(2028, 2, 29) for d in days)  # in the past of the moved today
