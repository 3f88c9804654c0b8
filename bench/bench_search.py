"""Benchmark of the partial and pinyin student search (issue 16) on one large school.

    .venv/bin/python -m bench.bench_search [tiny|small|district]

Data: `school` (bench/bench_roster.py): one school of 3,000 students (300 at tiny scale) with sealed Chinese names,
one counselor. Measured on a copy, median of several runs, each figure beside its floor measured in the same run:
- a pinyin-initials search (`service.list_students` with q = the initials of a real name: the scope's names and
  numbers read in one query, keys unwrapped in one query, opened in memory, matched, the page's matches loaded and
  revealed under one audit event) against the floor: the DB-API select of the scope's sealed names and wrapped
  keys, the keys unwrapped and the names opened with `models.crypto` directly (what any design that searches
  sealed names in memory, without a cache of clear names, must pay);
- a partial-name search (two characters of a real name) against the same floor.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bench.bench_roster import decrypt_floor
from bench.core import Floor, interleaved, result, runs_for

DATA = "school"
TARGET_MS = 100.0


def run(scale: str, data: Any) -> list[dict]:
    from pypinyin import Style, lazy_pinyin
    from sqlalchemy.orm import Session

    from app.roster import service
    from app.roster.search import char_tokens
    from models import Actor, User
    from models.crypto import KeyRing
    from models.db import make_engine
    from models.vault import Vault

    runs = runs_for(scale)
    with data.copy() as db:
        info = db.info
        n = info["students"]
        keyring = KeyRing.from_file(info["key_file"])
        engine = make_engine(db.url)
        try:
            session = Session(engine, expire_on_commit=False)
            counselor = session.scalars(select(User).where(User.username == info["counselor"])).one()
            probe = info["probe_name"]
            initials = "".join(lazy_pinyin(probe, style=Style.FIRST_LETTER))
            part = probe[1:3]

            def searcher(q: str) -> Any:
                def go() -> None:
                    vault = Vault(session, keyring, Actor.for_user(counselor))  # a fresh vault per request
                    page = service.list_students(session, vault, counselor, service.StudentFilters(q=q))
                    assert page.rows and page.searched
                    session.rollback()

                return go

            _select, floor = decrypt_floor(
                engine, keyring,
                "SELECT id, public_id, data_key_id, name_enc FROM students "
                "WHERE school_id = :school AND status IN ('enrolled', 'transferred_out', 'graduated', 'left')",
                {"school": info["school_id"]}, ("name",))
            char_tokens.cache_clear()
            searcher(initials)()  # the first search of the process fills the per-character reading cache
            pinyin_s, part_s, floor_s = interleaved([searcher(initials), searcher(part), floor], runs, unit="ms")
            session.close()
        finally:
            engine.dispose()

    where = f"{n:,}-student school, {db.kind}"
    what = Floor("open_names", "DB-API select of the scope's sealed names and wrapped keys, keys unwrapped and "
                 "every name opened with models.crypto", floor_s)
    return [
        result("search.pinyin_initials_ms", f"student search by pinyin initials ({where}; whole scope opened in "
               "memory, matches revealed under one audit event)", pinyin_s, "ms", [what],
               target=f"< {TARGET_MS:.0f} ms"),
        result("search.partial_name_ms", f"student search by part of a name ({where})", part_s, "ms", [what],
               target=f"< {TARGET_MS:.0f} ms"),
    ]


if __name__ == "__main__":
    from bench.__main__ import standalone

    standalone("bench_search")
