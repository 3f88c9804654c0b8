"""The district area reads no identity or clinical-content column and shows none: behaviour, not SQL text.

Two checks over everything the district role and its jobs do — every page and export the district officer can
reach (tests/integration/district_crawl.py), the service called directly (live and from rollups, for one district
and for all), the rollup jobs of the scheduler and the `flask district refresh-rollups` command:

1. Every column every statement reads is recorded (tests/sql_reads.py: the compiled statement walked, so an ORM
   entity load counts as reading every column of its table) and none of them may be a column the models mark
   IDENTITY, CLINICAL or KEY (`models.base.sensitive_columns`: sealed names, numbers, guardians, their blind
   indexes, public ids and record uids, answers, scores, notes, plans, reasons, wrapped keys).
2. Every marked column of every row is overwritten with a marker ("XMARK-<id>"; bytes for sealed columns, a
   marker number for the score) and the crawl, the jobs and the command run again: no output, no stored rollup
   may hold a marker, a seeded student's name, number, guardian name or phone, or an old public id or uid (the
   append-only audit events keep the real public ids: those are among the secrets looked for).

The world (tests/integration/district_world.py) is extended with a case, a referral with notes, a recheck, a
warning change, a check-in and a response draft, so that each clinical table has a row the markers land in.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Integer, LargeBinary, String, cast, func, literal, select, text, update
from sqlalchemy.orm import Session

from app.district import service, tasks
from app.district.service import Selection
from models import Base, DistrictRollup, Screening, Student, Warning
from models.base import sensitive_columns
from models.care import CareCase, CareCheckin, CaseEntry
from models.rechecks import Recheck
from models.screenings import ClassSession, ResponseDraft, WarningChange
from tests.conftest import login
from tests.integration.district_crawl import crawl
from tests.integration.district_world import TERM, World, build
from tests.sql_reads import ColumnReads

MARKER = "XMARK"
MARKER_SCORE = 987654321
NOW = datetime(2026, 10, 15, 2, 0, tzinfo=UTC)


def enrich(db: Session, world: World) -> None:
    """A row in every clinical table: a case with a plan, a referral with notes, a recheck, a change, a check-in."""
    student = world.students[0]
    warning = db.scalars(select(Warning).where(Warning.student_id == student.id)).first()
    assert warning is not None
    case = CareCase(student_id=student.id, school_id=student.school_id, warning_id=warning.id, level="L1",
                    status="open", plan_enc=b"plan", close_reason_enc=b"reason")
    db.add(case)
    db.flush()
    db.add(CaseEntry(case_id=case.id, student_id=student.id, kind="referral", occurred_on=date(2026, 9, 12),
                     note_enc=b"note", destination_enc=b"dest", feedback_enc=b"feedback", told_whom_enc=b"told"))
    db.add(Recheck(student_id=student.id, school_id=student.school_id, warning_id=warning.id, case_id=case.id,
                   level="L1", instrument_id="cesdc", due_on=date(2026, 10, 1), status="done", on_time=True))
    db.add(WarningChange(warning_id=warning.id, student_id=student.id, action="confirmed", from_level="L1",
                         to_level="L1", reason_enc=b"why"))
    db.add(CareCheckin(student_id=student.id, school_id=student.school_id, term=TERM, occurred_on=date(2026, 9, 20),
                       by_role="counselor", note_enc=b"checkin"))
    scr = db.scalars(select(Screening).where(Screening.student_id == student.id)).first()
    assert scr is not None
    scr.answers_enc, scr.result_json, scr.flags, scr.band = b"answers", '{"sum": 20}', '["critical"]', "high"
    session = ClassSession(campaign_id=world.campaign.id, class_id=student.class_id, code="PRIV0001",
                           expires_at=NOW + timedelta(hours=1))
    db.add(session)
    db.flush()
    db.add(ResponseDraft(session_id=session.id, student_id=student.id, instrument_id="cesdc", answers_enc=b"draft"))
    db.flush()


def run_district(app: Any, client: Any, db: Session, district_id: int) -> dict[str, str]:
    """Everything the district area does: the crawl, the service (live, rollups, all districts), jobs, command.

    Returns every output: url -> text for the crawl, plus the command's output."""
    outputs = crawl(client)
    with app.app_context():
        today = date(2026, 10, 15)
        for did in (district_id, None):
            for selection in (Selection(TERM, None), Selection(None, None)):
                for max_age in (None, service.ROLLUP_MAX_AGE):
                    service.compute_figures(db, did, selection, 5, today, rollup_max_age=max_age,
                                            open_max_age=max_age)
            service.trends(db, did, 5, today)
            service.staffing(db, did, 5)
            service.list_campaigns(db, did)
            service.resolve_selection(db, did, Selection(None, None))
            service.refresh_rollups(db, did, today, "Asia/Shanghai", running=True)
        service.district_ids(db)
        tasks.refresh_due_rollups(db, NOW)
        tasks.refresh_all_rollups(db, NOW)
    result = app.test_cli_runner().invoke(args=["district", "refresh-rollups", "--running"])
    assert result.exit_code == 0, result.output
    outputs["flask district refresh-rollups"] = result.output
    return outputs


def _world(app: Any, client: Any, factory: Any, db_session: Session) -> World:
    world = build(factory)
    enrich(db_session, world)
    login(client, world.district_user.username)
    return world


@pytest.mark.timeout(900)  # the whole district crawl, twice over: ~25 s on a free core, minutes on a loaded one
def test_no_district_statement_reads_an_identity_or_clinical_column(app, client, factory, db_session, engine):
    world = _world(app, client, factory, db_session)
    with ColumnReads(engine) as reads:
        outputs = run_district(app, client, db_session, world.district_user.district_id)
    assert len(outputs) > 80 and reads.statements > 200
    # The recorder saw the statements that count children (it is not looking at nothing) ...
    for column in [("students", "gender"), ("screenings", "positive"), ("warnings", "confirmed_level"),
                   ("care_cases", "status"), ("case_entries", "kind"), ("rechecks", "on_time"),
                   ("district_rollups", "cubes")]:
        assert column in reads.reads, column
    # ... and none of them read a marked column.
    assert reads.sensitive() == []


def _mark_every_sensitive_column(db: Session) -> int:
    """Overwrite every marked column of every row with a marker; returns the number of rows changed."""
    changed = 0
    for (table_name, column_name), _kind in sorted(sensitive_columns(Base.metadata).items()):
        if table_name == "audit_events":  # append-only (a trigger refuses UPDATE): its public ids stay, and the
            continue                      # old public ids are among the secrets looked for
        table = Base.metadata.tables[table_name]
        column = table.c[column_name]
        key = next(iter(table.primary_key.columns))
        marker = literal(f"{MARKER}-", String) + cast(key, String)
        if isinstance(column.type, LargeBinary):
            value: Any = cast(marker, LargeBinary)
        elif isinstance(column.type, Integer):
            value = MARKER_SCORE
        else:
            length = getattr(column.type, "length", None)
            value = func.substr(marker, 1, length) if length else marker
        changed += db.execute(update(table).values({column_name: value})).rowcount
    db.expire_all()
    return changed


@pytest.mark.timeout(900)  # the whole district crawl, twice over: ~25 s on a free core, minutes on a loaded one
def test_with_markers_in_every_identity_and_clinical_column_no_output_shows_one(app, client, factory, db_session):
    world = _world(app, client, factory, db_session)
    secrets = set(world.names) | set(world.numbers) | {st.public_id for st in world.students}
    for student in world.students:
        identity = factory.vault.reveal(student, "test.collect").identity
        for guardian in identity.guardians:
            secrets |= {guardian["name"], guardian["phone"]}
    secrets |= set(db_session.scalars(select(Screening.uid))) | set(db_session.scalars(select(Warning.uid)))
    assert len(secrets) > 4 * len(world.students)

    assert _mark_every_sensitive_column(db_session) > 200
    marked = db_session.scalar(select(Student.name_enc).where(Student.id == world.students[0].id))
    assert bytes(marked).startswith(MARKER.encode())  # the markers are in place
    assert db_session.scalar(select(Screening.total).limit(1)) == MARKER_SCORE

    outputs = run_district(app, client, db_session, world.district_user.district_id)
    outputs["district_rollups"] = "\n".join(db_session.scalars(select(DistrictRollup.cubes)))
    assert len(outputs) > 80
    for where, output in outputs.items():
        assert MARKER.lower() not in output.lower(), (where, MARKER)
        assert str(MARKER_SCORE) not in output, (where, MARKER_SCORE)
        for secret in secrets:
            assert secret not in output, (where, secret)


def test_the_recorder_sees_a_read_of_a_sealed_column_however_it_is_written(db_session, factory, engine):
    """Not vacuous: an aggregate over a sealed column, an entity load, a subquery and raw SQL are all caught."""
    student = factory.student(name="记录同学")
    db_session.expunge_all()
    statements = {
        "aggregate": lambda: db_session.execute(select(func.count(Student.name_enc))).all(),
        "entity": lambda: db_session.get(Student, student.id),
        "subquery": lambda: db_session.execute(
            select(func.count()).select_from(select(Student.name_bidx.label("x")).subquery())).all(),
        "where": lambda: db_session.execute(
            select(func.count(Student.id)).where(Student.public_id == "p")).all(),
        "text": lambda: db_session.execute(text("SELECT count(name_enc) FROM students")).all(),
        "update": lambda: db_session.execute(
            update(Student).where(Student.student_number_bidx == "x").values(grade=1)),
    }
    expected = {"aggregate": "students.name_enc", "entity": "students.name_enc", "subquery": "students.name_bidx",
                "where": "students.public_id", "text": "students.name_enc", "update": "students.student_number_bidx"}
    for name, run in statements.items():
        with ColumnReads(engine) as reads:
            run()
        assert expected[name] in {column for column, _, _ in reads.sensitive()}, name
    with ColumnReads(engine) as reads:
        db_session.execute(select(Student.school_id, Student.grade, Student.gender, func.count(Student.id))
                           .group_by(Student.school_id, Student.grade, Student.gender)).all()
    assert reads.sensitive() == [] and ("students", "gender") in reads.reads


@pytest.mark.parametrize("suffix", ["_enc", "_bidx"])
def test_every_sealed_and_blind_index_column_and_every_public_handle_is_marked(suffix):
    """A sealed column, blind index, public id or record uid added later without a marking fails here."""
    marked = sensitive_columns(Base.metadata)
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if column.name.endswith(suffix) or column.name in ("uid", "public_id", "student_public_id"):
                assert (table.name, column.name) in marked, f"{table.name}.{column.name} has no sensitive marking"
    assert marked[("students", "name_enc")] == "identity"
    assert marked[("screenings", "answers_enc")] == "clinical"
