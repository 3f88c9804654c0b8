"""Alembic environment: the URL comes from the caller (app CLI, tests) or DATABASE_URL."""
from __future__ import annotations

import os
import sys
from pathlib import Path

from alembic import context

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import models  # noqa: E402  (registers every table on Base.metadata)
from models.db import make_engine  # noqa: E402

config = context.config
target_metadata = models.Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from config import load_config

        url = os.environ.get("DATABASE_URL") or load_config().DATABASE_URL
    return url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    with engine.connect() as conn:
        _run(conn)
    engine.dispose()


def _run(connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # SQLite alters a table by rebuilding it (batch mode: copy, DROP TABLE, rename). With foreign keys enforced
        # (models/db.py turns them on) the DROP deletes the table's rows first, and ON DELETE CASCADE empties every
        # table that refers to it (users -> counselor_schools, ...). SQLite's documented procedure for schema
        # changes: foreign keys off around the change (the PRAGMA is a no-op inside a transaction, so it is sent
        # on the driver connection before one begins), `PRAGMA foreign_key_check` after, then on again.
        _sqlite_pragma(connection, "PRAGMA foreign_keys=OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"foreign keys broken by the migration: {broken[:5]}")
    finally:
        if sqlite:
            if connection.in_transaction():
                connection.rollback()  # a failed run: nothing half-done is kept
            _sqlite_pragma(connection, "PRAGMA foreign_keys=ON")


def _sqlite_pragma(connection, statement: str) -> None:
    if connection.in_transaction():
        connection.commit()  # only what opening the connection began: the migrations have not started
    connection.connection.driver_connection.execute(statement)


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
