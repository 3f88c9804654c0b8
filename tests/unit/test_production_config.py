"""Production refuses to start without its secrets and sends only Secure, HttpOnly, SameSite=Lax cookies."""
from __future__ import annotations

import pytest

from app import create_app
from app.auth.throttle import MemoryThrottle
from config import ProductionConfig, load_config
from models.crypto import KeyRing


@pytest.fixture
def no_key_env(monkeypatch):
    for name in ("XINMIAO_MASTER_KEYS", "XINMIAO_INDEX_KEY", "XINMIAO_KEY_FILE", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)


def _production(secret: str | None = "s3cret-for-tests", key_file: str | None = "/run/keys.json") -> ProductionConfig:
    cfg = ProductionConfig()
    cfg.SECRET_KEY = secret
    cfg.KEY_FILE = key_file
    return cfg


def test_production_refuses_to_start_without_a_secret_key(no_key_env):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(_production(secret=None), {"KEYRING": KeyRing.generate(), "DATABASE_URL": "sqlite://"})


def test_production_refuses_to_start_without_a_master_key(no_key_env):
    with pytest.raises(RuntimeError, match="XINMIAO_KEY_FILE or XINMIAO_MASTER_KEYS"):
        create_app(_production(key_file=None), {"DATABASE_URL": "sqlite://"})


def test_production_is_chosen_by_xinmiao_env_and_forbids_the_demo(monkeypatch):
    monkeypatch.setenv("XINMIAO_ENV", "production")
    cfg = load_config()
    assert isinstance(cfg, ProductionConfig) and cfg.ALLOW_DEMO_SEED is False


def test_production_cookies_are_secure_httponly_and_lax(no_key_env):
    app = create_app(
        _production(),
        {"KEYRING": KeyRing.generate(), "DATABASE_URL": "sqlite://", "THROTTLE": MemoryThrottle(5, 60)},
    )
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["REMEMBER_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_HTTPONLY"]
    response = app.test_client().get("/login", base_url="https://xinmiao.example")
    cookies = response.headers.getlist("Set-Cookie")
    session_cookie = [c for c in cookies if c.startswith("session=")]
    assert session_cookie, cookies
    assert "Secure" in session_cookie[0] and "HttpOnly" in session_cookie[0] and "SameSite=Lax" in session_cookie[0]
    for cookie in cookies:
        if "Max-Age=0" not in cookie:  # a cookie being deleted carries no value
            assert "Secure" in cookie and "HttpOnly" in cookie, cookie
