"""The Alembic chain: one head, empty -> head, models match the migrations, down to base and up again.

Runs on SQLite and, with XINMIAO_TEST_DB=postgresql, on PostgreSQL (each test gets its own empty database).
"""
from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

import models
from app.cli import alembic_config, upgrade_database
from models.db import make_engine


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def _differences(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": False})
            return compare_metadata(ctx, models.Base.metadata)
    finally:
        engine.dispose()


def test_the_chain_has_exactly_one_head(fresh_database):
    heads = ScriptDirectory.from_config(alembic_config(fresh_database.url)).get_heads()
    assert len(heads) == 1, f"several Alembic heads: {heads}; re-point the newest migration's down_revision"


def test_upgrade_from_empty_to_head_builds_every_model_table(fresh_database):
    assert _tables(fresh_database.url) == set()
    upgrade_database(fresh_database.url)
    assert _tables(fresh_database.url) == set(models.Base.metadata.tables)


def test_models_match_the_migrations(fresh_database):
    upgrade_database(fresh_database.url)
    diffs = _differences(fresh_database.url)
    assert diffs == [], "models and migrations differ (add a migration):\n" + "\n".join(map(str, diffs))


def test_downgrade_to_base_and_upgrade_again(fresh_database):
    cfg = alembic_config(fresh_database.url)
    upgrade_database(fresh_database.url)
    command.downgrade(cfg, "base")
    assert _tables(fresh_database.url) == set()
    upgrade_database(fresh_database.url)
    assert _tables(fresh_database.url) == set(models.Base.metadata.tables)
    assert _differences(fresh_database.url) == []
