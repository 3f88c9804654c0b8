"""Benchmark of the counselor's worklist and the head teacher's class care list.

    .venv/bin/python -m bench.bench_care [tiny|small|district]

Data: `care` (bench/data.py): the synthetic district of bench/synth.py plus the care layer added here once per
run with the fast path (executemany): half of the warnings confirmed with a case and a plan review date, a pending
recheck per case, an unread head-teacher observation for 1 % of students, this term's check-in for half of the
care-group students, and one head teacher of the first school's first class. Measured on a copy (the worklist
writes its audit event, rolled back after each run). Median of several runs, each figure beside its floors:
- the worklist of the first school's counselor (every source query, students loaded, names opened under ONE
  audit event) against the bare source queries alone (no students, no decryption);
- the number of SQL statements one worklist takes (it must not grow with the school);
- the class care list of the head teacher against the bare student query of that class.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, insert, select, update

from bench.core import Floor, interleaved, result, runs_for

DATA = "care"
WORKLIST_TARGET_MS = 300.0


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


def add_care_layer(url: str, scale: str, workdir: Path, base: dict[str, Any]) -> dict[str, Any]:
    """The `care` data set: the care rows above and one head teacher, on a copy of the district."""
    from sqlalchemy.orm import Session

    from bench.synth import TODAY
    from models import SchoolClass, User
    from models.db import make_engine

    engine = make_engine(url)
    try:
        with Session(engine, expire_on_commit=False) as s:
            added = _add_care_rows(s, TODAY)
            counselor = s.scalars(select(User).where(User.username == base["counselors"][0])).one()
            klass = s.scalars(select(SchoolClass).where(SchoolClass.school_id == counselor.school_ids[0])
                              .order_by(SchoolClass.id).limit(1)).one()
            teacher = User(username=f"bench-t-{uuid.uuid4().hex[:6]}", display_name="bench teacher", password_hash="x",
                           role="head_teacher", active=True, district_id=counselor.district_id)
            teacher.classes = [klass]
            s.add(teacher)
            s.commit()
            return {"care_rows": added, "head_teacher": teacher.username, "teacher_class_id": klass.id}
    finally:
        engine.dispose()


def run(scale: str, data: Any) -> list[dict]:
    from sqlalchemy.orm import Session

    from app.care import queries
    from bench.synth import TODAY
    from models import Actor, Student, User
    from models.crypto import KeyRing
    from models.db import make_engine
    from models.vault import Vault

    tz = ZoneInfo("Asia/Shanghai")
    runs = runs_for(scale)
    with data.copy() as db:
        info = db.info
        engine = make_engine(db.url)
        ring = KeyRing.from_file(info["key_file"])
        try:
            with Session(engine, expire_on_commit=False) as s:
                counselor = s.scalars(select(User).where(User.username == info["counselors"][0])).one()
                teacher = s.scalars(select(User).where(User.username == info["head_teacher"])).one()
                school_ids = counselor.school_ids
                class_id = info["teacher_class_id"]

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
                    s.execute(select(Student.id, Student.name_enc).where(Student.class_id == class_id)).all()
                    s.rollback()

                statements: list[str] = []

                def listener(*args: Any) -> None:
                    statements.append(args[2])

                event.listen(engine, "before_cursor_execute", listener)
                work = worklist()
                event.remove(engine, "before_cursor_execute", listener)
                wl, floor = interleaved([worklist, sources], runs, unit="ms")
                cl, cl_floor = interleaved([class_list, class_floor], runs, unit="ms")
        finally:
            engine.dispose()
    students = info["students"]
    return [
        result("care.worklist_ms",
               f"care worklist, one counselor ({work.count} rows; district of {students:,} students)", wl, "ms",
               [Floor("sources", "the worklist's bare source queries", floor)],
               target=f"< {WORKLIST_TARGET_MS:.0f} ms"),
        result("care.worklist_statements", "care worklist SQL statements per page", len(statements), "statements",
               [Floor("sources", "five source queries", 5)],
               target="constant in school size (tests/web/test_care_worklist.py)"),
        result("care.class_list_ms", "head teacher class care list, one class", cl, "ms",
               [Floor("select", "bare SELECT of the class's students", cl_floor)]),
    ]


if __name__ == "__main__":
    from bench.__main__ import standalone

    standalone("bench_care")
