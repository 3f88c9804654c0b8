"""Import of screening results: every row checked, nothing written when a row is wrong, encodings, XLSX, CLI."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from app.screenings import importer
from models import Actor, Screening, Student
from models.vault import Vault

HEADER = "学籍号,instrument,date," + ",".join(f"q{i}" for i in range(1, 14))


@pytest.fixture
def vault(db_session, keyring):
    return Vault(db_session, keyring, Actor.system("tests"))


def _students(factory, n=3):
    school = factory.school()
    return school, [factory.student(school=school, number=f"IMP{school.id:04d}{i}") for i in range(n)]


def _csv(rows):
    return ("\n".join([HEADER] + rows) + "\n")


def _row(number, instrument="gad7", day="2026-10-12", answers=(1, 0, 2, 1, 0, 1, 0)):
    return ",".join([number, instrument, day] + [str(a) for a in answers])


def _run(app, db_session, vault, data, **kw):
    with app.test_request_context():
        return importer.run_import(
            db_session, Actor.system("tests"), vault, data, school_filter=Student.id.isnot(None), **kw
        )


def count(db_session):
    return db_session.scalar(select(func.count()).select_from(Screening))


def test_a_good_file_is_imported_and_scored(app, db_session, factory, vault):
    _, students = _students(factory)
    data = _csv([_row(f"IMP{students[0].school_id:04d}{i}") for i in range(3)]).encode()
    report = _run(app, db_session, vault, data)
    assert report.written == 3 and not report.errors
    rows = db_session.scalars(select(Screening)).all()
    assert {s.mode for s in rows} == {"import"} and all(s.total == 5 for s in rows)


def test_one_bad_row_writes_nothing_and_the_report_names_the_row_and_field(app, db_session, factory, vault):
    school, _ = _students(factory)
    rows = [_row(f"IMP{school.id:04d}0"), _row(f"IMP{school.id:04d}1", answers=(1, 0, 7, 1, 0, 1, 0)),
            _row(f"IMP{school.id:04d}2")]
    report = _run(app, db_session, vault, _csv(rows).encode())
    assert count(db_session) == 0 and report.written == 0
    assert [(e.row, e.field) for e in report.errors] == [(3, "q3")]
    assert "3" in str(report.errors[0]) and "q3" in str(report.errors[0])


def test_the_valid_rows_can_be_imported_on_request(app, db_session, factory, vault):
    school, _ = _students(factory)
    rows = [_row(f"IMP{school.id:04d}0"), _row("NOSUCHSTUDENT"), _row(f"IMP{school.id:04d}2", day="2026-13-01")]
    report = _run(app, db_session, vault, _csv(rows).encode(), partial=True)
    assert report.written == 1 and count(db_session) == 1
    assert [(e.row, e.field) for e in report.errors] == [(3, "学籍号"), (4, "date")]


def test_a_gbk_file_is_read(app, db_session, factory, vault):
    school, _ = _students(factory)
    data = _csv([_row(f"IMP{school.id:04d}0")]).encode("gbk")
    assert "学籍号".encode("gbk") in data
    report = _run(app, db_session, vault, data)
    assert report.written == 1


def test_a_utf8_file_with_a_bom_is_read(app, db_session, factory, vault):
    school, _ = _students(factory)
    data = b"\xef\xbb\xbf" + _csv([_row(f"IMP{school.id:04d}0")]).encode()
    assert _run(app, db_session, vault, data).written == 1


def test_an_xlsx_file_is_read(app, db_session, factory, vault):
    from openpyxl import Workbook

    school, _ = _students(factory)
    wb = Workbook()
    ws = wb.active
    ws.append(["student_number", "instrument", "date"] + [f"q{i}" for i in range(1, 8)])
    ws.append([f"IMP{school.id:04d}1", "gad7", "2026-10-12", 3, 3, 3, 3, 3, 3, 3])
    buf = io.BytesIO()
    wb.save(buf)
    report = _run(app, db_session, vault, buf.getvalue(), filename="r.xlsx")
    assert report.written == 1
    assert db_session.scalars(select(Screening)).one().suggested_level in ("L2", "L3")


def test_blank_answers_are_missing_and_scored_by_the_instrument_rule(app, db_session, factory, vault):
    school, _ = _students(factory)
    report = _run(app, db_session, vault, _csv([_row(f"IMP{school.id:04d}0", answers=(1, "", 2, 1, 0, 1, 0))]).encode())
    assert report.written == 1


def test_a_file_without_the_required_columns_is_refused(app, db_session, vault):
    with pytest.raises(importer.ImportFileError):
        _run(app, db_session, vault, b"name,score\nx,1\n")


def test_an_oversize_file_is_refused(app, db_session, vault):
    with pytest.raises(importer.ImportFileError):
        _run(app, db_session, vault, b"x" * (importer.MAX_BYTES + 1))


def test_the_cli_dry_run_writes_nothing_and_the_import_writes(app, db_session, factory, tmp_path):
    school, _ = _students(factory)
    path = tmp_path / "results.csv"
    path.write_bytes(_csv([_row(f"IMP{school.id:04d}0"), _row(f"IMP{school.id:04d}1")]).encode("gb18030"))
    runner = app.test_cli_runner()
    result = runner.invoke(args=["screenings", "import", str(path), "--dry-run", "--school", school.code])
    assert result.exit_code == 0, result.output
    assert "2 valid" in result.output and count(db_session) == 0
    result = runner.invoke(args=["screenings", "import", str(path), "--school", school.code])
    assert result.exit_code == 0, result.output
    assert count(db_session) == 2


def test_the_cli_reports_a_bad_row_and_exits_non_zero(app, db_session, factory, tmp_path):
    school, _ = _students(factory)
    path = tmp_path / "bad.csv"
    path.write_text(
        _csv([_row(f"IMP{school.id:04d}0"), _row(f"IMP{school.id:04d}1", instrument="nosuch")]), encoding="utf-8"
    )
    result = app.test_cli_runner().invoke(args=["screenings", "import", str(path)])
    assert result.exit_code == 1
    assert "3" in result.output and "instrument" in result.output
    assert count(db_session) == 0


def test_the_cli_matches_students_within_one_district_and_asks_which_when_there_are_several(
    app, db_session, factory, tmp_path
):
    from models import District

    school, _ = _students(factory)
    path = tmp_path / "results.csv"
    path.write_text(_csv([_row(f"IMP{school.id:04d}0")]), encoding="utf-8")
    db_session.add(District(code="OTHER-D", name="另一个区"))
    db_session.flush()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["screenings", "import", str(path)])
    assert result.exit_code != 0 and "--district" in result.output
    result = runner.invoke(args=["screenings", "import", str(path), "--district", "OTHER-D", "--dry-run"])
    assert result.exit_code == 1 and "学籍号" in result.output  # not found in the other district
    result = runner.invoke(args=["screenings", "import", str(path), "--district", school.district.code])
    assert result.exit_code == 0, result.output
    assert count(db_session) == 1
