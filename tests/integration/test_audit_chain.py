"""The audit chain: tampering is detected, the database refuses edits, appends by concurrent workers keep one chain."""
from __future__ import annotations

import multiprocessing
import threading
from datetime import timedelta

import pytest
from sqlalchemy import delete, event, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.cli import upgrade_database
from models import AuditEvent, AuditHead, District, append_event, verify_chain
from models.audit import Actor
from models.db import make_engine
from tests.conftest import backend
from tests.integration.keys_support import disable_audit_triggers
from tests.waiting import wait_until

ACTOR = Actor(7, "counselor7", "counselor", "10.1.2.3")


def _append(session: Session, n: int, **kw) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return [
        append_event(session, ACTOR, "student.view", student_public_id=f"p-{i}", target=f"t{i}", detail={"i": i}, **kw)
        for i in range(n)
    ]


def test_an_untouched_chain_verifies_and_counts_every_event(db_session):
    _append(db_session, 5)
    assert verify_chain(db_session) == (5, None)


def test_an_empty_chain_verifies_with_zero_events(db_session):
    assert verify_chain(db_session) == (0, None)


def test_each_event_carries_the_hash_of_the_previous_one(db_session):
    events = _append(db_session, 3)
    assert events[0].prev_hash == "0" * 64
    assert events[1].prev_hash == events[0].hash and events[2].prev_hash == events[1].hash


@pytest.mark.parametrize(
    "column, value",
    [
        ("actor", "someone-else"),
        ("role", "admin"),
        ("action", "student.export"),
        ("student_public_id", "p-other"),
        ("target", "elsewhere"),
        ("client_addr", "127.0.0.1"),
        ("detail", '{"i": 99}'),
        ("actor_id", 8),
        ("prev_hash", "f" * 64),
        ("hash", "e" * 64),
    ],
)
def test_editing_any_column_of_any_event_is_detected(db_session, column, value):
    _append(db_session, 4)
    disable_audit_triggers(db_session)
    db_session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values({column: value}))
    db_session.expire_all()
    count, brk = verify_chain(db_session)
    assert brk is not None and brk.seq == 2 and count == 1


def test_editing_the_time_of_an_event_is_detected(db_session):
    events = _append(db_session, 3)
    disable_audit_triggers(db_session)
    db_session.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(at=events[2].at - timedelta(days=1)))
    db_session.expire_all()
    assert verify_chain(db_session)[1].seq == 3


def test_deleting_an_event_in_the_middle_is_detected(db_session):
    _append(db_session, 5)
    disable_audit_triggers(db_session)
    db_session.execute(delete(AuditEvent).where(AuditEvent.seq == 3))
    db_session.expire_all()
    count, brk = verify_chain(db_session)
    assert (count, brk.seq) == (2, 3) and "missing" in brk.problem


def test_deleting_the_last_events_is_detected_through_the_head(db_session):
    _append(db_session, 5)
    disable_audit_triggers(db_session)
    db_session.execute(delete(AuditEvent).where(AuditEvent.seq >= 4))
    db_session.expire_all()
    count, brk = verify_chain(db_session)
    assert count == 3 and brk is not None and "head records 5" in brk.problem


def test_deleting_every_event_is_detected_through_the_head(db_session):
    _append(db_session, 2)
    disable_audit_triggers(db_session)
    db_session.execute(delete(AuditEvent))
    db_session.expire_all()
    assert verify_chain(db_session)[1] is not None


def test_an_event_forged_after_the_head_is_detected(db_session):
    events = _append(db_session, 2)
    forged = AuditEvent(
        seq=3,
        at=events[-1].at,
        actor_id=None,
        actor="x",
        role="system",
        action="key.rotate",
        student_public_id=None,
        target=None,
        client_addr=None,
        detail="{}",
        prev_hash=events[-1].hash,
    )
    from models.crypto import chain_hash

    forged.hash = chain_hash(events[-1].hash, forged.payload())
    db_session.add(forged)  # a correct link, but the head was not advanced
    db_session.flush()
    count, brk = verify_chain(db_session)
    assert brk is not None and "not recorded in the head" in brk.problem


def test_a_rewritten_head_is_detected(db_session):
    _append(db_session, 3)
    db_session.execute(update(AuditHead).values(last_hash="a" * 64))
    db_session.expire_all()
    assert verify_chain(db_session)[1] is not None


def test_the_database_refuses_update_and_delete_of_audit_events(db_session):
    _append(db_session, 2)
    for statement in (
        update(AuditEvent).where(AuditEvent.seq == 1).values(actor="x"),
        delete(AuditEvent).where(AuditEvent.seq == 2),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            with db_session.begin_nested():
                db_session.execute(statement)
    db_session.expire_all()
    assert verify_chain(db_session) == (2, None)


def test_postgresql_refuses_truncate_and_sqlite_has_no_truncate(db_session):
    _append(db_session, 1)
    if backend() == "postgresql":
        with pytest.raises(DBAPIError, match="append-only"):
            with db_session.begin_nested():
                db_session.execute(text("TRUNCATE audit_events"))
    else:
        with pytest.raises(DBAPIError):
            with db_session.begin_nested():
                db_session.execute(text("TRUNCATE audit_events"))
    assert db_session.scalar(select(AuditEvent.seq)) == 1


def test_verifying_leaves_the_callers_other_objects_in_the_session(db_session):
    _append(db_session, 3)
    district = District(code="DX-keep", name="保留区")
    db_session.add(district)
    verify_chain(db_session, batch=2)
    assert district in db_session
    district.name = "改名区"
    db_session.flush()
    assert db_session.scalar(select(District.name).where(District.code == "DX-keep")) == "改名区"


# -- real commits, several connections ---------------------------------------------------------------------------


@pytest.fixture
def chain_db(fresh_database):  # type: ignore[no-untyped-def]
    upgrade_database(fresh_database.url)
    engine = make_engine(fresh_database.url)
    yield fresh_database.url, engine
    engine.dispose()


def _worker(url: str, label: str, n: int) -> None:
    engine = make_engine(url)
    try:
        for i in range(n):
            with Session(engine) as session:
                append_event(session, Actor.system(label), "test.concurrent", detail={"i": i})
                session.commit()
    finally:
        engine.dispose()


def test_two_worker_processes_appending_at_once_keep_one_valid_chain(chain_db):
    url, engine = chain_db
    ctx = multiprocessing.get_context("fork")
    workers = [ctx.Process(target=_worker, args=(url, f"worker{k}", 200)) for k in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    assert [w.exitcode for w in workers] == [0, 0]
    with Session(engine) as session:
        assert verify_chain(session) == (400, None)
        actors = session.execute(text("SELECT actor, COUNT(*) FROM audit_events GROUP BY actor ORDER BY actor")).all()
    assert [tuple(r) for r in actors] == [("worker0", 200), ("worker1", 200)]


def _wait_until_blocked(engine, thread: threading.Thread, began: threading.Event) -> None:  # type: ignore[no-untyped-def]
    """Wait until the other thread is at its lock wait.

    PostgreSQL: until pg_stat_activity shows a backend of this database waiting on a lock. SQLite: the second
    writer takes the write lock at BEGIN IMMEDIATE, which waits (busy_timeout) while the first transaction holds
    it: `began` is set by the second thread as it issues that BEGIN."""
    if engine.dialect.name != "postgresql":
        assert began.wait(timeout=10), "the second writer never began its transaction"
        assert thread.is_alive()
        return

    def waiting() -> bool:
        with engine.connect() as conn:
            return bool(
                conn.scalar(
                    text(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
                    )
                )
            )

    wait_until(waiting, timeout=10, what="the second writer to wait on the first one's lock")


def test_two_writers_racing_to_create_the_first_event_both_succeed_in_one_chain(chain_db):
    _, engine = chain_db
    first = Session(engine)
    append_event(first, Actor.system("first"), "test.first")  # creates the head row, not committed yet
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with Session(engine) as session:
                append_event(session, Actor.system("second"), "test.second")
                session.commit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=second)
    began = threading.Event()

    def on_begin(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if threading.current_thread() is thread and statement.startswith("BEGIN"):
            began.set()

    event.listen(engine, "before_cursor_execute", on_begin)
    try:
        thread.start()
        _wait_until_blocked(engine, thread, began)
    finally:
        event.remove(engine, "before_cursor_execute", on_begin)
    first.commit()
    first.close()
    thread.join(timeout=60)
    assert errors == []
    with Session(engine) as session:
        assert verify_chain(session) == (2, None)


def test_verifying_while_another_worker_commits_an_event_is_not_a_false_alarm(chain_db, monkeypatch):
    import models.audit as audit

    _, engine = chain_db
    with Session(engine) as session:
        for i in range(3):
            append_event(session, Actor.system("seed"), "test.seed", detail={"i": i})
        session.commit()
    original = audit.iter_events
    calls = {"n": 0}

    def iter_then_append(session, batch=5000, after=0):  # type: ignore[no-untyped-def]
        yield from original(session, batch=batch, after=after)
        calls["n"] += 1
        if calls["n"] == 1:  # another worker commits right after the walk has read the last event
            with Session(engine) as other:
                append_event(other, Actor.system("live"), "test.live")
                other.commit()

    monkeypatch.setattr(audit, "iter_events", iter_then_append)
    # A verifier only reads: on SQLite it asks for a deferred BEGIN so that it holds no write lock.
    with Session(engine.execution_options(sqlite_begin="DEFERRED")) as verifier:
        count, brk = audit.verify_chain(verifier)
    assert brk is None and count in (3, 4)
