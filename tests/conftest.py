"""Shared fixtures: a real database (SQLite file, or PostgreSQL when XINMIAO_TEST_DB=postgresql) built by the
Alembic chain, rollback per test, the app bound to the test's connection, factories and login helpers.

On PostgreSQL each test session creates its own database (unique name, dropped at the end) on the server that
TEST_DATABASE_URL names, so parallel runs never share state.
"""
from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session

from models import clock
from models.crypto import KeyRing
from models.db import make_engine, normalise_url

DB_DIRS = ("integration", "web", "migrations", "e2e")


def pytest_configure(config: Any) -> None:
    """Anchor a moved clock (XINMIAO_NOW) before any worker or child process starts, so they all share it."""
    clock.now()


def pytest_report_header(config: Any) -> str:
    if clock.is_moved():
        return f"clock: moved, XINMIAO_NOW={os.environ[clock.ENV_NOW]} (school today {clock.today()})"
    return "clock: real time (set XINMIAO_NOW=2028-02-29T08:00+08:00 to move it)"


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        if any(d in parts for d in DB_DIRS) and "e2e" not in parts:
            item.add_marker(pytest.mark.db)
        if "e2e" in parts:
            item.add_marker(pytest.mark.e2e)


def backend() -> str:
    return os.environ.get("XINMIAO_TEST_DB", "sqlite")


class TestDatabase:
    """Creates an empty database for this test session and drops it afterwards."""

    def __init__(self, tmp_dir: Path):
        self.kind = backend()
        if self.kind == "postgresql":
            server = os.environ.get("TEST_DATABASE_URL")
            if not server:
                raise RuntimeError("XINMIAO_TEST_DB=postgresql needs TEST_DATABASE_URL")
            self.server_url = make_url(normalise_url(server))
            self.name = f"xinmiao_test_{uuid.uuid4().hex[:10]}"
            self.url = self.server_url.set(database=self.name).render_as_string(hide_password=False)
        else:
            self.url = f"sqlite:///{tmp_dir / 'test.db'}"

    def create(self) -> None:
        if self.kind == "postgresql":
            admin = make_engine(self.server_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            admin.dispose()

    def drop(self) -> None:
        if self.kind == "postgresql":
            admin = make_engine(self.server_url.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            admin.dispose()

    def new_empty(self, tmp_dir: Path, label: str) -> TestDatabase:
        """Another empty database (for tests that need real commits or the migration chain)."""
        other = TestDatabase.__new__(TestDatabase)
        other.kind = self.kind
        if self.kind == "postgresql":
            other.server_url = self.server_url
            other.name = f"{self.name}_{label}"[:60]
            other.url = self.server_url.set(database=other.name).render_as_string(hide_password=False)
        else:
            other.url = f"sqlite:///{tmp_dir / (label + '.db')}"
        other.create()
        return other


@pytest.fixture
def moved_clock() -> Iterator[Any]:
    """`moved_clock(instant)` moves models.clock for the rest of the test (time runs on from there); the run's
    own setting (XINMIAO_NOW of `make test`) comes back afterwards."""
    saved = {name: os.environ.get(name) for name in (clock.ENV_NOW, clock.ENV_ANCHOR)}
    yield clock.move_to
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="session")
def keyring() -> KeyRing:
    return KeyRing.generate()


@pytest.fixture(scope="session")
def test_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    tdb = TestDatabase(tmp_path_factory.mktemp("db"))
    tdb.create()
    yield tdb
    tdb.drop()


@pytest.fixture
def fresh_database(test_database: TestDatabase, tmp_path: Path) -> Iterator[TestDatabase]:
    """An empty database of the same kind, for tests that commit for real or run migrations."""
    other = test_database.new_empty(tmp_path, "fresh" + uuid.uuid4().hex[:6])
    yield other
    other.drop()


@pytest.fixture(scope="session")
def engine(test_database: TestDatabase) -> Iterator[Engine]:
    from app.cli import upgrade_database

    upgrade_database(test_database.url)
    eng = make_engine(test_database.url)
    yield eng
    eng.dispose()


@pytest.fixture
def connection(engine: Engine) -> Iterator[Any]:
    conn = engine.connect()
    trans = conn.begin()
    yield conn
    trans.rollback()
    conn.close()


def _session_on(conn: Any) -> Session:
    return Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)


# The test's own sessions (db_session). The app reads and writes through OTHER sessions on the same connection,
# so after a request the objects a test holds still show what they held before it: asserting on them would pass
# whatever the database holds. The net: the test client and CLI runner of the `app` fixture expire every clean
# object of these sessions after each request / command (`_expire_test_sessions`), so the next attribute read
# goes to the database. Tests still read what they assert through a query or `reread()` so they say so.
_TEST_SESSIONS: list[Session] = []


def _expire_test_sessions() -> None:
    for session in _TEST_SESSIONS:
        dirty = set(session.dirty) | set(session.new) | set(session.deleted)
        for obj in list(session.identity_map.values()):
            if obj not in dirty:  # a change the test has not flushed yet is kept (the request did not see it)
                session.expire(obj)


def reread(session: Session, obj: Any) -> Any:
    """`obj` as the database holds it now (its attributes loaded again), for assertions after a request, a
    command or another session's commit."""
    session.refresh(obj)
    return obj


@pytest.fixture
def db_session(connection: Any) -> Iterator[Session]:
    """The test's session; everything it and the app write is rolled back after the test."""
    session = _session_on(connection)
    _TEST_SESSIONS.append(session)
    yield session
    _TEST_SESSIONS.remove(session)
    session.close()


def make_test_app(engine: Engine, keyring: KeyRing, session_factory: Any = None, **overrides: Any):  # type: ignore[no-untyped-def]
    from app import create_app
    from app.auth.throttle import MemoryThrottle
    from app.db import db
    from config import TestingConfig

    cfg = {
        "DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "KEYRING": keyring,
        "THROTTLE": MemoryThrottle(5, 60),
        "WTF_CSRF_ENABLED": True,
    }
    cfg.update(overrides)
    app = create_app(TestingConfig(), cfg)
    db.bind(app, engine, session_factory)
    app.test_client_class = _ExpiringClient
    app.test_cli_runner_class = _ExpiringCliRunner
    return app


class _ExpiringClient(FlaskClient):
    """A test client after whose every request the test's sessions read the database again (see above)."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().open(*args, **kwargs)
        finally:
            _expire_test_sessions()


class _ExpiringCliRunner(FlaskCliRunner):
    def invoke(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().invoke(*args, **kwargs)
        finally:
            _expire_test_sessions()


@pytest.fixture
def app(engine: Engine, keyring: KeyRing, connection: Any):  # type: ignore[no-untyped-def]
    # No app context is kept pushed: each test-client request must get its own `g`, as in production.
    return make_test_app(engine, keyring, lambda: _session_on(connection))


@pytest.fixture
def two_factor_app(engine: Engine, keyring: KeyRing, connection: Any):  # type: ignore[no-untyped-def]
    """The app with two-factor sign-in on, as production runs it (the suite's default is off, like development)."""
    return make_test_app(engine, keyring, lambda: _session_on(connection), TWO_FACTOR="on")


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def factory(db_session: Session, keyring: KeyRing):  # type: ignore[no-untyped-def]
    from tests.factories import Factory

    return Factory(db_session, keyring)


# -- web helpers ---------------------------------------------------------------------------------------------
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client: Any) -> str:
    for path in ("/login", "/account/password"):
        response = client.get(path)
        match = CSRF_RE.search(response.get_data(as_text=True))
        if match:
            return match.group(1)
    raise AssertionError("no page rendered a CSRF token")


def login(client: Any, username: str, password: str = "correct horse 1", totp_secret: str | None = None,
          code: str | None = None) -> Any:
    """Sign in through /login. With two factors on (the `two_factor_app` fixture), pass the user's `totp_secret`
    (from `enrol`) for a code of the current step, or a `code` (another step's, a recovery code)."""
    token = csrf_token(client)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.status_code == 302, f"login of {username} failed: {response.status_code}"
    if totp_secret is not None or code is not None:
        assert response.headers["Location"].startswith("/login/second-factor"), response.headers["Location"]
        response = second_factor(client, code or totp_code(totp_secret or ""))
        assert response.status_code == 302, f"second factor of {username} refused: {response.status_code}"
    return response


def totp_code(secret: str, steps_ahead: int = 0) -> str:
    """The code an authenticator app shows now on models.clock (or `steps_ahead` 30-second steps later)."""
    from app.auth.two_factor import STEP_SECONDS, current_code

    return current_code(secret, clock.timestamp() + steps_ahead * STEP_SECONDS)


def second_factor(client: Any, code: str) -> Any:
    return client.post("/login/second-factor", data={"code": code, "csrf_token": csrf_token(client)})


SECRET_RE = re.compile(r'data-secret="([A-Z2-7]+)"')
RECOVERY_RE = re.compile(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>")


def enrol(client: Any, username: str, password: str = "correct horse 1") -> tuple[str, list[str]]:
    """First sign-in with two factors on: password, the enrolment page (its secret read from the page), a code
    confirmed; returns (secret, recovery codes). The client is then signed in."""
    token = csrf_token(client)
    response = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert response.headers["Location"].startswith("/login/enrol"), response.headers.get("Location")
    page = client.get("/login/enrol").get_data(as_text=True)
    secret = SECRET_RE.search(page)
    assert secret, "the enrolment page shows no secret"
    done = client.post("/login/enrol", data={"code": totp_code(secret.group(1)), "csrf_token": csrf_token(client)})
    assert done.status_code == 200
    codes = RECOVERY_RE.findall(done.get_data(as_text=True))
    assert len(codes) == 10, "the recovery codes are not shown"
    return secret.group(1), codes


def advance_clock(moved_clock: Any, seconds: float = 60) -> None:
    """Move models.clock on by `seconds` (the next TOTP step: a code is accepted once per step)."""
    from datetime import timedelta

    moved_clock(clock.now() + timedelta(seconds=seconds))


def post(client: Any, url: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
    """POST a form with a valid CSRF token for this client's session."""
    payload = dict(data or {})
    payload.setdefault("csrf_token", csrf_token(client))
    return client.post(url, data=payload, **kwargs)


@pytest.fixture
def helpers():  # type: ignore[no-untyped-def]
    class H:
        csrf_token = staticmethod(csrf_token)
        login = staticmethod(login)
        post = staticmethod(post)
        enrol = staticmethod(enrol)
        totp_code = staticmethod(totp_code)
        second_factor = staticmethod(second_factor)

    return H
