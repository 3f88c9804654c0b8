"""Finding students for paper entry (by any part of the name, pinyin, number prefix: app/roster/search.py) and for
imports (match by student number through the blind index, confirmed by decrypting: no false positives)."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.roster.search import search_students
from models import Student
from models.vault import Vault


def find_students(db: Session, vault: Vault, query: str, school_ids: Sequence[int], limit: int = 20) -> list[Student]:
    """Students of `school_ids` by any part of the name, pinyin, initials or number prefix (app/roster/search.py),
    best first; the caller reveals the ones it shows (one audit event)."""
    if not (query or "").strip() or not school_ids:
        return []
    return search_students(db, vault, Student.school_id.in_(list(school_ids)), query, limit=limit)


def match_by_number(db: Session, vault: Vault, numbers: Iterable[str], school_filter: Any) -> dict[str, Student]:
    """{student number: Student} for numbers found (enrolled or not) within `school_filter` (a SQL condition)."""
    wanted = {n.strip() for n in numbers if n and n.strip()}
    by_bidx: dict[str, list[str]] = {}
    for n in wanted:
        for bidx in vault.blind_indexes("student_number", n):  # every index key version (see keys rotate-index)
            by_bidx.setdefault(bidx, []).append(n)
    found: dict[str, Student] = {}
    keys = list(by_bidx)
    for i in range(0, len(keys), 500):
        chunk = keys[i:i + 500]
        students = list(db.scalars(select(Student).where(Student.student_number_bidx.in_(chunk), school_filter)))
        vault.preload_keys(s.data_key_id for s in students)
        for s in students:
            for n in by_bidx.get(s.student_number_bidx or "", []):
                if vault.matches(s, "student_number", n):
                    found[n] = s
    return found
