"""The benchmark harness runs end to end at a tiny scale and writes its JSON (a smoke test: nothing is timed)."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_bench_harness_completes_at_tiny_scale_and_writes_its_json(tmp_path):
    env = {**os.environ, "BENCH_SCALE": "tiny", "BENCH_ONLY": "bench_import", "BENCH_RESULTS_DIR": str(tmp_path),
           "BENCH_DOCS": "0", "PYTHONPATH": str(ROOT)}
    env.pop("BENCH_DATABASE_URL", None)
    proc = subprocess.run([sys.executable, "-m", "bench"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    files = list(tmp_path.glob("*-tiny.json"))
    assert len(files) == 1
    report = json.loads(files[0].read_text(encoding="utf-8"))
    assert report["scale"] == "tiny" and report["machine"]["cores"]
    assert report["district"]["students"] == 60 and report["district"]["screenings"] == 240
    rows = [r for r in report["results"] if r["module"] == "bench_import"]
    assert rows and not any(r.get("error") for r in rows)
    assert {"metric", "value", "unit", "baseline", "baseline_value", "ratio", "target"} <= set(rows[0])
    created = [r for r in rows if r["metric"].startswith("roster_import_rows_per_second")]
    assert len(created) == 2 and all(r["value"] > 0 and r["baseline_value"] > 0 for r in created)


def test_a_failing_benchmark_module_is_reported_not_fatal(monkeypatch):
    import types

    import bench.__main__ as harness

    broken = types.ModuleType("bench.bench_broken")

    def run(scale, database_url=None):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    broken.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "bench.bench_broken", broken)
    results = harness.run_module("bench_broken", "tiny", "sqlite://")
    assert len(results) == 1 and "RuntimeError: boom" in results[0]["error"]
    assert "**failed**: RuntimeError: boom" in harness.table(results)
