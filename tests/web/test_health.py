"""/healthz tells the truth (database, Redis, the scheduler's lease, the key file); sign-in without Redis is a clear
503 page, not a 500."""
from __future__ import annotations

from datetime import timedelta

from app.auth.throttle import make_throttle
from models import SchedulerLease
from models.clock import database_now
from tests.conftest import _session_on, csrf_token, make_test_app

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"  # port 1: connection refused at once


def test_healthz_reports_database_scheduler_and_keys(client):
    body = client.get("/healthz").get_json()
    assert body["database"] == "ok"
    assert body["scheduler"] == "not running (no lease)"
    assert body["keys"].startswith("master keys from")
    assert "redis" not in body  # not configured: memory counters
    assert body["status"] == "degraded"


def test_healthz_sees_a_live_scheduler_lease(client, db_session):
    now = database_now(db_session)
    db_session.add(SchedulerLease(name="scheduler", holder="host:42:abc", expires_at=now + timedelta(seconds=60),
                                  acquired_at=now, token=3))
    db_session.flush()
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 200 and body["status"] == "ok"
    assert body["scheduler"].startswith("running: host:42:abc")


def test_healthz_reports_an_expired_lease(client, db_session):
    now = database_now(db_session)
    db_session.add(SchedulerLease(name="scheduler", holder="host:42:abc", expires_at=now - timedelta(minutes=5),
                                  acquired_at=now - timedelta(hours=1), token=3))
    db_session.flush()
    body = client.get("/healthz").get_json()
    assert body["scheduler"].startswith("not running: lease of host:42:abc expired")


def _app_with_redis(engine, keyring, connection, url):
    return make_test_app(engine, keyring, lambda: _session_on(connection), REDIS_URL=url,
                         THROTTLE=make_throttle({"REDIS_URL": url, "LOGIN_MAX_FAILURES": 5,
                                                 "LOGIN_LOCK_SECONDS": 60}))


def test_healthz_fails_when_redis_is_down(engine, keyring, connection):
    app = _app_with_redis(engine, keyring, connection, UNREACHABLE_REDIS)
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "failing" and body["redis"].startswith("error: ")


def test_login_without_redis_is_a_clear_page_not_a_500(engine, keyring, connection, factory):
    app = _app_with_redis(engine, keyring, connection, UNREACHABLE_REDIS)
    user = factory.counselor()
    client = app.test_client()
    response = client.post("/login", data={"username": user.username, "password": factory.PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.status_code == 503
    html = response.get_data(as_text=True)
    assert 'data-testid="service-unavailable"' in html and "登录暂时不可用" in html


def test_healthz_fails_when_the_key_file_is_gone(engine, keyring, connection, tmp_path):
    from models.crypto import KeyRing

    path = tmp_path / "keys.json"
    KeyRing.generate_file(path)
    app = make_test_app(engine, keyring, lambda: _session_on(connection), KEY_FILE=str(path), KEYRING=None)
    assert app.test_client().get("/healthz").status_code in (200,)
    path.unlink()
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and "cannot open key file" in response.get_json()["keys"]
