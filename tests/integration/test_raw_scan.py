"""A scan of the raw database after seeding finds no name, student number, phone number or note, in UTF-8 or GBK.

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
