"""The demo district's figures, as issue 17 found them disagreeing: the dashboard's 在籍 (it showed 应测, 1165,
under the name 在籍学生数) against the staffing page's roll (1,507), and the level-1 card against the crisis count
of the timeliness table (students vs warnings, now labelled 人 and 次)."""
from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from app.demo.cli import run_demo
from tests.conftest import login
from tests.web.figure_surfaces import html_figures

TODAY = date(2026, 11, 29)


@pytest.fixture
def demo_officer(app, client, db_session, keyring, moved_clock):  # type: ignore[no-untyped-def]
    moved_clock(datetime.combine(TODAY, time(18, 0), tzinfo=ZoneInfo("Asia/Shanghai")))
    with app.app_context():
        run_demo(db_session, keyring, "pw-demo", seed=7, today=TODAY)
    db_session.flush()
    login(client, "district", "pw-demo")
    return client


def test_the_demo_dashboard_shows_the_roll_the_staffing_page_shows_and_names_its_units(demo_officer):
    dashboard = demo_officer.get("/district?group=school").get_data(as_text=True)
    staffing = html_figures(demo_officer.get("/district/staffing").get_data(as_text=True))
    board = html_figures(dashboard)
    school_rolls = {scope: text for (key, scope), text in staffing.items() if key == "on_roll"}
    assert len(school_rolls) >= 10 and all(t.isdigit() for t in school_rolls.values())
    for scope, text in school_rolls.items():
        assert board.get(("on_roll", scope), text) == text, scope  # every school the dashboard lists agrees
    on_roll, eligible = int(board[("on_roll", "total")]), int(board[("eligible", "total")])
    assert on_roll == sum(int(t) for t in school_rolls.values())  # the demo's campaign reaches every school
    assert eligible < on_roll  # it screens grades 4-9 only: 应测 is not 在籍
    assert "在籍学生（人）" in dashboard and "应测学生（人）" in dashboard
    # Students at level 1 (人) and crisis warnings (次) are different figures with different names.
    assert "一级预警学生（人）" in dashboard and "危机预警（次）" in dashboard
    assert int(board[("warn_L1", "total")]) <= int(board[("crisis", "total")])
