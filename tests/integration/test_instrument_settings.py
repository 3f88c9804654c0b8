"""Cut-off overrides (XINMIAO_INSTRUMENT_SETTINGS) are checked at start: an unknown instrument or setting, a NaN,
a negative or a non-number cut-off stops the app with one line naming it; a valid one is applied (issue 14)."""
from __future__ import annotations

import math
from datetime import date

import pytest

from app.policies import SettingsError, load_instrument_settings
from app.screenings.recording import record_screening
from models import Actor
from screening import get_instrument, score
from screening.scoring import check_settings
from tests.conftest import make_test_app


@pytest.mark.parametrize("raw, named", [
    ('{"gad7": {"positive_cutoff": NaN}}', "gad7.positive_cutoff: nan is not a finite number ≥ 0"),
    ('{"gad7": {"positive_cutoff": -1}}', "gad7.positive_cutoff: -1 is not a finite number ≥ 0"),
    ('{"gad7": {"positive_cutoff": "7"}}', "gad7.positive_cutoff: '7' is not a finite number ≥ 0"),
    ('{"gad7": {"positive_cutof": 7}}', "gad7 has no setting 'positive_cutof'"),
    ('{"gad-7": {"positive_cutoff": 7}}', "unknown instrument 'gad-7'"),
    ('{"gad7": 7}', "gad7: must map setting names to numbers"),
    ("{not json", "not valid JSON"),
])
def test_a_bad_override_stops_the_app_at_start_with_one_line(engine, keyring, raw, named):
    with pytest.raises(SettingsError) as exc:
        make_test_app(engine, keyring, INSTRUMENT_SETTINGS=raw)
    message = str(exc.value)
    assert message.startswith("XINMIAO_INSTRUMENT_SETTINGS: ") and named in message
    assert "\n" not in message


def test_the_engine_refuses_a_nan_cutoff_too():
    with pytest.raises(ValueError, match="nan is not a finite number"):
        score("gad7", [1] * 7, {"positive_cutoff": math.nan})
    assert check_settings(get_instrument("gad7"), {"positive_cutoff": 7}) == {"positive_cutoff": 7}


def test_a_valid_override_is_applied_to_every_recorded_screening(engine, keyring, db_session, factory):
    assert load_instrument_settings('{"gad7": {"positive_cutoff": 7}}') == {"gad7": {"positive_cutoff": 7}}
    app = make_test_app(engine, keyring, INSTRUMENT_SETTINGS={"gad7": {"positive_cutoff": 7}})
    student = factory.student()
    with app.app_context():
        s = record_screening(db_session, Actor.system("tests"), factory.vault, student, "gad7", [1] * 7,
                             mode="paper", administered_on=date(2026, 10, 12))
    db_session.refresh(s)
    assert s.total == 7 and s.positive is True  # 7 < the published 10, but the district's cut-off is 7
