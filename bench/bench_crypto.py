"""Benchmark of sealed storage: seals and opens per second, and the cost of listing a 3,000-student school with
decrypted names.

    .venv/bin/python -m bench.bench_crypto [tiny|small|district]

Data: `school` (bench/bench_roster.py: 3,000 students of one school, 300 at tiny scale), on a copy (the list writes
its audit event). Median of several runs, each figure beside its floors:
* seals/s and opens/s of one sealed field (the real path: associated data for table/column/row, fresh 96-bit
  nonce, header, AES-256-GCM) against a bare AES-GCM encrypt (resp. decrypt) of the same bytes with a reused
  cipher object and no header: the lower bound on per-value work.
* Listing every student of the school with decrypted names (ORM rows, a fresh Vault as in a request, so every data
  key is unwrapped, plus the one audit event) against: the same ORM query without decryption; the DB-API select of
  the needed columns (id, public id, key id, sealed name; the wrapped keys); and that plus key unwrap and name
  decryption with models.crypto directly (the design's floor).
* The roster page `/students` through the Flask test client for the school's counselor (one page of 50; filters
  and counts over the whole school) against listing the whole school with decrypted names.
"""
from __future__ import annotations

import os
import uuid
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from bench.core import Floor, interleaved, result, runs_for

DATA = "school"
SIZES = {"tiny": 2_000, "small": 20_000, "district": 100_000}
LIST_TARGET_MS = 150.0


def _crypto_rows(n: int, runs: int) -> list[dict]:
    from models import crypto

    key, key_id = crypto.new_data_key(), crypto.new_key_id()
    value = "欧阳晓雯 · 七年级(3)班 · 13800138000"  # a realistic identity-sized value
    raw = value.encode("utf-8")
    aads = [crypto.aad_for("students", "name", str(uuid.UUID(int=i))) for i in range(n)]
    blobs: list[bytes] = [crypto.seal(key, key_id, value, aad) for aad in aads]

    def seal_all() -> None:
        for aad in aads:
            crypto.seal(key, key_id, value, aad)

    lookup = {key_id: key}.__getitem__

    def open_all() -> None:
        for blob, aad in zip(blobs, aads, strict=True):
            crypto.open_sealed(blob, lookup, aad)

    aes, nonce = AESGCM(key), os.urandom(12)
    bare_ct = aes.encrypt(nonce, raw, None)

    def bare_encrypt() -> None:
        for _ in range(n):
            aes.encrypt(nonce, raw, None)

    def bare_decrypt() -> None:
        for _ in range(n):
            aes.decrypt(nonce, bare_ct, None)

    seal_s, enc_s, open_s, dec_s = interleaved([seal_all, bare_encrypt, open_all, bare_decrypt], runs)
    bare = f"bare AESGCM.%s of the same {len(raw)} bytes, cipher object reused, no header/AAD"
    return [
        result("crypto.seals_per_second", "sealed field seals per second", seal_s.rate(n), "values/s",
               [Floor("aesgcm", bare % "encrypt", enc_s.rate(n))], better="higher"),
        result("crypto.opens_per_second", "sealed field opens per second", open_s.rate(n), "values/s",
               [Floor("aesgcm", bare % "decrypt", dec_s.rate(n))], better="higher"),
    ]


def run(scale: str, data: Any) -> list[dict]:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from app import create_app
    from bench.bench_roster import decrypt_floor
    from config import TestingConfig
    from models import Student
    from models.audit import Actor
    from models.crypto import KeyRing
    from models.db import make_engine
    from models.vault import Vault

    runs = runs_for(scale)
    rows = _crypto_rows(SIZES.get(scale, SIZES["small"]), runs)
    with data.copy() as db:
        info = db.info
        n, school_id = info["students"], info["school_id"]
        ring = KeyRing.from_file(info["key_file"])
        engine = make_engine(db.url)
        try:
            query = select(Student).where(Student.school_id == school_id).order_by(Student.grade, Student.class_id,
                                                                                   Student.id)

            def plain() -> None:
                with Session(engine) as s:
                    students = s.scalars(query).all()
                    assert len(students) == n
                    _ = [r.grade for r in students]

            def decrypted() -> None:
                with Session(engine) as s:
                    students = s.scalars(query).all()
                    names = Vault(s, ring, Actor.system("bench")).reveal_many(students, "bench.list", columns=("name",))
                    assert all(names[r.id].name for r in students)
                    s.rollback()  # the audit event is not kept

            dbapi, dbapi_open = decrypt_floor(
                engine, ring, "SELECT id, public_id, data_key_id, name_enc FROM students WHERE school_id = :school "
                "ORDER BY grade, class_id, id", {"school": school_id})
            dec_s, plain_s, dbapi_s, open_s = interleaved([decrypted, plain, dbapi, dbapi_open], runs, unit="ms")

            app = create_app(TestingConfig(), {"DATABASE_URL": db.url, "KEYRING": ring, "WTF_CSRF_ENABLED": False})
            client = app.test_client()
            response = client.post("/login", data={"username": info["counselor"], "password": info["password"]})
            assert response.status_code == 302, f"bench login failed: {response.status_code}"

            def page() -> None:
                r = client.get("/students")
                assert r.status_code == 200, r.status_code

            (page_s,) = interleaved([page], runs, unit="ms")
            app.extensions["xinmiao_engine"].dispose()
        finally:
            engine.dispose()
    rows += [
        result("crypto.list_school_decrypted_ms", f"list the {n:,} students of one school with decrypted names "
               "(ORM rows, fresh Vault, one audit event)", dec_s, "ms",
               [Floor("orm", f"the same ORM SELECT of {n:,} students without unwrapping keys or opening names",
                      plain_s),
                Floor("dbapi", "DB-API select of the needed columns (id, public id, key id, sealed name) and the "
                      "wrapped keys", dbapi_s),
                Floor("dbapi_open", "that, plus keys unwrapped and names opened with models.crypto (the design's "
                      "floor)", open_s)],
               target=f"the list page of a 3,000-student school renders in < {LIST_TARGET_MS:.0f} ms"),
        result("crypto.students_page_ms", f"GET /students through the Flask test client, counselor of the "
               f"{n:,}-student school", page_s, "ms",
               [Floor("list", "listing the whole school with decrypted names (previous figure)", dec_s)],
               target=f"< {LIST_TARGET_MS:.0f} ms"),
    ]
    return rows


if __name__ == "__main__":
    from bench.__main__ import standalone

    standalone("bench_crypto")
