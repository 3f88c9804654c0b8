"""config/retention.yaml: the rule is written beside the numbers, the file loads, broken fields are named; the
period arithmetic (months after leaving) clamps to the month's end."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from app.retention.policy import RetentionPolicyError, add_months, policy_from_dict

FILE = Path(__file__).resolve().parents[2] / "config" / "retention.yaml"


def test_the_shipped_file_loads_and_states_its_rule():
    text = FILE.read_text(encoding="utf-8")
    policy = policy_from_dict(yaml.safe_load(text))
    assert policy.months_after_leaving == 24 and "graduated" in policy.leaving_statuses
    comments = "\n".join(line for line in text.splitlines() if line.startswith("#"))
    assert "PIPL" in comments and "art. 19" in comments
    assert "MUST BE" in comments and "CONFIRMED BY THE DISTRICT" in comments


@pytest.mark.parametrize(("day", "months", "expected"), [
    (date(2027, 7, 1), 24, date(2029, 7, 1)),
    (date(2028, 1, 31), 1, date(2028, 2, 29)),
    (date(2027, 1, 31), 1, date(2027, 2, 28)),
    (date(2029, 3, 31), -1, date(2029, 2, 28)),
    (date(2029, 7, 1), -24, date(2027, 7, 1)),
])
def test_months_are_calendar_months_clamped_to_the_month_end(day, months, expected):
    assert add_months(day, months) == expected


def test_due_and_cutoff_agree():
    policy = policy_from_dict(yaml.safe_load(FILE.read_text(encoding="utf-8")))
    left = date(2027, 7, 1)
    assert policy.due_on(left) == date(2029, 7, 1)
    assert policy.cutoff(date(2029, 7, 1)) >= left > policy.cutoff(date(2029, 6, 30))


@pytest.mark.parametrize(("field", "value"), [
    ("months_after_leaving", 0), ("months_after_leaving", "24"), ("max_hold_months", True),
    ("leaving_statuses", ["enrolled"]), ("hold_reasons", ["because"]), ("hold_reasons", []),
])
def test_a_broken_field_is_named(field, value):
    data = yaml.safe_load(FILE.read_text(encoding="utf-8"))
    data[field] = value
    with pytest.raises(RetentionPolicyError, match=field):
        policy_from_dict(data)
