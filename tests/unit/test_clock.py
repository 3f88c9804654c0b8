"""models/clock.py: the one clock, how XINMIAO_NOW moves it, and a guard that nothing else reads the wall clock."""
from __future__ import annotations

import ast
import json
import random
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from models import clock, utcnow

ROOT = Path(__file__).resolve().parents[2]
SHANGHAI = "Asia/Shanghai"


def test_an_instant_needs_its_offset():
    assert clock.parse_instant("2028-02-29T08:00+08:00") == datetime(2028, 2, 29, 0, 0, tzinfo=UTC)
    assert clock.parse_instant("2027-01-31T15:40Z") == datetime(2027, 1, 31, 15, 40, tzinfo=UTC)
    for bad in ("2028-02-29T08:00", "2028-02-29", "tomorrow", ""):
        with pytest.raises(ValueError):
            clock.parse_instant(bad)


def test_a_moved_clock_starts_at_the_instant_and_keeps_running(moved_clock):
    moved_clock(datetime(2027, 1, 31, 23, 40, tzinfo=clock.school_timezone(SHANGHAI)))
    first = clock.now()
    assert abs(first - datetime(2027, 1, 31, 15, 40, tzinfo=UTC)) < timedelta(seconds=5)
    assert first.tzinfo is not None and first.utcoffset() == timedelta(0)
    assert utcnow() >= first  # models.utcnow is the clock, and it runs on (an offset clock, not a frozen one)
    later = clock.now()
    assert later >= first and later - first < timedelta(seconds=5)
    assert abs(clock.timestamp() - clock.now().timestamp()) < 1


def test_today_is_the_school_date_not_the_utc_date(moved_clock):
    moved_clock(datetime(2027, 2, 1, 0, 10, tzinfo=clock.school_timezone(SHANGHAI)))
    assert clock.now().date() == date(2027, 1, 31)  # still the 31st in UTC
    assert clock.today(SHANGHAI) == date(2027, 2, 1)
    assert clock.today("UTC") == date(2027, 1, 31)
    assert clock.local_now(SHANGHAI).hour == 0


def test_the_environment_moves_it_and_child_processes_share_the_offset(monkeypatch):
    monkeypatch.setenv(clock.ENV_NOW, "2028-02-29T08:00+08:00")
    monkeypatch.delenv(clock.ENV_ANCHOR, raising=False)
    parent = clock.now()
    assert clock.today(SHANGHAI) == date(2028, 2, 29)
    anchored = float(clock.os.environ[clock.ENV_ANCHOR])  # written at the first read, for children to inherit
    assert anchored > 0
    code = "from models import clock; import json; print(json.dumps(clock.now().isoformat()))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, timeout=60)
    child = datetime.fromisoformat(json.loads(out.stdout))
    assert timedelta(0) <= child - parent < timedelta(seconds=30)  # runs on from the parent's instant, not from 08:00


def test_no_moved_clock_means_the_real_time(moved_clock):
    moved_clock(None)
    assert not clock.is_moved()
    assert abs(clock.now() - clock.wall_now()) < timedelta(seconds=1)


def test_a_run_instant_is_near_today_and_often_near_midnight():
    rng = random.Random(12)
    real_today = clock.wall_now().astimezone(clock.school_timezone(SHANGHAI)).date()
    picks = [clock.pick_instant(rng, SHANGHAI) for _ in range(600)]
    assert all(abs((p.astimezone(clock.school_timezone(SHANGHAI)).date() - real_today).days) <= 22 for p in picks)
    local = [p.astimezone(clock.school_timezone(SHANGHAI)) for p in picks]
    near_midnight = [t for t in local if t.hour == 23 and t.minute >= 40 or t.hour == 0 and t.minute <= 20]
    assert len(near_midnight) > 100
    for p in picks[:50]:  # what the Makefile prints is what the clock reads back
        assert clock.parse_instant(clock.format_instant(p, SHANGHAI)) == p


# -- the guard: nothing but models/clock.py reads the wall clock ----------------------------------------------
GUARDED = ("app", "models", "screening", "bench", "config", "tests", "migrations")
ALLOWED = {Path("models/clock.py")}
CLASS_READS = {"now", "utcnow", "today"}  # datetime.now(), datetime.utcnow(), date.today(), datetime.today()
TIME_READS = {"time", "time_ns", "localtime", "gmtime", "ctime", "asctime", "strftime"}
SQL_NOWS = {"now", "current_timestamp", "current_date", "current_time", "localtimestamp", "localtime", "sysdate",
            "statement_timestamp", "transaction_timestamp", "clock_timestamp"}
SQL_NOW_TEXT = re.compile(r"\b(current_timestamp|current_date|current_time|localtimestamp|clock_timestamp)\b"
                          r"|(?<![.\w])now\(\)|'now'", re.IGNORECASE)
CODE_IN_TEXT = re.compile(
    r"\b(datetime\.(now|utcnow|today)|date\.today|time\.(time|localtime|gmtime))\("
)  # scripts in strings


def wall_clock_reads(source: str, sql_text: bool = True) -> list[tuple[int, str]]:
    """(line, what) for each read of the wall clock in one module's source (`sql_text`: also string literals that
    ask the database for its now)."""
    tree = ast.parse(source)
    modules: dict[str, str] = {}  # local name -> "datetime" / "time" (the modules)
    classes: dict[str, str] = {}  # local name -> "datetime" / "date" (the classes)
    functions: dict[str, str] = {}  # local name -> "time.time" etc.
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in ("datetime", "time"):
                    modules[a.asname or a.name] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module in ("datetime", "time") and not node.level:
            for a in node.names:
                if node.module == "datetime" and a.name in ("datetime", "date"):
                    classes[a.asname or a.name] = a.name
                if node.module == "time" and a.name in TIME_READS:
                    functions[a.asname or a.name] = f"time.{a.name}"
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            if isinstance(f, ast.Name) and f.id in functions:
                found.append((node.lineno, functions[f.id]))
            if not isinstance(f, ast.Attribute):
                continue
            owner = f.value
            if f.attr in CLASS_READS and isinstance(owner, ast.Name) and owner.id in classes:
                found.append((node.lineno, f"{classes[owner.id]}.{f.attr}"))
            if (
                f.attr in CLASS_READS
                and isinstance(owner, ast.Attribute)
                and owner.attr in ("datetime", "date")
                and isinstance(owner.value, ast.Name)
                and modules.get(owner.value.id) == "datetime"
            ):
                found.append((node.lineno, f"datetime.{owner.attr}.{f.attr}"))
            if f.attr in TIME_READS and isinstance(owner, ast.Name) and modules.get(owner.id) == "time":
                found.append((node.lineno, f"time.{f.attr}"))
            if f.attr.lower() in SQL_NOWS and isinstance(owner, ast.Name) and owner.id == "func":
                found.append((node.lineno, f"func.{f.attr} (the database's now)"))
        if isinstance(node, ast.keyword) and node.arg in ("server_default", "server_onupdate"):
            text = ast.unparse(node.value)
            if SQL_NOW_TEXT.search(text) or "func." in text:
                found.append((node.value.lineno, f"{node.arg}={ast.unparse(node.value)} (the database's now)"))
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if sql_text and SQL_NOW_TEXT.search(node.value) and not _is_docstring(tree, node):
                found.append((node.lineno, f"SQL text reading the database's now: {node.value[:60]!r}"))
            if sql_text and CODE_IN_TEXT.search(node.value) and not _is_docstring(tree, node):
                found.append((node.lineno, f"a script in a string reading the wall clock: {node.value[:60]!r}"))
    return sorted(set(found))


def _is_docstring(tree: ast.AST, constant: ast.Constant) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and body[0].value is constant:
                return True
    return False


def test_the_guard_sees_every_way_of_reading_the_wall_clock():
    sample = """
import time, datetime as dt
from datetime import date, datetime as DT
from time import time as seconds
from sqlalchemy import func, Column, DateTime, text
a = DT.now()
b = date.today()
c = dt.datetime.utcnow()
d = time.time()
e = seconds()
f = func.now()
g = Column(DateTime, server_default=text("CURRENT~_TIMESTAMP"))
h = "SELECT n~ow() FROM x"
i = "import time; print(time.ti~me())"
ok = time.monotonic() + time.perf_counter()
ok2 = DT.fromisoformat("2028-02-29T08:00+08:00")
""".replace("~", "")  # spelt apart here so that this file passes its own guard
    lines = sorted({line for line, _ in wall_clock_reads(sample)})
    assert lines == [6, 7, 8, 9, 10, 11, 12, 13, 14]


def test_only_the_clock_reads_the_wall_clock():
    offenders = []
    for folder in GUARDED:
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel in ALLOWED or ".venv" in rel.parts:
                continue
            # this file names the words it looks for; its calls are checked like everyone else's
            source = path.read_text(encoding="utf-8")
            for line, what in wall_clock_reads(source, sql_text=path != Path(__file__).resolve()):
                offenders.append(f"{rel}:{line}: {what}")
    assert not offenders, (
        "read the time through models/clock.py (clock.now(), clock.today(tz); clock.wall_now() "
        "only where the real time is meant):\n  " + "\n  ".join(offenders)
    )


def test_travel_moves_the_clock_for_a_block_and_puts_it_back(moved_clock):
    moved_clock(datetime(2028, 2, 29, 8, 0, tzinfo=clock.school_timezone(SHANGHAI)))
    before = clock.now()
    autumn = datetime(2026, 10, 12, 10, 30, tzinfo=clock.school_timezone(SHANGHAI))
    with clock.travel(autumn) as at:
        assert at == autumn.astimezone(UTC)
        inside = clock.now()
        assert timedelta(0) <= inside - at < timedelta(seconds=5)  # it runs on from the instant, like a moved clock
        assert clock.today(SHANGHAI) == date(2026, 10, 12) and utcnow() >= inside
        with clock.travel(datetime(2027, 3, 1, 9, 0, tzinfo=UTC)):  # blocks nest
            assert clock.today("UTC") == date(2027, 3, 1)
        assert clock.today(SHANGHAI) == date(2026, 10, 12)
        assert clock.os.environ[clock.ENV_NOW].startswith("2028-02-29")  # the environment (children) is untouched
    assert timedelta(0) <= clock.now() - before < timedelta(seconds=5)  # back on the moved clock
    assert clock.today(SHANGHAI) == date(2028, 2, 29)
    with pytest.raises(ValueError):
        with clock.travel(datetime(2026, 10, 12, 10, 30)):
            pass


def test_travel_is_undone_when_the_block_fails_and_stays_in_its_thread(moved_clock):
    import threading

    moved_clock(None)
    seen: list[datetime] = []
    with pytest.raises(RuntimeError):
        with clock.travel(datetime(2025, 3, 10, 9, 0, tzinfo=UTC)):
            worker = threading.Thread(target=lambda: seen.append(clock.now()))
            worker.start()
            worker.join()
            raise RuntimeError("boom")
    assert len(seen) == 1 and abs(seen[0] - clock.wall_now()) < timedelta(seconds=5)  # another thread: not moved
    assert abs(clock.now() - clock.wall_now()) < timedelta(seconds=1)
