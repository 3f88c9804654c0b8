"""Benchmark of the roster import: rows per second against three floors measured in the same process on the same
rows, and the import's peak memory.

    .venv/bin/python -m bench.bench_import [tiny|small|district]

Data: `empty` (the migrated schema). Every run is a child process (so its peak resident memory, VmHWM, is the
import's own) given two fresh copies: one to import into, one for the floors. Median of several runs.

- "per school": the district's roster as one CSV file per school (600 students each at district scale), imported
  the way a district does it: `plan_import` + `apply_import` + one commit per file. Then the same files again
  (idempotent re-import: every row unchanged, nothing written).
- "one file": every student of the scale in ONE file (60,000 rows at district scale, the row limit raised for the
  occasion), the memory stress case.

Floors, per file as the import does it:
- clear text: the file's cells, already in memory, inserted unencrypted with one executemany into a plain table;
- store: the import's own rows read back from its database (the same encrypted bytes, blind indexes and data keys,
  the classes and care groups it made) inserted into the identical empty copy with the driver's executemany, one
  transaction per file: the design's writes without the app (no parsing, matching, ORM, Vault, audit);
- seal + store: the store floor plus producing those bytes with models.crypto directly (a data key made and wrapped,
  name, number and guardians sealed, two blind indexes per student).
Values are typed the messy way (七(3)班 / 7.3, 2014年3月 / 201403, 是 / √, full-width digits now and then), so
the import's normalising work is part of what is measured.
"""
from __future__ import annotations

import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from bench.core import Floor, Sample, result, runs_for

DATA = "empty"
SIZES = {"tiny": (2, 50), "small": (4, 1_000), "district": (100, 600)}  # (schools, students per school)
TARGET_RATIO = 1.5  # issue 18: the import within 1.5x of the store floor
TARGET_MB = 300
HEADER = [
    "姓名",
    "性别",
    "学籍号",
    "出生年月",
    "年级",
    "班级",
    "留守儿童",
    "随迁子女",
    "困难学生",
    "寄宿",
    "监护人",
    "联系电话",
]
GRADE_WORDS = "一二三四五六七八九"
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _rows(rng: random.Random, prefix: str, start: int, n: int) -> list[list[str]]:
    from app.demo import names

    out = []
    for i in range(start, start + n):
        grade = rng.randint(1, 9)
        klass = rng.randint(1, 6)
        year = 2026 - grade - 6
        month = rng.randint(1, 12)
        gender = "M" if rng.random() < 0.52 else "F"
        birth = rng.choice([f"{year}-{month:02d}", f"{year}年{month}月", f"{year}{month:02d}", f"{year}/{month}"])
        grade_text = rng.choice([f"{GRADE_WORDS[grade - 1]}年级", str(grade)])
        class_text = rng.choice([f"{GRADE_WORDS[grade - 1]}({klass})班", f"{grade}.{klass}", f"{klass}班"])
        number = f"G{prefix}{i:08d}"
        if rng.random() < 0.05:
            number = number.translate(FULLWIDTH)
        yes = lambda p: rng.choice(["是", "√", "Y"]) if rng.random() < p else rng.choice(["否", "", "N"])  # noqa: E731
        out.append(
            [
                names.child_name(rng, gender),
                "男" if gender == "M" else "女",
                number,
                birth,
                grade_text,
                class_text,
                yes(0.15),
                yes(0.1),
                yes(0.05),
                yes(0.2),
                names.adult_name(rng, "F"),
                names.mobile(rng),
            ]
        )
    return out


def _write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        w.writerows(rows)


RAW_TABLE = "bench_raw_roster"


def _raw_insert(engine: Any, files: list[Path]) -> float:
    """The lower bound: the same rows, read beforehand, inserted in clear with one executemany per file."""
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE IF EXISTS {RAW_TABLE}"))
        conn.execute(
            text(
                f"CREATE TABLE {RAW_TABLE} (school INTEGER, name VARCHAR(50), gender VARCHAR(4), "
                "student_number VARCHAR(40), birth VARCHAR(12), grade VARCHAR(10), class VARCHAR(20), "
                "left_behind VARCHAR(4), "
                "migrant VARCHAR(4), hardship VARCHAR(4), boarding VARCHAR(4), guardian VARCHAR(50), phone VARCHAR(20))"
            )
        )
    loaded: list[list[dict[str, Any]]] = []
    for n, path in enumerate(files):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))[1:]
        loaded.append([dict(zip(("school", "name", "gender", "student_number", "birth", "grade", "class", "left_behind",
                                 "migrant", "hardship", "boarding", "guardian", "phone"), [n, *r], strict=True))
                       for r in rows])
    stmt = text(
        f"INSERT INTO {RAW_TABLE} (school, name, gender, student_number, birth, grade, class, left_behind, "
        "migrant, hardship, boarding, guardian, phone) VALUES (:school, :name, :gender, :student_number, :birth, "
        ":grade, :class, :left_behind, :migrant, :hardship, :boarding, :guardian, :phone)"
    )
    start = time.perf_counter()
    for school_rows in loaded:
        with engine.begin() as conn:
            conn.execute(stmt, school_rows)
    seconds = time.perf_counter() - start
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {RAW_TABLE}"))
    return seconds


def write_files(scale: str, mode: str, workdir: Path) -> int:
    """The roster files (written by the parent, so the child's peak memory is the import's own); returns rows."""
    schools_n, per_school = SIZES.get(scale, SIZES["small"])
    rng = random.Random(7)
    prefix = f"{rng.randint(10, 99)}{uuid.uuid4().int % 10_000:04d}"
    if mode == "one-file":
        _write_csv(workdir / "all.csv", _rows(rng, prefix, 0, schools_n * per_school))
    else:
        for n in range(schools_n):
            _write_csv(workdir / f"school-{n:03d}.csv", _rows(rng, prefix, n * per_school, per_school))
    return schools_n * per_school


def peak_mb() -> float:
    """This process's resident-memory high-water mark. VmHWM, not ru_maxrss: on Linux ru_maxrss survives execve,
    so a child started by a big parent would report the parent's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


STORED_TABLES = ("classes", "data_keys", "students", "student_care_groups")


def _make_schools(engine: Any, n: int) -> list[int]:
    """The district and its schools, the same in both copies (so ids match)."""
    from sqlalchemy.orm import Session

    from models import District, School

    with Session(bind=engine, expire_on_commit=False) as s:
        district = District(code="IMP-BENCH", name="导入基准区")
        s.add(district)
        s.flush()
        schools = [School(district_id=district.id, code=f"IMP-BENCH-{i:03d}", name=f"导入基准学校{i}", type="urban",
                          stage="nine_year") for i in range(n)]
        s.add_all(schools)
        s.commit()
        return [sc.id for sc in schools]


def _stored_rows(engine: Any, school_id: int) -> list[tuple[str, list[str], list[tuple[Any, ...]]]]:
    """(table, columns, rows) of what the import stored for one school, as the driver returns them."""
    conn = engine.raw_connection()
    try:
        cur = conn.cursor()
        marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        out = []
        where = {
            "classes": f"school_id = {marker}",
            "data_keys": f"id IN (SELECT data_key_id FROM students WHERE school_id = {marker})",
            "students": f"school_id = {marker}",
            "student_care_groups": f"student_id IN (SELECT id FROM students WHERE school_id = {marker})",
        }
        for table in STORED_TABLES:
            cur.execute(f"SELECT * FROM {table} WHERE {where[table]}", (school_id,))
            columns = [d[0] for d in cur.description]
            out.append((table, columns, [tuple(r) for r in cur.fetchall()]))
        conn.rollback()
        return out
    finally:
        conn.close()


def _store_floor(floor_engine: Any, per_file: list[list[tuple[str, list[str], list[tuple[Any, ...]]]]]) -> float:
    """The import's rows inserted again with the driver's executemany, one transaction per file."""
    marker = "?" if floor_engine.dialect.paramstyle == "qmark" else "%s"
    quote = floor_engine.dialect.identifier_preparer.quote
    conn = floor_engine.raw_connection()
    try:
        cur = conn.cursor()
        sqlite = floor_engine.dialect.name == "sqlite"  # its raw connections autocommit (models/db.py): BEGIN here
        start = time.perf_counter()
        for tables in per_file:
            if sqlite:
                cur.execute("BEGIN IMMEDIATE")
            for table, columns, rows in tables:
                if rows:
                    cur.executemany(f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
                                    f"VALUES ({', '.join([marker] * len(columns))})", rows)
            conn.commit()
        return time.perf_counter() - start
    finally:
        conn.close()


def _seal_floor(ring: Any, files: list[Path]) -> float:
    """Producing what the import stores per new student with models.crypto directly: a data key made and wrapped,
    name, student number and guardians sealed, two blind indexes, a public id."""
    from models import crypto

    cells = []
    for path in files:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            cells += [(r[0], r[2], json.dumps([{"name": r[10], "relation": "", "phone": r[11]}], ensure_ascii=False))
                      for r in list(csv.reader(fh))[1:]]
    start = time.perf_counter()
    for name, number, guardians in cells:
        key_id, dek = crypto.new_key_id(), crypto.new_data_key()
        ring.wrap(dek, key_id)
        sealer = crypto.Sealer(dek, key_id)
        public_id = str(uuid.uuid4())
        sealer.seal(name, crypto.aad_for("students", "name", public_id))
        sealer.seal(number, crypto.aad_for("students", "student_number", public_id))
        sealer.seal(guardians, crypto.aad_for("students", "guardians", public_id))
        ring.blind_index("students.name", name)
        ring.blind_index("students.student_number", number)
    return time.perf_counter() - start


def child(mode: str, import_url: str, floor_url: str, workdir: Path) -> dict[str, Any]:
    """One run (in its own process) over the files in workdir: import, re-import, then the floors."""
    from sqlalchemy.orm import Session

    from app.roster_import import service
    from models import Actor, School
    from models.crypto import KeyRing
    from models.db import make_engine
    from models.vault import Vault

    files = sorted(workdir.glob("*.csv"))
    total = sum(1 for f in files for _ in f.open(encoding="utf-8-sig")) - len(files)
    engine, floor_engine = make_engine(import_url), make_engine(floor_url)
    ring = KeyRing.generate()
    school_ids = _make_schools(engine, len(files))
    assert _make_schools(floor_engine, len(files)) == school_ids
    rss_before = peak_mb()

    def import_all() -> tuple[float, dict[str, int]]:
        counts = {"created": 0, "updated": 0, "unchanged": 0, "errors": 0}
        start = time.perf_counter()
        for sid, path in zip(school_ids, files, strict=True):
            with Session(bind=engine, expire_on_commit=False) as s:
                actor = Actor.system("bench-import")
                vault = Vault(s, ring, actor)
                school = s.get_one(School, sid)
                plan = service.plan_import(s, vault, school, path, max_rows=max(total, 10_000),
                                           max_bytes=200 * 1024 * 1024)
                result = service.apply_import(s, actor, vault, plan)
                s.commit()
                counts["created"] += result.created
                counts["updated"] += result.updated
                counts["unchanged"] += result.unchanged
                counts["errors"] += len(plan.problems)
        return time.perf_counter() - start, counts

    seconds, counts = import_all()
    peak = peak_mb()
    again_seconds, again = import_all()
    per_file = [_stored_rows(engine, sid) for sid in school_ids]
    store_seconds = _store_floor(floor_engine, per_file)
    clear_seconds = _raw_insert(floor_engine, files)
    seal_seconds = _seal_floor(ring, files)
    engine.dispose()
    floor_engine.dispose()
    return {"mode": mode, "rows": total, "files": len(files), "seconds": seconds, "counts": counts,
            "reimport_seconds": again_seconds, "reimport_counts": again, "clear_seconds": clear_seconds,
            "store_seconds": store_seconds, "seal_seconds": seal_seconds, "peak_rss_mb": peak,
            "rss_before_import_mb": rss_before}


def _run_child(data: Any, mode: str, workdir: Path) -> dict[str, Any]:
    root = Path(__file__).resolve().parent.parent
    with data.copy() as target, data.copy() as floor:
        cmd = [sys.executable, "-m", "bench.bench_import", "--child", mode, target.url, floor.url, str(workdir)]
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=7200,
                              env={**os.environ, "PYTHONPATH": str(root)})
    if proc.returncode != 0:
        raise RuntimeError(f"import benchmark child failed: {proc.stderr[-2000:]}")
    out: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def run(scale: str, data: Any) -> list[dict]:
    runs = runs_for(scale, heavy=True)
    rows: list[dict] = []
    for mode in ("per-school", "one-file"):
        workdir = data.workdir(f"import-{mode}")
        try:
            write_files(scale, mode, workdir)
            measured = [_run_child(data, mode, workdir) for _ in range(runs)]
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        r = measured[-1]
        n = r["rows"]
        label = (f"{r['files']} files of {n // r['files']:,} rows (one per school)" if mode == "per-school"
                 else f"one file of {n:,} rows")
        key = mode.replace("-", "_")

        def rate(field: str, runs_: list[dict[str, Any]] = measured, n_: int = n) -> Sample:
            return Sample.of(x[field] for x in runs_).rate(n_)

        store = Sample.of(x["store_seconds"] for x in measured)
        seal_store = store.plus(Sample.of(x["seal_seconds"] for x in measured))
        floors = [
            Floor("clear_text", "the file's cells inserted in clear into a plain table (executemany, already in "
                  "memory)", rate("clear_seconds")),
            Floor("store", "the import's own rows (same encrypted bytes, blind indexes, data keys, classes, care "
                  "groups) inserted with the driver's executemany into an identical empty database", store.rate(n)),
            Floor("seal_store", "that, plus producing those bytes with models.crypto directly (key made and wrapped, "
                  "3 seals, 2 blind indexes per student)", seal_store.rate(n)),
        ]
        rows.append(result(
            f"import.{key}.rows_per_second", f"roster import [{label}] (parse, normalise, match, seal, bulk insert, "
            f"audit; {r['counts']['created']:,} created)", rate("seconds"), "rows/s", floors, better="higher",
            target=f"import time <= {TARGET_RATIO:g}x the store floor (issue 18, district scale)"))
        rows.append(result(
            f"import.{key}.reimport_rows_per_second", f"roster re-import of the same files [{label}] (every row "
            f"unchanged: {r['reimport_counts']['unchanged']:,} unchanged, {r['reimport_counts']['created']} created, "
            f"{r['reimport_counts']['updated']} updated)", rate("reimport_seconds"), "rows/s", floors, better="higher"))
        rows.append(result(
            f"import.{key}.peak_memory_mb", f"roster import peak memory [{label}] (VmHWM of the importing process)",
            Sample.of(x["peak_rss_mb"] for x in measured), "MB",
            [Floor("before", "the same process before the import (interpreter, app and SQLAlchemy modules loaded)",
                   Sample.of(x["rss_before_import_mb"] for x in measured))],
            target=f"< {TARGET_MB} MB (district scale)"))
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], sys.argv[4], Path(sys.argv[5]))))
    else:
        from bench.__main__ import standalone

        standalone("bench_import")
