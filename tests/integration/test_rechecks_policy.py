"""The recheck policy file: defaults, validation naming the broken field, changes without code."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from app.rechecks.policy import DEFAULT_PATH, PolicyError, load_recheck_policy, policy_from_dict


def _data() -> dict:
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def test_the_shipped_policy_has_the_documented_defaults():
    p = load_recheck_policy(DEFAULT_PATH)
    assert p.interval_days == {"L1": 7, "L2": 14, "L3": 30}
    assert p.crisis_realert_hours == 2 and p.digest_weekday == 0
    assert p.instrument_for("L2", "gad7") == "gad7" and p.instrument_for("L2", None) == "phq9"


@pytest.mark.parametrize(
    "path, value, field",
    [
        (("interval_days", "L2"), 0, "interval_days.L2"),
        (("interval_days", "L9"), 3, "interval_days.L9"),
        (("instrument", "choice"), "random", "instrument.choice"),
        (("instrument", "defaults", "L1"), "nosuch", "instrument.defaults.L1"),
        (("crisis_realert_hours",), 0, "crisis_realert_hours"),
        (("digest_weekday",), "someday", "digest_weekday"),
        (("schedule", "mail_minutes"), 0, "schedule.mail_minutes"),
        (("care_checkins", "terms"), [{"n": 1, "starts": "13-01", "ends": "01-20"}], "care_checkins.terms[0].starts"),
    ],
)
def test_a_broken_field_is_named_in_the_error(path, value, field):
    data = _data()
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(PolicyError, match=field.replace("[", r"\[").replace("]", r"\]")):
        policy_from_dict(data, "test.yaml", {"phq9", "phqa", "gad7"})


def test_a_missing_crisis_interval_is_refused():
    data = _data()
    del data["interval_days"]["L1"]
    with pytest.raises(PolicyError, match="interval_days.L1"):
        policy_from_dict(data, "test.yaml")


def test_an_edited_file_applies_without_code_or_restart(tmp_path: Path, monkeypatch):
    path = tmp_path / "policy.yaml"
    data = _data()
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    monkeypatch.setenv("XINMIAO_RECHECK_POLICY", str(path))
    assert load_recheck_policy().interval_days["L3"] == 30
    data["interval_days"]["L3"] = 21
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    import os

    os.utime(path, (path.stat().st_atime, path.stat().st_mtime + 5))
    assert load_recheck_policy().interval_days["L3"] == 21


@pytest.mark.parametrize(
    "day, term",
    [(date(2026, 11, 29), "2026-2027-1"), (date(2027, 1, 20), "2026-2027-1"), (date(2027, 3, 1), "2026-2027-2"),
     (date(2027, 8, 1), None), (date(2027, 9, 1), "2027-2028-1")],
)
def test_terms_repeat_every_school_year_with_their_codes(day, term):
    span = load_recheck_policy(DEFAULT_PATH).term_for(day)
    assert (span[0] if span else None) == term
