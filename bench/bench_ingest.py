"""Benchmark of screening ingest (issue 5): a whole district campaign stored through `record_screening`.

    .venv/bin/python -m bench.bench_ingest [tiny|small|district]

Data: `ingest` (built here once per run): students (4,000 small, 20,000 district, 400 tiny) with data keys and no
screenings, one school and counselor per 1,000 students. Each run works on a fresh copy: one half of the students
through the service, the other half with receivers muted, the floor on the first half's forms again.

* screenings stored per second through the service: validate, score, seal the answers (AES-GCM under the
  student's data key), suggest the level, open the warning (+ history row), notify counselors of a crisis, send
  `screening_recorded` (the receivers other areas connect run too: the app is created), flush and commit.
  Bulk loading runs inside `batch(...)` as the importer does. A second figure mutes the signal's receivers: the
  screenings area's own cost.
* against inserting the same number of screening rows raw (one executemany INSERT of prepared dicts, same
  column values, sealed-size answer blobs) and committing, in the same run: the lower bound of storage alone.
  Ratio = service rate / raw rate.

Answers are drawn so that about 15% of forms are positive and about 1% carry a crisis answer (as in a real
campaign). Median of several runs (each on its own copy).
"""
from __future__ import annotations

import random
import time
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from bench.core import Floor, Sample, result, runs_for

DATA = "ingest"
SIZES = {"tiny": 400, "small": 4_000, "district": 20_000}  # students (half per measurement), 2 forms each
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
        school = School(
            district_id=district.id, code=f"BI{tag}{k:03d}", name=f"基准学校{k}", type="urban", stage="junior"
        )
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
        student = Student(
            school_id=klass.school_id, class_id=klass.id, grade=klass.grade, gender="MF"[i % 2], birth_ym="2012-09"
        )
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


def _forms(n_students: int) -> list[tuple[int, str, list[int | None]]]:
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

    from app.screenings.recording import batch, record_screening
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
                record_screening(
                    session, actor, vault, ordered[i], inst, answers, mode="import", administered_on=day, today=day
                )
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
    from models.base import new_uid, table_of, utcnow

    with Session(engine) as session:
        info = {sid: (school, klass, grade) for sid, school, klass, grade in session.execute(
            select(Student.id, Student.school_id, Student.class_id, Student.grade).where(Student.id.in_(student_ids)))}
        now = utcnow()
        rows = []
        for i, inst, answers in forms:
            sid = student_ids[i]
            school, klass, grade = info[sid]
            rows.append(
                {
                    "uid": new_uid(),
                    "student_id": sid,
                    "school_id": school,
                    "class_id": klass,
                    "grade": grade,
                    "instrument_id": inst,
                    "instrument_version": "1.0",
                    "mode": "import",
                    "administered_on": date(2026, 10, 12),
                    "recorded_at": now,
                    "answers_enc": os.urandom(60 + 3 * len(answers)),
                    "valid": True,
                    "total": sum(answers),
                    "band": "minimal",
                    "positive": False,
                    "critical": False,
                    "flags": "[]",
                    "result_json": json.dumps({}),
                    "suggested_level": "none",
                }
            )
        start = time.perf_counter()
        session.execute(insert(table_of(Screening)), rows)
        session.commit()
        return time.perf_counter() - start


def build_students(url: str, scale: str, workdir: Path, base: dict[str, Any]) -> dict[str, Any]:
    """The `ingest` data set, into the migrated template at `url`; the key ring in `workdir/keys.json`."""
    from sqlalchemy.orm import Session

    from models.crypto import KeyRing
    from models.db import make_engine

    key_file = workdir / "keys.json"
    ring = KeyRing.generate_file(str(key_file))
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            student_ids, _ = _seed(session, ring, SIZES.get(scale, SIZES["small"]))
            session.commit()
    finally:
        engine.dispose()
    return {"students": len(student_ids), "student_ids": student_ids, "key_file": str(key_file)}


def run(scale: str, data: Any) -> list[dict]:
    from app import create_app
    from app.db import db as app_db
    from app.signals import screening_recorded
    from config import TestingConfig
    from models.crypto import KeyRing
    from models.db import make_engine

    runs = runs_for(scale, heavy=True)
    service_s, own_s, raw_s = [], [], []
    kind = "sqlite"
    for _ in range(runs):  # no warm-up run: each run has its own copy and app, created before the timing
        with data.copy() as db:
            kind = db.kind
            info = db.info
            ring = KeyRing.from_file(info["key_file"])
            engine = make_engine(db.url)
            try:
                app = create_app(TestingConfig(), {"DATABASE_URL": db.url, "KEYRING": ring})
                app_db.bind(app, engine)
                student_ids = info["student_ids"]
                half = len(student_ids) // 2
                first, second = student_ids[:half], student_ids[half:]
                forms = _forms(len(first))
                t_service = _service(app, engine, ring, first, forms)
                with screening_recorded.muted():  # this area's own path: no receiver of another area runs
                    t_own = _service(app, engine, ring, second, _forms(len(second)))
                t_raw = _raw(engine, first, forms)
            finally:
                engine.dispose()
        service_s.append(t_service)
        own_s.append(t_own)
        raw_s.append(t_raw)
    n_forms = len(forms)
    raw = Sample.of(raw_s).rate(n_forms)
    floor = [Floor("raw_insert", "the same number of screening rows inserted raw (one executemany INSERT of prepared "
                   "values) and committed", raw)]
    return [
        result("ingest.record_screening_per_second", f"screenings stored per second through record_screening "
               f"({n_forms:,} forms of {half:,} students, {kind}; score + seal + warning + crisis notify + signal + "
               "commit)", Sample.of(service_s).rate(n_forms), "screenings/s", floor, better="higher",
               target=f">= {TARGET_PER_SECOND:,.0f} screenings/s on SQLite"),
        result("ingest.record_screening_muted_per_second", f"the same, screening_recorded receivers of other areas "
               f"muted (this area's own cost; {n_forms:,} forms, {kind})", Sample.of(own_s).rate(n_forms),
               "screenings/s", floor, better="higher"),
    ]


if __name__ == "__main__":
    from bench.__main__ import standalone

    standalone("bench_ingest")
