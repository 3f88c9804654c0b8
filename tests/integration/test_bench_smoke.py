"""The benchmark harness runs every module end to end at a tiny scale, writes its JSON and leaves the temporary
folder as it found it (a smoke test: nothing is timed). The regression view is checked on made-up results."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_bench_module_completes_at_tiny_scale_and_the_temp_folder_is_left_clean(tmp_path):
    temp = tmp_path / "tmp"
    temp.mkdir()
    results = tmp_path / "results"
    env = {**os.environ, "BENCH_SCALE": "tiny", "BENCH_RESULTS_DIR": str(results), "BENCH_DOCS": "0",
           "PYTHONPATH": str(ROOT), "TMPDIR": str(temp)}
    for name in ("BENCH_DATABASE_URL", "BENCH_ONLY", "BENCH_KEEP"):
        env.pop(name, None)
    proc = subprocess.run([sys.executable, "-m", "bench"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sorted(p.name for p in temp.iterdir()) == [], "the benchmark left files in the temporary folder"
    files = list(results.glob("*-tiny.json"))
    assert len(files) == 1
    report = json.loads(files[0].read_text(encoding="utf-8"))
    assert report["scale"] == "tiny" and report["machine"]["cores"]
    failed = {r["module"]: r["error"].strip().splitlines()[-1] for r in report["results"] if r.get("error")}
    assert not failed, failed
    modules = {p.stem for p in (ROOT / "bench").glob("bench_*.py")}
    assert {r["module"] for r in report["results"]} == modules
    # each data set is built once, whatever number of modules use it
    assert {"empty", "district", "care", "school", "dashboard", "sweep", "ingest"} <= set(report["datasets"])
    assert report["datasets"]["district"]["summary"]["students"] == 60
    for row in report["results"]:
        assert {"key", "metric", "value", "min", "max", "runs", "unit", "better", "floors", "target"} <= set(row)
        assert row["value"] > 0 and row["floors"], row["key"]
        assert all(f["value"] > 0 and f["ratio"] > 0 for f in row["floors"]), row["key"]
    keys = {r["key"] for r in report["results"]}
    assert {"import.per_school.rows_per_second", "http.worklist.p95", "dashboard.open_term_from_rollup_ms",
            "crypto.list_school_decrypted_ms"} <= keys
    floors = {r["key"]: {f["key"] for f in r["floors"]} for r in report["results"]}
    assert floors["import.one_file.rows_per_second"] == {"clear_text", "store", "seal_store"}
    assert floors["crypto.list_school_decrypted_ms"] == {"orm", "dbapi", "dbapi_open"}
    assert floors["dashboard.open_term_from_rollup_ms"] == {"sql", "rollup_read"}
    assert floors["http.worklist.p50"] == {"bare_worklist", "healthz"}
    assert floors["report.district_pdf_s"] == {"weasyprint", "figures"}


def test_a_failing_benchmark_module_is_reported_not_fatal(monkeypatch):
    import bench.__main__ as harness
    from bench.report import table

    broken = types.ModuleType("bench.bench_broken")

    def run(scale, data):
        raise RuntimeError("boom")

    broken.run = run
    monkeypatch.setitem(sys.modules, "bench.bench_broken", broken)
    results = harness.run_module("bench_broken", "tiny", None)
    assert len(results) == 1 and "RuntimeError: boom" in results[0]["error"]
    assert "**failed**: RuntimeError: boom" in table(results)


def test_the_regression_view_flags_a_change_of_more_than_a_fifth_either_way():
    from bench.core import Floor, result
    from bench.report import compare, table

    def row(key, value, better="lower"):
        return {"module": "bench_x", **result(key, key, value, "ms", [Floor("f", "floor", 1.0)], better=better)}

    previous = {"results_file": "bench/results/old-small.json",
                "results": [row("a", 100.0), row("b", 100.0), row("c", 100.0), row("d", 100.0),
                            {"module": "bench_x", "metric": "e", "value": 10.0}]}  # a row from before keys
    now = [row("a", 119.0), row("b", 121.0), row("c", 79.0), row("new", 5.0),
           {"module": "bench_x", **result("e2", "e", 13.0, "ms")}]
    compare(now, previous)
    by = {r["key"]: r for r in now}
    assert by["a"]["flag"] is False and by["a"]["previous"]["change"] == 0.19
    assert by["b"]["flag"] is True and by["c"]["flag"] is True
    assert "previous" not in by["new"]
    assert by["e2"]["previous"]["value"] == 10.0 and by["e2"]["flag"] is True  # matched on the metric text
    assert "CHANGED" in table(now)


def test_ratios_are_cost_ratios_whatever_the_unit():
    from bench.core import Floor, Sample, result

    slow = result("t", "time", Sample((3.0, 2.0, 4.0)), "ms", [Floor("f", "floor", Sample((1.0, 1.0, 1.5)))])
    assert (slow["value"], slow["min"], slow["max"], slow["runs"]) == (3.0, 2.0, 4.0, 3)
    assert slow["floors"][0]["ratio"] == 3.0 and slow["ratio"] == 3.0
    rate = result("r", "rate", 250.0, "rows/s", [Floor("f", "floor", 1000.0)], better="higher")
    assert rate["floors"][0]["ratio"] == 4.0
