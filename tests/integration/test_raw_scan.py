"""A scan of the raw database after seeding finds no name, student number, phone number or note, in UTF-8 or GBK;
nor does a scan of the temporary folders and the server's access and application logs after searches and a
previewed, unconfirmed roster upload through a real server (the last test).

SQLite: the database file's bytes and its -wal file. PostgreSQL: a `pg_dump` of the database, with every bytea
hex literal decoded back to bytes (a plaintext stored in a binary column would otherwise hide as hex).
Each scan first proves it can see the data: a school name, which is stored in clear on purpose, must be found.
"""
from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.cli import upgrade_database
from models import School, SchoolClass, Screening, Student, User, Warning
from models.audit import Actor
from models.crypto import KeyRing
from models.db import make_engine
from models.vault import SEALED_REGISTRY, Vault
from tests.integration.keys_support import seed_sealed

HEX_LITERAL = re.compile(rb"\\x([0-9a-fA-F]{2,})")


def raw_bytes(url: str) -> bytes:
    """Everything the database holds on disk (SQLite) or in a dump (PostgreSQL), binary columns decoded."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = Path(parsed.database)
        chunks = [path.read_bytes()]
        for suffix in ("-wal", "-journal"):
            extra = Path(str(path) + suffix)
            if extra.exists():
                chunks.append(extra.read_bytes())
        return b"\n".join(chunks)
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is required for the PostgreSQL raw scan (.ci/run installs postgresql-client)"
    plain_url = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    dump = subprocess.run(
        [pg_dump, "--no-owner", "--dbname", plain_url], check=True, capture_output=True, timeout=300
    ).stdout
    decoded = [bytes.fromhex(m.group(1).decode()) for m in HEX_LITERAL.finditer(dump) if len(m.group(1)) % 2 == 0]
    return dump + b"\n" + b"\n".join(decoded)


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def findings(data: bytes, secrets: list[str]) -> list[str]:
    found = []
    for secret in secrets:
        for encoding in ("utf-8", "gbk"):
            needle = secret.encode(encoding)
            if len(needle) < 6:  # too short to tell from chance in random ciphertext
                continue
            if needle in data:
                found.append(f"{secret!r} ({encoding})")
    return found


def test_a_scan_of_the_raw_database_finds_no_seeded_personal_data(fresh_database):
    upgrade_database(fresh_database.url)
    engine = make_engine(fresh_database.url)
    try:
        ring = KeyRing.generate()
        with Session(engine) as session:
            seeded = seed_sealed(session, ring, count=6, tag="扫描")
            school_name = session.get(School, seeded.students[0].school_id).name
            # Open everything once, as the app would: reading must not leave plaintext behind either.
            vault = Vault(session, ring, Actor.system("scan"))
            for student, entry in zip(seeded.students, seeded.entries, strict=True):
                reader = vault.reveal(student, "student.view")
                assert reader.name and reader.get(entry, "note")
            session.commit()
        data = raw_bytes(fresh_database.url)
        assert school_name.encode("utf-8") in data, "the scan does not see the stored data"
        secrets = seeded.secrets() + [n[:2] + "妈妈" for n in seeded.names]
        assert len(secrets) == 6 * 7
        assert findings(data, secrets) == []
    finally:
        engine.dispose()


def test_the_scan_would_find_a_value_stored_in_clear(fresh_database):
    """The same scan catches a leak: a note written in clear into a text column is found, in a binary column too."""
    upgrade_database(fresh_database.url)
    engine = make_engine(fresh_database.url)
    try:
        ring = KeyRing.generate()
        with Session(engine) as session:
            seeded = seed_sealed(session, ring, count=1, tag="泄漏")
            student = seeded.students[0]
            student.birth_ym = seeded.numbers[0][:7]
            entry = seeded.entries[0]
            entry.note_enc = seeded.notes[0].encode("gbk")
            session.commit()
        data = raw_bytes(fresh_database.url)
        found = findings(data, [seeded.numbers[0][:7], seeded.notes[0]])
        assert f"{seeded.notes[0]!r} (gbk)" in found and any("utf-8" in f for f in found)
    finally:
        engine.dispose()


def test_a_scan_of_a_demo_seeded_database_finds_no_student_identity_or_note(fresh_database):
    from app.demo.cli import run_demo
    from tests.conftest import make_test_app

    upgrade_database(fresh_database.url)
    engine = make_engine(fresh_database.url)
    try:
        ring = KeyRing.generate()
        with make_test_app(engine, ring).app_context(), Session(engine) as session:
            run_demo(session, ring, "demo-password-1")
            session.commit()
        secrets: list[str] = []
        with Session(engine) as session:
            students = session.scalars(select(Student).order_by(Student.id)).all()
            assert len(students) > 100
            sample = random.Random(7).sample(students, 150)
            vault = Vault(session, ring, Actor.system("scan"))
            identities = vault.reveal_many(sample, "scan", columns=("name", "student_number", "guardians"))
            for ident in identities.values():
                secrets += [ident.name, ident.student_number]
                for g in ident.guardians:
                    secrets += [g.get("name") or "", g.get("phone") or ""]
            for model, columns in SEALED_REGISTRY:  # whatever notes/answers/plans the demo steps sealed
                for row in session.scalars(select(model).limit(30)):
                    reader = vault.reveal(session.get(Student, row.student_id), "scan")
                    for column in columns:
                        value = reader.get(row, column)
                        if value and len(value) >= 4:
                            secrets.append(value[:40])
            # Staff names, schools and classes are in clear by design: a student's name equal to one is no leak.
            # So are warning rule texts and screening result explanations (no identity in them).
            in_clear = [*session.scalars(select(User.display_name)), *session.scalars(select(School.name)),
                        *session.scalars(select(SchoolClass.name))]
            for doc in [*session.scalars(select(Warning.reasons)), *session.scalars(select(Screening.result_json))]:
                in_clear += _strings(json.loads(doc or "null"))
            session.commit()
        secrets = sorted({s for s in secrets if s and not any(s in c for c in in_clear)})
        assert len(secrets) > 300
        data = raw_bytes(fresh_database.url)
        assert in_clear[0].encode("utf-8") in data
        assert findings(data, secrets) == []
    finally:
        engine.dispose()


# -- outside the database: the temporary folders and the server's logs ------------------------------------------
def _scan_dir(root: Path) -> bytes:
    return b"\n".join(p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file())


class _Browser:
    """A real HTTP client (cookies, CSRF tokens) against a real server, so its access log is the real one."""

    def __init__(self, base: str):
        import http.cookiejar
        import urllib.request

        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str) -> str:
        with self.opener.open(self.base + path, timeout=60) as r:
            return r.read().decode("utf-8")

    def token(self, path: str) -> str:
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', self.get(path)).group(1)  # type: ignore[union-attr]

    def post(self, path: str, fields: dict[str, str], token_from: str, file: tuple[str, bytes] | None = None) -> str:
        import urllib.parse
        import urllib.request

        fields = {**fields, "csrf_token": self.token(token_from)}
        if file is None:
            body, ctype = urllib.parse.urlencode(fields).encode(), "application/x-www-form-urlencoded"
        else:
            boundary = "xinmiao-scan-boundary"
            parts = [
                f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                for k, v in fields.items()
            ]
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file[0]}"\r\n'
                f"Content-Type: text/csv\r\n\r\n".encode()
                + file[1]
                + b"\r\n"
            )
            body, ctype = b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"
        request = urllib.request.Request(self.base + path, data=body, headers={"Content-Type": ctype})
        with self.opener.open(request, timeout=60) as r:
            return r.read().decode("utf-8")


def test_no_name_reaches_the_temporary_folders_or_the_server_logs(app, factory, tmp_path, monkeypatch):
    """Searches (the student list, paper entry), a roster previewed and left unconfirmed, through a real server
    whose access log and application log go to a file; then that file, the roster upload folder and the process's
    temporary folder are scanned for every name, student number and phone involved. A name put in a URL by hand
    is found in the same log (the scan sees what the server writes)."""
    import logging
    import tempfile
    import threading

    from werkzeug.serving import make_server

    from tests.roster_import_corpus import csv_bytes, students

    uploads, scratch = tmp_path / "uploads", tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    app.config["ROSTER_IMPORT_DIR"] = str(uploads)
    school = factory.school()
    known = factory.student(school=school, name="日志里的名字", number="G3107770001")
    counselor = factory.counselor(school)
    roster = students(4, prefix="G3107779")
    log_path = tmp_path / "server.log"
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    root, werkzeug_log = logging.getLogger(), logging.getLogger("werkzeug")
    old_levels = root.level, werkzeug_log.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    werkzeug_log.setLevel(logging.INFO)
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        browser = _Browser(f"http://127.0.0.1:{server.server_port}")
        browser.post("/login", {"username": counselor.username, "password": factory.PASSWORD}, "/login")
        assert "日志里的名字" in browser.post("/students", {"q": "日志里的名字"}, "/students")
        assert known.public_id in browser.post("/screenings/enter", {"q": "G3107770001"}, "/screenings/enter")
        preview = browser.post(
            "/roster/import", {"school_id": str(school.id)}, "/roster/import", file=("roster.csv", csv_bytes(roster))
        )
        assert "roster/import/confirm" in preview  # previewed, left unconfirmed: it waits in the upload folder
        browser.get("/students?q=%E6%89%8B%E5%86%99%E7%9A%84%E5%90%8D%E5%AD%97")  # 手写的名字, by hand: the control
    finally:
        server.shutdown()
        thread.join(timeout=30)
        root.removeHandler(handler)
        handler.close()
        root.setLevel(old_levels[0])
        werkzeug_log.setLevel(old_levels[1])
    log = log_path.read_bytes()
    assert b"POST /students" in log and b"GET /students?r=" in log, "the scan does not see the access log"
    assert len(list(uploads.glob("*"))) == 1
    secrets = ["日志里的名字", "G3107770001", "手写的名字"]
    for r in roster:
        secrets += [r[0], r[2], r[10], r[11]]  # name, student number, guardian, phone
    assert findings(_decoded(log), secrets) == ["'手写的名字' (utf-8)"]
    for folder in (uploads, scratch):
        assert findings(_scan_dir(folder), secrets) == []


def _decoded(log: bytes) -> bytes:
    """The log with every percent-escape decoded, so a name in a logged URL is visible as text."""
    from urllib.parse import unquote_to_bytes

    return log + b"\n" + unquote_to_bytes(log)
