"""Migration 0022: students already recorded as having left get `left_on` (the day of their last update), so
the first monthly retention review counts their period; enrolled students get none."""
from __future__ import annotations

from datetime import date

from alembic import command
from sqlalchemy import text

from app.cli import alembic_config
from models.db import make_engine


def test_students_who_left_before_the_upgrade_get_their_leaving_day(fresh_database):
    cfg = alembic_config(fresh_database.url)
    command.upgrade(cfg, "0017")
    engine = make_engine(fresh_database.url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO districts (id, code, name) VALUES (1, 'd', '区')"))
            conn.execute(text(
                "INSERT INTO schools (id, district_id, code, name, type, stage, created_at) "
                "VALUES (1, 1, 's', '校', 'urban', 'junior', :t)"), {"t": "2026-01-01 00:00:00+00:00"})
            for sid, status, updated in ((1, "graduated", "2026-06-30 09:15:00+00:00"),
                                         (2, "enrolled", "2026-06-30 09:15:00+00:00"),
                                         (3, "transferred_out", "2025-02-03 23:00:00+00:00")):
                conn.execute(text(
                    "INSERT INTO students (id, public_id, school_id, grade, gender, birth_ym, status, bidx_version, "
                    "created_at, updated_at) VALUES (:i, :p, 1, 9, 'F', '2011-03', :s, 1, :u, :u)"),
                    {"i": sid, "p": f"00000000-0000-4000-8000-00000000000{sid}", "s": status, "u": updated})
        command.upgrade(cfg, "0022")
        with engine.connect() as conn:
            rows = dict(conn.execute(text("SELECT id, left_on FROM students ORDER BY id")).all())
        as_dates = {k: (date.fromisoformat(str(v)) if v is not None else None) for k, v in rows.items()}
        assert as_dates == {1: date(2026, 6, 30), 2: None, 3: date(2025, 2, 3)}
        command.downgrade(cfg, "0017")
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM students")).scalar() == 3
    finally:
        engine.dispose()
