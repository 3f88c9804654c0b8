"""Issue 15, nothing sensitive outside the database: a previewed roster waits encrypted (AES-GCM under a key
derived from the master key for this purpose), bound to its token, deleted on confirm, cancel or expiry; uploads
never spool to a clear temporary file."""
from __future__ import annotations

import io
import os
import stat
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.sealed_files import HEADER, PendingFileGone, SealedFiles
from models import Student, clock
from models.crypto import KeyRing
from tests.conftest import login, post
from tests.roster_import_corpus import csv_bytes, students, xlsx_bytes


@pytest.fixture
def upload_dir(app, tmp_path):
    app.config["ROSTER_IMPORT_DIR"] = str(tmp_path / "uploads")
    return tmp_path / "uploads"


def _upload(client, school, data, name="roster.csv"):  # type: ignore[no-untyped-def]
    return post(client, "/roster/import", {"school_id": str(school.id), "file": (io.BytesIO(data), name)},
                content_type="multipart/form-data")


def _secrets(rows) -> list[bytes]:  # type: ignore[no-untyped-def]
    out = []
    for r in rows:
        for value in (r[0], r[2], r[10], r[11]):  # name, student number, guardian, phone
            out += [value.encode("utf-8"), value.encode("gbk")]
    return out


@pytest.mark.parametrize("kind", ["csv-utf8", "csv-gbk", "xlsx"])
def test_a_previewed_roster_lies_encrypted_with_mode_0600(client, factory, upload_dir, kind):
    school = factory.school()
    login(client, factory.counselor(school).username, factory.PASSWORD)
    rows = students(3)
    data = {"csv-utf8": csv_bytes(rows), "csv-gbk": csv_bytes(rows, encoding="gbk"), "xlsx": xlsx_bytes(rows)}[kind]
    assert _upload(client, school, data, "r.xlsx" if kind == "xlsx" else "r.csv").status_code == 200
    files = list(upload_dir.glob("*"))
    assert len(files) == 1
    raw = files[0].read_bytes()
    assert raw[:4] == b"XPU1"
    assert [s for s in _secrets(rows) if s in raw] == []
    assert data not in raw and data[:64] not in raw
    assert stat.S_IMODE(os.stat(files[0]).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(upload_dir).st_mode) == 0o700


def test_confirm_reads_the_sealed_file_and_deletes_it(client, factory, db_session, upload_dir):
    school = factory.school()
    login(client, factory.counselor(school).username, factory.PASSWORD)
    _upload(client, school, csv_bytes(students(2)))
    assert post(client, "/roster/import/confirm", {}).status_code == 302
    assert db_session.scalar(select(func.count()).select_from(Student).where(Student.school_id == school.id)) == 2
    assert list(upload_dir.glob("*")) == []


def test_an_expired_preview_is_refused_and_swept(client, factory, db_session, upload_dir, moved_clock):

    # A preview lives an hour; the sign-in must outlive it here (a school may set XINMIAO_IDLE_MINUTES=120).
    client.application.config["IDLE_TIMEOUT"] = timedelta(hours=2)
    school = factory.school()
    login(client, factory.counselor(school).username, factory.PASSWORD)
    _upload(client, school, csv_bytes(students(2)))
    assert len(list(upload_dir.glob("*"))) == 1
    moved_clock(clock.now() + timedelta(seconds=3601))
    response = post(client, "/roster/import/confirm", {})
    assert response.status_code == 302 and response.headers["Location"].endswith("/roster/import")
    assert db_session.scalar(select(func.count()).select_from(Student).where(Student.school_id == school.id)) == 0
    assert list(upload_dir.glob("*")) == []


def test_expired_previews_of_other_users_are_swept_when_the_import_page_is_opened(app, factory, upload_dir,
                                                                                  moved_clock):

    app.config["IDLE_TIMEOUT"] = timedelta(hours=2)  # the sign-in outlives the hour a preview lives
    school = factory.school()
    a, b = app.test_client(), app.test_client()
    login(a, factory.counselor(school).username, factory.PASSWORD)
    _upload(a, school, csv_bytes(students(2)))
    login(b, factory.counselor(school).username, factory.PASSWORD)
    moved_clock(clock.now() + timedelta(seconds=3601))
    assert b.get("/roster/import").status_code == 200
    assert list(upload_dir.glob("*")) == []


# -- the store itself ------------------------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_a_sealed_file_opens_only_under_its_own_token_header_and_key(tmp_path):
    ring, clock = KeyRing.generate(), Clock()
    store = SealedFiles(tmp_path, ring, "pending-upload", 3600, clock)
    one, two = store.store(b"name,phone\n" * 10), store.store(b"other")
    path_one, path_two = tmp_path / f"{one}.upload", tmp_path / f"{two}.upload"
    assert store.load(one) == b"name,phone\n" * 10
    os.replace(path_one, path_two)  # a file moved to another token
    with pytest.raises(PendingFileGone):
        store.load(two)
    three = store.store(b"abc")
    blob = bytearray((tmp_path / f"{three}.upload").read_bytes())
    magic, version, created = HEADER.unpack_from(blob)
    blob[:HEADER.size] = HEADER.pack(magic, version, created + 3000)  # outlive the expiry
    (tmp_path / f"{three}.upload").write_bytes(bytes(blob))
    with pytest.raises(PendingFileGone):
        store.load(three)
    four = store.store(b"abc")
    other_purpose = SealedFiles(tmp_path, ring, "search-query", 3600, clock)
    with pytest.raises(PendingFileGone):
        other_purpose.load(four)
    other_keys = SealedFiles(tmp_path, KeyRing.generate(), "pending-upload", 3600, clock)
    five = store.store(b"abc")
    with pytest.raises(PendingFileGone):
        other_keys.load(five)


def test_expiry_deletes_on_load_and_sweep_removes_only_expired_files(tmp_path):
    clock = Clock()
    store = SealedFiles(tmp_path, KeyRing.generate(), "pending-upload", 3600, clock)
    old = store.store(b"old")
    clock.now += 1800
    fresh = store.store(b"fresh")
    clock.now += 1801
    assert store.sweep() == 1
    assert store.load(fresh) == b"fresh"
    with pytest.raises(PendingFileGone):
        store.load(old)
    clock.now += 3601
    with pytest.raises(PendingFileGone):
        store.load(fresh)
    assert list(tmp_path.glob("*")) == []


def test_the_purpose_keys_differ_from_each_other_and_from_the_master_key():
    ring = KeyRing.generate()
    a, va = ring.purpose_key("pending-upload")
    b, _ = ring.purpose_key("search-query")
    assert a != b and len(a) == 32 and va == ring.current_version
    assert a != ring._master[ring.current_version]  # type: ignore[attr-defined]
    ring.add_version()
    assert ring.purpose_key("pending-upload")[0] != a
    assert ring.purpose_key("pending-upload", va)[0] == a  # a file sealed before a rotation still opens


def test_an_upload_over_500_kb_never_spools_to_a_temporary_file(client, factory, upload_dir, monkeypatch):
    import tempfile

    import werkzeug.formparser

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("an upload was spooled to a temporary file")

    school = factory.school()
    login(client, factory.counselor(school).username, factory.PASSWORD)
    monkeypatch.setattr(werkzeug.formparser, "SpooledTemporaryFile", refuse)
    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)
    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", refuse)
    data = csv_bytes(students(6000))
    assert len(data) > 500 * 1024
    assert _upload(client, school, data).status_code == 200
