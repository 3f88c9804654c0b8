"""The operator's commands: keys init, district set, passwords never required on the command line, the roster
export's mode, and configuration errors as one clear line."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

from sqlalchemy import select

from config import ROOT
from models import AuditEvent, District, User
from models.crypto import KeyRing


def _flask(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items()
            if not k.startswith("XINMIAO_") or k in ("XINMIAO_NOW", "XINMIAO_NOW_ANCHOR")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "flask", "--app", "app", *args], cwd=ROOT, env=full, text=True,
                          capture_output=True, timeout=120)


def test_a_configuration_error_is_one_line_not_a_traceback(tmp_path):
    result = _flask("users", "list", XINMIAO_ENV="production", SECRET_KEY="")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "Error: configuration: production configuration refuses to start without: SECRET_KEY, "
        "XINMIAO_KEY_FILE or XINMIAO_MASTER_KEYS"]
    result = _flask("users", "list", XINMIAO_ENV="production", SECRET_KEY="s" * 48,
                    XINMIAO_KEY_FILE=str(tmp_path / "k.json"), XINMIAO_TRUSTED_PROXIES="10.0.0.300",
                    DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "XINMIAO_TRUSTED_PROXIES: '10.0.0.300' is not an IP address" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_keys_init_writes_a_private_key_file_and_never_overwrites(tmp_path):
    path = tmp_path / "etc" / "keys.json"
    env = {"XINMIAO_ENV": "production", "SECRET_KEY": "s" * 48, "XINMIAO_KEY_FILE": str(path),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    result = _flask("keys", "init", **env)
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and "Back it up now" in result.stdout
    assert KeyRing.from_file(path).versions == [1]
    before = path.read_bytes()
    result = _flask("keys", "init", **env)
    assert result.returncode == 1 and "already exists; refusing to overwrite it" in result.stderr
    assert path.read_bytes() == before


def test_district_set_names_the_district_and_is_audited(app, db_session):
    result = app.test_cli_runner().invoke(args=["district", "set", "--code", "310151", "--name", "崇明区"])
    assert result.exit_code == 0, result.output
    assert [(d.code, d.name) for d in db_session.scalars(select(District))] == [("310151", "崇明区")]
    assert db_session.scalars(select(AuditEvent.action).where(AuditEvent.action == "district.set")).all()
    result = app.test_cli_runner().invoke(args=["district", "set", "--code", "bad code!", "--name", "x"])
    assert result.exit_code == 2 and "district code" in result.output


def test_users_add_asks_for_the_password_hidden_and_twice(app, db_session):
    result = app.test_cli_runner().invoke(args=["users", "add", "--username", "it2", "--role", "admin"],
                                          input="prompted-pw-1\nprompted-pw-1\n")
    assert result.exit_code == 0, result.output
    assert "prompted-pw-1" not in result.output  # hidden
    assert db_session.scalars(select(User).where(User.username == "it2")).one().role == "admin"


def test_users_add_reads_a_password_file_or_the_environment(app, db_session, tmp_path, monkeypatch):
    secret = tmp_path / "pw"
    secret.write_text("from-a-file-1\n")
    result = app.test_cli_runner().invoke(args=["users", "add", "--username", "it3", "--role", "admin",
                                                "--password-file", str(secret)])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("XINMIAO_USER_PASSWORD", "from-the-env-1")
    result = app.test_cli_runner().invoke(args=["users", "add", "--username", "it4", "--role", "admin"])
    assert result.exit_code == 0, result.output
    from argon2 import PasswordHasher

    users = {u.username: u for u in db_session.scalars(select(User).where(User.username.in_(["it3", "it4"])))}
    assert PasswordHasher().verify(users["it3"].password_hash, "from-a-file-1")
    assert PasswordHasher().verify(users["it4"].password_hash, "from-the-env-1")


def test_roster_export_is_private_and_says_it_holds_names(app, factory, tmp_path):
    school = factory.school()
    factory.student(school)
    out = tmp_path / "roster.xlsx"
    out.write_bytes(b"")
    out.chmod(0o644)  # an older file others could read
    result = app.test_cli_runner().invoke(args=["roster", "export", str(out), "--school", school.code])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert "holds students' names" in result.output and out.stat().st_size > 0
