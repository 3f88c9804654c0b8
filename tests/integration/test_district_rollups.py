"""Maintained rollups: closed campaigns are read from a rollup while it is fresh (an hour); running ones for five
minutes."""

from datetime import date, timedelta

from sqlalchemy import select

from app.district import service
from app.district.service import Selection
from models import DistrictRollup, Screening, utcnow
from tests.integration.district_world import TERM, build

TODAY = date(2026, 10, 15)


def figures(db_session, world, **kw):  # type: ignore[no-untyped-def]
    ctx, fig = service.compute_figures(
        db_session, world.district_user.district_id, Selection(TERM, None), 5, TODAY, **kw
    )
    return fig.value("screened", (fig.scopes.all, None, None))


def add_screening(db_session, world):  # type: ignore[no-untyped-def]
    unscreened = [st for st in world.students if st.school_id == world.schools["A"].id][-1]
    db_session.add(
        Screening(
            student_id=unscreened.id,
            school_id=unscreened.school_id,
            grade=7,
            campaign_id=world.campaign.id,
            instrument_id="cesdc",
            instrument_version="1.0",
            mode="paper",
            administered_on=date(2026, 9, 11),
            valid=True,
            positive=False,
            suggested_level="none",
        )
    )
    db_session.flush()


def close(db_session, world):  # type: ignore[no-untyped-def]
    world.campaign.status = "closed"
    world.campaign.closed_at = utcnow()
    db_session.flush()


def context_and_screened(db_session, world, **kw):  # type: ignore[no-untyped-def]
    ctx, fig = service.compute_figures(
        db_session, world.district_user.district_id, Selection(TERM, None), 5, TODAY, **kw
    )
    return ctx, fig.value("screened", (fig.scopes.all, None, None))


def age_rollups(db_session, by: timedelta) -> None:  # type: ignore[no-untyped-def]
    for row in db_session.scalars(select(DistrictRollup)):
        row.refreshed_at = row.refreshed_at - by
    db_session.flush()


def test_the_dashboard_of_a_running_term_is_served_from_a_rollup_younger_than_five_minutes(db_session, factory):
    world = build(factory)
    ctx, screened = context_and_screened(db_session, world)
    assert screened == 36
    first_as_of = ctx.as_of
    assert first_as_of is not None and utcnow() - first_as_of < timedelta(seconds=30)
    assert {k.rsplit(":", 1)[1] for k in db_session.scalars(select(DistrictRollup.key))} == {"full", "coarse"}
    add_screening(db_session, world)
    ctx, screened = context_and_screened(db_session, world)
    assert screened == 36  # the rollup, and the page says how old it is
    assert ctx.as_of == first_as_of


def test_a_running_term_rollup_older_than_the_window_is_recomputed_in_the_request(db_session, factory):
    world = build(factory)
    context_and_screened(db_session, world)
    add_screening(db_session, world)
    age_rollups(db_session, timedelta(minutes=6))
    ctx, screened = context_and_screened(db_session, world)
    assert screened == 37
    assert utcnow() - ctx.as_of < timedelta(seconds=30)
    assert context_and_screened(db_session, world, open_max_age=timedelta(minutes=10))[1] == 37  # rewritten


def test_the_window_for_a_running_term_is_a_setting(db_session, factory):
    world = build(factory)
    context_and_screened(db_session, world)
    add_screening(db_session, world)
    age_rollups(db_session, timedelta(minutes=6))
    assert context_and_screened(db_session, world, open_max_age=timedelta(minutes=10))[1] == 36
    assert context_and_screened(db_session, world, open_max_age=None)[1] == 37  # no window: always live


def test_a_running_term_rollup_from_yesterday_or_other_campaigns_is_not_used(db_session, factory):
    world = build(factory)
    context_and_screened(db_session, world)
    add_screening(db_session, world)
    _, screened = service.compute_figures(db_session, world.district_user.district_id, Selection(TERM, None), 5,
                                          TODAY + timedelta(days=1))
    assert screened.value("screened", (screened.scopes.all, None, None)) == 37


def test_the_refresh_job_rolls_up_running_terms_and_skips_fresh_ones(db_session, factory):
    world = build(factory)
    district_id = world.district_user.district_id
    assert service.refresh_rollups(db_session, district_id, TODAY) == []  # closed terms only: none
    assert service.refresh_rollups(db_session, district_id, TODAY, running=True, due_within=timedelta(minutes=4)) == [
        TERM
    ]
    keys = set(db_session.scalars(select(DistrictRollup.key)))
    assert f"d{district_id}:campaign:{world.campaign.id}:full" in keys  # its only campaign: same counts stored
    assert service.refresh_rollups(db_session, district_id, TODAY, running=True, due_within=timedelta(minutes=4)) == []
    add_screening(db_session, world)
    age_rollups(db_session, timedelta(minutes=2))
    assert service.refresh_rollups(db_session, district_id, TODAY, running=True, due_within=timedelta(minutes=4)) == [
        TERM
    ]
    assert context_and_screened(db_session, world)[1] == 37
    _, fig = service.compute_figures(db_session, district_id, Selection(None, world.campaign.id), 5, TODAY)
    assert fig.value("screened", (fig.scopes.all, None, None)) == 37


def test_figures_from_a_running_term_rollup_are_protected_exactly_like_live_ones(db_session, factory):
    world = build(factory)
    district_id = world.district_user.district_id
    service.refresh_rollups(db_session, district_id, TODAY, running=True)
    _, rolled = service.compute_figures(db_session, district_id, Selection(TERM, None), 5, TODAY)
    _, live = service.compute_figures(db_session, district_id, Selection(TERM, None), 5, TODAY, rollup_max_age=None)
    assert rolled.protected.keys() == live.protected.keys()
    for measure, protected in live.protected.items():
        assert rolled.protected[measure].values == protected.values, measure
        assert rolled.protected[measure].status == protected.status, measure
    assert any(s != "shown" for p in live.protected.values() for s in p.status.values())  # suppression did happen


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


def test_the_rollup_keeps_enrolment_with_the_other_counts_and_decodes_to_the_same_cubes(db_session, factory):
    from app.district.service.rollups import _decode, _encode

    world = build(factory)
    district_id = world.district_user.district_id
    cubes = {"enrolled": {(1, 7, "F"): 3, (2, 8, "M"): 1}, "screened": {(1, 7, "F"): 2}, "empty": {}}
    assert _decode(_encode(cubes)) == cubes
    service.refresh_rollups(db_session, district_id, TODAY, running=True)
    _, rolled = service.compute_figures(db_session, district_id, Selection(TERM, None), 5, TODAY)
    factory.student(school=world.schools["A"], grade=7)  # enrolled after the rollup was computed
    _, still = service.compute_figures(db_session, district_id, Selection(TERM, None), 5, TODAY)
    _, live = service.compute_figures(db_session, district_id, Selection(TERM, None), 5, TODAY, rollup_max_age=None)
    total = (rolled.scopes.all, None, None)
    for measure in ("on_roll", "eligible"):  # 在籍 and 应测 (grade 7 is screened)
        assert still.value(measure, total) == rolled.value(measure, total)  # as fresh as the rollup
        assert live.value(measure, total) == rolled.value(measure, total) + 1


def test_a_memoised_page_from_a_fresh_rollup_reads_neither_students_nor_the_rollup_counts(db_session, factory):
    from sqlalchemy import event

    world = build(factory)
    district_id = world.district_user.district_id
    service.refresh_rollups(db_session, district_id, TODAY, running=True)
    cache = service.FiguresCache()
    _, first = service.compute_figures(db_session, district_id, Selection(TERM, None), 5, TODAY, cache=cache)
    seen: list[str] = []
    conn = db_session.connection()
    event.listen(conn, "before_cursor_execute", lambda _c, _cur, statement, *_a: seen.append(statement))
    _, second = service.compute_figures(db_session, district_id, Selection(TERM, None), 5, TODAY, cache=cache)
    assert second is first
    assert not [s for s in seen if "district_rollups.cubes" in s or "FROM students" in s], seen


def test_counts_computed_again_after_a_rollup_expired_find_their_protected_figures_memoised(db_session, factory):
    world = build(factory)
    district_id = world.district_user.district_id
    cache = service.FiguresCache()
    _, first = service.compute_figures(db_session, district_id, Selection(TERM, None), 5, TODAY, cache=cache,
                                       open_max_age=timedelta(0))
    _, again = service.compute_figures(db_session, district_id, Selection(TERM, None), 5, TODAY, cache=cache,
                                       open_max_age=timedelta(0))
    assert again is first  # the same counts: not protected a second time
