"""Every CLI command that reads or writes student data audits like a request (issue 15): one event naming the
operator ("cli:<os user>"), what was done and how many, read from the audit table after the command.

(`flask roster export` and `flask roster import` wrote nothing: the CLI runs inside a GET test request context,
whose session queues access events for the end of a request that never comes.)"""
from __future__ import annotations

import getpass
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from models import AuditEvent, clock
from tests.conftest import _session_on, make_test_app
from tests.integration.keys_support import key_file_for
from tests.roster_import_corpus import csv_bytes, students

OPERATOR = f"cli:{getpass.getuser()}"[:64]


@pytest.fixture
def cli_app(engine, connection, keyring, tmp_path):  # type: ignore[no-untyped-def]
    return make_test_app(
        engine, keyring, lambda: _session_on(connection), KEYRING=None, KEY_FILE=str(key_file_for(keyring, tmp_path))
    )


def _run(app, *args):
    result = app.test_cli_runner().invoke(args=[str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def _events(db_session, action):
    db_session.expire_all()
    return list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def _one(db_session, action):
    events = _events(db_session, action)
    assert len(events) == 1, (action, [e.action for e in events])
    event = events[0]
    assert event.actor == OPERATOR and event.role == "system", (event.actor, event.role)
    return event, json.loads(event.detail)


def test_roster_import_and_its_dry_run_are_audited(app, factory, db_session, tmp_path):
    school = factory.school()
    path = tmp_path / "r.csv"
    path.write_bytes(csv_bytes(students(5)))
    _run(app, "roster", "import", path, "--school", school.code, "--dry-run")
    _event, detail = _one(db_session, "roster.import_preview")
    assert detail["create"] == 5
    _run(app, "roster", "import", path, "--school", school.code)
    event, detail = _one(db_session, "roster.import")
    assert detail["created"] == 5 and detail["file"] == "r.csv" and event.target == f"school:{school.code}"


def test_roster_export_is_audited_with_the_count(app, factory, db_session, tmp_path):
    school = factory.school()
    for _ in range(3):
        factory.student(school=school)
    _run(app, "roster", "export", tmp_path / "out.xlsx", "--school", school.code)
    event, detail = _one(db_session, "roster.export")
    assert detail["count"] == 3 and detail["school"] == school.code


def test_screenings_import_and_its_dry_run_are_audited(app, factory, db_session, tmp_path):
    school = factory.school()
    student = factory.student(school=school, number="CLI000000001")
    header = "学籍号,instrument,date," + ",".join(f"q{i}" for i in range(1, 8))
    line = f"CLI000000001,gad7,{(clock.today() - timedelta(days=1)).isoformat()}," + ",".join("0" * 7)
    path = tmp_path / "s.csv"
    path.write_text(header + "\n" + line + "\n", encoding="utf-8")
    _run(app, "screenings", "import", path, "--school", school.code, "--dry-run")
    _event, detail = _one(db_session, "screening.import_checked")
    assert detail["rows"] == 1 and detail["valid"] == 1
    _run(app, "screenings", "import", path, "--school", school.code)
    _event, detail = _one(db_session, "screening.imported")
    assert detail["written"] == 1
    assert student.id is not None


def test_rechecks_sweep_is_audited_with_its_counts(app, db_session):
    _run(app, "rechecks", "sweep")
    _event, detail = _one(db_session, "rechecks.sweep")
    assert "notifications_created" in detail


def test_district_refresh_rollups_is_audited(app, factory, db_session):
    factory.school()
    _run(app, "district", "refresh-rollups")
    _event, detail = _one(db_session, "district.rollups_refreshed")
    assert "terms" in detail


def test_keys_verify_and_students_erase_are_audited_as_the_operator(cli_app, factory, db_session):
    student = factory.student()
    _run(cli_app, "keys", "verify")
    _event, detail = _one(db_session, "key.verify")
    assert detail["checked"] >= 1
    _run(cli_app, "students", "erase", student.public_id, "--yes")
    event, _detail = _one(db_session, "student.erased")
    assert event.student_public_id == student.public_id
