"""`make bench` -> `python -m bench`: run every benchmark module on its own copy of the data it needs, print each
figure beside its floors and beside the last committed result of the same scale, write
bench/results/<timestamp>-<scale>.json and regenerate docs/benchmarks.md.

Environment:
  BENCH_SCALE         small (default; a few minutes), district (60,000 students, 100 schools, 1.2 million
                      screenings) or tiny (the smoke test)
  BENCH_DATABASE_URL  a PostgreSQL server (e.g. postgresql://postgres@127.0.0.1:5432/postgres): the data sets and
                      their copies are databases created there and dropped at the end; default: SQLite files in the
                      run's temporary directory
  BENCH_ONLY          comma-separated module names to run (e.g. bench_import,bench_http)
  BENCH_RESULTS_DIR   where the JSON goes (default bench/results); BENCH_DOCS=0 leaves docs/benchmarks.md alone
  BENCH_KEEP=1        keep the temporary directory

A module is `bench/bench_<name>.py` with `DATA` (the name of the data set it needs, see bench/data.py, or None)
and `run(scale, data) -> list of result rows` (bench/core.py). A module that fails is reported in the table and
the JSON, never fatal. `python -m bench.bench_<name> [scale]` runs one module and prints its rows.
"""
from __future__ import annotations

import importlib
import json
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

from bench import report as rep
from bench.data import Data, Store
from models import clock

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(__file__).resolve().parent


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    import sqlite3

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "load_average_at_start": load_average(),
    }


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def database_version(store: Store) -> str:
    if store.kind == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    from sqlalchemy import text

    from models.db import make_engine

    engine = make_engine(store.template("empty").url)
    try:
        with engine.connect() as conn:
            return str(conn.execute(text("select version()")).scalar_one()).split(",")[0]
    finally:
        engine.dispose()


def modules() -> list[str]:
    return sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))


def run_module(name: str, scale: str, store: Store | None) -> list[dict[str, Any]]:
    """The module's rows, each tagged with the module; a failure becomes one row carrying the traceback."""
    try:
        module = importlib.import_module(f"bench.{name}")
        data_name = getattr(module, "DATA", None)
        data = Data(store, data_name) if data_name and store is not None else None
        return [{"module": name, **row} for row in module.run(scale, data)]
    except Exception:  # noqa: BLE001 - a failing module is reported, not fatal
        return [{"module": name, "error": traceback.format_exc()}]


def data_of(name: str) -> str | None:
    try:
        return getattr(importlib.import_module(f"bench.{name}"), "DATA", None)
    except Exception:  # noqa: BLE001 - reported when the module runs
        return None


def run_all(scale: str, names: list[str], workdir: Path, database_url: str | None,
            log: Any = print) -> tuple[list[dict[str, Any]], dict[str, Any], str]:
    """Run `names` in order on one store; returns (rows, data sets built, database version)."""
    store = Store(scale, workdir, database_url, log=log)
    rows: list[dict[str, Any]] = []
    try:
        needed = [data_of(n) for n in names]
        for i, name in enumerate(names):
            log(f"-- {name} ...")
            t0 = time.perf_counter()
            rows += run_module(name, scale, store)
            log(f"   {name} took {time.perf_counter() - t0:.1f} s")
            store.release(d for d in needed[i + 1:] if d)  # templates no later module needs: disk back
        version = database_version(store)
        return rows, dict(store.built), version
    finally:
        store.close()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--docs-only" in argv:  # regenerate docs/benchmarks.md from bench/results/ without running anything
        rep.write_docs(rep.latest_reports())
        print(f"docs: {rep.DOCS}")
        return 0
    scale = os.environ.get("BENCH_SCALE", "small")
    only = {m.strip() for m in os.environ.get("BENCH_ONLY", "").split(",") if m.strip()}
    names = [m for m in modules() if not only or m in only]
    results_dir = Path(os.environ.get("BENCH_RESULTS_DIR") or rep.RESULTS)
    results_dir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="xinmiao-bench-"))
    started = time.perf_counter()
    info = machine()
    print(f"xinmiao bench: scale={scale}, modules: {', '.join(names)}; {info['cpu']}, {info['cores']} cores, "
          f"{info['memory_gb']} GB, Python {info['python']}, load {info['load_average_at_start']}", flush=True)
    try:
        rows, built, version = run_all(scale, names, workdir, os.environ.get("BENCH_DATABASE_URL"),
                                       log=lambda *a: print(*a, flush=True))
    finally:
        if os.environ.get("BENCH_KEEP") == "1":
            print(f"kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)  # the databases can be gigabytes at district scale
    info["load_average_at_end"] = load_average()
    previous = rep.previous_report(scale)
    rep.compare(rows, previous)
    finished = clock.wall_now()  # the real time on purpose, even when XINMIAO_NOW moves the app's clock
    out = results_dir / f"{finished.strftime('%Y%m%dT%H%M%SZ')}-{scale}.json"
    report = {
        "scale": scale,
        "finished_at": finished.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": info,
        "database": "sqlite" if not os.environ.get("BENCH_DATABASE_URL", "").startswith("postgres") else "postgresql",
        "database_version": version,
        "datasets": built,
        "compared_with": previous.get("results_file") if previous else None,
        "results": rows,
        "results_file": str(out.relative_to(ROOT)) if out.is_relative_to(ROOT) else str(out),
    }
    out.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    print()
    rep.print_table(rows, previous)
    print(f"\nresults: {out} ({report['seconds']} s)")
    if os.environ.get("BENCH_DOCS", "1") != "0":
        rep.write_docs(rep.latest_reports() if results_dir == rep.RESULTS else [report])
        print(f"docs: {rep.DOCS}")
    return 0


def standalone(name: str) -> None:
    """`python -m bench.<name> [scale]`: that module alone, printed, nothing written."""
    scale = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BENCH_SCALE", "small")
    workdir = Path(tempfile.mkdtemp(prefix="xinmiao-bench-"))
    try:
        rows, _, _ = run_all(scale, [name], workdir, os.environ.get("BENCH_DATABASE_URL"))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rep.print_table(rows, None)


if __name__ == "__main__":
    sys.exit(main())
