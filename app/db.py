"""The request-scoped database session and the one commit point.

Views and services use `db.session`; services flush, never commit. After a request that ended without an
exception and with a status below 400 the session is committed once; otherwise it is rolled back.
CLI commands and scheduled jobs use `db.transaction()` for the same rule outside requests.

The statistics pages (district dashboard, trends, staffing, exports) read through `db.statistics()`: the ONE
place that hands out a read-only session, on the PostgreSQL hot standby `DATABASE_REPLICA_URL` when it is set,
reachable and no more than `REPLICA_MAX_LAG_SECONDS` behind, else on the primary (and the page says why). Routing
is by purpose, never by guessing from SQL: everything else, and every write (the page's audit events included),
uses `db.session` on the primary. A replica session is marked `session.info["read_only"]`; code that would write
(the district rollups) checks it and computes in memory instead.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import Flask, Response, g
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from models import clock
from models.audit import defer_events, take_deferred, write_deferred
from models.db import make_engine, make_session_factory


class Database:
    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.factory: Callable[[], Session] | None = None

    def init_app(self, app: Flask) -> None:
        if app.extensions.get("xinmiao_engine") is None:
            app.extensions["xinmiao_engine"] = make_engine(app.config["DATABASE_URL"])
        self.bind(app, app.extensions["xinmiao_engine"])
        replica_url = app.config.get("DATABASE_REPLICA_URL")
        if replica_url and app.extensions.get("xinmiao_replica_factory") is None:
            replica = make_replica_engine(replica_url, int(app.config.get("REPLICA_CONNECT_TIMEOUT", 2)))
            app.extensions["xinmiao_replica_factory"] = sessionmaker(
                bind=replica, expire_on_commit=False, autoflush=False, info={"read_only": True})
        app.after_request(self._commit_on_success)
        app.teardown_appcontext(self._close)

    def bind(self, app: Flask, engine: Engine, factory: Callable[[], Session] | None = None) -> None:
        app.extensions["xinmiao_engine"] = engine
        app.extensions["xinmiao_session_factory"] = factory or make_session_factory(engine)

    @property
    def session(self) -> Session:
        if "db_session" not in g:
            from flask import current_app, has_request_context, request

            session = current_app.extensions["xinmiao_session_factory"]()
            if has_request_context() and request.method in READ_METHODS:
                # A read: no write lock while the page is built (SQLite: a deferred BEGIN), and its access-audit
                # events are written in their own short transaction at the end (see models.audit).
                defer_events(session)
                session.connection(execution_options={"sqlite_begin": "DEFERRED"})
            g.db_session = session
        return g.db_session

    def statistics(self) -> StatisticsRead:
        """The session the statistics pages read from (one per request): the standby, or the primary.

        Read-only on the standby (each connection sets default_transaction_read_only, and a standby refuses
        writes anyway). Falls back to the primary session when the standby is unreachable, is not in recovery,
        or lags more than REPLICA_MAX_LAG_SECONDS; `StatisticsRead.reason` says which, for the page to show.
        """
        if "db_statistics" in g:
            return g.db_statistics
        from flask import current_app

        factory = current_app.extensions.get("xinmiao_replica_factory")
        if factory is None:
            read = StatisticsRead(self.session, "primary")
        else:
            read = _replica_read(factory, self, float(current_app.config.get("REPLICA_MAX_LAG_SECONDS", 300)))
        g.db_statistics = read
        return read

    @staticmethod
    def _commit_on_success(response: Response) -> Response:
        session: Session | None = g.get("db_session")
        if session is not None:
            if response.status_code < 400:
                queued = take_deferred(session)
                session.commit()
                if queued:
                    _write_audit(queued)
            else:
                session.rollback()
        return response

    @staticmethod
    def _close(exc: BaseException | None) -> None:
        read: StatisticsRead | None = g.pop("db_statistics", None)
        if read is not None and read.source == "replica":
            read.session.rollback()  # read-only: nothing to commit
            read.session.close()
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None or session.in_transaction():
                session.rollback()
            session.close()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One commit point for CLI commands and jobs: commit at the end, roll back on any error."""
        session = self.session
        try:
            yield session
            # A CLI command runs inside a test request context (for translations), which may be a GET: its
            # session then queues access events for the end of a request that never comes. They are written
            # here, in the command's own transaction, so every command audits like a request.
            queued = take_deferred(session)
            if queued:
                write_deferred(session, queued)
            session.commit()
        except BaseException:
            session.rollback()
            raise


READ_METHODS = ("GET", "HEAD")


@dataclass
class StatisticsRead:
    """Where this request's statistics are read: `source` is "primary" (no replica configured), "replica", or
    "fallback" (a replica is configured but not used: `reason` is "unreachable", "not_standby" or "lagging")."""

    session: Session
    source: str
    lag_seconds: float | None = None
    reason: str | None = None


def make_replica_engine(url: str, connect_timeout: int = 2) -> Engine:
    """The standby's engine: every connection read-only, and a short connect timeout (a dead standby must not
    hold a page for long: the page falls back to the primary)."""
    return make_engine(url, connect_args={"connect_timeout": connect_timeout,
                                          "options": "-c default_transaction_read_only=on"})


def probe_replica(factory: Callable[[], Session], max_lag: float) -> tuple[Session | None, float | None, str | None]:
    """Ask the standby whether it may serve: (its open session, lag) when it may, else (None, lag, reason) with
    reason "unreachable", "not_standby" (promoted: a primary of its own, never read behind our back) or "lagging"
    (more than `max_lag` seconds, or unknown). Used per request by `Database.statistics` and by /healthz."""
    session = factory()
    try:
        in_recovery, lag = clock.standby_replay_lag(session)
    except SQLAlchemyError:
        session.close()
        return None, None, "unreachable"
    lag_seconds = None if lag is None else max(0.0, float(lag))
    reason = None
    if not in_recovery:
        reason = "not_standby"
    elif lag_seconds is None or lag_seconds > max_lag:
        reason = "lagging"
    if reason is not None:
        session.close()
        return None, lag_seconds, reason
    session.info["lag_seconds"] = lag_seconds  # figures computed on it are this much older than "now"
    return session, lag_seconds, None


def _replica_read(factory: Callable[[], Session], database: Database, max_lag: float) -> StatisticsRead:
    session, lag_seconds, reason = probe_replica(factory, max_lag)
    if session is None:
        return StatisticsRead(database.session, "fallback", lag_seconds, reason)
    return StatisticsRead(session, "replica", lag_seconds)


def _write_audit(queued: list) -> None:
    """Write a read request's audit events; if this fails the request fails (500): no unrecorded access."""
    from flask import current_app

    writer = current_app.extensions["xinmiao_session_factory"]()
    try:
        write_deferred(writer, queued)
        writer.commit()
    except BaseException:
        writer.rollback()
        raise
    finally:
        writer.close()


db = Database()
