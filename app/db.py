"""The request-scoped database session and the one commit point.

Views and services use `db.session`; services flush, never commit. After a request that ended without an
exception and with a status below 400 the session is committed once; otherwise it is rolled back.
CLI commands and scheduled jobs use `db.transaction()` for the same rule outside requests.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from flask import Flask, Response, g
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

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
