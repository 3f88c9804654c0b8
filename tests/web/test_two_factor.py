"""Issue 15, two-factor sign-in (TOTP): enrolment at the first sign-in, the second step of every sign-in, recovery
codes, replay, lockout, re-authentication, the half-signed-in state, the admin's reset, the sealed secret and
the development banner. The app runs with TWO_FACTOR=on (`two_factor_app`); the clock is models.clock, moved
by the tests (`advance_clock`) so that each sign-in has a fresh 30-second step."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.auth import two_factor
from models import AuditEvent, RecoveryCode, User, clock
from tests.conftest import (
    advance_clock,
    csrf_token,
    enrol,
    login,
    post,
    reread,
    second_factor,
    totp_code,
)


class _Event:
    def __init__(self, row: AuditEvent):
        self.actor, self.target, self.detail = row.actor, row.target, json.loads(row.detail or "{}")


def _events(db_session, action: str) -> list[_Event]:
    rows = db_session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))
    return [_Event(row) for row in rows]


def _password(client, username: str, password: str):  # type: ignore[no-untyped-def]
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(client)})


def _logout(client) -> None:  # type: ignore[no-untyped-def]
    assert post(client, "/logout").status_code == 302


def _signed_in(client) -> bool:  # type: ignore[no-untyped-def]
    response = client.get("/")
    return response.status_code == 200 or (response.status_code == 302
                                            and not response.headers["Location"].startswith("/login"))


@pytest.fixture
def app(two_factor_app):  # type: ignore[no-untyped-def]
    return two_factor_app


@pytest.mark.parametrize("role", ["admin", "district", "counselor"])
def test_an_officer_enrols_at_the_first_sign_in_and_is_not_signed_in_before_confirming(app, factory, db_session,
                                                                                         role):
    user = factory.counselor() if role == "counselor" else factory.user(role)
    client = app.test_client()
    response = _password(client, user.username, factory.PASSWORD)
    assert response.headers["Location"] == "/login/enrol"
    assert not _signed_in(client)
    page = client.get("/login/enrol").get_data(as_text=True)
    assert "<svg" in page and 'data-testid="totp-qr"' in page  # the QR code, inline
    qr = page.split('data-testid="totp-qr"')[1].split("</div>")[0]
    assert "<img" not in qr and "href" not in qr and "src=" not in qr  # no external image
    secret = reread(db_session, user)
    assert secret.totp_secret is not None and secret.totp_enrolled_at is None
    assert client.post("/login/enrol", data={"code": "000000", "csrf_token": csrf_token(client)}).status_code == 200
    assert not _signed_in(client)
    assert [e.detail["purpose"] for e in _events(db_session, "auth.second_factor_failed")] == ["enrol"]


def test_enrolment_shows_ten_recovery_codes_once_and_stores_them_hashed(app, factory, db_session):
    user = factory.counselor()
    client = app.test_client()
    secret, codes = enrol(client, user.username, factory.PASSWORD)
    assert _signed_in(client)
    assert len(set(codes)) == 10
    stored = db_session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all()
    assert len(stored) == 10
    assert all(row.code_hash.startswith("$argon2id$") for row in stored)
    assert not any(code.replace("-", "") in row.code_hash for code in codes for row in stored)
    row = reread(db_session, user)
    assert row.totp_enrolled_at is not None
    assert secret.encode() not in bytes(row.totp_secret)  # sealed, not in clear
    assert [e.detail for e in _events(db_session, "auth.login")] == [{"second_factor": "totp"}]
    assert len(_events(db_session, "auth.two_factor_enrolled")) == 1
    # the enrolment page is gone once enrolled (no second look at the secret)
    _logout(client)
    assert _password(client, user.username, factory.PASSWORD).headers["Location"] == "/login/second-factor"
    assert client.get("/login/enrol").headers["Location"] == "/login/second-factor"


def test_the_secret_is_sealed_for_its_user_only(app, factory, db_session, keyring):
    alice, bob = factory.counselor(), factory.counselor()
    with app.app_context():
        secret = two_factor.begin_enrolment(db_session, keyring, alice)
        assert two_factor.open_secret(keyring, alice) == secret
        bob.totp_secret, bob.totp_key_version = alice.totp_secret, alice.totp_key_version  # copied onto bob
        with pytest.raises(two_factor.SecretUnreadable):
            two_factor.open_secret(keyring, bob)


def test_sign_in_takes_the_password_then_a_code_and_audits_both(app, factory, db_session, moved_clock):
    user = factory.counselor()
    client = app.test_client()
    secret, _codes = enrol(client, user.username, factory.PASSWORD)
    _logout(client)
    advance_clock(moved_clock)
    response = _password(client, user.username, factory.PASSWORD)
    assert response.headers["Location"] == "/login/second-factor"
    assert not _signed_in(client)
    assert "/login/second-factor" in client.get("/login/second-factor").request.path
    response = second_factor(client, totp_code(secret))
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert _signed_in(client)
    assert [e.detail["second_factor"] for e in _events(db_session, "auth.password_ok")] == ["enrol", "verify"]
    assert [e.detail for e in _events(db_session, "auth.login")][-1] == {"second_factor": "totp"}


def test_the_next_of_the_login_page_survives_the_second_step(app, factory, moved_clock):
    user = factory.counselor()
    client = app.test_client()
    secret, _codes = enrol(client, user.username, factory.PASSWORD)
    _logout(client)
    advance_clock(moved_clock)
    client.post("/login?next=/students", data={"username": user.username, "password": factory.PASSWORD,
                                                "csrf_token": csrf_token(client)})
    assert second_factor(client, totp_code(secret)).headers["Location"] == "/students"


def test_a_code_is_accepted_once_a_replay_is_refused(app, factory, db_session, moved_clock):
    user = factory.counselor()
    client = app.test_client()
    secret, _codes = enrol(client, user.username, factory.PASSWORD)
    _logout(client)
    advance_clock(moved_clock)
    code = totp_code(secret)
    login(client, user.username, factory.PASSWORD, code=code)
    _logout(client)
    other = app.test_client()  # the attacker who saw the code, within its 30 seconds
    _password(other, user.username, factory.PASSWORD)
    assert second_factor(other, code).status_code == 200
    assert not _signed_in(other)
    # the enrolment's own code (an earlier step) is no good either; the next step's code is
    assert second_factor(other, totp_code(secret, steps_ahead=-2)).status_code == 200
    assert second_factor(other, totp_code(secret, steps_ahead=1)).status_code == 302
    assert len(_events(db_session, "auth.second_factor_failed")) == 2


def test_a_code_within_one_step_of_drift_is_accepted_two_steps_is_not(app, factory, moved_clock):
    user = factory.counselor()
    client = app.test_client()
    secret, _codes = enrol(client, user.username, factory.PASSWORD)
    _logout(client)
    advance_clock(moved_clock, 300)
    _password(client, user.username, factory.PASSWORD)
    assert second_factor(client, totp_code(secret, steps_ahead=2)).status_code == 200
    assert second_factor(client, totp_code(secret, steps_ahead=-1)).status_code == 302


def test_a_recovery_code_signs_in_once(app, factory, db_session, moved_clock):
    user = factory.counselor()
    client = app.test_client()
    _secret, codes = enrol(client, user.username, factory.PASSWORD)
    _logout(client)
    login(client, user.username, factory.PASSWORD, code=codes[3].upper().replace("-", " "))
    assert _signed_in(client)
    assert [e.detail for e in _events(db_session, "auth.recovery_code_used")] == [{"left": 9}]
    _logout(client)
    _password(client, user.username, factory.PASSWORD)
    assert second_factor(client, codes[3]).status_code == 200
    assert not _signed_in(client)
    used = db_session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id,
                                                         RecoveryCode.used_at.is_not(None))).all()
    assert len(used) == 1


def test_wrong_codes_lock_the_account_even_with_the_right_password_in_between(app, factory, db_session,
                                                                             moved_clock):
    user = factory.counselor()
    client = app.test_client()
    secret, _codes = enrol(client, user.username, factory.PASSWORD)
    _logout(client)
    advance_clock(moved_clock)
    _password(client, user.username, factory.PASSWORD)
    for _ in range(3):
        assert second_factor(client, "123456").status_code == 200
    # the right password again does not reset the count of wrong codes
    _password(client, user.username, factory.PASSWORD)
    second_factor(client, "654321")
    response = second_factor(client, "111111")  # the 5th failure locks (MemoryThrottle(5, 60))
    assert response.headers["Location"] == "/login"
    assert len(_events(db_session, "auth.account_locked")) == 1
    # locked: neither the password nor the right code gets in
    response = _password(client, user.username, factory.PASSWORD)
    assert response.status_code == 200 and not _signed_in(client)
    failures = _events(db_session, "auth.second_factor_failed")
    assert [e.detail["failures"] for e in failures] == [1, 2, 3, 4, 5]
    assert second_factor(client, totp_code(secret)).headers["Location"] == "/login"  # no pending sign-in left
    assert len(_events(db_session, "auth.login_locked")) == 1


def test_a_half_signed_in_session_reaches_no_page(app, factory):
    """Route by route: covered in tests/web/test_route_roles.py; here the signed-in markers themselves."""
    user = factory.user("admin")
    client = app.test_client()
    enrol(client, user.username, factory.PASSWORD)
    _logout(client)
    _password(client, user.username, factory.PASSWORD)
    for path in ("/", "/admin/", "/admin/users", "/reauth", "/account/password"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login?next="), path
    with client.session_transaction() as sess:
        assert "_user_id" not in sess and "second_factor" not in sess


def test_the_pending_sign_in_expires(app, factory, moved_clock):
    user = factory.counselor()
    client = app.test_client()
    secret, _codes = enrol(client, user.username, factory.PASSWORD)
    _logout(client)
    advance_clock(moved_clock)
    _password(client, user.username, factory.PASSWORD)
    advance_clock(moved_clock, 301)
    response = second_factor(client, totp_code(secret))
    assert response.headers["Location"] == "/login"
    assert not _signed_in(client)


def test_a_session_without_the_second_factor_is_ended_when_two_factors_are_switched_on(app, factory, db_session):
    user = factory.counselor()
    client = app.test_client()
    app.config["TWO_FACTOR"] = "off"
    login(client, user.username, factory.PASSWORD)
    assert _signed_in(client)
    app.config["TWO_FACTOR"] = "on"
    response = client.get("/")
    assert response.headers["Location"].startswith("/login?next=")
    assert len(_events(db_session, "auth.logout_second_factor_missing")) == 1


def test_head_teachers_sign_in_by_password_unless_the_setting_asks(app, factory):
    teacher = factory.head_teacher()
    client = app.test_client()
    assert _password(client, teacher.username, factory.PASSWORD).headers["Location"] == "/"
    _logout(client)
    app.config["TWO_FACTOR_HEAD_TEACHERS"] = True
    assert _password(client, teacher.username, factory.PASSWORD).headers["Location"] == "/login/enrol"


def test_reauth_asks_for_the_second_factor_and_counts_failures(app, factory, db_session, moved_clock):
    user = factory.counselor()
    client = app.test_client()
    secret, codes = enrol(client, user.username, factory.PASSWORD)
    page = client.get("/reauth").get_data(as_text=True)
    assert 'name="code"' in page
    advance_clock(moved_clock)
    assert post(client, "/reauth", {"password": factory.PASSWORD}).status_code == 200  # no code
    assert post(client, "/reauth", {"password": factory.PASSWORD, "code": "000000"}).status_code == 200
    failed = _events(db_session, "auth.reauth_failed")
    assert [(e.detail["factor"], e.detail["failures"]) for e in failed] == [("second", 1), ("second", 2)]
    response = post(client, "/reauth", {"password": factory.PASSWORD, "code": totp_code(secret)})
    assert response.status_code == 302
    assert _events(db_session, "auth.reauth")[-1].detail == {"purpose": "reauth", "second_factor": "totp"}
    # a replay of that code at the next re-authentication is refused; a recovery code works
    assert post(client, "/reauth", {"password": factory.PASSWORD, "code": totp_code(secret)}).status_code == 200
    assert post(client, "/reauth", {"password": factory.PASSWORD, "code": codes[0]}).status_code == 302


def test_wrong_reauth_codes_lock_the_account_and_end_the_session(app, factory, db_session, moved_clock):
    user = factory.counselor()
    client = app.test_client()
    secret, _codes = enrol(client, user.username, factory.PASSWORD)
    for n in range(5):
        response = post(client, "/reauth", {"password": factory.PASSWORD, "code": f"00000{n}"})
    assert response.headers["Location"] == "/login"
    assert not _signed_in(client)
    assert len(_events(db_session, "auth.reauth_failed")) == 5
    assert len(_events(db_session, "auth.account_locked")) == 1
    assert len(_events(db_session, "auth.logout_locked")) == 1
    advance_clock(moved_clock)
    other = app.test_client()
    assert _password(other, user.username, factory.PASSWORD).status_code == 200  # locked
    assert not _signed_in(other)


def test_an_admin_resets_a_second_factor_after_reauthenticating(app, factory, db_session, moved_clock):
    admin = factory.user("admin")
    user = factory.counselor()
    admin_client, user_client = app.test_client(), app.test_client()
    admin_secret, _ = enrol(admin_client, admin.username, factory.PASSWORD)
    enrol(user_client, user.username, factory.PASSWORD)
    assert _signed_in(user_client)
    url = f"/admin/users/{user.id}/two-factor"
    advance_clock(moved_clock, 16 * 60)  # past RECENT_LOGIN (15 minutes), within the idle limit (30)
    response = admin_client.get(url)
    assert response.headers["Location"].startswith("/reauth")
    post(admin_client, response.headers["Location"], {"password": factory.PASSWORD, "code": totp_code(admin_secret)})
    page = admin_client.get(url).get_data(as_text=True)
    assert "10" in page
    assert post(admin_client, url).headers["Location"] == f"/admin/users/{user.id}/edit"
    row = reread(db_session, user)
    assert row.totp_secret is None and row.totp_enrolled_at is None
    assert db_session.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id)).all() == []
    events = _events(db_session, "auth.two_factor_reset")
    assert [(e.actor, e.target, e.detail) for e in events] == [
        (admin.username, f"user:{user.username}", {"was_enrolled": "yes"})]
    assert not _signed_in(user_client)  # their sessions ended
    assert _password(user_client, user.username, factory.PASSWORD).headers["Location"] == "/login/enrol"


def test_only_admins_reset_a_second_factor(app, factory):
    counselor = factory.counselor()
    client = app.test_client()
    enrol(client, counselor.username, factory.PASSWORD)
    assert client.get(f"/admin/users/{counselor.id}/two-factor").status_code == 403


def test_the_banner_shows_on_staff_pages_while_two_factors_are_off(app, factory, db_session):
    user = factory.counselor()
    client = app.test_client()
    secret, _ = enrol(client, user.username, factory.PASSWORD)
    assert "two-factor-off-banner" not in client.get("/", follow_redirects=True).get_data(as_text=True)
    app.config["TWO_FACTOR"] = "off"
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "开发模式：未启用双重验证" in page
    with client.session_transaction() as sess:
        sess["lang"] = "en"
    english = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "Development mode: two-factor sign-in is off" in english
    assert "two-factor-off-banner" not in app.test_client().get("/login").get_data(as_text=True)  # staff only


def test_the_clock_drives_the_codes(app, factory, db_session, moved_clock, keyring):
    """TOTP reads models.clock: at a moved instant the code of that instant is the one accepted."""
    user = factory.counselor()
    moved_clock(clock.parse_instant("2028-02-29T08:00:00+08:00"))
    client = app.test_client()
    secret, _ = enrol(client, user.username, factory.PASSWORD)
    _logout(client)
    moved_clock(clock.now() + timedelta(hours=5))
    at = clock.timestamp()
    _password(client, user.username, factory.PASSWORD)
    assert second_factor(client, two_factor.current_code(secret, at)).status_code == 302
    step = reread(db_session, user).totp_last_step
    assert step is not None and abs(step - int(at // 30)) <= 1


def test_the_login_page_state_is_refused_to_a_disabled_user(app, factory, db_session):
    user = factory.counselor()
    client = app.test_client()
    secret, _ = enrol(client, user.username, factory.PASSWORD)
    _logout(client)
    _password(client, user.username, factory.PASSWORD)
    db_session.get(User, user.id).active = False
    db_session.flush()
    assert second_factor(client, totp_code(secret, 1)).headers["Location"] == "/login"
