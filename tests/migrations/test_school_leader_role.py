"""Revision 0018 (the school leader role) on a database with data: nothing referring to users is lost (SQLite
rebuilds the users table to change its CHECK constraint), the new role is accepted after and refused before, and
the downgrade refuses while a school leader exists."""
from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy.exc import IntegrityError

from app.cli import alembic_config, upgrade_database
from models.db import make_engine

USER = ("INSERT INTO users (id, username, display_name, password_hash, role, active, full_time, session_version, "
        "created_at) VALUES ({id}, '{name}', '{name}', 'x', '{role}', true, true, 1, '2026-09-01 00:00:00+00:00')")


def _run(url: str, *statements: str) -> list:
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            out = [conn.exec_driver_sql(s).fetchall() if s.startswith("SELECT") else conn.exec_driver_sql(s)
                   for s in statements]
        return [o for o in out if isinstance(o, list)]
    finally:
        engine.dispose()


def _seed(url: str) -> None:
    _run(url,
         "INSERT INTO districts (id, code, name) VALUES (1, 'd1', 'District')",
         "INSERT INTO schools (id, district_id, code, name, type, stage, created_at) "
         "VALUES (1, 1, 's1', 'School', 'urban', 'junior', '2026-09-01 00:00:00+00:00')",
         USER.format(id=1, name="counselor1", role="counselor"),
         "INSERT INTO counselor_schools (user_id, school_id) VALUES (1, 1)",
         "INSERT INTO notifications (user_id, kind, dedup_key, params, requires_ack, created_at) "
         "VALUES (1, 'digest', 'k1', '{}', false, '2026-09-01 00:00:00+00:00')")


def test_the_upgrade_keeps_every_row_that_refers_to_a_user(fresh_database):
    url = fresh_database.url
    upgrade_database(url, "0017")
    _seed(url)
    with pytest.raises(IntegrityError):
        _run(url, USER.format(id=2, name="leader1", role="school_leader"))
    upgrade_database(url)
    counts = _run(url, "SELECT count(*) FROM counselor_schools", "SELECT count(*) FROM notifications",
                  "SELECT count(*) FROM users")
    assert [c[0][0] for c in counts] == [1, 1, 1]
    _run(url, USER.format(id=2, name="leader1", role="school_leader"),
         "INSERT INTO counselor_schools (user_id, school_id) VALUES (2, 1)")
    with pytest.raises(IntegrityError):
        _run(url, USER.format(id=3, name="nobody", role="principal"))


def test_the_downgrade_refuses_while_a_school_leader_exists(fresh_database):
    url = fresh_database.url
    upgrade_database(url)
    _seed(url)
    _run(url, USER.format(id=2, name="leader1", role="school_leader"))
    cfg = alembic_config(url)
    with pytest.raises(RuntimeError, match="school_leader"):
        command.downgrade(cfg, "0017")
    assert _run(url, "SELECT role FROM users WHERE id = 2") == [[("school_leader",)]]
    _run(url, "DELETE FROM users WHERE id = 2")
    command.downgrade(cfg, "0017")
    assert [c[0][0] for c in _run(url, "SELECT count(*) FROM counselor_schools")] == [1]
    with pytest.raises(IntegrityError):
        _run(url, USER.format(id=2, name="leader1", role="school_leader"))
