"""Benchmark of the scheduler's sweeps over 100,000 open rechecks (issue 7).

    .venv/bin/python -m bench.bench_sweep [tiny|small|district]

Data: `sweep` (built here once per run): a district of 100 schools with one counselor each, a head teacher per
class, 100,000 students (10 % in a care group) and one open recheck per student with due dates spread from 30 days
ago to 60 days ahead (half of them with a case owner), plus 200 unacknowledged crises (tiny: 2,000 in 4 schools).
Measured on a copy. Median of several runs, each rolled back so every run sees the same state:
- one full sweep (`run_all_sweeps`: mark due/overdue/escalated, notifications by INSERT ... SELECT, crisis
  re-alerts, check-in reminders, weekly digest) against the floor measured in the same run: the single SQL query
  that selects the open rechecks whose date has come;
- the steady-state sweep (the same sweep again right after one was committed: nothing left to do);
- for both, how long the sweep holds the database's write lock: from its first INSERT/UPDATE/DELETE to the end of
  its transaction (SQLite has one write lock per database: every page view's audit event waits while a sweep
  holds it; 0 when the sweep writes nothing).
Target: the full sweep under 5 s on SQLite, the steady state under 1 s.
"""
from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from bench.core import Floor, Sample, result, runs_for, sample

DATA = "sweep"
TZ = ZoneInfo("Asia/Shanghai")
TODAY = date(2027, 1, 5)  # a Tuesday inside the autumn term's reminder window
RECHECKS = {"tiny": 2_000, "small": 100_000, "district": 100_000}
SCHOOLS = {"tiny": 4, "small": 100, "district": 100}
TARGET_S = 5.0
STEADY_TARGET_S = 1.0


def build_dataset(url: str, scale: str, workdir: Path, base: dict[str, Any]) -> dict[str, Any]:
    """The `sweep` data set, into the migrated template at `url`."""
    return build(url, RECHECKS.get(scale, RECHECKS["small"]), SCHOOLS.get(scale, SCHOOLS["small"]))


def build(url: str, n: int, schools: int) -> dict[str, int]:
    """Insert the dataset with executemany (no ORM unit of work) and commit it."""
    from models import (
        CareCase,
        District,
        Recheck,
        School,
        SchoolClass,
        Student,
        StudentCareGroup,
        User,
        Warning,
        counselor_schools,
        teacher_classes,
        utcnow,
    )
    from models.db import make_engine

    engine = make_engine(url)
    now = utcnow()
    with Session(engine) as s:
        district = District(code=f"SW{uuid.uuid4().hex[:6]}", name="bench district")
        s.add(district)
        s.flush()
        school_rows = [{"district_id": district.id, "code": f"SW{i:04d}-{uuid.uuid4().hex[:4]}", "name": f"学校{i}",
                        "type": "urban", "stage": "junior", "created_at": now} for i in range(schools)]
        s.execute(insert(School), school_rows)
        school_ids = list(s.scalars(select(School.id).where(School.district_id == district.id).order_by(School.id)))
        per_school = max(1, n // schools)
        classes_per_school = max(1, per_school // 50)
        s.execute(insert(SchoolClass), [
            {"school_id": sid, "grade": 7 + c % 3, "name": f"{c}班", "school_year": "2026-2027"}
            for sid in school_ids for c in range(classes_per_school)
        ])
        classes = s.execute(select(SchoolClass.id, SchoolClass.school_id).where(SchoolClass.school_id.in_(school_ids))
                            .order_by(SchoolClass.id)).all()
        by_school: dict[int, list[int]] = {}
        for cid, sid in classes:
            by_school.setdefault(sid, []).append(cid)
        users: list[dict[str, Any]] = [
            {
                "username": f"sw-c{sid}-{uuid.uuid4().hex[:4]}",
                "display_name": f"心理教师{sid}",
                "password_hash": "x",
                "role": "counselor",
                "active": True,
                "district_id": district.id,
                "full_time": True,
                "session_version": 1,
                "created_at": now,
            }
            for sid in school_ids
        ]
        users += [
            {
                "username": f"sw-t{cid}-{uuid.uuid4().hex[:4]}",
                "display_name": f"班主任{cid}",
                "password_hash": "x",
                "role": "head_teacher",
                "active": True,
                "district_id": district.id,
                "full_time": True,
                "session_version": 1,
                "created_at": now,
            }
            for cid, _ in classes
        ]
        s.execute(insert(User), users)
        ids = dict(s.execute(select(User.username, User.id).where(User.district_id == district.id)).tuples().all())
        # users: one counselor per school first, then the head teachers
        counselor_of = {sid: ids[u["username"]] for sid, u in zip(school_ids, users[:len(school_ids)], strict=True)}
        s.execute(insert(counselor_schools), [{"user_id": uid, "school_id": sid} for sid, uid in counselor_of.items()])
        teachers = users[len(school_ids):]
        s.execute(insert(teacher_classes), [
            {"user_id": ids[u["username"]], "class_id": cid} for u, (cid, _) in zip(teachers, classes, strict=True)
        ])
        students = []
        for i in range(n):
            sid = school_ids[i % len(school_ids)]
            cids = by_school[sid]
            students.append(
                {
                    "public_id": str(uuid.uuid4()),
                    "school_id": sid,
                    "class_id": cids[(i // len(school_ids)) % len(cids)],
                    "grade": 7,
                    "gender": "F" if i % 2 else "M",
                    "birth_ym": "2013-05",
                    "status": "enrolled",
                    "created_at": now,
                    "updated_at": now,
                }
            )
        for i in range(0, n, 10_000):
            s.execute(insert(Student), students[i:i + 10_000])
        student_rows = s.execute(select(Student.id, Student.school_id).where(Student.school_id.in_(school_ids))
                                 .order_by(Student.id)).all()
        s.execute(
            insert(StudentCareGroup), [{"student_id": st.id, "group": "left_behind"} for st in student_rows[::10]]
        )
        warnings = [
            {
                "uid": str(uuid.uuid4()),
                "student_id": st.id,
                "school_id": st.school_id,
                "suggested_level": "L2",
                "status": "confirmed",
                "confirmed_level": "L2",
                "reasons": "[]",
                "created_at": now,
                "acknowledged_at": now,
            }
            for st in student_rows
        ]
        warnings[:200] = [dict(w, suggested_level="L1", confirmed_level=None, status="suggested", acknowledged_at=None,
                               created_at=now - timedelta(hours=3)) for w in warnings[:200]]
        for i in range(0, n, 10_000):
            s.execute(insert(Warning), warnings[i:i + 10_000])
        warning_of = dict(
            s.execute(select(Warning.student_id, Warning.id).where(Warning.school_id.in_(school_ids))).tuples().all()
        )
        cases = [
            {
                "uid": str(uuid.uuid4()),
                "student_id": st.id,
                "school_id": st.school_id,
                "owner_id": counselor_of[st.school_id],
                "warning_id": warning_of[st.id],
                "level": "L2",
                "status": "following",
                "opened_at": now,
                "updated_at": now,
                "version": 1,
            }
            for st in student_rows[::2]
        ]
        for i in range(0, len(cases), 10_000):
            s.execute(insert(CareCase), cases[i:i + 10_000])
        case_of = dict(
            s.execute(select(CareCase.student_id, CareCase.id).where(CareCase.school_id.in_(school_ids))).tuples().all()
        )
        rechecks = [
            {
                "student_id": st.id,
                "school_id": st.school_id,
                "warning_id": warning_of[st.id],
                "case_id": case_of.get(st.id),
                "level": "L2",
                "instrument_id": "phqa",
                "due_on": TODAY + timedelta(days=(k % 91) - 30),
                "status": "planned",
                "created_at": now,
            }
            for k, st in enumerate(student_rows)
        ]
        for i in range(0, n, 10_000):
            s.execute(insert(Recheck), rechecks[i:i + 10_000])
        s.commit()
    engine.dispose()
    return {"schools": len(school_ids), "students": n, "rechecks": n, "classes": len(classes)}


def run(scale: str, data: Any) -> list[dict]:
    from app.rechecks.policy import load_recheck_policy
    from app.rechecks.service import OPEN_STATUSES
    from app.scheduler.jobs import run_all_sweeps
    from models import Recheck
    from models.db import make_engine

    runs = runs_for(scale, heavy=True)
    policy = load_recheck_policy()
    now = datetime.combine(TODAY, dtime(8, 0), tzinfo=TZ).astimezone(UTC)
    notice = TODAY + policy.due_notice()
    with data.copy() as db:
        sizes = db.info
        engine = make_engine(db.url)
        try:
            with Session(engine) as s:
                def select_due() -> int:
                    return len(s.execute(select(Recheck.id).where(Recheck.status.in_(OPEN_STATUSES),
                                                                  Recheck.due_on <= notice)).all())

                results: list[dict] = []
                first_write: list[float] = []
                held: list[float] = []

                def on_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
                    if not first_write and statement.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
                        first_write.append(time.perf_counter())

                event.listen(engine, "before_cursor_execute", on_statement)

                def end(commit: bool = False) -> None:
                    s.commit() if commit else s.rollback()  # rolled back: every run starts from the same state
                    held.append(time.perf_counter() - first_write[0] if first_write else 0.0)
                    first_write.clear()

                def full_sweep() -> None:
                    results.append(run_all_sweeps(s, now, policy, TZ))
                    end()

                due_count = select_due()
                floor = sample(select_due, runs)
                sweep = sample(full_sweep, runs)
                result_full = results[-1]
                full_lock = Sample.of(held[-runs:])
                run_all_sweeps(s, now, policy, TZ)
                end(commit=True)
                results.clear()

                def steady() -> None:
                    results.append(run_all_sweeps(s, now, policy, TZ))
                    end()

                steady_s: Sample = sample(steady, runs)
                steady_lock = Sample.of(held[-runs:])
                steady_result = results[-1]
        finally:
            engine.dispose()
    n = sizes["rechecks"]
    backend = "PostgreSQL" if db.kind == "postgresql" else "SQLite"
    base = f"select the {due_count:,} due rechecks (one query)"
    return [
        result("sweep.full_s", f"full sweep over {n:,} open rechecks ({backend}; "
               f"{result_full['notifications_created']:,} notifications, "
               f"{result_full['rechecks']['rechecks_escalated']:,} escalated)", sweep, "s",
               [Floor("select_due", base, floor)],
               target=f"< {TARGET_S:g} s on SQLite" if backend == "SQLite" else None),
        result("sweep.steady_s", f"steady-state sweep (nothing new: {steady_result['notifications_created']} "
               f"notifications; write lock held {steady_lock.median:g} s: 0 = it wrote nothing)", steady_s, "s",
               [Floor("select_due", base, floor)], target=f"< {STEADY_TARGET_S:g} s at 100,000 open rechecks",
               write_lock_s=steady_lock.median),
        result("sweep.full_write_lock_s", f"full sweep: write lock held ({backend}; first write to end of "
               "transaction)", full_lock, "s", [Floor("full", "the whole full sweep, same runs", sweep)]),
    ]


if __name__ == "__main__":
    from bench.__main__ import standalone

    standalone("bench_sweep")
