"""Issue 15: two-factor sign-in is required in production (cannot be turned off there), off by default in
development (the password-only demo of `make run`) and in the test suite."""
from __future__ import annotations

import pytest

from app import create_app
from config import DevelopmentConfig, ProductionConfig, TestingConfig
from models.crypto import KeyRing


def _production(two_factor: str) -> ProductionConfig:
    cfg = ProductionConfig()
    cfg.SECRET_KEY = "s3cret-for-tests"
    cfg.KEY_FILE = "/run/keys.json"
    cfg.TWO_FACTOR = two_factor
    return cfg


def test_production_requires_two_factors_by_default():
    assert ProductionConfig().TWO_FACTOR == "on"
    _production("on").validate()


@pytest.mark.parametrize("setting", ["off", "", "no", "admins-off"])
def test_production_refuses_to_start_when_the_setting_tries_to_turn_it_off(setting):
    with pytest.raises(RuntimeError, match="XINMIAO_TWO_FACTOR"):
        _production(setting).validate()
    with pytest.raises(RuntimeError, match="XINMIAO_TWO_FACTOR"):
        create_app(_production("on"), {"KEYRING": KeyRing.generate(), "DATABASE_URL": "sqlite://",
                                       "TWO_FACTOR": setting})


def test_development_and_testing_default_to_password_only(monkeypatch):
    monkeypatch.delenv("XINMIAO_TWO_FACTOR", raising=False)
    assert DevelopmentConfig().TWO_FACTOR == "off"
    assert TestingConfig().TWO_FACTOR == "off"


def test_a_bad_value_is_refused_everywhere():
    with pytest.raises(RuntimeError, match="use on or off"):
        create_app(TestingConfig(), {"KEYRING": KeyRing.generate(), "TWO_FACTOR": "maybe"})
