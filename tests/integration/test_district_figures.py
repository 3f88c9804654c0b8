"""District figures on a small hand-built district, checked against counts worked out by hand (see district_world)."""
from datetime import date

import pytest

from app.district import service
from app.district.service import Filters, Selection
from app.district.suppression import Relation, determined_cells
from tests.integration.district_world import TERM, build

K = 5
TODAY = date(2026, 10, 15)


@pytest.fixture
def world(factory):  # type: ignore[no-untyped-def]
    return build(factory)


@pytest.fixture
def figures(db_session, world):  # type: ignore[no-untyped-def]
    district_id = world.district_user.district_id
    return service.compute_figures(db_session, district_id, Selection(TERM, None), K, TODAY)


def key_of(ctx, figures, filters=None, grade=None, gender=None):  # type: ignore[no-untyped-def]
    return (figures.scopes.of(filters if filters is not None else Filters()), grade, gender)


def school_key(world, name):  # type: ignore[no-untyped-def]
    return (frozenset([world.schools[name].id]), None, None)


def test_district_totals_match_the_hand_count(figures):
    ctx, fig = figures
    total = key_of(ctx, fig)
    assert fig.value("on_roll", total) == 40
    assert fig.value("eligible", total) == 40  # the campaign screens every grade
    assert fig.value("screened", total) == 36
    assert round(fig.rate("screened", "eligible", total), 1) == 90.0
    assert fig.value("positive", total) == 11
    assert round(fig.rate("positive", "screened", total), 1) == 30.6


def test_a_name_that_is_no_measure_raises_instead_of_reading_zero(figures):
    ctx, fig = figures
    total = key_of(ctx, fig)
    with pytest.raises(KeyError):
        fig.value("enrolled", total)  # renamed: on_roll (在籍) and eligible (应测)
    assert fig.text("cases_referred", total) == "0"  # a measure with no rows reads 0


def test_schools_with_few_positive_students_read_less_than_five(world, figures):
    ctx, fig = figures
    assert fig.text("positive", school_key(world, "B")) == "<5"
    assert fig.text("positive", school_key(world, "C")) == "<5"
    assert fig.value("eligible", school_key(world, "A")) == 20
    assert fig.value("screened", school_key(world, "C")) == 12


def test_a_hidden_school_cannot_be_recovered_through_the_stage_breakdown(world, figures):
    # junior = A + C; A = 6 shown would give C = junior - 6. One of them must be hidden.
    ctx, fig = figures
    junior = (fig.scopes.of(Filters(stage="junior")), None, None)
    assert fig.value("positive", junior) is None or fig.value("positive", school_key(world, "A")) is None


def test_no_hidden_cell_of_the_whole_family_is_determined(figures):
    ctx, fig = figures
    keys, rels = service.family_keys(fig.scopes, fig.grades)
    relations = [Relation(p, c) for p, c in rels]
    for measure, protected in fig.protected.items():
        if measure in service.LINKED or any(measure in v for v in service.LINKED.values()):
            continue
        assert determined_cells(relations, protected.suppressed) == set(), measure
    for a, parts in service.LINKED.items():
        hidden = {(m, k) for m in (a, *parts) for k in fig.protected[m].suppressed}
        linked = [Relation((m, p), tuple((m, x) for x in c)) for m in (a, *parts) for p, c in rels]
        linked += [Relation((a, k), tuple((m, k) for m in parts)) for k in keys]
        assert determined_cells(linked, hidden) == set(), a


def test_no_shown_cell_is_between_one_and_four(figures):
    ctx, fig = figures
    for measure, protected in fig.protected.items():
        for key, value in protected.values.items():
            if protected.shown(key):
                assert not 1 <= value < K, (measure, key, value)


def test_care_group_students_are_compared_with_the_others(world, figures):
    ctx, fig = figures
    a_urban = (fig.scopes.of(Filters(type="urban")), None, None)
    # School A: 6 care students screened, 2 positive (hidden); 12 others screened, 4 positive (hidden).
    assert fig.value("screened_care", a_urban) == 6
    assert fig.text("positive_care", a_urban) == "<5"
    assert fig.value("screened_other", a_urban) == 12
    assert fig.text("positive_other", a_urban) == "<5"
    assert fig.rate("positive_care", "screened_care", a_urban) is None


def test_crises_contacted_the_same_shanghai_day(figures):
    ctx, fig = figures
    total = key_of(ctx, fig)
    assert fig.value("crisis", total) == 6
    assert fig.value("crisis_same_day", total) == 5
    assert fig.value("warn_L1", total) == 6


def test_interviews_within_the_policy_window(figures):
    ctx, fig = figures
    total = key_of(ctx, fig)
    assert fig.value("interview_due", total) == 6
    assert fig.value("interview_on_time", total) == 5
    assert fig.value("warn_L3", total) == 6


def test_a_filter_cannot_narrow_a_group_down_to_a_few_students(world, figures):
    ctx, fig = figures
    rural = Filters(type="rural_small")
    # Within rural small schools, by gender: 3 boys and 3 girls screened: both hidden after the filter.
    assert fig.text("screened", (fig.scopes.of(rural), None, "M")) == "<5"
    assert fig.text("screened", (fig.scopes.of(rural), None, "F")) == "<5"
    assert fig.value("screened", (fig.scopes.of(rural), None, None)) == 6


def test_staffing_lists_two_type_schools_without_a_full_time_counselor(db_session, world):
    rows, total_ft = service.staffing(db_session, world.district_user.district_id, K)
    by_name = {r.school.name: r for r in rows}
    assert by_name["城区中学"].full_time == 1 and not by_name["城区中学"].gap
    assert by_name["城区中学"].per_counselor == "20"
    assert by_name["农村小学"].gap and by_name["农村小学"].full_time == 0
    assert by_name["寄宿制中学"].gap and by_name["寄宿制中学"].part_time == 1
    assert total_ft == 1


def test_trends_hide_the_same_cells_as_the_dashboard(db_session, world, figures):
    ctx, fig = figures
    points = service.trends(db_session, world.district_user.district_id, K, TODAY)
    assert [p.term for p in points] == [TERM]
    trend = points[0].figures
    keys, _ = service.family_keys(fig.scopes, fig.grades, max_level=1)
    for measure in fig.protected:
        for key in keys:
            assert trend.status(measure, key) == fig.status(measure, key), (measure, key)
