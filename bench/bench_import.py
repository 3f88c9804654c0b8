"""Benchmark of the roster import: rows per second against a raw unencrypted insert of the same rows, measured
in the same run, and the import's peak memory.

    .venv/bin/python -m bench.bench_import [tiny|small|district] [DATABASE_URL]

Each measurement runs in a child process (so its peak resident memory, VmHWM, is the import's own):

- "per school": the district's roster as one CSV file per school (600 students each at district scale), imported
  the way a district does it: `plan_import` + `apply_import` + one commit per file. Then the same files again
  (idempotent re-import: every row unchanged, nothing written).
- "one file": every student of the scale in ONE file (60,000 rows at district scale, the row limit raised for the
  occasion), the memory stress case.

The lower bound: the same rows, already in memory as tuples, inserted unencrypted with one executemany per file
into a plain table with the same columns (no parsing, no normalising, no matching, no sealing, no audit).
Values are typed the messy way (七(3)班 / 7.3, 2014年3月 / 201403, 是 / √, full-width digits now and then), so
the import's normalising work is part of what is measured.
"""
from __future__ import annotations

import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

SIZES = {"tiny": (2, 50), "small": (4, 1_000), "district": (100, 600)}  # (schools, students per school)
TARGET_RATIO = 4.0
TARGET_MB = 300
HEADER = ["姓名", "性别", "学籍号", "出生年月", "年级", "班级", "留守儿童", "随迁子女", "困难学生", "寄宿", "监护人", "联系电话"]
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
        out.append([names.child_name(rng, gender), "男" if gender == "M" else "女", number, birth, grade_text, class_text,
                    yes(0.15), yes(0.1), yes(0.05), yes(0.2), names.adult_name(rng, "F"), names.mobile(rng)])
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
        conn.execute(text(
            f"CREATE TABLE {RAW_TABLE} (school INTEGER, name VARCHAR(50), gender VARCHAR(4), "
            "student_number VARCHAR(40), birth VARCHAR(12), grade VARCHAR(10), class VARCHAR(20), left_behind VARCHAR(4), "
            "migrant VARCHAR(4), hardship VARCHAR(4), boarding VARCHAR(4), guardian VARCHAR(50), phone VARCHAR(20))"))
    loaded = []
    for n, path in enumerate(files):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.reader(fh))[1:]
        loaded.append([dict(zip(("school", "name", "gender", "student_number", "birth", "grade", "class", "left_behind",
                                 "migrant", "hardship", "boarding", "guardian", "phone"), [n, *r])) for r in rows])
    stmt = text(f"INSERT INTO {RAW_TABLE} (school, name, gender, student_number, birth, grade, class, left_behind, "
                "migrant, hardship, boarding, guardian, phone) VALUES (:school, :name, :gender, :student_number, :birth, "
                ":grade, :class, :left_behind, :migrant, :hardship, :boarding, :guardian, :phone)")
    start = time.perf_counter()
    for rows in loaded:
        with engine.begin() as conn:
            conn.execute(stmt, rows)
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


def child(scale: str, database_url: str | None, mode: str, workdir: Path) -> dict[str, Any]:
    """One measurement (run in its own process) over the files in workdir."""
    from sqlalchemy.orm import Session

    from app.cli import upgrade_database
    from app.roster_import import service
    from models import Actor, District, School
    from models.crypto import KeyRing
    from models.db import make_engine
    from models.vault import Vault

    files = sorted(workdir.glob("*.csv"))
    total = sum(1 for f in files for _ in f.open(encoding="utf-8-sig")) - len(files)
    if not database_url:
        database_url = f"sqlite:///{workdir / 'import.db'}"
        upgrade_database(database_url)
    engine = make_engine(database_url)
    ring = KeyRing.generate()
    tag = uuid.uuid4().hex[:6]
    with Session(bind=engine, expire_on_commit=False) as s:
        district = District(code=f"IMP-{tag}", name="导入基准区")
        s.add(district)
        s.flush()
        schools = [School(district_id=district.id, code=f"IMP-{tag}-{i:03d}", name=f"导入基准学校{i}", type="urban",
                          stage="nine_year") for i in range(len(files))]
        s.add_all(schools)
        s.commit()
        school_ids = [sc.id for sc in schools]
    rss_before = peak_mb()

    def import_all() -> tuple[float, dict[str, int]]:
        counts = {"created": 0, "updated": 0, "unchanged": 0, "errors": 0}
        start = time.perf_counter()
        for sid, path in zip(school_ids, files):
            with Session(bind=engine, expire_on_commit=False) as s:
                actor = Actor.system("bench-import")
                vault = Vault(s, ring, actor)
                school = s.get(School, sid)
                plan = service.plan_import(s, vault, school, path, max_rows=max(total, 10_000),  # type: ignore[arg-type]
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
    raw_seconds = _raw_insert(engine, files)
    engine.dispose()
    return {"mode": mode, "rows": total, "files": len(files), "seconds": seconds, "counts": counts,
            "reimport_seconds": again_seconds, "reimport_counts": again, "raw_seconds": raw_seconds,
            "peak_rss_mb": peak, "rss_before_import_mb": rss_before}


def _run_child(scale: str, database_url: str | None, mode: str) -> dict[str, Any]:
    import shutil

    root = Path(__file__).resolve().parent.parent
    workdir = Path(tempfile.mkdtemp(prefix="xinmiao-bench-import-"))
    try:
        write_files(scale, mode, workdir)
        cmd = [sys.executable, "-m", "bench.bench_import", "--child", mode, scale, database_url or "", str(workdir)]
        proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=7200,
                              env={**os.environ, "PYTHONPATH": str(root)})
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if proc.returncode != 0:
        raise RuntimeError(f"import benchmark child failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run(scale: str = "small", database_url: str | None = None) -> list[dict]:
    rows: list[dict] = []
    for mode in ("per-school", "one-file"):
        r = _run_child(scale, database_url, mode)
        label = (f"{r['files']} files of {r['rows'] // r['files']:,} rows (one per school)" if mode == "per-school"
                 else f"one file of {r['rows']:,} rows")
        rate = r["rows"] / r["seconds"]
        raw_rate = r["rows"] / r["raw_seconds"]
        rows.append({
            "metric": f"roster_import_rows_per_second [{label}] (parse, normalise, match, seal, bulk insert, audit; "
                      f"{r['counts']['created']:,} created)",
            "value": round(rate, 1), "unit": "rows/s",
            "baseline": "raw executemany of the same rows, unencrypted, already in memory, into a plain table",
            "baseline_value": round(raw_rate, 1), "ratio": round(r["seconds"] / r["raw_seconds"], 2),
            "target": f"import time <= {TARGET_RATIO:g}x the raw insert (district scale)",
        })
        rows.append({
            "metric": f"roster_reimport_same_file_rows_per_second [{label}] (every row unchanged: "
                      f"{r['reimport_counts']['unchanged']:,} unchanged, {r['reimport_counts']['created']} created, "
                      f"{r['reimport_counts']['updated']} updated)",
            "value": round(r["rows"] / r["reimport_seconds"], 1), "unit": "rows/s",
            "baseline": "raw executemany of the same rows, unencrypted", "baseline_value": round(raw_rate, 1),
            "ratio": round(r["reimport_seconds"] / r["raw_seconds"], 2), "target": None,
        })
        rows.append({
            "metric": f"roster_import_peak_memory [{label}] (VmHWM of the importing process)",
            "value": round(r["peak_rss_mb"], 1), "unit": "MB",
            "baseline": "the same process before the import (interpreter, app and SQLAlchemy modules loaded)",
            "baseline_value": round(r["rss_before_import_mb"], 1),
            "ratio": round(r["peak_rss_mb"] / max(r["rss_before_import_mb"], 1), 2),
            "target": f"< {TARGET_MB} MB (district scale)",
        })
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[3], sys.argv[4] or None, sys.argv[2], Path(sys.argv[5]))))
    else:
        for row in run(sys.argv[1] if len(sys.argv) > 1 else "small", sys.argv[2] if len(sys.argv) > 2 else None):
            print(f"{row['metric']}\n  {row['value']:,} {row['unit']}; baseline {row['baseline_value']:,}; ratio {row['ratio']}")
