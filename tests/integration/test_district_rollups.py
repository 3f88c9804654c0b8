"""Maintained rollups: closed campaigns are read from a rollup while it is fresh; open ones are always live."""
from datetime import date, timedelta

from sqlalchemy import select

from app.district import service
from app.district.service import Selection
from models import DistrictRollup, Screening, utcnow
from tests.integration.district_world import TERM, build

TODAY = date(2026, 10, 15)


def figures(db_session, world, **kw):  # type: ignore[no-untyped-def]
    ctx, fig = service.compute_figures(db_session, world.district_user.district_id, Selection(TERM, None), 5, TODAY, **kw)
    return fig.value("screened", (fig.scopes.all, None, None))


def add_screening(db_session, world):  # type: ignore[no-untyped-def]
    unscreened = [st for st in world.students if st.school_id == world.schools["A"].id][-1]
    db_session.add(Screening(student_id=unscreened.id, school_id=unscreened.school_id, grade=7,
                             campaign_id=world.campaign.id, instrument_id="cesdc", instrument_version="1.0", mode="paper",
                             administered_on=date(2026, 9, 11), valid=True, positive=False, suggested_level="none"))
    db_session.flush()


def close(db_session, world):  # type: ignore[no-untyped-def]
    world.campaign.status = "closed"
    world.campaign.closed_at = utcnow()
    db_session.flush()


def test_the_dashboard_of_an_open_campaign_is_always_computed_live(db_session, factory):
    world = build(factory)
    assert figures(db_session, world) == 36
    add_screening(db_session, world)
    assert figures(db_session, world) == 37
    assert db_session.scalar(select(DistrictRollup.key)) is None


def test_the_trend_point_of_an_open_term_is_at_most_a_few_minutes_old(db_session, factory):
    world = build(factory)
    district_id = world.district_user.district_id

    def trend_screened(**kw):  # type: ignore[no-untyped-def]
        point = service.trends(db_session, district_id, 5, TODAY, **kw)[0]
        return point.figures.value("screened", (point.scopes.all, None, None))

    assert trend_screened() == 36
    add_screening(db_session, world)
    assert trend_screened() == 36  # the running term's rollup, younger than five minutes
    assert trend_screened(rollup_max_age=timedelta(0)) == 37


def test_a_closed_term_is_rolled_up_and_read_back_while_fresh(db_session, factory):
    world = build(factory)
    close(db_session, world)
    assert figures(db_session, world) == 36
    keys = set(db_session.scalars(select(DistrictRollup.key)))
    assert {k.rsplit(":", 1)[1] for k in keys} == {"full", "coarse"}
    add_screening(db_session, world)  # a late change after closing
    assert figures(db_session, world) == 36  # the fresh rollup is used
    assert figures(db_session, world, rollup_max_age=timedelta(0)) == 37  # too old: recomputed and rewritten
    assert figures(db_session, world) == 37


def test_reopening_and_closing_again_invalidates_the_rollup(db_session, factory):
    world = build(factory)
    close(db_session, world)
    assert figures(db_session, world) == 36
    add_screening(db_session, world)
    world.campaign.closed_at = utcnow() + timedelta(seconds=1)
    db_session.flush()
    assert figures(db_session, world) == 37


def test_rollups_hold_counts_only(db_session, factory):
    world = build(factory)
    close(db_session, world)
    figures(db_session, world)
    for text in db_session.scalars(select(DistrictRollup.cubes)):
        for secret in world.names + world.numbers + [st.public_id for st in world.students]:
            assert secret not in text


def test_trends_from_rollups_match_live_trends(db_session, factory):
    world = build(factory)
    close(db_session, world)
    district_id = world.district_user.district_id
    live = service.trends(db_session, district_id, 5, TODAY, rollup_max_age=None)[0].figures
    service.refresh_rollups(db_session, district_id, TODAY)
    rolled = service.trends(db_session, district_id, 5, TODAY)[0].figures
    assert db_session.scalar(select(DistrictRollup.key).where(DistrictRollup.key.like("%coarse"))) is not None
    for measure, protected in live.protected.items():
        assert rolled.protected[measure].values == protected.values, measure
        assert rolled.protected[measure].status == protected.status, measure
