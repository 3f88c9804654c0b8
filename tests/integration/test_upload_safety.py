"""Issue 15, uploads safe everywhere: one gate (app/uploads.py) in front of every importer, and the same hostile
corpus (tests/upload_corpus.py, generated here) refused by each: the roster upload and `flask roster import`, the
screening-results upload and `flask screenings import`."""
from __future__ import annotations

import io
import tracemalloc
import zipfile

import pytest
from sqlalchemy import func, select

from app import uploads
from app.roster_import import parse as roster_parse
from app.screenings import importer as screenings_importer
from models import Screening, Student
from tests.conftest import login, post
from tests.upload_corpus import CORPUS, ROSTER_HEADER, SCREENINGS_HEADER, WIDE, Hostile, workbook

ROSTER_MAX = roster_parse.MAX_BYTES
SCREENINGS_MAX = screenings_importer.MAX_BYTES


def _mentions(text: str, case: Hostile) -> bool:
    return any(e in text for e in case.expect)


@pytest.fixture(scope="module")
def corpus_files():
    """Each hostile file once per importer header (building them is the slow part)."""
    return {
        (case.name, kind): case.build(header, limit)
        for case in CORPUS
        for kind, header, limit in (
            ("roster", ROSTER_HEADER, ROSTER_MAX),
            ("screenings", SCREENINGS_HEADER, SCREENINGS_MAX),
        )
    }


# -- the gate itself -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CORPUS, ids=[c.name for c in CORPUS])
def test_the_gate_refuses_each_hostile_file_with_a_message_naming_the_problem(app, case):
    data = case.build(ROSTER_HEADER, ROSTER_MAX)
    limits = uploads.Limits(max_bytes=ROSTER_MAX)
    with app.test_request_context():
        with pytest.raises(uploads.UploadError) as caught:
            if uploads.inspect(data, limits) == "xlsx":
                list(uploads.xlsx_rows(data, limits, max_rows=10_000))
            else:
                uploads.decode_text(data)
        assert _mentions(str(caught.value.args[0]), case), str(caught.value.args[0])


def test_a_bomb_is_refused_from_the_directory_without_inflating_it(app, monkeypatch):
    from tests.roster_import_corpus import zip_bomb

    inflated = []
    real_read = zipfile.ZipExtFile.read

    def counting_read(self, n=-1):  # type: ignore[no-untyped-def]
        data = real_read(self, n)
        inflated.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting_read)
    with app.test_request_context(), pytest.raises(uploads.UploadError):
        uploads.inspect(zip_bomb(64), uploads.Limits())
    assert sum(inflated) < 64 * 1024  # only small prologs, never the 64 MB sheet


def test_real_workbooks_and_texts_pass_the_gate(app):
    limits = uploads.Limits()
    with app.test_request_context():
        assert uploads.inspect(workbook(ROSTER_HEADER, [["张三", "男", "G1", "2014-03", "7", "7.1"]]), limits) == "xlsx"
        for encoding in ("utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"):
            text = (
                "姓名,性别\n张三,男\n䶮𠀀,女\n"
                if encoding in ("utf-8", "utf-8-sig", "gb18030", "utf-16")
                else "姓名,性别\n张三,男\n"
            )
            data = text.encode(encoding)
            assert uploads.inspect(data, limits) == "text"
            assert uploads.decode_text(data)[0].lstrip("\ufeff") == text


def test_the_limits_come_from_the_config(app):
    app.config.update(UPLOAD_MAX_ZIP_MEMBERS=5, UPLOAD_MAX_COLUMNS=3)
    with app.app_context():
        limits = uploads.current_limits(1000)
    assert (limits.max_bytes, limits.max_members, limits.max_columns) == (1000, 5, 3)


# -- every importer ------------------------------------------------------------------------------------------------
def _roster_web(client, factory, school):  # type: ignore[no-untyped-def]
    def run(data: bytes, name: str) -> tuple[bool, str]:
        r = post(
            client,
            "/roster/import",
            {"school_id": str(school.id), "file": (io.BytesIO(data), name)},
            content_type="multipart/form-data",
        )
        return r.status_code in (400, 413), r.get_data(as_text=True) if r.status_code != 413 else "MB (413)"

    return run


def _screenings_web(client):  # type: ignore[no-untyped-def]
    def run(data: bytes, name: str) -> tuple[bool, str]:
        r = post(
            client,
            "/screenings/import",
            {"file": (io.BytesIO(data), name), "campaign": ""},
            content_type="multipart/form-data",
        )
        return r.status_code in (400, 413), r.get_data(as_text=True) if r.status_code != 413 else "MB (413)"

    return run


def _cli(app, tmp_path, args):  # type: ignore[no-untyped-def]
    def run(data: bytes, name: str) -> tuple[bool, str]:
        path = tmp_path / name
        path.write_bytes(data)
        result = app.test_cli_runner().invoke(args=[args[0], "import", str(path), *args[1:]])
        path.unlink()
        return result.exit_code != 0, result.output

    return run


def _check_every_case(run, corpus_files, kind: str) -> None:  # type: ignore[no-untyped-def]
    wrong = {}
    for case in CORPUS:
        refused, text = run(corpus_files[(case.name, kind)], case.filename)
        if not refused or not _mentions(text, case):
            wrong[case.name] = (refused, text[-300:])
    assert wrong == {}


def test_the_roster_upload_refuses_the_whole_corpus(app, client, factory, db_session, tmp_path, corpus_files):
    app.config["ROSTER_IMPORT_DIR"] = str(tmp_path / "uploads")
    school = factory.school()
    login(client, factory.counselor(school).username, factory.PASSWORD)
    _check_every_case(_roster_web(client, factory, school), corpus_files, "roster")
    assert db_session.scalar(select(func.count()).select_from(Student)) == 0
    assert list((tmp_path / "uploads").glob("*")) == []  # nothing refused is kept


def test_the_roster_cli_refuses_the_whole_corpus(app, factory, db_session, tmp_path, corpus_files):
    school = factory.school()
    _check_every_case(_cli(app, tmp_path, ["roster", "--school", school.code]), corpus_files, "roster")
    assert db_session.scalar(select(func.count()).select_from(Student)) == 0


def test_the_screenings_upload_refuses_the_whole_corpus(client, factory, db_session, corpus_files):
    school = factory.school()
    login(client, factory.counselor(school).username, factory.PASSWORD)
    _check_every_case(_screenings_web(client), corpus_files, "screenings")
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 0


def test_the_screenings_cli_refuses_the_whole_corpus(app, factory, db_session, tmp_path, corpus_files):
    school = factory.school()
    _check_every_case(
        _cli(app, tmp_path, ["screenings", "--school", school.code, "--dry-run"]), corpus_files, "screenings"
    )
    assert db_session.scalar(select(func.count()).select_from(Screening)) == 0


@pytest.mark.parametrize("kind", ["roster", "screenings"])
def test_the_wide_sheet_is_read_without_padding_its_rows(app, kind):
    """Before: the screenings importer padded each of 20,000 rows to 16,384 cells (a 3,000-row, 20 KB version took
    19.6 s and 413 MB; the attacker's 208 KB one 118 s and 542 MB). Checked by the memory Python allocates while
    parsing (deterministic for the same code and file, unlike a wall-clock limit): padded rows need hundreds of MB."""
    data = WIDE.build(ROSTER_HEADER if kind == "roster" else SCREENINGS_HEADER, 0)
    assert len(data) < 400 * 1024
    tracemalloc.start()
    with app.test_request_context():
        if kind == "roster":
            with pytest.raises(roster_parse.RosterFileError):  # a header and no students
                roster_parse.parse_file(data, this_year=2026)
        else:
            assert screenings_importer.parse(data, "wide.xlsx") == []  # blank rows only
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 64 * 1024 * 1024, f"{peak / 2**20:.0f} MB allocated at peak"
