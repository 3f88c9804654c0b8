"""Roster import service: create, idempotent re-import, updates, transfers, all-or-nothing, classes, audit, CLI,
and the export that re-imports unchanged."""
from __future__ import annotations

import io
from datetime import date

import pytest
from sqlalchemy import func, select

from app.roster_import import service
from models import Actor, AuditEvent, SchoolClass, Student
from models.vault import Vault
from tests.roster_import_corpus import csv_bytes, row, students, write, xlsx_bytes

TODAY = date(2026, 11, 29)


@pytest.fixture
def vault(db_session, keyring):
    return Vault(db_session, keyring, Actor.system("tests"))


def _plan(db_session, vault, school, path):
    return service.plan_import(db_session, vault, school, path, today=TODAY)


def _import(db_session, vault, school, path, **kw):
    plan = _plan(db_session, vault, school, path)
    result = service.apply_import(db_session, Actor.system("tests"), vault, plan, **kw)
    db_session.flush()
    return plan, result


def _count(db_session, school):
    return db_session.scalar(select(func.count()).select_from(Student).where(Student.school_id == school.id))


def _events(db_session, action):
    return list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def _by_number(db_session, vault, number):
    return next(
        s
        for s in db_session.scalars(
            select(Student).where(Student.student_number_bidx == vault.blind_index("student_number", number))
        )
        if vault.matches(s, "student_number", number)
    )


def test_a_new_roster_creates_sealed_students_classes_and_care_groups(db_session, factory, vault, tmp_path):
    school = factory.school()
    path = write(tmp_path, "r.csv", csv_bytes(students(30)))
    plan, result = _import(db_session, vault, school, path)
    assert plan.counts()["create"] == 30 and result.created == 30 and result.classes_created == 4
    assert _count(db_session, school) == 30
    names = set(db_session.scalars(select(SchoolClass.name).where(SchoolClass.school_id == school.id)))
    assert names == {"七年级(1)班", "七年级(2)班", "七年级(3)班", "七年级(4)班"}
    st = _by_number(db_session, vault, "G310151201400000005")
    db_session.refresh(st)
    reader = vault.reveal(st, "student.view")
    assert reader.name == "学生5" and reader.identity.guardians == [
        {"name": "家长5", "relation": "", "phone": "13900000005"}
    ]
    assert st.name_enc is not None and b"\xe5\xad\xa6\xe7\x94\x9f5" not in st.name_enc  # sealed, not clear
    assert st.care_groups == ["left_behind"] and st.grade == 7 and st.birth_ym == "2013-06"
    assert st.school_class.name == "七年级(2)班" and st.school_class.school_year == "2026-2027"
    events = _events(db_session, "roster.import")
    assert len(events) == 1  # one event per import, not one per row
    assert (
        events[0].detail["created"] == 30 if isinstance(events[0].detail, dict) else '"created": 30' in events[0].detail
    )


def test_importing_the_same_file_twice_changes_nothing(db_session, factory, vault, tmp_path):
    school = factory.school()
    path = write(tmp_path, "r.xlsx", xlsx_bytes(students(25)))
    _import(db_session, vault, school, path)
    before = {s.id: (s.name_enc, s.guardians_enc, s.class_id, s.updated_at) for s in
              db_session.scalars(select(Student).where(Student.school_id == school.id))}
    plan, result = _import(db_session, vault, school, path)
    assert plan.counts() | {"rows": 0} == {"rows": 0, "create": 0, "update": 0, "unchanged": 25, "transfers": 0,
                                          "classes_new": 0, "errors": 0, "bad_rows": 0}
    after = {s.id: (s.name_enc, s.guardians_enc, s.class_id, s.updated_at) for s in
             db_session.scalars(select(Student).where(Student.school_id == school.id))}
    assert after == before and result.created == 0 and result.updated == 0


def test_a_changed_row_updates_the_student_matched_by_number(db_session, factory, vault, tmp_path):
    school = factory.school()
    rows = students(5)
    _import(db_session, vault, school, write(tmp_path, "a.csv", csv_bytes(rows)))
    rows[2][0] = "改名后"
    rows[2][5] = "7.1"
    rows[2][8] = "是"
    rows[3][11] = "13800000000"
    plan, result = _import(db_session, vault, school, write(tmp_path, "b.csv", csv_bytes(rows)))
    assert {u.row.row: u.fields for u in plan.updates} == {4: ["name", "class", "care_groups"], 5: ["guardians"]}
    assert result.updated == 2 and result.created == 0 and _count(db_session, school) == 5
    st = _by_number(db_session, vault, rows[2][2])
    assert vault.reveal(st, "student.view").name == "改名后"
    assert st.school_class.name == "七年级(1)班" and "hardship" in st.care_groups


def test_an_existing_student_number_typed_differently_still_matches(db_session, factory, vault, tmp_path):
    school = factory.school()
    existing = factory.student(school=school, number="G310151201401010001", name="张小明", grade=7)
    plan = _plan(
        db_session,
        vault,
        school,
        write(tmp_path, "r.csv", csv_bytes([row(number="ｇ３１０１５１２０１４０１０１０００１")])),
    )
    assert not plan.creates and [u.student.id for u in plan.updates] == [existing.id]


def test_a_number_at_another_school_of_the_district_is_a_transfer_to_confirm_never_a_duplicate(
    db_session, factory, vault, tmp_path
):
    here, there = factory.school(), factory.school()
    moving = factory.student(school=there, number="G310151201401010001", grade=7)
    path = write(tmp_path, "r.csv", csv_bytes([row(), row(number="G310151201401010002")]))
    plan, result = _import(db_session, vault, here, path)
    assert [(t.row.row, t.student.id, t.from_school.id) for t in plan.transfers] == [(2, moving.id, there.id)]
    assert result.created == 1 and result.transfers_pending == 1
    db_session.refresh(moving)
    assert moving.school_id == there.id
    numbers = db_session.scalar(select(func.count()).select_from(Student).where(
        Student.student_number_bidx == vault.blind_index("student_number", "G310151201401010001")))
    assert numbers == 1
    plan, result = _import(db_session, vault, here, path, apply_transfers=True)
    assert result.transfers_requested == 1 and result.created == 0
    db_session.refresh(moving)
    assert moving.school_id == there.id  # a request: the file moves when the sending school approves
    from models import TransferRequest

    [req] = db_session.scalars(select(TransferRequest).where(TransferRequest.student_id == moving.id)).all()
    assert (req.status, req.to_school_id, req.to_class.name) == ("pending", here.id, "七年级(3)班")


def test_one_bad_row_writes_nothing_at_all(db_session, factory, vault, tmp_path):
    school = factory.school()
    rows = students(10)
    rows[6][3] = "2014-13"
    plan, result = _import(db_session, vault, school, write(tmp_path, "r.csv", csv_bytes(rows)))
    assert [(p.row, p.column) for p in plan.problems] == [(8, "出生年月")]
    assert not result.written and result.created == 0
    assert _count(db_session, school) == 0
    assert (
        db_session.scalar(select(func.count()).select_from(SchoolClass).where(SchoolClass.school_id == school.id)) == 0
    )
    assert _events(db_session, "roster.import") == []


def test_partial_writes_the_good_rows_only_when_asked(db_session, factory, vault, tmp_path):
    school = factory.school()
    rows = students(4)
    rows[1][1] = "?"
    _, result = _import(db_session, vault, school, write(tmp_path, "r.csv", csv_bytes(rows)), partial=True)
    assert result.created == 3 and result.skipped_rows == 1


def test_a_grade_the_school_does_not_teach_is_an_error(db_session, factory, vault, tmp_path):
    school = factory.school(stage="primary")
    plan = _plan(db_session, vault, school, write(tmp_path, "r.csv", csv_bytes([row()])))
    assert [(p.row, p.column) for p in plan.problems] == [(2, "年级")]


def test_an_existing_class_with_another_spelling_is_reused(db_session, factory, vault, tmp_path):
    school = factory.school()
    klass = factory.klass(school, grade=7, name="7年级(3)班")
    plan, _ = _import(db_session, vault, school, write(tmp_path, "r.csv", csv_bytes([row(klass="初一3班")])))
    assert plan.new_classes == []
    assert _by_number(db_session, vault, "G310151201401010001").class_id == klass.id


def test_the_export_neutralises_formula_cells_and_re_imports_unchanged(db_session, factory, vault, tmp_path):
    from openpyxl import load_workbook

    school = factory.school()
    rows = students(6)
    rows[0][0] = '=HYPERLINK("http://evil.example","x")'
    rows[1][10] = "+SUM(1)"
    _import(db_session, vault, school, write(tmp_path, "r.csv", csv_bytes(rows)))
    out = io.BytesIO()
    count = service.export_xlsx(db_session, vault, school, out)
    assert count == 6 and len(_events(db_session, "roster.export")) == 1
    ws = load_workbook(io.BytesIO(out.getvalue()), read_only=True).worksheets[0]
    cells = [c for r in ws.iter_rows(values_only=True) for c in r if isinstance(c, str)]
    assert "'=HYPERLINK(\"http://evil.example\",\"x\")" in cells and "'+SUM(1)" in cells
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    again = write(tmp_path, "export.xlsx", out.getvalue())
    plan = _plan(db_session, vault, school, again)
    assert plan.ok and len(plan.unchanged) == 6, [p.text() for p in plan.problems]


def test_the_cli_dry_run_writes_nothing_and_the_import_writes(app, db_session, factory, tmp_path):
    school = factory.school()
    path = write(tmp_path, "r.csv", csv_bytes(students(8), encoding="gbk"))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["roster", "import", str(path), "--school", school.code, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "8 to create" in result.output and _count(db_session, school) == 0
    result = runner.invoke(args=["roster", "import", str(path), "--school", school.code])
    assert result.exit_code == 0, result.output
    assert "8 created" in result.output and _count(db_session, school) == 8


def test_the_cli_reports_bad_rows_in_chinese_and_exits_non_zero(app, db_session, factory, tmp_path):
    school = factory.school()
    rows = students(3)
    rows[1][1] = "未知"
    path = write(tmp_path, "r.csv", csv_bytes(rows))
    result = app.test_cli_runner().invoke(args=["roster", "import", str(path), "--school", school.code])
    assert result.exit_code == 1
    assert "第 3 行" in result.output and "性别" in result.output
    assert _count(db_session, school) == 0


def test_the_cli_refuses_an_unknown_school(app, tmp_path):
    path = write(tmp_path, "r.csv", csv_bytes([row()]))
    result = app.test_cli_runner().invoke(args=["roster", "import", str(path), "--school", "NOPE"])
    assert result.exit_code != 0 and "NOPE" in result.output
