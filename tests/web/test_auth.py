"""Login, logout, lockout, session invalidation, idle expiry, CSRF."""
from __future__ import annotations

from tests.conftest import csrf_token, login, post


def test_login_page_is_chinese_by_default(client):
    html = client.get("/login").get_data(as_text=True)
    assert "登录" in html and "用户名" in html


def test_counselor_logs_in_and_reaches_home(client, factory):
    user = factory.counselor()
    response = login(client, user.username, factory.PASSWORD)
    assert response.headers["Location"].endswith("/")
    assert client.get("/").status_code in (200, 302)


def test_wrong_password_is_refused_with_a_clear_message(client, factory):
    user = factory.counselor()
    response = client.post(
        "/login", data={"username": user.username, "password": "nope", "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 200
    assert "用户名或密码错误" in response.get_data(as_text=True)


def test_login_without_csrf_token_is_refused(client, factory):
    user = factory.counselor()
    response = client.post("/login", data={"username": user.username, "password": factory.PASSWORD})
    assert response.status_code == 400


def test_repeated_failures_lock_the_account_even_with_the_right_password(client, factory, db_session):
    from sqlalchemy import select

    from models import AuditEvent

    user = factory.counselor()
    for _ in range(5):
        client.post("/login", data={"username": user.username, "password": "bad", "csrf_token": csrf_token(client)})
    response = client.post(
        "/login", data={"username": user.username, "password": factory.PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert response.status_code == 200
    assert "锁定" in response.get_data(as_text=True)
    actions = set(db_session.scalars(select(AuditEvent.action)))
    assert {"auth.login_failed", "auth.account_locked", "auth.login_locked"} <= actions


def test_logout_is_a_post_and_a_replayed_cookie_is_refused(app, factory):
    user = factory.counselor()
    client = app.test_client()
    login(client, user.username, factory.PASSWORD)
    old_cookie = client.get_cookie("session").value
    assert client.get("/logout").status_code == 405
    assert post(client, "/logout").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", old_cookie)
    response = replay.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_disabling_an_account_ends_its_sessions(app, factory, db_session):
    user = factory.counselor()
    client = app.test_client()
    login(client, user.username, factory.PASSWORD)
    assert client.get("/account/password").status_code == 200
    user.active = False
    db_session.flush()
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_password_change_invalidates_other_sessions(app, factory):
    user = factory.counselor()
    first, second = app.test_client(), app.test_client()
    login(first, user.username, factory.PASSWORD)
    login(second, user.username, factory.PASSWORD)
    response = post(
        first,
        "/account/password",
        {
            "current_password": factory.PASSWORD,
            "new_password": "a new long passphrase",
            "confirm": "a new long passphrase",
        },
    )
    assert response.status_code == 302
    assert first.get("/account/password").status_code == 200
    assert second.get("/account/password").status_code == 302


def test_idle_session_expires(app, factory):
    user = factory.counselor()
    client = app.test_client()
    login(client, user.username, factory.PASSWORD)
    with client.session_transaction() as sess:
        sess["last_seen"] = sess["last_seen"] - app.config["IDLE_TIMEOUT"].total_seconds() - 5
    response = client.get("/account/password")
    assert response.status_code == 302 and "expired=1" in response.headers["Location"]


def test_open_redirect_after_login_is_ignored(client, factory):
    user = factory.counselor()
    token = csrf_token(client)
    response = client.post(
        "/login?next=//evil.example/x",
        data={"username": user.username, "password": factory.PASSWORD, "csrf_token": token},
    )
    assert response.headers["Location"] == "/"


def test_healthz_reports_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["database"] == "ok" and body["status"] in ("ok", "degraded")  # the rest: tests/web/test_health.py


def test_english_can_be_selected(client):
    post(client, "/lang", {"lang": "en", "next": "/login"})
    assert "Sign in" in client.get("/login").get_data(as_text=True)
