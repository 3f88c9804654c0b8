"""Reading and writing benchmark results: the console table, the regression view against the last committed
result of the same scale, and docs/benchmarks.md.

Regression view: each figure is printed beside the same figure (same `key`; for result files older than keys, the
same metric text) in the newest result file of the same scale that is committed to git (bench/results/*.json);
a change of more than 20 % of the median, in either direction, is flagged. On a shared machine a flag asks for a
second look (min and max show how noisy the figure was), not a verdict.
"""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"
FLAG_CHANGE = 0.20
SCALE_ORDER = {"district": 0, "small": 1}


# -- result files -------------------------------------------------------------------------------------------
def _stamp_and_scale(path: Path) -> tuple[str, str]:
    stamp, _, scale = path.stem.partition("-")
    return stamp, scale


def committed_results(results_dir: Path = RESULTS) -> list[Path]:
    """Result files git knows about (the files on disk if this is not a git checkout)."""
    try:
        out = subprocess.run(["git", "ls-files", "-z", "--", "."], cwd=results_dir, capture_output=True, check=True,
                             timeout=30).stdout.decode()
        return sorted(results_dir / name for name in out.split("\0") if name.endswith(".json"))
    except (OSError, subprocess.SubprocessError):
        return sorted(results_dir.glob("*.json"))


def previous_report(scale: str, results_dir: Path = RESULTS) -> dict[str, Any] | None:
    """The newest committed result of `scale`, or None."""
    same = [p for p in committed_results(results_dir) if _stamp_and_scale(p)[1] == scale and p.exists()]
    if not same:
        return None
    path = max(same, key=lambda p: _stamp_and_scale(p)[0])
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    report.setdefault("results_file", str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path))
    return report


def latest_reports(results_dir: Path = RESULTS) -> list[dict[str, Any]]:
    """The newest result file of each scale on disk (district first; the smoke test's tiny scale left out)."""
    newest: dict[str, Path] = {}
    for path in results_dir.glob("*.json"):
        stamp, scale = _stamp_and_scale(path)
        if scale and scale != "tiny" and (scale not in newest or stamp > _stamp_and_scale(newest[scale])[0]):
            newest[scale] = path
    return [json.loads(newest[s].read_text(encoding="utf-8"))
            for s in sorted(newest, key=lambda k: (SCALE_ORDER.get(k, 9), k))]


def floors_of(row: dict[str, Any]) -> list[dict[str, Any]]:
    """A row's floors; rows of older result files had one `baseline` instead."""
    if "floors" in row:
        return list(row["floors"])
    if row.get("baseline_value") is None:
        return []
    return [{"key": "baseline", "what": row.get("baseline"), "value": row.get("baseline_value"),
             "ratio": row.get("ratio")}]


# -- regression view ----------------------------------------------------------------------------------------
def compare(rows: list[dict[str, Any]], previous: dict[str, Any] | None) -> None:
    """Annotate each row with `previous` ({value, change, file}) and `flag` (|change| > 20 %)."""
    if not previous:
        return
    by_key = {(r["module"], r["key"]): r for r in previous.get("results", []) if r.get("key")}
    by_metric = {(r.get("module"), r.get("metric")): r for r in previous.get("results", []) if not r.get("error")}
    for row in rows:
        if row.get("error"):
            continue
        old = by_key.get((row["module"], row.get("key"))) or by_metric.get((row["module"], row.get("metric")))
        number = (int, float)
        if old is None or not isinstance(old.get("value"), number) or not isinstance(row.get("value"), number):
            continue
        change = (row["value"] - old["value"]) / old["value"] if old["value"] else None
        row["previous"] = {"value": old["value"], "change": None if change is None else round(change, 3),
                           "file": previous.get("results_file")}
        row["flag"] = change is not None and abs(change) > FLAG_CHANGE


def _change_text(row: dict[str, Any]) -> str:
    prev = row.get("previous")
    if not prev:
        return ""
    change = prev.get("change")
    pct = "" if change is None else f" ({change * 100:+.0f}%)"
    return f"{fmt(prev['value'])}{pct}{' CHANGED' if row.get('flag') else ''}"


# -- formatting ---------------------------------------------------------------------------------------------
def fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if value != value:  # NaN
            return "—"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 1:
            return f"{value:,.2f}"
        return f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _spread(row: dict[str, Any]) -> str:
    if row.get("min") is None or row.get("runs", 1) <= 1:
        return "—"
    return f"{fmt(row['min'])} – {fmt(row['max'])}"


def print_table(rows: list[dict[str, Any]], previous: dict[str, Any] | None) -> None:
    if previous:
        print(f"(previous: {previous.get('results_file')}; changes over {FLAG_CHANGE:.0%} flagged CHANGED)")
    else:
        print("(no committed result of this scale to compare with)")
    flagged = 0
    for r in rows:
        if r.get("error"):
            print(f"[{r['module']}] FAILED: {r['error'].strip().splitlines()[-1]}")
            continue
        spread = _spread(r)
        runs = f"  (min–max {spread}, {r.get('runs')} runs)" if spread != "—" else ""
        prev = f"   previous {_change_text(r)}" if r.get("previous") else ""
        flagged += bool(r.get("flag"))
        print(f"[{r['module']}] {r['metric']}\n    {fmt(r.get('value'))} {r.get('unit', '')}{runs}{prev}")
        for f in floors_of(r):
            print(f"      floor {fmt(f.get('value'))} {r.get('unit', '')}  ratio {fmt(f.get('ratio'))}  "
                  f"— {f.get('what')}")
        if r.get("target"):
            print(f"      target: {r['target']}")
    if previous:
        print(f"\n{flagged} figure(s) changed by more than {FLAG_CHANGE:.0%} since {previous.get('results_file')}")


def _cell(text: Any) -> str:
    return str(text).replace("|", "/").replace("\n", " ")


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| module | figure, then its floors (same run) | median | min – max | unit | ratio to floor | "
             "previous run | target |",
             "|---|---|---:|---:|---|---:|---:|---|"]
    for r in rows:
        if r.get("error"):
            lines.append(f"| {r['module']} | **failed**: {_cell(r['error'].strip().splitlines()[-1][:160])} "
                         f"| | | | | | |")
            continue
        prev = _change_text(r) or "—"
        lines.append(f"| {r['module']} | {_cell(r['metric'])} | **{fmt(r.get('value'))}** | {_spread(r)} | "
                     f"{r.get('unit', '')} | | {_cell(prev)} | {_cell(r.get('target') or '—')} |")
        for f in floors_of(r):
            spread = "—" if f.get("min") is None or f.get("min") == f.get("max") else \
                f"{fmt(f['min'])} – {fmt(f['max'])}"
            lines.append(f"| | ↳ floor: {_cell(f.get('what'))} | {fmt(f.get('value'))} | {spread} | "
                         f"{r.get('unit', '')} | {fmt(f.get('ratio'))} | | |")
    return "\n".join(lines)


def _datasets(report: dict[str, Any]) -> str:
    built = report.get("datasets")
    if not built:  # result files older than the data sets: one synthetic district built first
        synth = report.get("district") or {}
        if not synth:
            return ""
        return (f"Synthetic district: {synth.get('students', 0):,} students in {len(synth.get('school_ids', []))} "
                f"schools, {synth.get('screenings', 0):,} screenings, {synth.get('warnings', 0):,} open warnings; "
                f"built in {(synth.get('seconds') or {}).get('total', '—')} s.\n")
    lines = ["Data sets (each built once in this run, copied for every module that uses it):", ""]
    for name, b in built.items():
        counts = ", ".join(f"{k} {fmt(v)}" for k, v in (b.get("summary") or {}).items()
                           if isinstance(v, (int, float)) and not isinstance(v, bool))
        base = f", built on `{b['built_on']}`" if b.get("built_on") and b["built_on"] != "empty" else ""
        lines.append(f"- `{name}`{base}: {b.get('about')}{'; ' + counts if counts else ''} ({b.get('seconds')} s)")
    return "\n".join(lines) + "\n"


def section(report: dict[str, Any]) -> str:
    m = report["machine"]
    return f"""## Scale `{report['scale']}` — {report['finished_at']}

Database: {report['database_version']}; raw results `{report['results_file']}`; whole run {report.get('seconds')} s.
Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['os']}, Python {m['python']}, SQLite library
{m['sqlite']}; load average at start {m.get('load_average_at_start')}, at the end {m.get('load_average_at_end', '—')}.
{('Compared with: `' + report['compared_with'] + '`.') if report.get('compared_with') else ''}

{_datasets(report)}
{table(report['results'])}
{chr(10) + "Note: " + report['note'] + chr(10) if report.get('note') else ''}"""


METHOD = """# Benchmarks

`make bench` runs the small scale (about five minutes on a quiet machine), `make bench-district` 60,000 students
in 100 schools and 1.2 million screenings. Both run `python -m bench`: every `bench/bench_*.py` module, a table on
the console, a result file `bench/results/<time>-<scale>.json`, and this page, which shows the newest run of each
scale. Benchmarks are never timed assertions in the test suite:
`tests/integration/test_bench_smoke.py` runs the harness at a tiny scale and checks that it completes, writes its
JSON and leaves nothing in the temporary folder.

## Method

- **Several runs, median.** Each figure is the median of several runs (5, or 3 for figures that take seconds),
  after an unmeasured warm-up run, with the min and max beside it; a figure and its floors are run in turn
  (a, b, a, b, ...) so that a change of load on the shared machine touches both alike.
- **Floors.** Every figure stands beside one or more lower bounds measured in the same run on the same rows, and
  the ratio to each: a cost ratio (time / floor time; for rates, floor rate / rate), so 1.0 is at the floor and
  lower is better whatever the unit. A floor does the least the design allows for the same result:
  - the district dashboard from its maintained rollup: hand-written SQL computing everything over the same rows
    ("cache vs compute"), and the path it takes: reading and decoding the rollup rows alone (DB-API, `json.loads`);
  - the partial and pinyin student search (bench_search): opening the scope's sealed names alone (DB-API select
    of the names and wrapped keys, keys unwrapped, names opened with `models.crypto` directly), what any in-memory
    search of sealed names pays;
  - the list of a 3,000-student school with decrypted names: the same ORM query without decryption, the DB-API
    select of the needed columns (students and their wrapped data keys), and that plus key unwrap and name
    decryption with `models.crypto` directly (the design's floor: no ORM, no Vault, no audit);
  - the roster import: the clear-text rows inserted into a plain table; the import's own rows (the same encrypted
    bytes, blind indexes, data keys, classes and care groups) inserted again with the driver's `executemany` into
    an identical empty database (the cost of the design's writes without the app); and that plus producing those
    bytes with `models.crypto` directly (a data key made and wrapped, three seals and two blind indexes per student);
  - page latency over HTTP: a bare WSGI endpoint serving the same query's rows raw (`bench/bare_app.py`), and
    `/healthz` of the app (Flask, session-less, one `SELECT 1`), measured the same way in the same run.
  - the district supervision report PDF (bench_report): WeasyPrint alone laying out and writing the same report
    HTML (what any PDF of this content costs), and the report's figures alone (the same service calls and
    builders, no layout).
- **A real load generator.** HTTP figures come from `wrk` (Debian's package; `make bench` installs it if missing),
  a separate process that shares no interpreter lock with the app, against gunicorn with 4 sync workers and 8
  concurrent connections, one per wrk thread (sync workers close each connection after its response; wrk
  reconnects), each logged in as a counselor of a different school: the session cookie, taken by logging in once
  over HTTP and visiting the pages once, is passed to `bench/wrk_session.lua`; only GETs, so no CSRF token is
  needed. Each page gets an unmeasured warm-up, then at least 2,000 requests per run: every connection keeps
  loading until all of them have had their share (so the load stays at 8 to the end), the pages in turn, three
  runs. p50, p95 and p99 come from wrk's latency histogram; throughput is the responses between the first request
  and the moment the last connection had its share, over that time. Any answer other than 200 fails the figure.
  The same run measures the bare endpoint and `/healthz` the same way, on the same copy of the data.
- **Isolated modules.** Each module states the data it needs (`DATA = "..."` in the module; the data sets are
  listed in `bench/data.py` and under each scale below). Each data set is built once per run and scale into a
  template database, and every module works on its own copy (SQLite: a file copy after a WAL checkpoint;
  PostgreSQL: `CREATE DATABASE ... TEMPLATE ...`), so no module measures what another one changed, whatever the
  order. `BENCH_DATABASE_URL` (a PostgreSQL server) is honoured by every module: templates and copies are
  databases created beside the named one and dropped at the end. Everything else lives in one temporary folder,
  removed at the end.
- **Regression view.** The console table prints each figure beside the same figure in the last committed result
  of the same scale (`bench/results/*.json`) and flags a change of more than 20 % of the median in either
  direction (`previous run` column below: that value and the change).

Environment: `BENCH_SCALE` (tiny, small, district), `BENCH_DATABASE_URL`, `BENCH_ONLY` (modules, comma-separated),
`BENCH_RESULTS_DIR`, `BENCH_DOCS=0` (leave this page alone), `BENCH_KEEP=1` (keep the temporary folder).
One module alone: `.venv/bin/python -m bench.bench_http small`.
"""

NOTES = """## Notes

- Page latency after the session of 3 December (audit appends without the head-row lock, the context processor
  once per request, plain-column worklist rows), `bench_http` alone at district scale on a quiet machine (load
  average 0.5-3, 10:48 UTC; one module, so no result file is committed for it): GET /care/worklist p50 48.0 ms,
  p95 60.9 ms (45.1 ms for the bare endpoint in the same run: ratio 1.35), p99 78.1 ms, 163 req/s; GET /students
  p95 54.0 ms (bare 34.4 ms: 1.57); /healthz p95 5.6 ms, 1,989 req/s. The target (p95 < 100 ms with 8 clients at
  district scale) is met; the goal (< 30 ms) is not: the profile is the worklist's source queries through
  SQLAlchemy (about half) and the template (a quarter). The district table above (09:43, load about 10, before
  those changes merged) shows 429 ms.
- Roster import: the import parses and normalises every cell, matches each row by blind index and confirms
  candidates by decrypting, seals each new student through the Vault (a data key per student wrapped by the
  master key; name, number and guardians sealed; two blind indexes), inserts in batches and writes one audit event
  per file. The clear-text floor is the row count of the file inserted in clear; the store floor is the design's
  writes alone; the seal + store floor adds the design's cryptography, which is most of the cost.
- Student search (issue 16, `bench_search`, run alone on 2026-12-02 at 17:53 UTC, 3,000-student school,
  SQLite, load average 8.5 on the 2 shared cores): pinyin initials 426 ms (311–552) against a floor of 230 ms
  for opening the scope's names alone, ratio 1.85; part of a name 496 ms (286–809), ratio 2.15. Under that load
  every figure of the machine was about four times its quiet value (the same floor measured 79 ms for names and
  numbers at a lower load the same afternoon); the target (< 100 ms) needs the ratio near 2 and a quiet floor
  under 50 ms, which is to be confirmed by the next `make bench` on a quiet machine. Beyond the floor the cost is
  reading the rows through SQLAlchemy Core and the matching itself (pinyin readings from a per-character cache).
- Student search after the cheaper steps (keys joined into the scope's query, rows read by position, the master
  key's cipher kept by `KeyRing.unwrap`; helper polish, `bench_search small` run alone on 2026-12-03 at 09:01 UTC,
  3,000-student school, SQLite, load average 4.0 on the 2 shared cores, three runs): pinyin initials 29.6–31.3
  ms against a floor of 19.2–19.7 ms, ratio 1.54–1.59; part of a name 24.9–25.8 ms, ratio 1.30–1.31 (one run's
  floor was disturbed: 36 ms). Back to back with the code before, at load 6.4: 205 → 158 ms; at load 6.9: 139 →
  40 ms; ratio 2.2 → 1.6 in each pair. On PostgreSQL 15 (same machine, load 10, back to back): pinyin initials
  221 → 120 ms (ratio 2.42 → 1.69), part of a name 203 → 92 ms (2.22 → 1.29). The rest is the design's own (one
  key unwrap and one AES-GCM open per student); `bench/oneoff_search_blob.py` measured what a sealed blob per
  school would cost instead: 16.7 ms against 37.6 ms as built (load 5.4), see docs/decisions.md.
- District supervision report PDF (issue 17, `bench_report`, run alone on 2026-12-03 at 09:37 UTC, SQLite, load
  average 12 on the 2 shared cores): at district scale (100 schools, 60,000 students, 10 terms) 4.21 s median
  (3.54-4.28) for `GET /district/report.pdf`, against 3.66 s for WeasyPrint alone on the same 137 KB of HTML
  (ratio 1.15) and 0.64 s for the figures alone; small scale 3.75-4.56 s in two runs at the same load (1.6 s at
  load 7 before the change below). The layout is the cost: a 100-row table and ten SVG charts. Pausing Python's
  garbage collector during WeasyPrint's layout (`app.reports.pdf.collector_paused`) halved it (8-9 s before on
  the same data and load). Target < 5 s at district scale, to be confirmed on a quiet machine.
- Page latency on SQLite: every page view writes one audit event (the names it decrypted), and SQLite serialises
  writers, so p95 grows with the number of concurrent clients. The bare endpoint writes nothing.
- `/care/groups` for a counselor of two schools with 1,500 students (a third in a care group, 501 rows), measured
  once by hand with `bench/oneoff_care_groups.py` (SQLite, test client, median of 7 after a warm-up, a quiet
  machine, 2 December 2026): before the list paged, 232 ms for one 501-row, 172 KB table (every name and
  guardian list opened); after (issue 16, 50 rows a page, most urgent first), 91 ms and 27 KB; sorted by name
  (the filtered scope's names opened to sort them), 82 ms. Under the load of the shared machine the same runs
  took 750 ms before (the ~940 ms of the issue) and 190-270 ms after.
- Issue 18, "then the speed" (district run of 3 December 2026, 09:19-09:44 UTC). NOISY: the 2 cores were shared
  with seven other helpers, load average 9.8-11 throughout (about five runnable processes per core), so every
  time is several times its quiet value; the ratios to floors measured in the same run are the fairer reading.
  - Recheck sweep: rechecks record the stage already notified (`notified_stage`, migration 0020), the notifying
    INSERT ... SELECT looks only at rechecks whose status differs from it, and each write is preceded by a read.
    Steady state at 100,000 open rechecks: 0.49 s (target < 1 s: met; 4.32 s in the 29 November run), and it
    writes nothing, so it holds SQLite's write lock for 0 s. The full sweep (36,767 notifications) holds the
    lock from its first UPDATE to its commit: 3.5 s under this load (1.1-1.2 s on a quiet machine). What is left
    of the steady state is the check-in reminders' count of care-group students per class (~100 ms quiet) and the
    digest's counts, not the rechecks (~2 ms).
  - Dashboard from the rollup: the rollup (version 3) holds the enrolment of the screened grades with the other
    counts (enrolment is then as fresh as the rollup: at most 5 minutes for a running term), in a compact form
    (the keys once, one list of counts per measure: 312 KB -> 88 KB, decode ~15 -> ~3 ms quiet), and the app's memo
    of protected figures is keyed by the rollup's key, stamp and refresh time and looked up before the counts are
    read. Served memoised: 2.5 ms (target < 50 ms: met; about 1 ms quiet). A worker's first request after a
    refresh decodes and protects: 123 ms under this load (59 ms at small scale on a quieter machine earlier that
    morning; protection alone measured 45-210 ms at district scale); the target is missed there by the
    disclosure control of ~10,500 cells x 31 measures (`suppression.protect`, most of that request's profile);
    next step: have the refresh job store the protected figures for the configured k in the rollup as well.
    The "rollup older than 5 minutes" figure of this run (1,049 ms, 1.27x its SQL floor) paid the protection on
    every request: freshly computed counts were memoised under the new rollup's identity, which changes with
    each refresh. Fixed after the run (computed counts are memoised by the counts again, as before): at small
    scale 154 -> 44 ms in the same afternoon's load.
  - Counselor pages: the context processor's navigation and badge (two statements) run once per request however
    many templates the page renders (the student file renders one per section), the worklist's students are
    plain rows of the four columns it needs, templates translate through the request's catalogue looked up once
    and row labels are translated once per request: -17 % function calls per worklist, -10 % per /students
    (cProfile, small scale). Over HTTP at district scale: worklist p95 429 ms, /students p95 432 ms (target < 100
    ms: missed by 4.3x under this load; the 29 November run, 320 requests at load ~1-2, had 160 ms). The bare
    endpoint's p95 was 54 ms and /healthz's 31 ms in the same run, so the machine's own queueing is a large
    part. Per worklist request the profile now shows the source queries through SQLAlchemy (~50 %, statement
    compilation and cache keys a third of that), the template (~25 %: Jinja calls per row for `_()`, filters,
    macros) and the audit event's write transaction (~12 %, being redesigned separately); next step: cache the
    source queries' compiled statements (lambda statements or a prepared text per query) and build each row's
    text in Python (one call per row instead of ~8).
  - Roster import: to the encrypted-bytes floors of the same run, 100 files of 600 rows: 1.95x the store floor
    and 1.61x store + seal; one file of 60,000 rows: 3.04x and 1.56x (target <= 1.5x: missed by 30 % and 100 %
    against the store floor, 7 % and 4 % against store + seal). For the one file the store floor cannot be met
    at all: producing the bytes (a data key made and wrapped, three seals, two blind indexes per student) costs
    about as much as storing them (37 and 39 us a row in this run), more than the 0.5x allowed; for files of 600
    rows storing is slower (131 us a row: every file commits into a large table) and 1.5x leaves ~38 us a row
    for the app beyond sealing, against ~100 us now. Changes: the number match and the care-group
    id lookup go to the driver on SQLite (SQLAlchemy rendered each IN value per file), blind indexes are
    computed once per Vault (~7 % CPU at small scale). The profile of the rest (one file): sealing through the
    Vault 37 %, parsing and normalising the cells 31 %, the inserts 15 % (files of 1,000 rows: 34 %, 20 %, 13 %
    and the number match 10 %); next step: seal with one Sealer call per student for the three values and
    parse the cells column-wise.
"""


def write_docs(reports: list[dict[str, Any]]) -> None:
    body = "\n".join(section(r) for r in reports)
    DOCS.write_text(f"{METHOD}\n{body}\n{NOTES}", encoding="utf-8")
