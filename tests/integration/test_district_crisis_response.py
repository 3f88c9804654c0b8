"""District statistics of the crisis response: level-1 warnings with a safety assessment on the warning's own day
(school time zone) and with a safety plan, counted (never named) and suppressed like every other figure."""
from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from app.district import service
from app.district.service import Selection
from models import CareCase, SafetyAssessment, SafetyPlan, Warning
from tests.conftest import login
from tests.integration.district_world import TERM, build

pytestmark = pytest.mark.db
K = 5
TODAY = date(2026, 10, 15)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# The six level-1 warnings of district_world (created at these UTC instants), and when each was assessed.
ASSESSED = [
    utc(2026, 9, 10, 8, 0),  # created 10:00 local, assessed 16:00 local: the same day
    utc(2026, 9, 10, 9, 0),  # the same day
    utc(2026, 9, 11, 10, 0),  # created 09:00 local on the 11th, assessed 18:00 local: the same day
    utc(2026, 9, 12, 15, 0),  # created 08:30 local, assessed 23:00 local: the same day
    utc(2026, 9, 10, 16, 30),  # created 23:30 local, assessed 00:30 local the next day: NOT the same day (same UTC day)
    utc(2026, 9, 11, 1, 0),  # created 01:00 local on the 11th, assessed 09:00 local: the same day (not in UTC)
]
WITH_PLAN = 3  # the first three have a safety plan: fewer than K, hidden


@pytest.fixture
def world(factory, db_session):  # type: ignore[no-untyped-def]
    world = build(factory)
    warnings = db_session.scalars(
        select(Warning).where(Warning.confirmed_level == "L1").order_by(Warning.id)
    ).all()
    assert len(warnings) == len(ASSESSED)
    for i, (warning, assessed_at) in enumerate(zip(warnings, ASSESSED, strict=True)):
        case = CareCase(student_id=warning.student_id, school_id=warning.school_id, warning_id=warning.id, level="L1",
                        status="open", opened_at=warning.created_at)
        db_session.add(case)
        db_session.flush()
        db_session.add(SafetyAssessment(student_id=warning.student_id, warning_id=warning.id, case_id=case.id,
                                        assessed_at=assessed_at, outcome="further_evaluation"))
        if i < WITH_PLAN:
            db_session.add(SafetyPlan(student_id=warning.student_id, case_id=case.id, warning_id=warning.id,
                                      review_on=date(2026, 9, 20), status="active"))
    db_session.flush()
    return world


def test_the_counts_follow_the_school_day_not_the_utc_day(db_session, world):
    ctx = service.load_context(db_session, world.district_user.district_id, Selection(TERM, None))
    cubes = service.screening_cubes(db_session, ctx, TODAY, "Asia/Shanghai")
    assert sum(cubes["crisis"].values()) == 6
    assert sum(cubes["crisis_assessed_same_day"].values()) == 5
    assert sum(cubes["crisis_safety_plan"].values()) == WITH_PLAN


def test_the_figures_are_suppressed_like_the_rest(db_session, world):
    _, fig = service.compute_figures(db_session, world.district_user.district_id, Selection(TERM, None), K, TODAY,
                                     rollup_max_age=None)
    total = (fig.scopes.of(service.Filters()), None, None)
    assert fig.value("crisis_assessed_same_day", total) == 5
    assert fig.text("crisis_safety_plan", total) == "<5" and fig.value("crisis_safety_plan", total) is None
    for measure in ("crisis_assessed_same_day", "crisis_safety_plan"):
        protected = fig.protected[measure]
        for key, value in protected.values.items():
            if protected.shown(key):
                assert not 1 <= value < K, (measure, key, value)


def test_the_rollup_keeps_the_crisis_counts(db_session, world):
    district_id = world.district_user.district_id
    service.refresh_rollups(db_session, district_id, TODAY, running=True)
    _, fig = service.compute_figures(db_session, district_id, Selection(TERM, None), K, TODAY)
    total = (fig.scopes.of(service.Filters()), None, None)
    assert fig.value("crisis_assessed_same_day", total) == 5


def test_the_dashboard_shows_the_counts_with_their_definition_and_no_name(client, db_session, world):
    login(client, world.district_user.username)
    html = client.get(f"/district?term={TERM}&group=school").get_data(as_text=True)
    assert "一级预警的危机应对" in html and "当天完成安全评估" in html and "已制定安全计划" in html
    assert 'data-testid="crisis-response-definition"' in html
    section = html[html.index("一级预警的危机应对"):]
    section = section[:section.index("</table>")]
    assert "&lt;5" in section  # the safety plans: 3, hidden
