"""Benchmark of the counselor's worklist and the head teacher's class care list on the synthetic district.

    .venv/bin/python -m bench.bench_care [tiny|small|district] [DATABASE_URL]

On top of `bench.synth` (students, screenings, suggested warnings, one counselor per school) this adds care rows
with the fast path (executemany): half of the warnings confirmed with a case and a plan review date, a pending
recheck per case, an unread head-teacher observation for 1 % of students, and this term's check-in for half of
the care-group students. Then, best of several runs:
- the worklist of the first school's counselor (every source query, students loaded, names opened under ONE
  audit event), against the bare source queries alone in the same run (the floor: no students, no decryption);
- the number of SQL statements one worklist takes (it must not grow with the school);
- the class care list of a head teacher of one class, against the bare student query of that class.
"""
from __future__ import annotations

import json
import sys
import time
import uuid
from datetime import timedelta
from typing import Any, Callable
from zoneinfo import ZoneInfo

from sqlalchemy import event, insert, select, update

REPEATS = 5
WORKLIST_TARGET_MS = 300.0


def _best_ms(fn: Callable[[], Any], repeats: int = REPEATS) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1000


def _add_care_rows(session: Any, today: Any) -> dict[str, int]:
    from app.care.policy import term_of, triggering_groups
    from models import CareCase, CareCheckin, CaseEntry, Recheck, Student, StudentCareGroup, Warning, utcnow

    now = utcnow()
    warnings = session.execute(
        select(Warning.id, Warning.student_id, Warning.school_id, Warning.suggested_level).order_by(Warning.id)
    ).all()
    confirmed = [w for i, w in enumerate(warnings) if i % 2 == 0]
    session.execute(
        update(Warning).where(Warning.id.in_([w.id for w in confirmed[:30000]]))
        .values(status="confirmed", confirmed_level=Warning.suggested_level, acknowledged_at=now, confirmed_at=now)
    )
    cases = [
        {"uid": str(uuid.uuid4()), "student_id": w.student_id, "school_id": w.school_id, "warning_id": w.id,
         "level": w.suggested_level, "status": "following", "plan_review_on": today + timedelta(days=i % 10 - 3),
         "opened_at": now, "updated_at": now, "version": 1}
        for i, w in enumerate(confirmed)
    ]
    for i in range(0, len(cases), 5000):
        session.execute(insert(CareCase), cases[i : i + 5000])
    rechecks = [
        {"student_id": w.student_id, "school_id": w.school_id, "warning_id": w.id, "level": w.suggested_level,
         "instrument_id": "phqa", "due_on": today + timedelta(days=i % 14 - 5), "status": "planned", "created_at": now}
        for i, w in enumerate(confirmed)
    ]
    for i in range(0, len(rechecks), 5000):
        session.execute(insert(Recheck), rechecks[i : i + 5000])
    students = session.execute(select(Student.id, Student.school_id).order_by(Student.id)).all()
    observations = [
        {"uid": str(uuid.uuid4()), "student_id": sid, "kind": "observation", "occurred_on": today,
         "visibility": "shared", "created_at": now}
        for i, (sid, _school) in enumerate(students) if i % 100 == 0
    ]
    for i in range(0, len(observations), 5000):
        session.execute(insert(CaseEntry), observations[i : i + 5000])
    cared = session.execute(
        select(Student.id, Student.school_id).where(
            Student.id.in_(select(StudentCareGroup.student_id).where(StudentCareGroup.group.in_(triggering_groups())))
        ).order_by(Student.id)
    ).all()
    term = term_of(today)
    checkins = [
        {"uid": str(uuid.uuid4()), "student_id": sid, "school_id": school, "term": term, "occurred_on": today,
         "by_role": "counselor", "guardian_contacted": True, "created_at": now}
        for i, (sid, school) in enumerate(cared) if i % 2 == 0
    ]
    for i in range(0, len(checkins), 5000):
        session.execute(insert(CareCheckin), checkins[i : i + 5000])
    session.commit()
    return {"cases": len(cases), "rechecks": len(rechecks), "observations": len(observations),
            "checkins": len(checkins), "care_group_students": len(cared)}


def run(scale: str = "small", database_url: str | None = None) -> list[dict]:
    from sqlalchemy.orm import Session

    from app.care import queries
    from bench.synth import TODAY, build_district
    from models import Actor, SchoolClass, Student, User
    from models.crypto import KeyRing
    from models.db import make_engine
    from models.vault import Vault

    info = build_district(database_url, scale)
    engine = make_engine(info["database_url"])
    ring = KeyRing.from_file(info["key_file"])
    tz = ZoneInfo("Asia/Shanghai")
    rows: list[dict] = []
    try:
        with Session(engine) as setup:
            added = _add_care_rows(setup, TODAY)
        with Session(engine, expire_on_commit=False) as s:
            counselor = s.scalar(select(User).where(User.username == info["counselors"][0]))
            school_ids = counselor.school_ids
            klass = s.scalars(select(SchoolClass).where(SchoolClass.school_id == school_ids[0]).order_by(SchoolClass.id)).first()
            teacher = User(username=f"bench-t-{uuid.uuid4().hex[:6]}", display_name="bench teacher", password_hash="x",
                           role="head_teacher", active=True, district_id=counselor.district_id)
            teacher.classes = [klass]
            s.add(teacher)
            s.commit()

            def worklist() -> Any:
                vault = Vault(s, ring, Actor.for_user(counselor))
                work = queries.worklist(s, counselor, vault, TODAY, tz)
                s.rollback()  # drop the audit event: every run sees the same database
                return work

            def sources() -> None:
                week_end = TODAY + timedelta(days=6)
                queries._warning_items(s, school_ids, TODAY, week_end, tz, "zh")
                queries._case_items(s, school_ids, week_end, tz)
                queries._recheck_items(s, school_ids, week_end)
                queries._checkin_items(s, school_ids, TODAY, week_end)
                queries._observation_items(s, school_ids, tz)
                s.rollback()

            def class_list() -> None:
                queries.class_care_list(s, teacher, Vault(s, ring, Actor.for_user(teacher)), TODAY)
                s.rollback()

            def class_floor() -> None:
                s.execute(select(Student.id, Student.name_enc).where(Student.class_id == klass.id)).all()
                s.rollback()

            statements: list[str] = []
            listener = lambda *args: statements.append(args[2])  # noqa: E731
            event.listen(engine, "before_cursor_execute", listener)
            work = worklist()
            event.remove(engine, "before_cursor_execute", listener)

            wl_ms, floor_ms = _best_ms(worklist), _best_ms(sources)
            cl_ms, cl_floor = _best_ms(class_list), _best_ms(class_floor)
    finally:
        engine.dispose()
    students = info["students"]
    rows.append({
        "metric": f"care worklist, one counselor ({work.count} rows; district of {students:,} students)",
        "value": round(wl_ms, 2), "unit": "ms", "baseline": "the worklist's bare source queries, same run",
        "baseline_value": round(floor_ms, 2), "ratio": round(wl_ms / floor_ms, 2) if floor_ms else None,
        "target": f"< {WORKLIST_TARGET_MS:.0f} ms",
    })
    rows.append({
        "metric": "care worklist SQL statements per page", "value": len(statements), "unit": "statements",
        "baseline": "five source queries", "baseline_value": 5, "ratio": round(len(statements) / 5, 2),
        "target": "constant in school size (tests/web/test_care_worklist.py)",
    })
    rows.append({
        "metric": "head teacher class care list, one class", "value": round(cl_ms, 2), "unit": "ms",
        "baseline": "bare SELECT of the class's students, same run", "baseline_value": round(cl_floor, 2),
        "ratio": round(cl_ms / cl_floor, 2) if cl_floor else None, "target": None,
    })
    rows.append({
        "metric": "care rows added for the benchmark", "value": added["cases"], "unit": "cases",
        "baseline": json.dumps(added), "baseline_value": None, "ratio": None, "target": None,
    })
    return rows


if __name__ == "__main__":
    scale_name = sys.argv[1] if len(sys.argv) > 1 else "small"
    url = sys.argv[2] if len(sys.argv) > 2 else None
    for row in run(scale_name, url):
        print(json.dumps(row, ensure_ascii=False))
