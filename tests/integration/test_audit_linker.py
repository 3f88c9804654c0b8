"""The audit linker (issue 18, "Reads do not queue on one row"): appending an event takes no shared lock; the
background linker chains events deterministically and idempotently; `flask audit verify` reports events left
unlinked past the bound; migration 0019 keeps chains built before it verifiable.

Concurrency, precisely:
- PostgreSQL: two transactions that have each inserted their audit event and not committed never wait on each
  other (no shared row is read or written; the insertion number comes from a sequence, which never blocks). The
  test holds both open at a barrier.
- SQLite (WAL): there is one writer at a time, so two *writing* transactions cannot both be open. What holds: a
  read request's page reads run in a deferred transaction that takes no lock, so two readers each holding an
  open transaction with its event appended (queued) proceed side by side; the audit write is ONE INSERT in a
  short write transaction at the end, with no read of any shared row (no read-modify-write); and while one
  reader holds that write transaction open, the other's reads still run (WAL readers never wait for the writer).
  Only the second INSERT waits, for the first's COMMIT.
"""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import event, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.audit.tasks import JOBS, link_sweep
from app.cli import upgrade_database
from models import AuditEvent, AuditHead, append_event, clock, verify_chain
from models.audit import (
    GENESIS,
    Actor,
    ChainLinkError,
    defer_events,
    event_payload,
    link_pending,
    take_deferred,
    unlinked_report,
    write_deferred,
)
from models.base import UTCDateTime
from models.crypto import chain_hash
from models.db import make_engine
from tests.audit_support import link_audit
from tests.conftest import _session_on, backend, login, make_test_app
from tests.integration.keys_support import disable_audit_triggers

ACTOR = Actor(5, "counselor5", "counselor", "10.0.0.5")


@pytest.fixture
def real_db(fresh_database):  # type: ignore[no-untyped-def]
    upgrade_database(fresh_database.url)
    engine = make_engine(fresh_database.url)
    yield engine
    engine.dispose()


def _audit_statements(engine, sink: list[str]):  # type: ignore[no-untyped-def]
    def listener(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if "audit_" in statement:
            sink.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", listener)
    return listener


# -- two concurrent readers ---------------------------------------------------------------------------------------


def test_two_readers_with_their_events_appended_in_open_transactions_never_wait_on_each_other(real_db):
    """Each thread does what a GET request does (app/db.py): a deferred read transaction, its access event
    appended (queued), the page's reads, then the event written in a short transaction of its own. Both threads
    meet at a barrier while each holds its open transaction with its event appended, and again after their
    reads: had either waited for the other, the barrier would time out."""
    engine = real_db
    statements: list[str] = []
    barrier = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def reader(k: int) -> None:
        try:
            session = Session(engine)
            defer_events(session)
            session.connection(execution_options={"sqlite_begin": "DEFERRED"})
            append_event(session, ACTOR, "student.view", target=f"reader{k}")
            session.execute(select(AuditEvent.seq).limit(1)).all()  # the page reads (a snapshot)
            barrier.wait()  # both transactions open, both events appended
            session.execute(text("SELECT count(*) FROM audit_events")).scalar()
            barrier.wait()
            queued = take_deferred(session)
            session.commit()
            session.close()
            with Session(engine) as writer:
                write_deferred(writer, queued)
                writer.commit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    listener = _audit_statements(engine, statements)
    try:
        threads = [threading.Thread(target=reader, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert errors == []
    writes = [s for s in statements if not s.startswith("SELECT")]
    assert len(writes) == 2 and all(s.startswith("INSERT INTO audit_events") for s in writes), writes
    assert not any("audit_head" in s for s in statements)  # nothing shared is read or written
    with Session(engine) as session:
        assert link_audit(session).linked == 2
        session.commit()
        assert verify_chain(session) == (2, None)


def _postgresql_two_uncommitted_inserts(engine) -> None:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []
    inserted: list[int] = []

    def writer(k: int) -> None:
        try:
            with Session(engine) as session:
                session.execute(text("SET LOCAL lock_timeout = '5s'"))
                ev = append_event(session, ACTOR, "student.view", target=f"writer{k}")  # INSERT, flushed
                assert ev is not None
                inserted.append(ev.seq)
                barrier.wait()  # both inserts done, neither committed
                session.commit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    # A linker holding its claim on the head row, not committed, blocks no insert either.
    linker = Session(engine)
    link_pending(linker)
    threads = [threading.Thread(target=writer, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    linker.commit()
    linker.close()
    assert errors == [] and len(set(inserted)) == 2
    with Session(engine) as session:
        assert link_audit(session).linked == 2
        session.commit()
        assert verify_chain(session) == (2, None)


def _sqlite_reads_beside_an_uncommitted_insert(engine) -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        append_event(session, ACTOR, "seed")
        session.commit()
    first = Session(engine)
    write_deferred(first, [dict(actor=ACTOR, action="student.view", target="first")])  # write lock held
    read_done = threading.Event()
    second_written = threading.Event()
    errors: list[BaseException] = []

    def second() -> None:
        try:
            with Session(engine.execution_options(sqlite_begin="DEFERRED")) as page:
                page.execute(select(AuditEvent.seq, AuditEvent.action)).all()  # a page's reads: no waiting
                page.execute(text("SELECT count(*) FROM users")).scalar()
                page.commit()
            read_done.set()
            with Session(engine) as writer:  # one writer at a time: this INSERT waits for the first COMMIT
                write_deferred(writer, [dict(actor=ACTOR, action="student.view", target="second")])
                writer.commit()
            second_written.set()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    assert read_done.wait(timeout=10), "a reader waited for another reader's uncommitted audit insert"
    assert not second_written.is_set()
    first.commit()
    first.close()
    thread.join(timeout=60)
    assert errors == [] and second_written.is_set()
    with Session(engine) as session:
        assert link_audit(session).linked == 3
        session.commit()
        assert verify_chain(session) == (3, None)


def test_two_writing_transactions_each_with_its_event_inserted_and_uncommitted(real_db):
    """PostgreSQL: both INSERTs succeed while both transactions are open (and while a linker holds its claim).
    SQLite: one writer at a time, so what is tested is what WAL allows: another reader's reads run while one
    holds its audit INSERT uncommitted, and the second INSERT waits only for that COMMIT."""
    if backend() == "postgresql":
        _postgresql_two_uncommitted_inserts(real_db)
    else:
        _sqlite_reads_beside_an_uncommitted_insert(real_db)


def test_a_page_view_writes_one_insert_and_never_touches_the_head(client, factory, engine, db_session):
    school = factory.school()
    student = factory.student(school=school, name="林晓雨")
    login(client, factory.counselor(school).username, factory.PASSWORD)
    statements: list[str] = []
    listener = _audit_statements(engine, statements)
    try:
        assert client.get(f"/students/{student.public_id}").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert len(statements) == 1 and statements[0].startswith("INSERT INTO audit_events"), statements


# -- the linker ---------------------------------------------------------------------------------------------------


def _append(session: Session, n: int, tag: str = "e") -> None:
    for i in range(n):
        append_event(session, ACTOR, "student.view", student_public_id=f"{tag}-{i}", detail={"i": i})


def test_the_linker_chains_in_insertion_order_and_the_hash_covers_the_stored_content(db_session):
    _append(db_session, 4)
    result = link_audit(db_session)
    assert result.linked == 4 and result.head_seq == 4
    rows = db_session.scalars(select(AuditEvent).where(AuditEvent.chain_seq.is_not(None))
                              .order_by(AuditEvent.seq)).all()
    assert [r.chain_seq for r in rows] == [1, 2, 3, 4]
    prev = GENESIS
    for r in rows:  # recomputed here from the columns, independently of the linker's own loop
        expected = chain_hash(prev, event_payload(r.chain_seq, r.at, r.actor_id, r.actor, r.role, r.action,
                                                  r.student_public_id, r.target, r.client_addr, r.detail))
        assert (r.prev_hash, r.hash) == (prev, expected)
        prev = expected
    assert db_session.execute(select(AuditHead.seq, AuditHead.last_hash)).one() == (4, prev)


def test_the_linker_is_idempotent_and_batch_size_does_not_change_the_chain(db_session):
    _append(db_session, 7)
    savepoint = db_session.begin_nested()
    link_pending(db_session, batch=1)
    one_by_one = db_session.execute(select(AuditEvent.seq, AuditEvent.chain_seq, AuditEvent.hash)
                                    .order_by(AuditEvent.seq)).all()
    savepoint.rollback()
    db_session.expire_all()
    assert link_pending(db_session, batch=3, max_events=5).linked == 5  # at most max_events per run
    assert link_pending(db_session).linked == 2
    assert link_pending(db_session).linked == 0  # nothing left: a second run changes nothing
    at_once = db_session.execute(select(AuditEvent.seq, AuditEvent.chain_seq, AuditEvent.hash)
                                 .order_by(AuditEvent.seq)).all()
    assert at_once == one_by_one
    assert verify_chain(db_session) == (7, None)


def test_the_linker_refuses_to_extend_a_chain_whose_tip_disagrees_with_the_head(db_session, app):
    _append(db_session, 3)
    link_audit(db_session)
    disable_audit_triggers(db_session)
    db_session.execute(text("UPDATE audit_events SET hash = :h WHERE chain_seq = 3"), {"h": "b" * 64})
    db_session.expire_all()
    _append(db_session, 2, "new")
    with pytest.raises(ChainLinkError, match="does not carry the hash"):
        link_pending(db_session)
    with app.app_context():
        assert link_sweep(db_session, clock.now(), None) == {"linked": 0, "refused": 1}  # type: ignore[arg-type]
    assert db_session.scalar(select(AuditEvent.seq).where(AuditEvent.chain_seq > 3)) is None


def test_the_scheduler_links_every_second_and_quietly(app, db_session):
    job = next(j for j in JOBS if j.id == "audit_link")
    assert job.seconds_key == "AUDIT_LINK_SECONDS" and job.quiet and not job.by_hand
    assert app.config["AUDIT_LINK_SECONDS"] == 1
    _append(db_session, 3)
    with app.app_context():
        assert link_sweep(db_session, clock.now(), None) == {"linked": 3, "refused": 0}  # type: ignore[arg-type]
        assert link_sweep(db_session, clock.now(), None) == {"linked": 0, "refused": 0}  # type: ignore[arg-type]
    assert verify_chain(db_session) == (3, None)


def test_the_runner_adds_the_linker_on_a_seconds_interval(app):
    from apscheduler.schedulers.background import BackgroundScheduler

    from app.scheduler.lease import make_lease
    from app.scheduler.runner import JOB_DEFAULTS, SchedulerRunner

    scheduler = BackgroundScheduler(job_defaults=dict(JOB_DEFAULTS))
    scheduler.start(paused=True)
    try:
        with app.app_context():
            from app.db import db

            engine = db.session.get_bind().engine
        SchedulerRunner(app, make_lease(engine, "x")).add_jobs(scheduler)
        job = scheduler.get_job("audit_link")
        assert job.trigger.interval == timedelta(seconds=1)
    finally:
        scheduler.shutdown(wait=False)


def test_a_quiet_job_prints_its_line_only_when_it_did_something(app, db_session, monkeypatch):
    from app.scheduler import runner as runner_module
    from app.scheduler.lease import make_lease
    from app.scheduler.runner import SchedulerRunner

    lines: list[str] = []
    with app.app_context():
        from app.db import db

        engine = db.session.get_bind().engine
    lease = make_lease(engine, "quiet-test", ttl=30)
    monkeypatch.setattr(lease, "confirm", lambda session: True)
    runner = SchedulerRunner(app, lease, out=lines.append)
    runner.held = True
    _append(db_session, 2)
    assert runner.run_job("audit_link") == {"audit_link": {"linked": 2, "refused": 0}}
    assert len([line for line in lines if line.startswith("job ")]) == 1
    assert runner.run_job("audit_link") == {"audit_link": {"linked": 0, "refused": 0}}
    assert len([line for line in lines if line.startswith("job ")]) == 1  # nothing done: nothing printed
    from models import SchedulerJobRun

    db_session.expire_all()
    run = db_session.get(SchedulerJobRun, "audit_link")
    assert run is not None and '"linked": 2' in run.last_counts  # the idle run wrote no run row either
    assert "audit_link" in {j.id for j in runner_module.JOBS}


# -- unlinked events in `flask audit verify` ----------------------------------------------------------------------


@pytest.fixture
def cli_app(engine, connection, keyring):  # type: ignore[no-untyped-def]
    return make_test_app(engine, keyring, lambda: _session_on(connection))


def test_unlinked_events_are_pending_while_young_and_a_fault_once_older_than_the_bound(cli_app, db_session):
    _append(db_session, 2)
    link_audit(db_session)
    append_event(db_session, ACTOR, "student.view", target="young")
    ok = cli_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "audit chain OK: 2 events" in ok.output and "1 events pending (not linked yet" in ok.output
    append_event(db_session, ACTOR, "student.view", target="old", at=clock.now() - timedelta(seconds=61))
    bad = cli_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert bad.exit_code == 1
    assert "audit chain FAULT: 1 events not linked for more than 60 s" in bad.stderr
    assert "2 unlinked in all" in bad.stderr
    report = unlinked_report(db_session, clock.now(), 60)
    assert (report.pending, report.stale, report.ok) == (2, 1, False)
    linked = cli_app.test_cli_runner().invoke(args=["audit", "link"])
    assert linked.exit_code == 0 and "linked 2 events; the chain holds 4" in linked.output
    again = cli_app.test_cli_runner().invoke(args=["audit", "link"])
    assert "linked 0 events; the chain holds 4" in again.output
    assert cli_app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_the_bound_is_a_setting(engine, connection, keyring, db_session):
    app = make_test_app(engine, keyring, lambda: _session_on(connection), AUDIT_UNLINKED_MAX_AGE_SECONDS=600)
    append_event(db_session, ACTOR, "student.view", at=clock.now() - timedelta(seconds=120))
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "all younger than 600 s" in result.output


def test_doctor_reports_events_left_unlinked_past_the_bound(engine, connection, keyring, db_session, tmp_path):
    from tests.integration.test_doctor import _production_app

    keyring.save(tmp_path / "keys.json")
    app = _production_app(engine, connection, tmp_path / "keys.json")
    append_event(db_session, ACTOR, "student.view")
    assert "ok   audit linker: 1 events pending" in app.test_cli_runner().invoke(args=["doctor"]).output
    append_event(db_session, ACTOR, "student.view", at=clock.now() - timedelta(minutes=5))
    result = app.test_cli_runner().invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "FAIL audit linker: 1 audit events not linked for more than 60 s" in result.output
    assert "job audit_link" in result.output


# -- migration 0019 -----------------------------------------------------------------------------------------------


def _old_chain(conn, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    """Events as the appender before 0019 wrote them: seq = position, hashes over "seq", the head row."""
    prev, hashes = GENESIS, []
    for seq in range(1, n + 1):
        at = clock.now() - timedelta(days=1, seconds=-seq)
        row = dict(seq=seq, at=at, actor_id=1, actor="old", role="admin", action="student.view",
                   student_public_id=None, target=f"t{seq}", client_addr=None, detail="{}")
        payload = event_payload(seq, at, 1, "old", "admin", "student.view", None, f"t{seq}", None, "{}")
        digest = chain_hash(prev, payload)
        conn.execute(AuditEvent.__table__.insert().values(**row, prev_hash=prev, hash=digest))  # type: ignore[attr-defined]
        hashes.append(digest)
        prev = digest
    conn.execute(text("INSERT INTO audit_head (id, seq, last_hash) VALUES (1, :n, :h)"), {"n": n, "h": prev})
    return hashes


def test_migration_0019_keeps_an_old_chain_verifiable_and_new_events_extend_it(fresh_database):
    upgrade_database(fresh_database.url, "0017")
    engine = make_engine(fresh_database.url)
    try:
        with engine.begin() as conn:
            hashes = _old_chain(conn, 3)
        upgrade_database(fresh_database.url, "0019")
        with Session(engine) as session:
            assert verify_chain(session) == (3, None)
            assert session.scalars(select(AuditEvent.chain_seq).order_by(AuditEvent.seq)).all() == [1, 2, 3]
            event_ = append_event(session, ACTOR, "student.view", target="new")
            assert event_ is not None and event_.seq == 4 and event_.chain_seq is None  # after the old rows
            assert link_audit(session).head_seq == 4
            session.commit()
            assert verify_chain(session) == (4, None)
            assert session.scalar(select(AuditEvent.prev_hash).where(AuditEvent.chain_seq == 4)) == hashes[-1]
            with pytest.raises(DBAPIError, match="append-only"):  # backfilled rows are protected
                with session.begin_nested():
                    session.execute(text("UPDATE audit_events SET target = 'x' WHERE chain_seq = 2"))
            session.rollback()
    finally:
        engine.dispose()


def test_migration_0019_downgrades_linking_what_is_left_to_a_chain_the_old_code_verifies(fresh_database):
    from alembic import command

    from app.cli import alembic_config

    upgrade_database(fresh_database.url, "0017")
    engine = make_engine(fresh_database.url)
    try:
        with engine.begin() as conn:
            _old_chain(conn, 2)
        upgrade_database(fresh_database.url, "0019")
        with Session(engine) as session:
            append_event(session, ACTOR, "student.view", target="linked")
            link_audit(session)
            append_event(session, ACTOR, "student.view", target="left unlinked")
            session.commit()
        engine.dispose()
        command.downgrade(alembic_config(fresh_database.url), "0017")
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT seq, at, actor_id, actor, role, action, student_public_id, target, "
                                     "client_addr, detail, prev_hash, hash FROM audit_events ORDER BY seq")
                                .columns(at=UTCDateTime())).all()
            head = conn.execute(text("SELECT seq, last_hash FROM audit_head")).one()
            columns = {c["name"] for c in inspect(conn).get_columns("audit_events")}
        assert [r.seq for r in rows] == [1, 2, 3, 4] and "chain_seq" not in columns
        assert [r.target for r in rows][2:] == ["linked", "left unlinked"]
        prev = GENESIS
        for r in rows:  # the old verifier's rule: seq is the position, the hash covers it
            expected = chain_hash(prev, event_payload(r.seq, r.at, r.actor_id, r.actor, r.role, r.action,
                                                      r.student_public_id, r.target, r.client_addr, r.detail))
            assert (r.prev_hash, r.hash) == (prev, expected)
            prev = expected
        assert tuple(head) == (4, prev)
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:  # the old triggers are back
            conn.execute(text("DELETE FROM audit_events WHERE seq = 1"))
    finally:
        engine.dispose()


def test_the_chain_stays_one_when_the_linker_waits_for_an_append_that_commits_late(real_db):
    """PostgreSQL hands out insertion numbers at INSERT, commits may land in another order: an event with a
    smaller seq committed after a larger one was linked is linked next, at the following position."""
    engine = real_db
    early = Session(engine)
    append_event(early, ACTOR, "student.view", target="early")  # smaller seq, not committed yet
    if backend() == "postgresql":
        with Session(engine) as late:
            append_event(late, ACTOR, "student.view", target="late")
            late.commit()
        with Session(engine) as linker:
            assert link_audit(linker).linked == 1
            linker.commit()
    early.commit()
    early.close()
    with Session(engine) as linker:
        link_audit(linker)
        linker.commit()
        assert verify_chain(linker)[1] is None
        order = linker.scalars(select(AuditEvent.target).order_by(AuditEvent.chain_seq)).all()
    assert order == (["late", "early"] if backend() == "postgresql" else ["early"])
