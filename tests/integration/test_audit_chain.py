"""The audit chain: tampering with a linked event is detected, the database refuses edits, appends by concurrent
workers and the linker keep one chain. Appends only insert; each test links (`link_audit`) before verifying."""
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
from models.audit import Actor, link_pending
from models.db import make_engine
from tests.audit_support import link_audit, linked_chain
from tests.conftest import backend
from tests.integration.keys_support import disable_audit_triggers
from tests.waiting import wait_until

ACTOR = Actor(7, "counselor7", "counselor", "10.1.2.3")


def _append(session: Session, n: int, **kw) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    events = [
        append_event(session, ACTOR, "student.view", student_public_id=f"p-{i}", target=f"t{i}", detail={"i": i}, **kw)
        for i in range(n)
    ]
    link_audit(session)
    return events  # type: ignore[return-value]


def test_an_untouched_chain_verifies_and_counts_every_event(db_session):
    _append(db_session, 5)
    assert verify_chain(db_session) == (5, None)


def test_appended_events_join_the_chain_only_when_linked(db_session):
    for i in range(3):
        append_event(db_session, ACTOR, "student.view", detail={"i": i})
    assert verify_chain(db_session) == (0, None)
    assert linked_chain(db_session) == (3, None)


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
    db_session.execute(update(AuditEvent).where(AuditEvent.chain_seq == 2).values({column: value}))
    db_session.expire_all()
    count, brk = verify_chain(db_session)
    assert brk is not None and brk.seq == 2 and count == 1


def test_editing_the_time_of_an_event_is_detected(db_session):
    events = _append(db_session, 3)
    disable_audit_triggers(db_session)
    db_session.execute(update(AuditEvent).where(AuditEvent.chain_seq == 3).values(at=events[2].at - timedelta(days=1)))
    db_session.expire_all()
    assert verify_chain(db_session)[1].seq == 3


def test_deleting_an_event_in_the_middle_is_detected(db_session):
    _append(db_session, 5)
    disable_audit_triggers(db_session)
    db_session.execute(delete(AuditEvent).where(AuditEvent.chain_seq == 3))
    db_session.expire_all()
    count, brk = verify_chain(db_session)
    assert (count, brk.seq) == (2, 3) and "missing" in brk.problem


def test_deleting_the_last_events_is_detected_through_the_head(db_session):
    _append(db_session, 5)
    disable_audit_triggers(db_session)
    db_session.execute(delete(AuditEvent).where(AuditEvent.chain_seq >= 4))
    db_session.expire_all()
    count, brk = verify_chain(db_session)
    assert count == 3 and brk is not None and "head records 5" in brk.problem


def test_deleting_every_event_is_detected_through_the_head(db_session):
    _append(db_session, 2)
    disable_audit_triggers(db_session)
    db_session.execute(delete(AuditEvent))
    db_session.expire_all()
    assert verify_chain(db_session)[1] is not None


@pytest.mark.parametrize("how", ["positions", "contents"])
def test_reordering_two_linked_events_is_detected(db_session, how):
    _append(db_session, 4)
    disable_audit_triggers(db_session)
    two, three = (db_session.scalar(select(AuditEvent.seq).where(AuditEvent.chain_seq == n)) for n in (2, 3))
    if how == "positions":  # swap their chain positions (via a free position: the column is unique)
        db_session.execute(update(AuditEvent).where(AuditEvent.seq == two).values(chain_seq=-1))
        db_session.execute(update(AuditEvent).where(AuditEvent.seq == three).values(chain_seq=2))
        db_session.execute(update(AuditEvent).where(AuditEvent.seq == two).values(chain_seq=3))
    else:  # swap what they say, leaving positions and hashes in place
        a, b = (db_session.execute(select(AuditEvent.detail, AuditEvent.target).where(AuditEvent.seq == s)).one()
                for s in (two, three))
        db_session.execute(update(AuditEvent).where(AuditEvent.seq == two).values(detail=b[0], target=b[1]))
        db_session.execute(update(AuditEvent).where(AuditEvent.seq == three).values(detail=a[0], target=a[1]))
    db_session.expire_all()
    count, brk = verify_chain(db_session)
    assert brk is not None and (count, brk.seq) == (1, 2)


def test_an_event_forged_after_the_head_is_detected(db_session):
    events = _append(db_session, 2)
    forged = AuditEvent(
        chain_seq=3,
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
    db_session.expire_all()
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
        update(AuditEvent).where(AuditEvent.chain_seq == 1).values(actor="x"),
        update(AuditEvent).where(AuditEvent.chain_seq == 1).values(chain_seq=7),  # relinking a linked event
        update(AuditEvent).where(AuditEvent.chain_seq == 2).values(hash="e" * 64),
        delete(AuditEvent).where(AuditEvent.chain_seq == 2),
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            with db_session.begin_nested():
                db_session.execute(statement)
    db_session.expire_all()
    assert verify_chain(db_session) == (2, None)


def test_the_database_lets_the_linker_set_only_the_link_columns_of_an_unlinked_event(db_session):
    event = append_event(db_session, ACTOR, "student.view", detail={"i": 1})
    assert event is not None and event.chain_seq is None
    for values in (
        {"actor": "x"},  # the content of an unlinked event is as fixed as a linked one's
        {"chain_seq": 1, "prev_hash": "0" * 64, "hash": "a" * 64, "detail": "{}"},  # link AND edit at once
        {"chain_seq": 1},  # a partial link (no hashes)
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            with db_session.begin_nested():
                db_session.execute(update(AuditEvent).where(AuditEvent.seq == event.seq).values(values))
    with pytest.raises(DBAPIError, match="append-only"):
        with db_session.begin_nested():
            db_session.execute(delete(AuditEvent).where(AuditEvent.seq == event.seq))
    assert link_audit(db_session).linked == 1  # the linker's own UPDATE passes
    db_session.expire_all()
    assert verify_chain(db_session) == (1, None)


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
    assert db_session.scalar(select(AuditEvent.chain_seq)) == 1


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
        assert link_audit(session).linked == 400
        session.commit()
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


def test_two_linkers_at_once_take_turns_and_keep_one_chain(chain_db):
    """The linker claims the head row (PostgreSQL: FOR UPDATE; SQLite: its BEGIN IMMEDIATE): a second linker
    started while the first has not committed waits, then links only what the first left, after its tip."""
    _, engine = chain_db
    with Session(engine) as session:
        for i in range(5):
            append_event(session, Actor.system("seed"), "test.seed", detail={"i": i})
        append_event(session, Actor.system("late"), "test.late")
        session.commit()
    first = Session(engine)
    assert link_pending(first, batch=2, max_events=5).linked == 5  # holds the claim, not committed yet
    results: list[int] = []
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with Session(engine) as session:
                results.append(link_audit(session).linked)
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
    assert errors == [] and results == [1]
    with Session(engine) as session:
        assert link_audit(session).linked == 0  # idempotent: a third run finds nothing
        assert verify_chain(session) == (6, None)
        late = session.scalar(select(AuditEvent.chain_seq).where(AuditEvent.action == "test.late"))
    assert late == 6


def test_verifying_while_another_worker_commits_an_event_is_not_a_false_alarm(chain_db, monkeypatch):
    import models.audit as audit

    _, engine = chain_db
    with Session(engine) as session:
        for i in range(3):
            append_event(session, Actor.system("seed"), "test.seed", detail={"i": i})
        link_audit(session)
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
                link_audit(other)
                other.commit()

    monkeypatch.setattr(audit, "iter_events", iter_then_append)
    # A verifier only reads: on SQLite it asks for a deferred BEGIN so that it holds no write lock.
    with Session(engine.execution_options(sqlite_begin="DEFERRED")) as verifier:
        count, brk = audit.verify_chain(verifier)
    assert brk is None and count in (3, 4)
