"""deploy/backup/: a nightly dump with retention, the key file backed up apart, and a restore drill that the app,
with the key backup, reads a student's name from and whose audit chain verifies. Then the upgrade procedure of
docs/operations.md from the previous release's schema, with data in place."""
from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import select

from app.cli import upgrade_database
from models import Actor, Student
from models.crypto import KeyRing
from models.db import make_engine
from models.vault import Vault
from tests.deploy.support import ROOT, drop_installation, pg_admin_url, unique

BACKUP = ROOT / "deploy" / "backup"
PREVIOUS_RELEASE = "0007"  # the schema of the release before this one (docs/operations.md, "Upgrading")


def _db_url(name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(pg_admin_url()).set(database=name).render_as_string(hide_password=False)


def _create(name: str) -> str:
    import psycopg

    with psycopg.connect(pg_admin_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return _db_url(name)


def _seed(url: str, keyring: KeyRing) -> str:
    """A school with a student (sealed name) and a few audit events, committed; the student's public id."""
    from sqlalchemy.orm import Session

    from tests.factories import Factory

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            factory = Factory(session, keyring)
            student = factory.student(name="林小雨")
            factory.vault.reveal(student, "student.viewed")
            factory.vault.reveal(student, "student.viewed")
            session.commit()
            return student.public_id
    finally:
        engine.dispose()


def _name_of(url: str, keyring: KeyRing, public_id: str) -> str | None:
    from sqlalchemy.orm import Session

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            student = session.scalars(select(Student).where(Student.public_id == public_id)).one()
            return Vault(session, keyring, Actor.system("tests")).reveal(student, "student.viewed").name
    finally:
        engine.dispose()


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items()
            if not k.startswith("XINMIAO_") or k in ("XINMIAO_NOW", "XINMIAO_NOW_ANCHOR")}
    full.update(env)
    return subprocess.run(args, cwd=ROOT, env=full, text=True, capture_output=True, timeout=300)


@pytest.fixture
def databases():
    names: list[str] = []
    yield names
    for name in names:
        drop_installation(name, ())


def test_backup_then_restore_drill_reads_a_name_and_the_chain_verifies(databases, tmp_path):
    source, scratch = unique("xm_bk_src"), unique("xm_bk_drill")
    databases += [source, scratch]
    url = _create(source)
    upgrade_database(url)
    key_file = tmp_path / "live" / "keys.json"
    keyring = KeyRing.generate_file(key_file)
    public_id = _seed(url, keyring)

    dumps = tmp_path / "dumps"
    dumps.mkdir()
    old = dumps / "xinmiao-20200101T000000Z.dump"
    old.write_bytes(b"old")
    os.utime(old, (1577836800, 1577836800))  # 2020-01-01: older than any retention, whatever today is
    result = _run([str(BACKUP / "xinmiao-backup")], DATABASE_URL=url, BACKUP_DIR=str(dumps), KEEP_DAYS="30")
    assert result.returncode == 0, result.stderr
    assert f"deleted old {old}" in result.stdout and not old.exists()  # retention
    [dump] = list(dumps.glob("xinmiao-*.dump"))
    assert stat.S_IMODE(dump.stat().st_mode) == 0o600

    key_backups = tmp_path / "elsewhere"
    for _ in range(2):
        result = _run([str(BACKUP / "xinmiao-backup-keys")], XINMIAO_KEY_FILE=str(key_file),
                      KEYS_BACKUP_DIR=str(key_backups))
        assert result.returncode == 0, result.stderr
    assert "unchanged since" in result.stdout  # the second run copies nothing new
    [key_copy] = list(key_backups.glob("keys-*.json"))
    assert stat.S_IMODE(key_copy.stat().st_mode) == 0o600

    key_file.unlink()  # the server is lost: only the dump and the key backup remain
    result = _run([str(BACKUP / "xinmiao-restore-drill"), str(dump), str(key_copy), scratch],
                  RESTORE_ADMIN_URL=pg_admin_url(), KEEP="1",
                  # the drill's own checkpoint file: the installation's (instance/) anchors another chain
                  XINMIAO_AUDIT_CHECKPOINT_FILE=str(tmp_path / "drill-checkpoints.jsonl"))
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "audit chain OK: " in out and ", 0 failed" in out and "OK, " in out
    assert _name_of(_db_url(scratch), KeyRing.from_file(key_copy), public_id) == "林小雨"


def test_upgrade_from_the_previous_release_keeps_the_data(databases, tmp_path):
    """docs/operations.md "Upgrading": (scheduler stopped) migrate, as the owner, from the previous release."""
    name = unique("xm_upgrade")
    databases.append(name)
    url = _create(name)
    # Data as the previous release holds it: written by this release's code, then the schema taken back to the
    # previous release's revision (every migration since has a downgrade), so the upgrade below starts from that
    # schema with real rows in it (this release's models no longer fit the old schema, so they cannot write it).
    from alembic import command

    from app.cli import alembic_config

    upgrade_database(url)
    key_file = tmp_path / "keys.json"
    keyring = KeyRing.generate_file(key_file)
    public_id = _seed(url, keyring)
    command.downgrade(alembic_config(url), PREVIOUS_RELEASE)
    env = {"XINMIAO_ENV": "production", "SECRET_KEY": "u" * 48, "DATABASE_URL": url,
           "XINMIAO_KEY_FILE": str(key_file), "REDIS_URL": "",
           "XINMIAO_AUDIT_CHECKPOINT_FILE": str(tmp_path / "audit-checkpoints.jsonl")}
    flask = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "app"]
    result = _run([*flask, "db", "upgrade"], **env)
    assert result.returncode == 0, result.stderr
    result = _run([*flask, "audit", "verify"], **env)
    assert result.returncode == 0 and "audit chain OK" in result.stdout, result.stdout + result.stderr
    assert _name_of(url, keyring, public_id) == "林小雨"


def test_the_scripts_refuse_without_their_settings(tmp_path):
    result = _run([str(BACKUP / "xinmiao-backup")], DATABASE_URL="")
    assert result.returncode != 0 and "set DATABASE_URL" in result.stderr
    result = _run([str(BACKUP / "xinmiao-restore-drill")])
    assert result.returncode != 0 and "usage: xinmiao-restore-drill" in result.stderr


def test_backup_scripts_are_executable():
    for script in ("xinmiao-backup", "xinmiao-backup-keys", "xinmiao-restore-drill"):
        assert os.access(BACKUP / script, os.X_OK), script
    assert Path(BACKUP / "xinmiao-backup").read_text().startswith("#!/usr/bin/env bash")
