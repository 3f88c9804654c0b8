"""Finding students for paper entry (search by number or name) and for imports (match by student number), through
the blind index, confirmed by decrypting: no false positives."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import Student
from models.vault import Vault


def find_students(db: Session, vault: Vault, query: str, school_ids: Sequence[int], limit: int = 20) -> list[Student]:
    """Exact search by student number or name via the blind index, confirmed by decrypting (no false positives)."""
    q = (query or "").strip()
    if not q or not school_ids:
        return []
    out: list[Student] = []
    for column, attr in (("student_number", Student.student_number_bidx), ("name", Student.name_bidx)):
        bidxes = vault.blind_indexes(column, q)
        for student in db.scalars(select(Student).where(attr.in_(bidxes), Student.school_id.in_(list(school_ids)))
                                  .order_by(Student.id).limit(limit * 2)):
            if student not in out and vault.matches(student, column, q):
                out.append(student)
    return out[:limit]


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
