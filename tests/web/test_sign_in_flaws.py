"""Issue 15, sign-in flaws: open redirects through /login and /reauth, the unknown username, a newline in `next`,
and lockout of re-authentication (and of the password change, which checks the same password)."""
from __future__ import annotations

from urllib.parse import quote

import pytest
from sqlalchemy import select

from models import AuditEvent
from tests.conftest import csrf_token, login, post
from tests.unit.test_safe_redirect import BYPASSES

# The bypasses as an attacker puts them in a link (percent-encoded once, so the server sees the raw value).
LINK_BYPASSES = [b for b in BYPASSES if b]


def _events(db_session, action: str) -> list[AuditEvent]:
    return list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def _login_with_next(client, factory, user, target: str):  # type: ignore[no-untyped-def]
    token = csrf_token(client)
    return client.post("/login?next=" + quote(target, safe=""),
                       data={"username": user.username, "password": factory.PASSWORD, "csrf_token": token})


def test_login_never_redirects_off_site(app, factory):
    user = factory.counselor()
    followed = {}
    for target in LINK_BYPASSES:
        response = _login_with_next(app.test_client(), factory, user, target)
        assert response.status_code == 302, target
        if response.headers["Location"] != "/":
            followed[target] = response.headers["Location"]
    assert followed == {}


def test_login_follows_a_same_site_next(client, factory):
    user = factory.counselor()
    response = _login_with_next(client, factory, user, "/students?page=2")
    assert response.headers["Location"] == "/students?page=2"


@pytest.mark.parametrize("target", ["/%09/evil.example", "//evil.example", "/\\evil.example", "https://evil.example",
                                    "/%252f/evil.example", "javascript:alert(1)"])
def test_reauth_never_redirects_off_site(client, factory, target):
    user = factory.counselor()
    login(client, user.username, factory.PASSWORD)
    response = post(client, "/reauth?next=" + quote(target, safe=""), {"password": factory.PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_language_switch_never_redirects_off_site(client):
    for target in ("/%09/evil.example", "//evil.example", "/\t/evil.example"):
        response = post(client, "/lang", {"lang": "en", "next": target})
        assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/students\n", "/\r\nSet-Cookie: a=b", "/x\rY"])
def test_a_newline_in_next_is_no_500_and_the_login_is_audited(app, factory, db_session, target):
    user = factory.counselor()
    client = app.test_client()
    response = _login_with_next(client, factory, user, target)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "\n" not in response.headers["Location"] and "Set-Cookie: a" not in str(response.headers)
    assert [e.target for e in _events(db_session, "auth.login")] == [f"user:{user.username}"]
    assert client.get("/account/password").status_code == 200  # the session that was created is the audited one


def test_an_unknown_username_gets_the_same_answer_as_a_wrong_password(client, factory, db_session):
    user = factory.counselor()
    known = client.post(
        "/login", data={"username": user.username, "password": "wrong", "csrf_token": csrf_token(client)}
    )
    unknown = client.post(
        "/login", data={"username": "nobody-here", "password": "wrong", "csrf_token": csrf_token(client)}
    )
    assert known.status_code == unknown.status_code == 200
    assert "用户名或密码错误" in unknown.get_data(as_text=True)
    failed = _events(db_session, "auth.login_failed")
    assert len(failed) == 2  # the unknown username is audited as a failed login too
    assert failed[1].target == "user:nobody-here"


def test_an_unknown_username_costs_one_password_hash_check_like_a_known_one(client, factory, monkeypatch):
    """Same work: the unknown username verifies the password against a dummy hash of the same parameters."""
    from app.auth import service

    real = service._hasher
    calls: list[str] = []

    class Spy:
        def __getattr__(self, name):  # type: ignore[no-untyped-def]
            return getattr(real, name)

        def verify(self, hash_, password):  # type: ignore[no-untyped-def]
            calls.append(hash_.split("$")[3])  # the parameters part: m=...,t=...,p=...
            return real.verify(hash_, password)

    monkeypatch.setattr(service, "_hasher", Spy())
    user = factory.counselor()
    client.post("/login", data={"username": user.username, "password": "wrong", "csrf_token": csrf_token(client)})
    client.post("/login", data={"username": "nobody-here", "password": "wrong", "csrf_token": csrf_token(client)})
    assert len(calls) == 2 and calls[0] == calls[1]


def test_an_unknown_username_is_locked_out_like_a_known_one(client, db_session):
    for _ in range(5):
        client.post("/login", data={"username": "ghost", "password": "x", "csrf_token": csrf_token(client)})
    response = client.post("/login", data={"username": "ghost", "password": "x", "csrf_token": csrf_token(client)})
    assert response.status_code == 200 and "锁定" in response.get_data(as_text=True)
    assert _events(db_session, "auth.account_locked")


def test_failed_reauths_are_audited_and_lock_the_account(app, factory, db_session):
    user = factory.counselor()
    client = app.test_client()
    login(client, user.username, factory.PASSWORD)
    for _ in range(12):
        response = post(client, "/reauth?next=/students", {"password": "wrong password"})
        if response.status_code == 302:
            break  # the session was ended by the lockout
        assert response.status_code == 200
    failed = _events(db_session, "auth.reauth_failed")
    assert len(failed) == 5 and failed[0].target == f"user:{user.username}"
    assert _events(db_session, "auth.account_locked")
    # the right password is refused now, in this session and at the login page
    response = post(client, "/reauth?next=/students", {"password": factory.PASSWORD})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    fresh = app.test_client()
    response = fresh.post(
        "/login", data={"username": user.username, "password": factory.PASSWORD, "csrf_token": csrf_token(fresh)}
    )
    assert response.status_code == 200 and "锁定" in response.get_data(as_text=True)


def test_failed_logins_and_reauths_count_toward_one_lockout(app, factory, db_session):
    user = factory.counselor()
    client = app.test_client()
    login(client, user.username, factory.PASSWORD)
    for _ in range(3):
        post(client, "/reauth", {"password": "wrong"})
    other = app.test_client()
    for _ in range(2):
        other.post("/login", data={"username": user.username, "password": "wrong", "csrf_token": csrf_token(other)})
    response = other.post(
        "/login", data={"username": user.username, "password": factory.PASSWORD, "csrf_token": csrf_token(other)}
    )
    assert "锁定" in response.get_data(as_text=True)


def test_a_locked_account_cannot_reauthenticate(app, factory, db_session):
    user = factory.counselor()
    client = app.test_client()
    login(client, user.username, factory.PASSWORD)
    other = app.test_client()
    for _ in range(5):
        other.post("/login", data={"username": user.username, "password": "wrong", "csrf_token": csrf_token(other)})
    response = post(client, "/reauth", {"password": factory.PASSWORD})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert _events(db_session, "auth.reauth_locked")


def test_a_successful_reauth_is_audited_and_resets_the_count(client, factory, db_session):
    user = factory.counselor()
    login(client, user.username, factory.PASSWORD)
    for _ in range(4):
        post(client, "/reauth", {"password": "wrong"})
    assert post(client, "/reauth", {"password": factory.PASSWORD}).status_code == 302
    assert _events(db_session, "auth.reauth")
    for _ in range(4):
        post(client, "/reauth", {"password": "wrong"})
    assert post(client, "/reauth", {"password": factory.PASSWORD}).status_code == 302  # not locked: count was reset


def test_wrong_current_passwords_on_the_password_change_count_toward_the_lockout(app, factory, db_session):
    user = factory.counselor()
    client = app.test_client()
    login(client, user.username, factory.PASSWORD)
    for _ in range(5):
        post(
            client,
            "/account/password",
            {"current_password": "wrong", "new_password": "a new password 1", "confirm": "a new password 1"},
        )
    assert len(_events(db_session, "auth.reauth_failed")) == 5
    response = post(
        client,
        "/account/password",
        {"current_password": factory.PASSWORD, "new_password": "a new password 1", "confirm": "a new password 1"},
    )
    assert response.status_code == 302 and "/login" in response.headers["Location"]
