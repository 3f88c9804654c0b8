"""Issue 15, no public secret by default: development signs cookies with a random key of its own instance, and a
server on a non-loopback address refuses to start (or to answer) without complete production settings."""
from __future__ import annotations

import os
import stat

import pytest
from flask.sessions import SecureCookieSessionInterface

from app import create_app
from app.auth.throttle import MemoryThrottle
from config import DevelopmentConfig, ProductionConfig
from models.crypto import KeyRing

OLD_FIXED_SECRET = "dev-only-not-secret"


@pytest.fixture
def no_secret_env(monkeypatch):
    for name in ("SECRET_KEY", "XINMIAO_MASTER_KEYS", "XINMIAO_INDEX_KEY", "XINMIAO_KEY_FILE"):
        monkeypatch.delenv(name, raising=False)


def _dev_app(instance, **overrides):  # type: ignore[no-untyped-def]
    cfg = DevelopmentConfig()
    cfg.SECRET_KEY = None  # as started without the variable
    settings = {"DATABASE_URL": "sqlite://", "DEV_KEY_FILE": str(instance / "keys.json"),
                "DEV_SECRET_FILE": str(instance / "secret_key"), "THROTTLE": MemoryThrottle(5, 60)}
    settings.update(overrides)
    return create_app(cfg, settings)


def test_development_generates_a_random_secret_per_instance_kept_with_mode_0600(tmp_path, no_secret_env):
    one = _dev_app(tmp_path / "one")
    two = _dev_app(tmp_path / "two")
    assert one.config["SECRET_KEY"] != two.config["SECRET_KEY"]
    assert OLD_FIXED_SECRET not in (one.config["SECRET_KEY"], two.config["SECRET_KEY"])
    assert len(one.config["SECRET_KEY"]) >= 40
    path = tmp_path / "one" / "secret_key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _dev_app(tmp_path / "one").config["SECRET_KEY"] == one.config["SECRET_KEY"]  # a restart keeps sessions


def test_the_repository_holds_no_development_secret():
    assert DevelopmentConfig.SECRET_KEY in (None, os.environ.get("SECRET_KEY"))
    assert OLD_FIXED_SECRET not in open(os.path.join(os.path.dirname(__file__), "../../config/__init__.py")).read()


def test_a_cookie_forged_with_a_guessable_secret_is_refused(tmp_path, no_secret_env):
    app = _dev_app(tmp_path)
    for guess in (OLD_FIXED_SECRET, "testing-secret", "secret", ""):
        forger = create_app(DevelopmentConfig(), {"SECRET_KEY": guess or "x", "DATABASE_URL": "sqlite://",
                                                  "KEYRING": KeyRing.generate(), "THROTTLE": MemoryThrottle(5, 60)})
        serializer = SecureCookieSessionInterface().get_signing_serializer(forger)
        forged = serializer.dumps({"_user_id": "1:1", "_fresh": True, "auth_at": 9e9, "last_seen": 9e9})
        client = app.test_client()
        client.set_cookie("session", forged)
        with client.session_transaction() as sess:
            assert "_user_id" not in sess


def test_a_secret_file_readable_by_others_is_refused(tmp_path, no_secret_env):
    _dev_app(tmp_path)
    os.chmod(tmp_path / "secret_key", 0o644)
    with pytest.raises(RuntimeError, match="chmod 600"):
        _dev_app(tmp_path)


@pytest.mark.parametrize("host,loopback", [("127.0.0.1", True), ("localhost", True), ("::1", True), ("127.0.0.2", True),
                                           ("0.0.0.0", False), ("::", False), ("192.168.1.10", False),
                                           ("school.example", False), ("", False)])
def test_loopback_addresses(host, loopback):
    from config import is_loopback

    assert is_loopback(host) is loopback


class _Started(Exception):
    pass


def _serve(app, host, monkeypatch):  # type: ignore[no-untyped-def]
    """Run `flask serve --host HOST --no-scheduler`, stopping at the moment the server would start listening."""
    import werkzeug.serving

    def fake_run_simple(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise _Started(args[0])

    monkeypatch.setattr(werkzeug.serving, "run_simple", fake_run_simple)
    runner = app.test_cli_runner()
    return runner.invoke(args=["serve", "--host", host, "--no-scheduler", "--no-reload"])


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "school.example"])
def test_a_development_server_on_a_non_loopback_host_refuses_to_start_and_says_what_is_missing(
        tmp_path, no_secret_env, monkeypatch, host):
    result = _serve(_dev_app(tmp_path), host, monkeypatch)
    assert not isinstance(result.exception, _Started), "the server started"
    assert result.exit_code != 0
    assert "XINMIAO_ENV=production" in result.output and "SECRET_KEY" in result.output
    assert "XINMIAO_KEY_FILE or XINMIAO_MASTER_KEYS" in result.output


def test_the_development_server_on_loopback_still_starts(tmp_path, no_secret_env, monkeypatch):
    result = _serve(_dev_app(tmp_path), "127.0.0.1", monkeypatch)
    assert isinstance(result.exception, _Started) and result.exception.args[0] == "127.0.0.1"


def test_a_complete_production_configuration_may_listen_anywhere(no_secret_env, monkeypatch):
    cfg = ProductionConfig()
    cfg.SECRET_KEY, cfg.KEY_FILE = "a-long-random-production-secret-0123456789", "/run/keys.json"
    app = create_app(
        cfg, {"KEYRING": KeyRing.generate(), "DATABASE_URL": "sqlite://", "THROTTLE": MemoryThrottle(5, 60)}
    )
    result = _serve(app, "0.0.0.0", monkeypatch)
    assert isinstance(result.exception, _Started)


def test_requests_reaching_a_development_app_through_a_non_loopback_listener_are_refused(tmp_path, no_secret_env):
    """gunicorn -b 0.0.0.0 or `flask run --host 0.0.0.0`: the WSGI server names the bound address in SERVER_NAME."""
    app = _dev_app(tmp_path)
    client = app.test_client()
    assert client.get("/login", environ_overrides={"SERVER_NAME": "0.0.0.0"}).status_code == 503
    assert client.get("/login", environ_overrides={"SERVER_NAME": "10.1.2.3"}).status_code == 503
    assert client.get("/login", environ_overrides={"SERVER_NAME": "127.0.0.1"}).status_code == 200
    assert client.get("/login").status_code == 200
