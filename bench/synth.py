"""The synthetic district for the benchmarks: `build_district(database_url, scale) -> dict`.

    .venv/bin/python -m bench.synth [tiny|small|district] DIRECTORY    (DIRECTORY/bench.db and keys.json, kept)

As a benchmark data set (`district` in bench/data.py) it is built by `build_dataset` into the run's template.

- district: 60,000 students in 100 schools (60 primary, 30 junior, 10 nine-year; rural small, township boarding,
  urban and other), care groups at the rates of the demo district, 1.2 million screenings over five years
  (PHQ-A and GAD-7, two rounds a year), warnings for the latest round's positive screens, one counselor per
  school (username `bench-c<NNN>`, password `BENCH_PASSWORD`).
- small: 6 schools, 1,800 students, 4 rounds; tiny (the smoke test): 2 schools, 60 students, 2 rounds.

Identity and answers are real ciphertext made by the real Vault (`seal_identity` / `seal_into`, one data key per
student, wrapped by the key ring's master key); rows go in with executemany in chunks (a fast path: no ORM unit of
work for the 1.2 million screenings). Scores come from the real engine: a pool of answer lists drawn with a
realistic tilt towards "not at all" is scored once, and screenings sample from the pool, so positive and critical
rates are those of a school screening (about 8-9 % positive per form, about 3 % of PHQ-A forms critical).
The key ring is written to `<workdir>/keys.json` so that a server started on the same database can open the data.
"""
from __future__ import annotations

import json
import random
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

BENCH_PASSWORD = "bench-password-1"
DISTRICT_CODE = "BENCH01"
SCHOOL_YEAR = "2026-2027"
TODAY = date(2026, 11, 29)
INSTRUMENTS = ("phqa", "gad7")
DISTRESSED_SHARE = 0.15  # students answering like a distressed adolescent
ANSWER_TILT = {False: (0.70, 0.21, 0.07, 0.02), True: (0.22, 0.35, 0.28, 0.15)}  # P(lowest .. highest option)
CRITICAL_TILT = {False: (0.996, 0.003, 0.001, 0.0), True: (0.96, 0.03, 0.008, 0.002)}  # self-harm items
YES_NO_TILT = (0.985, 0.015)  # P(answer = lowest, 2nd, 3rd, highest option): a typical school
CARE_RATES: dict[str, dict[str, float]] = {
    "urban": {"left_behind": 0.04, "migrant": 0.17, "hardship": 0.04},
    "rural_small": {"left_behind": 0.28, "migrant": 0.03, "hardship": 0.07},
    "township_boarding": {"left_behind": 0.22, "migrant": 0.12, "hardship": 0.06, "boarding": 0.75},
    "other": {"left_behind": 0.10, "migrant": 0.05, "hardship": 0.10, "boarding": 0.3},
}
GRADE_WORDS = {1: "一", 2: "二", 3: "三", 4: "四", 5: "五", 6: "六", 7: "七", 8: "八", 9: "九"}


@dataclass(frozen=True)
class Scale:
    schools: int
    students: int
    rounds: int  # screening rounds (two a year), each with every instrument for every student


SCALES = {
    "tiny": Scale(2, 60, 2),
    "small": Scale(6, 1_800, 4),
    "district": Scale(100, 60_000, 10),
}


def scale_of(name: str) -> Scale:
    return SCALES.get(name, SCALES["small"])


def rounds_for(n: int) -> list[date]:
    """The last n screening rounds up to the current autumn: October and April of each school year."""
    out: list[date] = []
    year, month = 2026, 10
    while len(out) < n:
        out.append(date(year, month, 12))
        year, month = (year, 4) if month == 10 else (year - 1, 10)
    return sorted(out)


def _school_plan(i: int) -> tuple[str, str]:
    """(stage, type) of the i-th school: 60 % primary, 30 % junior, 10 % nine-year; a realistic type mix."""
    stage = "primary" if i % 10 < 6 else ("junior" if i % 10 < 9 else "nine_year")
    kinds = ("rural_small", "township_boarding", "urban", "rural_small", "urban", "township_boarding", "other", "urban")
    return stage, kinds[i % len(kinds)]


def class_name(grade: int, number: int) -> str:
    return f"{GRADE_WORDS[grade]}年级({number})班"


class _SealTarget:
    """The minimal row the Vault needs to seal a screening's answers (table, uid); no ORM object per screening."""

    __tablename__ = "screenings"
    __slots__ = ("uid", "answers_enc")

    def __init__(self, uid: str):
        self.uid = uid
        self.answers_enc: bytes | None = None

    def ensure_uid(self) -> str:
        return self.uid


class _KeyHolder:
    __slots__ = ("data_key_id",)

    def __init__(self, key_id: int):
        self.data_key_id = key_id


def _answer_pool(rng: random.Random, instrument_id: str, n: int = 4000) -> list[tuple[list[int], dict[str, Any]]]:
    from config import BaseConfig
    from screening import get_instrument, load_policy, score, suggest_level

    inst = get_instrument(instrument_id)
    policy = load_policy(BaseConfig.WARNING_POLICY_FILE)  # the policy an app of the default config would load
    critical_items = {c.item for c in inst.critical}
    pool = []
    for _ in range(n):
        distressed = rng.random() < DISTRESSED_SHARE
        answers = []
        for item in inst.items:
            values = sorted(item.values)  # lowest = "not at all" / "no", whatever order the item lists them in
            if item.number in critical_items:
                weights = list(CRITICAL_TILT[distressed])
            elif len(values) == 2:
                weights = list(YES_NO_TILT)
            else:
                weights = list(ANSWER_TILT[distressed])
            weights = (
                (weights + [0.01] * len(values))[: len(values)] if len(values) > 2 else [weights[0], sum(weights[1:])]
            )
            answers.append(rng.choices(values, weights=weights)[0])
        r = score(instrument_id, answers)
        level, reasons = suggest_level([r], (), policy)
        pool.append((answers, {
            "instrument_version": r.version, "valid": r.valid, "total": r.total, "band": r.band,
            "positive": r.positive, "critical": r.critical, "flags": json.dumps(list(r.flags)),
            "result_json": json.dumps(r.to_dict(), ensure_ascii=False, default=str), "suggested_level": level,
            "reasons": json.dumps(reasons, ensure_ascii=False),
        }))
    return pool


def build_dataset(url: str, scale: str, workdir: Path, base: dict[str, Any]) -> dict[str, Any]:
    """The `district` data set (bench/data.py): the district built into the migrated template at `url`."""
    info = build_district(url, scale, workdir=workdir, migrate=False)
    return {k: v for k, v in info.items() if k not in ("database_url", "workdir")}


def build_district(database_url: str, scale: str = "small", *, workdir: Path | str,
                   migrate: bool = True, seed: int = 20261129, log: Any = None) -> dict[str, Any]:
    """Build the synthetic district in a (fresh) database; returns ids, counts, the key file and timings.
    The key ring is written to `<workdir>/keys.json` (reused if it is there)."""
    from app.auth.service import hash_password
    from app.cli import upgrade_database
    from models import Actor, District, School, SchoolClass, Screening, Student, StudentCareGroup, User, Warning
    from models.crypto import KeyRing
    from models.db import make_engine
    from models.vault import Vault

    log = log or (lambda *a: None)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sc = scale_of(scale)
    rng = random.Random(seed)
    started = time.perf_counter()
    if migrate:
        upgrade_database(database_url)
    key_file = workdir / "keys.json"
    ring = KeyRing.generate_file(str(key_file)) if not key_file.exists() else KeyRing.from_file(str(key_file))
    engine = make_engine(database_url)
    session = Session(bind=engine, expire_on_commit=False)
    vault = Vault(session, ring, Actor.system("bench-synth"))
    from app.demo import names

    district = District(code=f"{DISTRICT_CODE}-{uuid.uuid4().hex[:6]}", name="基准测试区")
    session.add(district)
    session.flush()
    per_school = sc.students // sc.schools
    schools: list[School] = []
    classes: dict[int, list[SchoolClass]] = {}
    for i in range(sc.schools):
        stage, kind = _school_plan(i)
        school = School(district_id=district.id, code=f"{district.code}-{i + 1:03d}", name=f"基准第{i + 1}学校",
                        type=kind, stage=stage)
        session.add(school)
        schools.append(school)
    session.flush()
    for school in schools:
        grades = list(school.grades)
        per_grade = max(1, per_school // len(grades))
        n_classes = max(1, round(per_grade / 40))
        classes[school.id] = []
        for g in grades:
            for k in range(1, n_classes + 1):
                klass = SchoolClass(school_id=school.id, grade=g, name=class_name(g, k), school_year=SCHOOL_YEAR)
                session.add(klass)
                classes[school.id].append(klass)
    session.flush()
    hashed = hash_password(BENCH_PASSWORD)
    counselors = []
    for i, school in enumerate(schools):
        user = User(username=f"bench-c{i + 1:03d}-{district.code[-6:]}", display_name=f"基准心理教师{i + 1}",
                    password_hash=hashed, role="counselor", active=True, district_id=district.id)
        user.schools = [school]
        session.add(user)
        counselors.append(user)
    session.flush()
    session.commit()
    log(f"synth: {len(schools)} schools, {sum(len(v) for v in classes.values())} classes, {len(counselors)} counselors")

    # -- students: sealed through the Vault, inserted in batches ---------------------------------------------
    t0 = time.perf_counter()
    student_rows: list[
        tuple[int, int, int | None, int, int, tuple[str, ...]]
    ] = []  # id, school, class, grade, key, groups
    seq = 0
    cols = ("public_id", "school_id", "class_id", "grade", "gender", "birth_ym", "status", "data_key_id", "name_enc",
            "student_number_enc", "national_id_enc", "guardians_enc", "name_bidx", "student_number_bidx")
    for school in schools:
        batch: list[dict[str, Any]] = []
        meta: list[tuple[int | None, int, int, tuple[str, ...]]] = []
        rates = CARE_RATES[school.type]
        school_classes = classes[school.id]
        for n in range(per_school):
            seq += 1
            klass = school_classes[n % len(school_classes)]
            gender = "M" if rng.random() < 0.52 else "F"
            family = names.surname(rng)
            groups = tuple(sorted(g for g, p in rates.items() if rng.random() < p))
            born_year = 2026 - klass.grade - 6 - (1 if rng.random() < 0.6 else 0)
            st = Student(school_id=school.id, class_id=klass.id, grade=klass.grade, gender=gender,
                         birth_ym=f"{born_year}-{rng.randint(1, 12):02d}", status="enrolled")
            vault.seal_identity(
                st, name=names.child_name(rng, gender, family), student_number=f"G{born_year}{seq:010d}",
                guardians=[{"name": names.adult_name(rng, "F"), "relation": "母亲", "phone": names.mobile(rng)}],
            )
            batch.append({c: getattr(st, c) for c in cols})
            # seal_identity gave the student its data key: data_key_id is set here
            meta.append((klass.id, klass.grade, st.data_key_id, groups))  # type: ignore[arg-type]
        session.flush()  # data keys
        ids = list(
            session.execute(insert(Student).returning(Student.id, sort_by_parameter_order=True), batch).scalars()
        )
        cg = [{"student_id": sid, "group": g} for sid, m in zip(ids, meta, strict=True) for g in m[3]]
        if cg:
            session.execute(insert(StudentCareGroup), cg)
        for sid, (cid, grade, key, groups) in zip(ids, meta, strict=True):
            student_rows.append((sid, school.id, cid, grade, key, groups))
        session.commit()
    students_seconds = time.perf_counter() - t0
    log(f"synth: {len(student_rows):,} students sealed and inserted in {students_seconds:.1f} s")

    # -- screenings: 2 instruments x rounds, answers sealed under each student's key ---------------------------
    t0 = time.perf_counter()
    pools = {i: _answer_pool(rng, i) for i in INSTRUMENTS}
    rounds = rounds_for(sc.rounds)
    latest = rounds[-1]
    screenings = 0
    warnings = 0
    positives_latest = 0
    recorded_at = datetime(2026, 10, 20, 8, 0, tzinfo=UTC)
    from app.care.warning_lifecycle import interview_due

    # The 1.2 million screening rows go through the driver's executemany with values already in the database's
    # representation (SQLAlchemy's bind processors applied once per distinct value): no per-row SQLAlchemy work.
    table = Screening.__table__
    columns = ["uid", "student_id", "school_id", "class_id", "grade", "instrument_id", "instrument_version", "mode",
               "administered_on", "recorded_at", "answers_enc", "valid", "total", "band", "positive", "critical",
               "flags", "result_json", "suggested_level"]
    dialect = engine.dialect
    marker = "?" if dialect.paramstyle == "qmark" else "%s"
    raw_sql = f"INSERT INTO screenings ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"

    def bound(column: str, value: Any) -> Any:
        proc = table.c[column].type._cached_bind_processor(dialect)
        return proc(value) if proc is not None and value is not None else value

    recorded_bound = bound("recorded_at", recorded_at)
    day_bound = {day: bound("administered_on", day) for day in rounds}
    bool_bound = {v: bound("valid", v) for v in (True, False)}
    for inst in INSTRUMENTS:
        for _, res in pools[inst]:
            res["_fixed"] = (res["instrument_version"], "self")
            res["_tail"] = (bool_bound[bool(res["valid"])], res["total"], res["band"],
                            None if res["positive"] is None else bool_bound[bool(res["positive"])],
                            bool_bound[bool(res["critical"])], res["flags"], res["result_json"], res["suggested_level"])
    chunk: list[tuple[Any, ...]] = []
    pending_warnings: list[tuple[str, dict[str, Any]]] = []

    def flush_chunk() -> None:
        nonlocal chunk, pending_warnings, warnings
        if not chunk:
            return
        session.connection().exec_driver_sql(raw_sql, chunk)
        if pending_warnings:
            uids = [u for u, _ in pending_warnings]
            ids = dict(
                session.execute(select(Screening.uid, Screening.id).where(Screening.uid.in_(uids))).tuples().all()
            )
            rows = []
            for uid, w in pending_warnings:
                w["screening_id"] = ids[uid]
                rows.append(w)
            session.execute(insert(Warning), rows)
            warnings += len(rows)
        session.commit()
        chunk, pending_warnings = [], []

    for sid, school_id, class_id, grade, key_id, _groups in student_rows:
        holder = _KeyHolder(key_id)
        for day in rounds:
            for inst in INSTRUMENTS:
                answers, res = pools[inst][rng.randrange(len(pools[inst]))]
                uid = str(uuid.uuid4())
                target = _SealTarget(uid)
                # _KeyHolder: only the data_key_id that seal_into reads (no Student row is loaded)
                vault.seal_into(target, "answers", answers, student=holder)  # type: ignore[arg-type]
                chunk.append(
                    (
                        uid,
                        sid,
                        school_id,
                        class_id,
                        grade,
                        inst,
                        *res["_fixed"],
                        day_bound[day],
                        recorded_bound,
                        target.answers_enc,
                        *res["_tail"],
                    )
                )
                screenings += 1
                if day == latest and res["suggested_level"] in ("L1", "L2", "L3"):
                    positives_latest += 1
                    pending_warnings.append(
                        (
                            uid,
                            {
                                "uid": str(uuid.uuid4()),
                                "student_id": sid,
                                "school_id": school_id,
                                "suggested_level": res["suggested_level"],
                                "reasons": res["reasons"],
                                "status": "suggested",
                                "interview_due_on": interview_due(
                                    res["suggested_level"], TODAY - timedelta(days=rng.randint(0, 20))
                                ),
                                "created_at": recorded_at,
                            },
                        )
                    )
        if len(chunk) >= 20_000:
            flush_chunk()
    flush_chunk()
    screenings_seconds = time.perf_counter() - t0
    log(f"synth: {screenings:,} screenings ({warnings:,} warnings on the latest round) in {screenings_seconds:.1f} s")
    session.close()
    engine.dispose()
    first = schools[0]
    return {
        "database_url": database_url,
        "workdir": str(workdir),
        "key_file": str(key_file),
        "district_id": district.id,
        "district_code": district.code,
        "school_ids": [s.id for s in schools],
        "school_codes": [s.code for s in schools],
        "counselors": [u.username for u in counselors],
        "password": BENCH_PASSWORD,
        "first_school": {"id": first.id, "code": first.code, "students": per_school},
        "students": len(student_rows),
        "screenings": screenings,
        "warnings": warnings,
        "latest_round_positive_rate": round(positives_latest / max(1, len(student_rows) * len(INSTRUMENTS)), 4),
        "seconds": {"students": round(students_seconds, 2), "screenings": round(screenings_seconds, 2),
                    "total": round(time.perf_counter() - started, 2)},
        "scale": scale,
    }


if __name__ == "__main__":
    scale_name = sys.argv[1] if len(sys.argv) > 1 else "small"
    folder = Path(sys.argv[2] if len(sys.argv) > 2 else "instance/bench-synth")
    folder.mkdir(parents=True, exist_ok=True)
    info = build_district(f"sqlite:///{folder.resolve() / 'bench.db'}", scale_name, workdir=folder, log=print)
    print(
        json.dumps({k: v for k, v in info.items() if k not in ("school_ids", "school_codes", "counselors")}, indent=2)
    )
