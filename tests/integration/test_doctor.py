"""`flask doctor`: every check of an installation, what to fix, exit 1 on a problem."""
from __future__ import annotations

import os
from datetime import timedelta

from app import create_app
from app.db import db
from config import ProductionConfig
from models import SchedulerLease
from models.clock import database_now
from tests.conftest import _ExpiringCliRunner, _session_on, make_test_app


def _production_app(engine, connection, key_path, **overrides):
    cfg = ProductionConfig()
    cfg.SECRET_KEY = "s" * 48
    cfg.KEY_FILE = str(key_path)
    settings = {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "REDIS_URL": os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
        "TRUSTED_PROXIES": "127.0.0.1",
        "BASE_URL": "https://xinmiao.example.cn",
    }
    settings.update(overrides)
    app = create_app(cfg, settings)
    db.bind(app, engine, lambda: _session_on(connection))
    app.test_cli_runner_class = _ExpiringCliRunner
    return app


def test_doctor_passes_on_a_complete_installation(engine, connection, keyring, factory, db_session, tmp_path):
    keyring.save(tmp_path / "keys.json")
    factory.student()
    now = database_now(db_session)
    db_session.add(SchedulerLease(name="scheduler", holder="host:1:a", expires_at=now + timedelta(minutes=1),
                                  acquired_at=now, token=1))
    db_session.flush()
    result = _production_app(engine, connection, tmp_path / "keys.json").test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    for name in ("settings", "translations", "keys", "database", "redis", "migrations", "keys open data",
                 "scheduler", "proxy"):
        assert f"ok   {name}:" in result.output
    assert "everything checked is in order" in result.output


def test_doctor_names_each_problem_and_its_fix(engine, connection, factory, tmp_path):
    from models.crypto import KeyRing

    KeyRing.generate_file(tmp_path / "other-keys.json")  # not the keys of this database
    factory.student()
    app = _production_app(engine, connection, tmp_path / "other-keys.json", TRUSTED_PROXIES="",
                          REDIS_URL="redis://127.0.0.1:1/0", BASE_URL="http://x")
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    out = result.output
    assert "FAIL keys open data:" in out and "use the key file (or backup) of this installation" in out
    assert "FAIL redis:" in out and "start Redis or fix REDIS_URL" in out
    assert "FAIL scheduler: not running" in out and "systemctl start xinmiao-scheduler" in out
    assert "FAIL proxy:" in out and "XINMIAO_TRUSTED_PROXIES" in out
    assert "FAIL settings: XINMIAO_BASE_URL" in out
    assert "ok   migrations:" in out and "ok   translations:" in out


def test_doctor_in_development_says_production_is_not_set(engine, keyring, connection):
    app = make_test_app(engine, keyring, lambda: _session_on(connection))
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1 and "FAIL settings: XINMIAO_ENV is testing" in result.output
