"""Engine and session factory for SQLite (default) and PostgreSQL (psycopg 3)."""
from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, Result, create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker


def normalise_url(url: str) -> str:
    # psycopg 3 is our PostgreSQL driver; accept the plain scheme people copy from docs.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalise_url(url)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    """Foreign keys on, WAL for concurrent readers, and SQLAlchemy-managed BEGIN IMMEDIATE.

    pysqlite's own transaction handling breaks SAVEPOINT (used by the tests' rollback-per-test and by
    services' nested transactions), so we turn it off and emit BEGIN ourselves, as SQLAlchemy's docs advise.

    IMMEDIATE, not the default DEFERRED: almost every request both reads and writes (each view of a student
    file appends an audit event). A deferred transaction that read a snapshot and then tries to write after
    another worker committed fails at once with "database is locked" (SQLITE_BUSY_SNAPSHOT; busy_timeout
    cannot help). Taking the write lock at BEGIN makes concurrent workers queue on busy_timeout instead, as
    Rails and Django (transaction_mode=IMMEDIATE) do for SQLite. Writers are serialised either way on SQLite;
    PostgreSQL is the database for many concurrent users.

    Long read-only work (walking the audit chain, statistics) can ask for a plain deferred BEGIN with
    `engine.execution_options(sqlite_begin="DEFERRED")` so that it does not hold the write lock.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:  # a DB-API connection: untyped by nature
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        conn.exec_driver_sql("BEGIN" if mode == "DEFERRED" else "BEGIN IMMEDIATE")


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched. `Session.execute` is typed as returning a `Result`; for a DML statement it
    is a `CursorResult`, which has the count."""
    return cast(CursorResult[Any], result).rowcount


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
