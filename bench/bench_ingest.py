"""Benchmark of screening ingest (issue 5): a whole district campaign stored through `record_screening`.

    .venv/bin/python -m bench.bench_ingest [small|district|large] [DATABASE_URL]

* screenings stored per second through the service: validate, score, seal the answers (AES-GCM under the
  student's data key), suggest the level, open the warning (+ history row), notify counselors of a crisis, send
  `screening_recorded` (the receivers other areas connect run too: the app is created), flush and commit.
  Bulk loading runs inside `batch(...)` as the importer does. A second figure mutes the signal's receivers: the
  screenings area's own cost.
* against inserting the same number of screening rows raw (one executemany INSERT of prepared dicts, same
  column values, sealed-size answer blobs) and committing, in the same run: the lower bound of storage alone.
  Ratio = service rate / raw rate.

Answers are drawn so that about 15% of forms are positive and about 1% carry a crisis answer (as in a real
campaign). Without DATABASE_URL a temporary SQLite file is used (and removed). With one, the database is migrated
and a district with a random code is added to it (use a scratch database).
"""
from __future__ import annotations

import random
import sys
import time
import uuid
from datetime import date
from typing import Any

SIZES = {"small": 4_000, "district": 20_000, "large": 60_000}  # students (half per measurement), 2 forms each
TARGET_PER_SECOND = 1_000.0


def _seed(session: Any, ring: Any, n: int) -> tuple[list[int], int]:
    from sqlalchemy import select

    from models import District, School, SchoolClass, Student, User
    from models.audit import Actor
    from models.vault import Vault

    tag = uuid.uuid4().hex[:8]
    district = District(code=f"BI-{tag}", name="基准测试区")
    session.add(district)
    session.flush()
    per_school = 1_000
    vault = Vault(session, ring, Actor.system("bench"))
    ids: list[int] = []
    classes: list[Any] = []
    for k in range((n + per_school - 1) // per_school):
        school = School(district_id=district.id, code=f"BI{tag}{k:03d}", name=f"基准学校{k}", type="urban", stage="junior")
        session.add(school)
        session.flush()
        counselor = User(username=f"bi-{tag}-{k}", display_name="心理老师", password_hash="-", role="counselor",
                         district_id=district.id)
        counselor.schools = [school]
        session.add(counselor)
        school_classes = [SchoolClass(school_id=school.id, grade=7 + (c % 3), name=f"{7 + c % 3}年级({c})班",
                                      school_year="2026-2027") for c in range(20)]
        session.add_all(school_classes)
        session.flush()
        classes += school_classes
    rng = random.Random(7)
    groups = ("left_behind", "migrant", "hardship")
    for i in range(n):
        klass = classes[i // 50 % len(classes)]
        student = Student(school_id=klass.school_id, class_id=klass.id, grade=klass.grade, gender="MF"[i % 2], birth_ym="2012-09")
        session.add(student)
        vault.seal_identity(student, name=f"学生{i}", student_number=f"B{i:09d}")
        if rng.random() < 0.2:
            student.set_care_groups([rng.choice(groups)])
        if i % 1_000 == 999:
            session.flush()
    session.flush()
    ids = list(session.scalars(select(Student.id).where(
        Student.school_id.in_(select(School.id).where(School.district_id == district.id))).order_by(Student.id)))
    return ids, district.id


def _forms(n_students: int) -> list[tuple[int, str, list[int]]]:
    """(student index, instrument, answers): PHQ-A and GAD-7 for each student, ~15% positive, ~1% crisis."""
    from app.screenings.demo import _answers

    rng = random.Random(11)
    out = []
    for i in range(n_students):
        roll = rng.random()
        profile = "high" if roll < 0.08 else ("low" if roll < 0.30 else "calm")
        crisis = profile == "high" and rng.random() < 0.12
        out.append((i, "phqa", _answers("phqa", profile, rng, crisis)))
        out.append((i, "gad7", _answers("gad7", profile, rng, False)))
    return out


def _service(app: Any, engine: Any, ring: Any, student_ids: list[int], forms: list) -> float:
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from app.screenings.service import batch, record_screening
    from models import Student
    from models.audit import Actor
    from models.vault import Vault

    with app.app_context(), Session(engine) as session:
        students = {s.id: s for s in session.scalars(select(Student).where(Student.id.in_(student_ids)))}
        actor = Actor.system("bench")
        vault = Vault(session, ring, actor)
        ordered = [students[sid] for sid in student_ids]
        day = date(2026, 10, 12)
        start = time.perf_counter()
        vault.preload_keys(s.data_key_id for s in ordered)  # as a real import does (match_by_number)
        with batch(session, ordered):
            for k, (i, inst, answers) in enumerate(forms):
                record_screening(session, actor, vault, ordered[i], inst, answers, mode="import", administered_on=day, today=day)
                if k % 1_000 == 999:
                    session.flush()
        session.commit()
        return time.perf_counter() - start


def _raw(engine: Any, student_ids: list[int], forms: list) -> float:
    """The same number of rows, values prepared beforehand, one executemany INSERT and a commit."""
    import json
    import os

    from sqlalchemy import insert, select
    from sqlalchemy.orm import Session

    from models import Screening, Student
    from models.base import new_uid, utcnow

    with Session(engine) as session:
        info = {sid: (school, klass, grade) for sid, school, klass, grade in session.execute(
            select(Student.id, Student.school_id, Student.class_id, Student.grade).where(Student.id.in_(student_ids)))}
        now = utcnow()
        rows = []
        for i, inst, answers in forms:
            sid = student_ids[i]
            school, klass, grade = info[sid]
            rows.append({
                "uid": new_uid(), "student_id": sid, "school_id": school, "class_id": klass, "grade": grade,
                "instrument_id": inst, "instrument_version": "1.0", "mode": "import", "administered_on": date(2026, 10, 12),
                "recorded_at": now, "answers_enc": os.urandom(60 + 3 * len(answers)), "valid": True, "total": sum(answers),
                "band": "minimal", "positive": False, "critical": False, "flags": "[]", "result_json": json.dumps({}),
                "suggested_level": "none",
            })
        start = time.perf_counter()
        session.execute(insert(Screening.__table__), rows)
        session.commit()
        return time.perf_counter() - start


def run(scale: str = "small", database_url: str | None = None) -> list[dict]:
    from sqlalchemy.orm import Session

    from app import create_app
    from app.db import db
    from bench import scratch_database
    from config import TestingConfig
    from models.crypto import KeyRing

    n = SIZES.get(scale, SIZES["small"])
    with scratch_database("ingest", database_url) as (database_url, engine):
        ring = KeyRing.generate()
        app = create_app(TestingConfig(), {"DATABASE_URL": database_url, "KEYRING": ring})
        db.bind(app, engine)
        with Session(engine) as session:
            student_ids, _ = _seed(session, ring, n)
            session.commit()
        from app.signals import screening_recorded

        half = len(student_ids) // 2
        first, second = student_ids[:half], student_ids[half:]
        forms = _forms(len(first))
        t_service = _service(app, engine, ring, first, forms)
        with screening_recorded.muted():  # this area's own path: no receiver of another area runs
            t_own = _service(app, engine, ring, second, _forms(len(second)))
        t_raw = _raw(engine, first, forms)
    rate, raw_rate, own_rate = len(forms) / t_service, len(forms) / t_raw, len(forms) / t_own
    backend = database_url.split(":", 1)[0]
    return [
        {
            "metric": f"screenings_stored_per_second_through_record_screening ({len(forms):,} forms of {half:,} "
                      f"students, {backend}; score + seal + warning + crisis notify + signal + commit; higher is better; "
                      "ratio = service rate / raw insert rate)",
            "value": round(rate, 1),
            "unit": "screenings/s",
            "baseline": "the same number of screening rows inserted raw (one executemany INSERT of prepared values) and "
                        "committed, same run",
            "baseline_value": round(raw_rate, 1),
            "ratio": round(rate / raw_rate, 4),
            "target": f">= {TARGET_PER_SECOND:,.0f} screenings/s on SQLite",
        },
        {
            "metric": f"screenings_stored_per_second_through_record_screening_receivers_muted ({len(forms):,} forms, "
                      f"{backend}; the same path with the screening_recorded receivers of other areas muted, i.e. "
                      "this area's own cost; higher is better; ratio = rate / raw insert rate)",
            "value": round(own_rate, 1),
            "unit": "screenings/s",
            "baseline": "the same raw executemany INSERT as above, same run",
            "baseline_value": round(raw_rate, 1),
            "ratio": round(own_rate / raw_rate, 4),
            "target": None,
        },
    ]


if __name__ == "__main__":
    args = sys.argv[1:]
    for row in run(args[0] if args else "small", args[1] if len(args) > 1 else None):
        target = f"  target: {row['target']}" if row["target"] else ""
        print(f"{row['metric']}\n  {row['value']:,} {row['unit']}; baseline {row['baseline_value']:,} "
              f"({row['baseline']}); ratio {row['ratio']}{target}")
