"""Issue 15, two-factor sign-in end to end in Chromium: enrol (the secret read from the page, the code computed
with pyotp), sign out, sign in with TOTP, re-authenticate with a code, sign in with a recovery code, and that
recovery code refused the second time. The clock (models.clock, shared by the in-process live server) moves on
a step between codes, since a code is accepted only once."""
from __future__ import annotations

from datetime import timedelta

import pyotp

from models import User, clock
from tests.e2e.conftest import login_as, shot, totp_now

PASSWORD = "two factors please 1"


def _next_step(moved_clock) -> None:  # type: ignore[no-untyped-def]
    moved_clock(clock.now() + timedelta(seconds=60))


def _sign_out(page) -> None:  # type: ignore[no-untyped-def]
    with page.expect_navigation():
        page.click("form[action='/logout'] button")
    assert "/login" in page.url


def test_enrol_sign_in_reauth_and_recovery_code(page, two_factor_on, moved_clock):
    from app.auth.service import hash_password

    live = two_factor_on
    with live.session() as session:
        session.add(User(username="e2e-2fa-admin", display_name="双重验证管理员", role="admin",
                         password_hash=hash_password(PASSWORD)))

    # first sign-in: the password, then the enrolment page with its QR code and the secret in text
    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", "e2e-2fa-admin")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/login/enrol" in page.url
    assert page.locator("[data-testid=totp-qr] svg").count() == 1
    secret = page.locator("[data-testid=totp-secret]").get_attribute("data-secret")
    assert secret and page.locator("[data-testid=totp-secret]").inner_text().replace(" ", "") == secret
    shot(page, "two-factor-enrol")
    page.fill("input[name=code]", pyotp.TOTP(secret).at(clock.timestamp()))
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    codes = [c.strip() for c in page.locator("[data-testid=recovery-codes] code").all_inner_texts()]
    assert len(codes) == 10
    shot(page, "two-factor-recovery-codes")
    with page.expect_navigation():
        page.click("[data-testid=recovery-continue]")
    assert "/login" not in page.url
    assert page.locator("[data-testid=two-factor-off-banner]").count() == 0
    _sign_out(page)

    # sign in with the app's code
    _next_step(moved_clock)
    login_as(page, live, "e2e-2fa-admin", PASSWORD, totp_secret=secret)
    assert page.locator(".userbox .who").inner_text().startswith("双重验证管理员")

    # re-authentication asks for the password and a code
    _next_step(moved_clock)
    page.goto(f"{live.url}/reauth?next=/admin/users")
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", "000000")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/reauth" in page.url and "密码或验证码错误" in page.locator("main").inner_text()
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=code]", totp_now(secret))
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url.endswith("/admin/users")
    _sign_out(page)

    # a recovery code signs in once
    login_as(page, live, "e2e-2fa-admin", PASSWORD, code=codes[0])
    assert "恢复码" in page.locator("main").inner_text()
    _sign_out(page)
    page.goto(f"{live.url}/login")
    page.fill("input[name=username]", "e2e-2fa-admin")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    page.fill("input[name=code]", codes[0])
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/login/second-factor" in page.url
    assert "验证码错误或已被使用" in page.locator("main").inner_text()
    shot(page, "two-factor-used-recovery-code")


def test_the_demo_server_signs_in_by_password_and_says_two_factors_are_off(page, live_server):
    login_as(page, live_server, "admin")
    banner = page.locator("[data-testid=two-factor-off-banner]")
    assert banner.inner_text() == "开发模式：未启用双重验证"
