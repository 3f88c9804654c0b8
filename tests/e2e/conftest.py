"""Browser tests: the real app on a demo-seeded SQLite file, served on 127.0.0.1, driven by the system Chromium.

Fixtures: `live_server` (session: `.url`, `.app`, `.session()`), `browser` (session), `page` (function: a new
context at 1366x768, zh-CN), `two_factor_on` (two-factor sign-in for one test). Helpers: `login_as(page,
live_server, username, password, totp_secret=None, code=None)` and `shot(page, name)` (PNG in tests/artifacts/,
git-ignored). A missing /usr/bin/chromium FAILS the tests: `.ci/run` installs it.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

CHROMIUM = os.environ.get("XINMIAO_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
DEMO_PASSWORD = "xinmiao-demo"


class LiveServer:
    def __init__(self, app: Any, url: str):
        self.app = app
        self.url = url

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session on the live database that commits at exit (for tests that add their own data)."""
        session = self.app.extensions["xinmiao_session_factory"]()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory, keyring: Any) -> Iterator[LiveServer]:
    from werkzeug.serving import make_server

    from app import create_app
    from app.auth.throttle import MemoryThrottle
    from app.cli import upgrade_database
    from app.db import db
    from app.demo.cli import run_demo
    from config import TestingConfig

    url = f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'live.db'}"
    upgrade_database(url)
    app = create_app(
        TestingConfig(),
        {
            "DATABASE_URL": url,
            "KEYRING": keyring,
            "THROTTLE": MemoryThrottle(20, 60),
            "WTF_CSRF_ENABLED": True,
            "DEMO_PASSWORD": DEMO_PASSWORD,
            "TESTING": False,  # errors render as pages, as a user would see them
        },
    )
    with app.app_context():
        with db.transaction() as session:
            run_demo(session, keyring, DEMO_PASSWORD)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["xinmiao_engine"].dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: the browser tests need it (`apt-get install chromium "
            "fonts-noto-cjk`, which .ci/run does), or set XINMIAO_CHROMIUM to its path.",
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


def login_as(page: Any, live_server: LiveServer, username: str, password: str = DEMO_PASSWORD,
             totp_secret: str | None = None, code: str | None = None) -> None:
    """Sign in through the real login form and wait for the page after the redirect. With two factors on
    (`two_factor_on`), give the user's `totp_secret` (the code of the current step is computed with pyotp on
    models.clock, as the server reads it) or a `code` (a recovery code) for the second step."""
    page.goto(f"{live_server.url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    if totp_secret is not None or code is not None:
        assert "/login/second-factor" in page.url, f"no second step for {username}: on {page.url}"
        page.fill("input[name=code]", code or totp_now(totp_secret or ""))
        with page.expect_navigation():
            page.click("main form button[type=submit]")
    assert "/login" not in page.url, f"login of {username} failed: still on {page.url}"


def totp_now(secret: str) -> str:
    """What an authenticator app shows now (models.clock: the live server runs in this process)."""
    import pyotp

    from models import clock

    return pyotp.TOTP(secret).at(clock.timestamp())


@pytest.fixture
def two_factor_on(live_server: LiveServer) -> Iterator[LiveServer]:
    """The live server with two-factor sign-in on for this test (the demo server runs password-only, like
    `make run`); off again afterwards."""
    saved = live_server.app.config["TWO_FACTOR"]
    live_server.app.config["TWO_FACTOR"] = "on"
    try:
        yield live_server
    finally:
        live_server.app.config["TWO_FACTOR"] = saved


def shot(page: Any, name: str, full_page: bool = True) -> Path:
    """Save a screenshot as tests/artifacts/<name>.png and return its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def student_sign_in(page: Any, live_server: LiveServer, session_code: str, student_number: str,
                    entry_code: str) -> None:
    """The student entrance, in ONE place: open the class session's link, identify with the student number and
    the personal entry code the counselor's console shows (see `console_entry_code`), land on the first
    questionnaire."""
    page.goto(f"{live_server.url}/s?code={session_code}")
    assert page.locator("#code").input_value() == session_code
    page.fill("#student_number", student_number)
    page.fill("#entry_code", entry_code)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.url.endswith("/s/q"), f"student sign-in failed: on {page.url}"


def console_entry_code(console: Any, student_name: str) -> str:
    """A student's entry code as the counselor reads it out from the session console."""
    return str(console.locator(f"tr[data-name='{student_name}'] [data-testid=entry-code]").inner_text().strip())
