"""One-off measurement for docs/decisions.md ("Student search: one sealed blob per school, not built"): what the
partial and pinyin search would cost if a school's names and numbers were one AES-GCM-sealed blob under one key,
against the search as built (every student's own key unwrapped and name opened). Not a module of `make bench`
(only `bench_*.py` are) and not a test; run by hand:

    BENCH_DOCS=0 .venv/bin/python -m bench.oneoff_search_blob small

On the bench's 3,000-student school (bench/bench_roster.py, SQLite), interleaved, median of the runs:
- `built`: `service.list_students` with a pinyin-initials query, as bench_search measures it;
- `blob`: the blob design's work per search, the blob made beforehand from the same names (not timed): the scope's
  student ids read in SQL (the scope stays a SQL rule), one unwrap of the school key, one AES-GCM open of the
  blob, `json.loads`, the scope kept, the same `rank()` over every name; the page's reveal is left out of both
  sides' difference (it is the same 1 to 50 students either way), so `blob` is a floor of that design.
"""
from __future__ import annotations

import json
import os
from typing import Any

from sqlalchemy import select

from bench.core import Floor, interleaved, result, runs_for

DATA = "school"


def run(scale: str, data: Any) -> list[dict]:
    from pypinyin import Style, lazy_pinyin
    from sqlalchemy.orm import Session

    from app.roster import service
    from app.roster.search import rank
    from models import Actor, Student, User, crypto
    from models.crypto import KeyRing, normalise
    from models.db import make_engine
    from models.vault import Vault

    runs = runs_for(scale)
    with data.copy() as db:
        info = db.info
        keyring = KeyRing.from_file(info["key_file"])
        engine = make_engine(db.url)
        try:
            session = Session(engine, expire_on_commit=False)
            counselor = session.scalars(select(User).where(User.username == info["counselor"])).one()
            q = "".join(lazy_pinyin(info["probe_name"], style=Style.FIRST_LETTER))
            scope = select(Student.id).where(Student.visible_to(counselor), Student.status == "enrolled")

            vault = Vault(session, keyring, Actor.for_user(counselor))
            students = list(session.scalars(select(Student).where(Student.visible_to(counselor))))
            opened = vault.reveal_many(students, "bench.blob")
            entries = [[s.id, opened[s.id].name, opened[s.id].student_number] for s in students]
            school_key = os.urandom(32)
            wrapped, version = keyring.wrap(school_key, 1)
            aad = crypto.aad_for("school_search", "blob", str(info["school_id"]))
            blob = crypto.Sealer(school_key, 1).seal(json.dumps(entries, ensure_ascii=False), aad)
            session.rollback()

            def built() -> None:
                page = service.list_students(session, Vault(session, keyring, Actor.for_user(counselor)), counselor,
                                             service.StudentFilters(q=q))
                assert page.rows
                session.rollback()

            def blob_design() -> None:
                allowed = set(session.scalars(scope))
                key = keyring.unwrap(wrapped, 1, version)
                rows = json.loads(crypto.open_sealed(blob, {1: key}.__getitem__, aad))
                wanted = normalise(q)
                hits = [sid for sid, name, number in rows if sid in allowed and rank(name, number, wanted) is not None]
                assert hits
                session.rollback()

            built_s, blob_s = interleaved([built, blob_design], runs, unit="ms")
            session.close()
        finally:
            engine.dispose()
    return [result("oneoff.search_built_ms", f"search by pinyin initials as built ({len(entries):,} students)",
                   built_s, "ms", [Floor("blob", "the one-blob-per-school design's work per search", blob_s)])]


if __name__ == "__main__":
    from bench.__main__ import standalone

    standalone("oneoff_search_blob")
