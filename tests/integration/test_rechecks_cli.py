"""`flask rechecks sweep` prints what it did; `--json` prints one object of counts per sweep; `--now` sets the clock."""
from __future__ import annotations

import json
from datetime import date

import pytest

from .rechecks_support import at, confirm, make_screening, make_warning, notes

DAY = date(2026, 11, 2)


@pytest.fixture
def flagged(app, db_session, factory):
    student = factory.student()
    counselor = factory.counselor(student.school)
    warning = make_warning(db_session, student, "L2", screening=make_screening(db_session, student, "phqa", on=DAY))
    confirm(db_session, warning, "L2", at(DAY))
    return student, counselor


def test_sweep_json_prints_counts_per_sweep_and_a_second_run_reports_nothing_new(app, db_session, flagged):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["rechecks", "sweep", "--json", "--now", "2026-11-17T08:00:00+08:00"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert counts["rechecks"]["rechecks_marked_overdue"] == 1
    assert counts["rechecks"]["notifications_created"] == 1
    assert set(counts) >= {
        "rechecks",
        "crisis_realerts",
        "checkin_reminders",
        "weekly_digest",
        "mail",
        "notifications_created",
    }
    assert counts["now"].startswith("2026-11-17T00:00:00")

    again = json.loads(runner.invoke(args=["rechecks", "sweep", "--json", "--now", "2026-11-17T08:00:00+08:00"]).output)
    assert again["notifications_created"] == 0 and again["rechecks"]["rechecks_marked_overdue"] == 0
    assert len(notes(db_session, "recheck_overdue")) == 1


def test_sweep_without_json_prints_a_line_per_sweep(app, flagged):
    result = app.test_cli_runner().invoke(args=["rechecks", "sweep", "--now", "2026-11-15T08:00"])
    assert result.exit_code == 0, result.output
    assert "rechecks: rechecks marked due 1" in result.output
    assert "weekly digest: digests 1" in result.output  # 15 November 2026 is in a week with no digest yet
    assert "notifications created: 2" in result.output


def test_a_malformed_now_is_refused_with_a_clear_message(app):
    result = app.test_cli_runner().invoke(args=["rechecks", "sweep", "--now", "next tuesday"])
    assert result.exit_code != 0
    assert "ISO" in result.output


def test_policy_command_checks_and_prints_the_policy(app):
    result = app.test_cli_runner().invoke(args=["rechecks", "policy"])
    assert result.exit_code == 0, result.output
    assert "L1 7, L2 14, L3 30" in result.output
