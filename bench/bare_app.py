"""The lower bound for the page-latency benchmark: a tiny WSGI app serving, as raw JSON, the rows behind the
counselor's worklist (the warning source query and the listed students' rows) and the first page of the student
list (the same scoped, ordered SELECT of 50 students) -- no Flask, no login, no templates, no decryption, no audit.

    gunicorn 'bench.bare_app:app'   (DATABASE_URL from the environment)
"""
from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy import and_, or_, select

from models import Student, Warning, clock
from models.db import make_engine

_engine = None


def engine():
    global _engine
    if _engine is None:
        _engine = make_engine(os.environ["DATABASE_URL"])
    return _engine


def worklist_rows(school_ids: list[int]) -> list[list[Any]]:
    with engine().connect() as conn:
        rows = conn.execute(
            select(
                Warning.uid,
                Warning.student_id,
                Warning.suggested_level,
                Warning.confirmed_level,
                Warning.status,
                Warning.reasons,
                Warning.interview_due_on,
                Warning.created_at,
                Warning.acknowledged_at,
            )
            .where(
                Warning.school_id.in_(school_ids),
                or_(
                    and_(Warning.status == "suggested", Warning.suggested_level.in_(("L1", "L2", "L3"))),
                    and_(
                        Warning.status == "confirmed",
                        Warning.confirmed_level == "L1",
                        Warning.acknowledged_at.is_(None),
                    ),
                ),
            )
            .order_by(Warning.created_at)
            .limit(500)
        ).all()
        ids = sorted({r[1] for r in rows})
        students = conn.execute(
            select(Student.id, Student.public_id, Student.class_id, Student.name_enc).where(Student.id.in_(ids))
        ).all() if ids else []
    by_id = {s[0]: s for s in students}
    week_end = clock.today() + timedelta(days=6)
    out = []
    for r in rows:
        s = by_id.get(r[1])
        out.append([r[0], r[1], r[2], r[3], r[4], str(r[6]) if r[6] else None, str(r[7]),
                    s[1] if s else None, s[2] if s else None, len(s[3] or b"") if s else 0, str(week_end)])
    return out


def student_rows(school_ids: list[int]) -> list[list[Any]]:
    with engine().connect() as conn:
        rows = conn.execute(
            select(
                Student.id,
                Student.public_id,
                Student.grade,
                Student.class_id,
                Student.status,
                Student.name_enc,
                Student.student_number_enc,
            )
            .where(
                Student.school_id.in_(school_ids),
                Student.status.in_(("enrolled", "transferred_out", "graduated", "left")),
            )
            .order_by(Student.school_id, Student.grade, Student.class_id, Student.id)
            .limit(50)
        ).all()
    return [[r[0], r[1], r[2], r[3], r[4], (r[5] or b"").hex(), (r[6] or b"").hex()] for r in rows]


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path = environ.get("PATH_INFO", "")
    qs = parse_qs(environ.get("QUERY_STRING", ""))
    school_ids = [int(x) for x in qs.get("school", ["0"])]
    body: list[Any]
    if path == "/worklist":
        body = worklist_rows(school_ids)
    elif path == "/students":
        body = student_rows(school_ids)
    elif path == "/healthz":
        body = ["ok"]
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]
