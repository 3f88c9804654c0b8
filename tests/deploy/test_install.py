"""The README's "Production deployment" block, run literally on a fresh PostgreSQL database (every line but the
`# system` ones), and the database roles it makes: the app role reads and writes rows, and nothing more."""
from __future__ import annotations

import getpass
import os
import stat
import subprocess
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from tests.deploy.support import (
    ROOT,
    SYSTEM_COMMANDS,
    drop_installation,
    pg_admin_url,
    readme_block,
    redis_url,
    runnable,
    unique,
)

ADMIN_PASSWORD = "install-test-pw-1"


def _env_file(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key] = value
    return out


@pytest.fixture(scope="module")
def installation(tmp_path_factory):
    etc = tmp_path_factory.mktemp("etc") / "xinmiao"
    db, owner, app_role = unique("xm_readme"), unique("xm_owner"), unique("xm_app")
    from sqlalchemy.engine import make_url

    admin = make_url(pg_admin_url())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("XINMIAO_", "FLASK_")) and k not in
           ("DATABASE_URL", "SECRET_KEY", "REDIS_URL")}
    env.update({
        "XINMIAO_DIR": str(ROOT), "XINMIAO_ETC": str(etc), "XINMIAO_USER": getpass.getuser(),
        "XINMIAO_DB": db, "XINMIAO_OWNER_ROLE": owner, "XINMIAO_APP_ROLE": app_role,
        "PGHOSTPORT": f"{admin.host or '127.0.0.1'}:{admin.port or 5432}", "PGADMIN_URL": pg_admin_url(),
        "REDIS_URL": redis_url(), "DISTRICT_CODE": "310151", "DISTRICT_NAME": "崇明区",
        "ADMIN_USERNAME": "it-admin",
    })
    if "XINMIAO_NOW" in os.environ:  # the run's moved clock reaches the child processes too
        env["XINMIAO_NOW"] = os.environ["XINMIAO_NOW"]
    script, skipped = runnable(readme_block())
    result = subprocess.run(
        ["bash", "-eo", "pipefail", "-c", script], cwd=ROOT, env=env, text=True, capture_output=True,
        input=f"{ADMIN_PASSWORD}\n{ADMIN_PASSWORD}\n", timeout=300, start_new_session=True,  # no tty: read stdin
    )
    try:
        yield {"result": result, "skipped": skipped, "etc": etc, "db": db, "owner": owner, "app_role": app_role,
               "env": env}
    finally:
        drop_installation(db, (app_role, owner))


def test_the_readme_block_runs_to_its_end(installation):
    result = installation["result"]
    out = result.stdout + result.stderr
    # the last line is `flask doctor`: everything is in order but the scheduler, whose unit the test does not start
    assert result.returncode == 1, out
    assert "1 problem(s): scheduler" in out, out
    for name in ("settings", "translations", "keys", "database", "redis", "migrations", "keys open data", "proxy"):
        assert f"ok   {name}:" in out, out
    assert "Traceback" not in out
    for line in installation["skipped"]:
        assert line.split("#")[0].strip().startswith(SYSTEM_COMMANDS), line


def test_the_key_file_and_secrets_are_private(installation):
    etc = installation["etc"]
    for path in (etc / "keys" / "keys.json", etc / "owner.env"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert stat.S_IMODE((etc / "xinmiao.env").stat().st_mode) == 0o640
    settings = _env_file(etc / "xinmiao.env")
    assert "@" not in settings["SECRET_KEY"] and len(settings["SECRET_KEY"]) >= 64
    assert not any(v.startswith("@") or "@@" in v for v in settings.values()), settings
    assert settings["DATABASE_URL"].startswith(f"postgresql://{installation['app_role']}:")


def _app_conn(installation):
    url = _env_file(installation["etc"] / "xinmiao.env")["DATABASE_URL"]
    return psycopg.connect(url, autocommit=True)


def test_the_district_and_the_admin_exist_for_the_app_role(installation):
    with _app_conn(installation) as conn:
        assert conn.execute("SELECT code, name FROM districts").fetchall() == [("310151", "崇明区")]
        assert conn.execute("SELECT role FROM users WHERE username = 'it-admin'").fetchall() == [("admin",)]
        assert conn.execute("SELECT count(*) FROM audit_events").fetchone()[0] >= 2


def test_the_admin_password_was_taken_from_the_prompt(installation):
    from argon2 import PasswordHasher

    with _app_conn(installation) as conn:
        digest = conn.execute("SELECT password_hash FROM users WHERE username = 'it-admin'").fetchone()[0]
    assert PasswordHasher().verify(digest, ADMIN_PASSWORD)


@pytest.mark.parametrize("statement", [
    "ALTER TABLE students ADD COLUMN sneaky integer",
    "ALTER TABLE audit_events DISABLE TRIGGER ALL",
    "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update",
    "DROP TABLE audit_events",
    "UPDATE audit_events SET detail = '{}'",
    "DELETE FROM audit_events",
    "TRUNCATE audit_events",
    "UPDATE alembic_version SET version_num = '0001'",
    "CREATE TABLE mine (id integer)",
])
def test_the_app_role_is_refused(installation, statement):
    with _app_conn(installation) as conn, pytest.raises(errors.InsufficientPrivilege):
        conn.execute(statement)


def test_the_app_role_may_link_audit_events_and_nothing_else(installation):
    """The scheduler's linker runs as the app role: UPDATE of the three link columns only (grants.sql), and the
    trigger allows only a row that has none of them to get all three. All rolled back at the end."""
    with _app_conn(installation) as conn, conn.transaction(force_rollback=True):
        conn.execute("INSERT INTO audit_events (at, actor, role, action, detail) "
                     "VALUES ('2026-01-01T00:00:00Z', 'x', 'system', 'test.link', '{}')")  # seq: the identity's
        conn.execute("UPDATE audit_events SET chain_seq = -1, prev_hash = 'a', hash = 'b' "
                     "WHERE action = 'test.link' AND chain_seq IS NULL")
        assert conn.execute("SELECT chain_seq FROM audit_events WHERE action = 'test.link'").fetchone() == (-1,)
        with pytest.raises(errors.RaiseException, match="append-only"), conn.transaction():
            conn.execute("UPDATE audit_events SET hash = 'c' WHERE action = 'test.link'")  # linked already
        with pytest.raises(errors.InsufficientPrivilege), conn.transaction():
            conn.execute("UPDATE audit_events SET actor = 'y' WHERE action = 'test.link'")


def test_the_app_role_reads_and_writes_rows(installation):
    with _app_conn(installation) as conn:
        conn.execute("UPDATE districts SET name = name")
        conn.execute("SELECT count(*) FROM students").fetchone()
        owner = conn.execute("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_events'").fetchone()[0]
    assert owner == installation["owner"]
