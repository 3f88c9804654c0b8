"""District dashboard benchmark: the statistics service against hand-written SQL over the same rows and against
reading its rollups alone.

    .venv/bin/python -m bench.bench_dashboard [tiny|small|district]

Data: `dashboard` (built here once per run with raw executemany inserts, SQLite or PostgreSQL; no identity, no
answers: the district figures never read them): `district` = 100 schools, 60,000 students, ten terms (five years,
two rounds a year) of two instruments each = 1.2 million screenings, with warnings for the positive screens,
rechecks, cases and referrals; `small` = 10 schools, 3,000 students, four terms; `tiny` = 4 schools, 300 students,
two terms. Measured on a copy (the service writes rollups).

The latest term's campaign is open (served from its running-term rollup, which the scheduler job `district_rollups`
keeps younger than five minutes; older, the request computes it); the earlier terms are closed (read from the
maintained rollups once written). Figures, median of several runs, each beside its floors:
- `open_term_from_rollup_ms`: `service.compute_figures` for the open latest term after the job refreshed its
  rollup (enrolment, the family of cells and the disclosure control still run per request: everything the
  dashboard page computes), against (1) the same aggregates as hand-written SQL run through the DB-API
  ("cache vs compute") and (2) the path it takes: the DB-API select of the rollup row and `json.loads` of it;
- `open_term_from_rollup_unmemoised_ms`: the same as a worker's first request after a refresh (the app's memo
  of protected figures is empty: the rollup's counts are decoded and protected in the request);
- `open_term_stale_rollup_ms`: the same when the rollup is older than the window (computed in the
  request: aggregate queries + rollup write), against the SQL;
- `running_term_refresh_ms`: the job recomputing the running term's rollups, against the SQL;
- `closed_term_ms`: the same for a closed term (rollup), against the SQL and the rollup read;
- `trends_ms`: the trends page's figures for every term (levels 0-1), against SQL grouped by
  campaign over all rows and the read of every term's coarse rollup;
- `nightly_refresh_ms`: `flask district refresh-rollups` for all closed terms (nightly), against the
  SQL over all rows.
The rollup-read floor follows the rollups' stored form (`district_rollups.cubes`, JSON): change it with them.
"""
from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.core import Floor, Sample, interleaved, result, runs_for

DATA = "dashboard"

SCALES = {
    "tiny": {"schools": 4, "students": 300, "terms": 2},
    "small": {"schools": 10, "students": 3_000, "terms": 4},
    "district": {"schools": 100, "students": 60_000, "terms": 10},
}
INSTRUMENTS = ("phqa", "gad7")
TODAY = date(2026, 11, 29)
TARGET_DASHBOARD_MS = 50


def _terms(n: int) -> list[tuple[str, date]]:
    """The last n terms up to autumn 2026, oldest first: (term code, screening day)."""
    codes: list[tuple[str, date]] = []
    y = 2026
    while len(codes) < n:
        codes.append((f"{y}-{y + 1}-1", date(y, 10, 12)))
        if len(codes) < n:
            codes.append((f"{y - 1}-{y}-2", date(y, 4, 12)))
        y -= 1
    return sorted(codes, key=lambda t: t[1])


def _school_plan(i: int, n: int) -> tuple[str, str]:
    """(type, stage): about a third rural small, a quarter township boarding, the rest urban / other."""
    r = i / max(n, 1)
    kind = "rural_small" if r < 0.34 else "township_boarding" if r < 0.6 else "urban" if r < 0.95 else "other"
    stage = ("primary", "junior", "primary", "nine_year", "primary", "junior")[i % 6]
    return kind, stage


def build_dataset(url: str, scale: str, workdir: Path, base: dict[str, Any]) -> dict[str, Any]:
    """The `dashboard` data set, into the migrated template at `url`, with the planner's statistics."""
    from models.db import make_engine

    info = generate(url, scale)
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    finally:
        engine.dispose()
    return info


class _Driver:
    """exec_driver_sql with `?` markers on either driver (psycopg wants `%s`)."""

    def __init__(self, conn: Any):
        self.conn = conn
        self.qmark = conn.dialect.paramstyle == "qmark"

    def __call__(self, sql: str, params: Any = None) -> Any:
        if not self.qmark:
            sql = sql.replace("%", "%%").replace("?", "%s")
        return self.conn.exec_driver_sql(sql, params) if params is not None else self.conn.exec_driver_sql(sql)


def generate(database_url: str, scale: str = "small", seed: int = 8) -> dict[str, Any]:
    """Fill a migrated, empty database with the synthetic district. Returns counts and the district id."""
    from models.db import make_engine

    cfg = SCALES.get(scale, SCALES["small"])
    rng = random.Random(seed)
    engine = make_engine(database_url)
    started = time.perf_counter()
    now = datetime(2026, 11, 1, tzinfo=UTC).isoformat(sep=" ")
    counts: dict[str, int] = {}
    with engine.begin() as raw_conn:
        conn = _Driver(raw_conn)

        def many(sql: str, rows: list[tuple]) -> None:
            if rows:
                conn(sql, rows)
                counts[sql.split()[2]] = counts.get(sql.split()[2], 0) + len(rows)

        conn("INSERT INTO districts (code, name) VALUES ('BENCHD', '基准区')")
        district_id = conn("SELECT id FROM districts WHERE code = 'BENCHD'").scalar_one()
        schools = []
        for i in range(cfg["schools"]):
            kind, stage = _school_plan(i, cfg["schools"])
            schools.append((district_id, f"BD{i + 1:04d}", f"基准学校{i + 1}", kind, stage, now))
        many(
            "INSERT INTO schools (district_id, code, name, type, stage, created_at) VALUES (?, ?, ?, ?, ?, ?)", schools
        )
        school_rows = conn("SELECT id, type, stage FROM schools WHERE district_id = ?", (district_id,)).all()
        grades_of = {"primary": range(1, 7), "junior": range(7, 10), "nine_year": range(1, 10)}
        # Rural small schools are small: weights keep the total at the requested number of students.
        weight = {"rural_small": 0.3, "township_boarding": 1.2, "urban": 1.6, "other": 0.5}
        total_w = sum(weight[t] for _, t, _ in school_rows)
        students = []
        for sid, kind, stage in school_rows:
            n = max(8, round(cfg["students"] * weight[kind] / total_w))
            grades = list(grades_of[stage])
            for j in range(n):
                students.append((str(uuid.uuid4()), sid, grades[j % len(grades)], "M" if rng.random() < 0.52 else "F",
                                 "2014-05", "enrolled", now, now))
        many("INSERT INTO students (public_id, school_id, grade, gender, birth_ym, status, created_at, updated_at) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", students)
        student_rows = conn(
            "SELECT students.id, students.school_id, students.grade, schools.type FROM students "
            "JOIN schools ON schools.id = students.school_id WHERE schools.district_id = ?", (district_id,)).all()
        care = []
        for st_id, _, _, kind in student_rows:
            for group, p in (("left_behind", 0.25 if kind != "urban" else 0.04), ("migrant", 0.1), ("hardship", 0.05)):
                if rng.random() < p:
                    care.append((st_id, group))
        many('INSERT INTO student_care_groups (student_id, "group") VALUES (?, ?)', care)
        # Counselors: one full-time per school except every seventh two-type school (a staffing gap).
        users = []
        for sid, kind, _ in school_rows:
            if kind in ("rural_small", "township_boarding") and sid % 7 == 0:
                continue
            users.append((f"bench-dc{sid}", f"心理教师{sid}", "x", "counselor", True, district_id, True, 1, now, sid))
        for u in users:
            conn(
                "INSERT INTO users (username, display_name, password_hash, role, active, district_id, full_time, "
                "session_version, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", u[:9])
        conn(
            "INSERT INTO counselor_schools (user_id, school_id) SELECT users.id, CAST(substr(users.username, 9) "
            "AS INTEGER) "
            "FROM users WHERE users.username LIKE 'bench-dc%'"
        )
        # Terms, campaigns, screenings, warnings, rechecks, cases, referrals.
        terms = _terms(cfg["terms"])
        campaigns: dict[str, int] = {}
        screen_rows, warn_rows = [], []
        case_plan: list[tuple[Any, ...]] = []
        recheck_plan: list[tuple[Any, ...]] = []
        for term, day in terms:
            is_latest = term == terms[-1][0]  # the current term's campaign is still open: computed live
            closed_at = None if is_latest else datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=25)
            conn(
                "INSERT INTO campaigns (name, term, starts_on, ends_on, status, created_at, closed_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (f"{term} 测评", term, day, day + timedelta(days=20), "open" if is_latest else "closed", now,
                 closed_at.isoformat(sep=" ") if closed_at else None))
            cid = conn("SELECT max(id) FROM campaigns").scalar_one()
            campaigns[term] = cid
            many(
                "INSERT INTO campaign_instruments (campaign_id, instrument_id, grade_from, grade_to) "
                "VALUES (?, ?, 1, 9)",
                [(cid, inst) for inst in INSTRUMENTS],
            )
            recorded = datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)
            for st_id, school_id, grade, _ in student_rows:
                for inst in INSTRUMENTS:
                    if rng.random() < 0.04:
                        continue  # absent on the day
                    positive = rng.random() < 0.09
                    critical = positive and rng.random() < 0.08
                    level = (
                        "L1"
                        if critical
                        else ("L2" if positive and rng.random() < 0.3 else "L3" if positive else "none")
                    )
                    uid = str(uuid.uuid4())
                    screen_rows.append(
                        (
                            uid,
                            st_id,
                            school_id,
                            grade,
                            cid,
                            inst,
                            "1.0",
                            "self",
                            day,
                            recorded.isoformat(sep=" "),
                            True,
                            10,
                            positive,
                            critical,
                            level,
                        )
                    )
                    if positive:
                        warn_rows.append((uid, st_id, school_id, level, recorded, rng))
            if len(screen_rows) > 100_000:
                _flush_screenings(conn, screen_rows, warn_rows, counts, case_plan, recheck_plan)
                screen_rows, warn_rows = [], []
        _flush_screenings(conn, screen_rows, warn_rows, counts, case_plan, recheck_plan)
        many(
            "INSERT INTO rechecks (student_id, school_id, warning_id, level, instrument_id, due_on, status, "
            "created_at, "
            "on_time) VALUES (?, ?, ?, ?, 'phqa', ?, ?, ?, ?)",
            recheck_plan,
        )
        many(
            "INSERT INTO care_cases (uid, student_id, school_id, warning_id, level, status, opened_at, "
            "updated_at, version) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)",
            [c[:8] for c in case_plan],
        )
        referrals = conn(
            "SELECT care_cases.id, care_cases.student_id FROM care_cases WHERE care_cases.id % 9 = 0").all()
        many(
            "INSERT INTO case_entries (uid, case_id, student_id, kind, occurred_on, visibility, referral_status, "
            "created_at) "
            "VALUES (?, ?, ?, 'referral', ?, 'counselor', 'sent', ?)",
            [(str(uuid.uuid4()), cid, st, TODAY, now) for cid, st in referrals],
        )
    engine.dispose()
    return {"district_id": district_id, "rows": counts, "seconds": round(time.perf_counter() - started, 1),
            "latest_term": _terms(cfg["terms"])[-1][0], "campaigns": campaigns}


def _flush_screenings(conn, screen_rows, warn_rows, counts, case_plan, recheck_plan) -> None:
    if not screen_rows:
        return
    conn(
        "INSERT INTO screenings (uid, student_id, school_id, grade, campaign_id, instrument_id, "
        "instrument_version, mode, "
        "administered_on, recorded_at, valid, total, positive, critical, suggested_level, flags, result_json) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]', '{}')",
        screen_rows,
    )
    counts["screenings"] = counts.get("screenings", 0) + len(screen_rows)
    if not warn_rows:
        return
    ids = {}
    uids = [w[0] for w in warn_rows]
    for i in range(0, len(uids), 500):
        part = uids[i:i + 500]
        marks = ",".join("?" * len(part))
        ids.update(conn(f"SELECT uid, id FROM screenings WHERE uid IN ({marks})", tuple(part)).all())
    rows = []
    for uid, st_id, school_id, level, recorded, rng in warn_rows:
        confirmed = rng.random() < 0.9
        contact = recorded + timedelta(hours=rng.choice((1, 3, 5, 20, 30)))
        due = recorded.date() + timedelta(days=3 if level in ("L1", "L2") else 14)
        confirmed_at = recorded + timedelta(days=rng.choice((1, 2, 5, 10, 16)))
        rows.append((str(uuid.uuid4()), st_id, school_id, ids[uid], level, level if confirmed else None,
                     "confirmed" if confirmed else "suggested", recorded, due, confirmed_at if confirmed else None,
                     contact if level == "L1" else None, contact if level == "L1" else None))
    conn(
        "INSERT INTO warnings (uid, student_id, school_id, screening_id, suggested_level, confirmed_level, status, "
        "created_at, interview_due_on, confirmed_at, first_contact_at, acknowledged_at, reasons) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '[]')",
        [tuple(x.isoformat(sep=" ") if isinstance(x, datetime) else x for x in r) for r in rows])
    counts["warnings"] = counts.get("warnings", 0) + len(rows)
    wids = dict(conn(
        f"SELECT uid, id FROM warnings WHERE id > (SELECT coalesce(max(id), 0) - {len(rows)} FROM warnings)").all())
    now = datetime(2026, 11, 1, tzinfo=UTC).isoformat(sep=" ")
    for r in rows:
        wid = wids.get(r[0])
        if wid is None or r[6] != "confirmed":
            continue
        level = r[4]
        recheck_plan.append((r[1], r[2], wid, level, r[8] + timedelta(days=14), "done", now, (wid % 5) != 0))
        if level in ("L1", "L2"):
            case_plan.append(
                (str(uuid.uuid4()), r[1], r[2], wid, level, "closed" if wid % 3 == 0 else "open", now, now)
            )


# -- the hand-written lower bound ---------------------------------------------------------------------------
def per_student_keys(group: str) -> str:
    return "s.campaign_id AS campaign_id" if "campaign_id" in group else "0 AS campaign_id"


def local_date(expr: str, dialect: str) -> str:
    """The date in Asia/Shanghai of a UTC timestamp column, in the database's own SQL."""
    if dialect == "sqlite":
        return f"date({expr}, '+480 minutes')"
    return f"(({expr}) AT TIME ZONE 'Asia/Shanghai')::date"


def baseline_statements(campaign_filter: str, group: str, district_id: int, dialect: str = "sqlite") -> list[str]:
    """The same aggregates as the service, as plain SQL (group = the GROUP BY columns incl. the term or not)."""
    join_s = "JOIN students st ON st.id = s.student_id"
    first_contact = local_date("coalesce(w.first_contact_at, w.acknowledged_at)", dialect)
    created = local_date("w.created_at", dialect)
    confirmed = local_date("w.confirmed_at", dialect)
    return [
        f"SELECT st.school_id, st.grade, st.gender, count(*) FROM students st WHERE st.status = 'enrolled' "
        f"AND st.school_id IN (SELECT id FROM schools WHERE district_id = {int(district_id)}) "
        f"GROUP BY st.school_id, st.grade, st.gender",
        f"SELECT {group.replace('s.', 'p.').replace('p.campaign_id', 'p.campaign_id')}, count(*), sum(p.pos), "
        f"sum(coalesce(c.a, 0)), sum(coalesce(c.a, 0) * p.pos), sum(1 - coalesce(c.a, 0)), "
        f"sum((1 - coalesce(c.a, 0)) * p.pos), sum(coalesce(c.lb, 0)), sum(coalesce(c.lb, 0) * p.pos), "
        "sum(coalesce(c.mg, 0)), sum(coalesce(c.mg, 0) * p.pos), sum(coalesce(c.hd, 0)), "
        "sum(coalesce(c.hd, 0) * p.pos) "
        f"FROM (SELECT s.student_id, {per_student_keys(group)}, min(s.school_id) AS school_id, min(s.grade) AS grade, "
        f"max(CASE WHEN s.positive THEN 1 ELSE 0 END) AS pos FROM screenings s WHERE {campaign_filter} AND s.valid "
        f"GROUP BY s.student_id{', s.campaign_id' if 'campaign_id' in group else ''}) p "
        f"JOIN students st ON st.id = p.student_id "
        "LEFT JOIN (SELECT student_id, max(CASE WHEN \"group\" IN ('left_behind','migrant','hardship') THEN 1 "
        "ELSE 0 END) AS a, "
        f"max(CASE WHEN \"group\" = 'left_behind' THEN 1 ELSE 0 END) AS lb, "
        f"max(CASE WHEN \"group\" = 'migrant' THEN 1 ELSE 0 END) AS mg, "
        f"max(CASE WHEN \"group\" = 'hardship' THEN 1 ELSE 0 END) AS hd "
        f"FROM student_care_groups GROUP BY student_id) c ON c.student_id = p.student_id "
        f"GROUP BY {group.replace('s.', 'p.')}",
        f"SELECT s.instrument_id, {group}, count(*), count(CASE WHEN s.positive THEN 1 END) FROM screenings s {join_s} "
        f"WHERE {campaign_filter} AND s.valid GROUP BY s.instrument_id, {group}",
        f"SELECT {group}, count(CASE WHEN w.status = 'confirmed' AND w.confirmed_level = 'L1' THEN 1 END), "
        f"count(CASE WHEN w.status = 'confirmed' AND w.confirmed_level = 'L2' THEN 1 END), "
        f"count(CASE WHEN w.status = 'confirmed' AND w.confirmed_level = 'L3' THEN 1 END), "
        f"count(CASE WHEN w.status = 'confirmed' AND w.confirmed_level = 'care' THEN 1 END), "
        f"count(CASE WHEN w.suggested_level = 'L1' OR w.confirmed_level = 'L1' THEN 1 END), "
        f"count(CASE WHEN (w.suggested_level = 'L1' OR w.confirmed_level = 'L1') AND {first_contact} = {created} "
        f"THEN 1 END), "
        "count(CASE WHEN w.interview_due_on IS NOT NULL AND (w.confirmed_at IS NOT NULL "
        f"OR w.interview_due_on < '{TODAY}') THEN 1 END), "
        f"count(CASE WHEN w.confirmed_at IS NOT NULL AND {confirmed} <= w.interview_due_on THEN 1 END) "
        f"FROM warnings w JOIN screenings s ON s.id = w.screening_id {join_s} WHERE {campaign_filter} AND s.valid "
        f"GROUP BY {group}",
        f"SELECT {group}, count(CASE WHEN r.status IN ('overdue','escalated','done') OR r.on_time IS NOT NULL "
        "THEN 1 END), "
        f"count(CASE WHEN r.on_time THEN 1 END) FROM rechecks r JOIN warnings w ON w.id = r.warning_id "
        f"JOIN screenings s ON s.id = w.screening_id JOIN students st ON st.id = r.student_id "
        f"WHERE {campaign_filter} AND s.valid AND r.status != 'cancelled' GROUP BY {group}",
        f"SELECT {group}, count(CASE WHEN cc.status != 'closed' THEN 1 END), count(ref.case_id) FROM care_cases cc "
        f"JOIN warnings w ON w.id = cc.warning_id JOIN screenings s ON s.id = w.screening_id "
        f"JOIN students st ON st.id = cc.student_id "
        "LEFT JOIN (SELECT case_id FROM case_entries WHERE kind = 'referral' GROUP BY case_id) ref "
        "ON ref.case_id = cc.id "
        f"WHERE {campaign_filter} AND s.valid GROUP BY {group}",
    ]


def rollup_floor(engine: Any, keys: list[str]) -> Callable[[], None]:
    """The path a request served from rollups takes, alone: select the rollup rows (DB-API) and decode them."""
    marker = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    sql = f"SELECT cubes FROM district_rollups WHERE key IN ({', '.join([marker] * len(keys))})"

    def read() -> None:
        conn = engine.raw_connection()
        try:
            cur = conn.cursor()
            cur.execute(sql, tuple(keys))
            rows = cur.fetchall()
            assert len(rows) == len(keys), f"expected {len(keys)} rollups, found {len(rows)}"
            for (text,) in rows:
                json.loads(text)
            conn.rollback()
        finally:
            conn.close()

    return read


def run(scale: str, data: Any) -> list[dict]:
    from sqlalchemy.orm import Session

    from app.district import service
    from app.district.service import Selection
    from models.db import make_engine

    runs, heavy_runs = runs_for(scale), runs_for(scale, heavy=True)
    with data.copy() as db:
        info = db.info
        engine = make_engine(db.url)
        try:
            return _measure(engine, info, scale, runs, heavy_runs, service, Selection, Session)
        finally:
            engine.dispose()


def _measure(engine: Any, info: dict[str, Any], scale: str, runs: int, heavy_runs: int, service: Any,
             Selection: Any, Session: Any) -> list[dict]:
    from models import utcnow

    dialect = engine.dialect.name
    district_id = info["district_id"]
    latest = info["latest_term"]
    terms = [t for t, _ in _terms(SCALES.get(scale, SCALES["small"])["terms"])]
    closed_term = terms[-2]
    campaign = info["campaigns"]
    all_ids = ",".join(str(c) for c in sorted(campaign.values()))
    group = "s.school_id, s.grade, st.gender"
    dash_sql = baseline_statements(f"s.campaign_id IN ({campaign[latest]})", group, district_id, dialect)
    closed_sql = baseline_statements(f"s.campaign_id IN ({campaign[closed_term]})", group, district_id, dialect)
    trend_sql = baseline_statements(f"s.campaign_id IN ({all_ids})", "s.campaign_id, " + group, district_id, dialect)

    def sql_floor(statements: list[str]) -> Callable[[], None]:
        def run_sql() -> None:
            with engine.connect() as conn:
                for q in statements:
                    conn.exec_driver_sql(q.replace("%", "%%") if dialect != "sqlite" else q).fetchall()
        return run_sql

    def refresh_running() -> None:  # what the scheduler job district_rollups does for the running term (every 3 min)
        with Session(bind=engine) as s:
            selection = Selection(latest, None)
            ctx = service.load_context(s, district_id, selection)
            cubes = service.screening_cubes(s, ctx, TODAY, "Asia/Shanghai")
            service.store_rollups(s, district_id, selection, ctx, cubes, service.rollup_stamp(ctx, TODAY))
            s.commit()

    cache = service.FiguresCache()  # what an app keeps: protected results memoised across its requests

    def dashboard() -> None:  # a request finding the rollup the job keeps younger than five minutes
        started = utcnow()
        with Session(bind=engine) as s:
            ctx, _ = service.compute_figures(s, district_id, Selection(latest, None), 5, TODAY, cache=cache)
            s.commit()
        assert ctx.as_of is not None and ctx.as_of < started, "expected the running term's rollup"

    def dashboard_first() -> None:  # the same, a worker's first request after a refresh: no memoised figures
        started = utcnow()
        with Session(bind=engine) as s:
            ctx, _ = service.compute_figures(s, district_id, Selection(latest, None), 5, TODAY,
                                             cache=service.FiguresCache())
            s.commit()
        assert ctx.as_of is not None and ctx.as_of < started, "expected the running term's rollup"

    def dashboard_stale() -> None:  # a request finding no fresh rollup: computed (and rolled up) in the request
        with Session(bind=engine) as s:
            service.compute_figures(s, district_id, Selection(latest, None), 5, TODAY, open_max_age=timedelta(0),
                                    cache=cache)
            s.rollback()

    def closed_dashboard() -> None:
        with Session(bind=engine) as s:
            service.compute_figures(s, district_id, Selection(closed_term, None), 5, TODAY, cache=cache)
            s.commit()  # keeps the rollup written by the first (warm-up) call

    def trends() -> None:
        with Session(bind=engine) as s:
            service.trends(s, district_id, 5, TODAY, cache=cache)
            s.commit()

    def refresh() -> None:
        with Session(bind=engine) as s:
            service.refresh_rollups(s, district_id, TODAY)
            s.commit()

    refresh_running()
    closed_dashboard()  # the closed term's rollups, as the nightly job leaves them
    trends()
    full = [service.rollup_key(district_id, Selection(latest, None), "full")]
    closed_full = [service.rollup_key(district_id, Selection(closed_term, None), "full")]
    coarse = [service.rollup_key(district_id, Selection(t, None), "coarse") for t in terms]
    target = f"< {TARGET_DASHBOARD_MS:g} ms from the rollup (district scale)"
    sql_what = "hand-written SQL computing the same aggregates over the same rows, DB-API fetchall"
    read_what = "reading and decoding the rollup row(s) alone (DB-API select, json.loads)"
    cases: list[tuple[str, str, Callable[[], None], list[tuple[str, str, Callable[[], None]]], int, str | None]] = [
        ("open_term_from_rollup_ms", f"district dashboard, latest term {latest} (campaign open), from the rollup "
         "the scheduler refreshes every 3 minutes", dashboard,
         [("sql", sql_what, sql_floor(dash_sql)), ("rollup_read", read_what, rollup_floor(engine, full))], runs,
         target),
        ("open_term_from_rollup_unmemoised_ms", f"district dashboard, latest term {latest}, from the rollup, "
         "a worker's first request after a refresh (counts decoded and protected, no memoised figures)",
         dashboard_first,
         [("sql", sql_what, sql_floor(dash_sql)), ("rollup_read", read_what, rollup_floor(engine, full))], runs,
         None),
        ("open_term_stale_rollup_ms", f"district dashboard, latest term {latest}, rollup older than "
         "5 minutes: computed in the request", dashboard_stale, [("sql", sql_what, sql_floor(dash_sql))], heavy_runs,
         None),
        ("running_term_refresh_ms", f"the scheduler job recomputing the running term {latest}'s "
         "rollups", refresh_running, [("sql", sql_what, sql_floor(dash_sql))], heavy_runs, None),
        ("closed_term_ms", f"district dashboard, closed term {closed_term}, from its "
         "maintained rollup", closed_dashboard,
         [("sql", sql_what, sql_floor(closed_sql)), ("rollup_read", read_what, rollup_floor(engine, closed_full))],
         runs, target),
        ("trends_ms", f"district trends, {len(terms)} terms (closed terms from their rollups, the "
         "running one from its 5-minute rollup)", trends,
         [("sql", sql_what.replace("aggregates", "aggregates grouped by campaign"), sql_floor(trend_sql)),
          ("rollup_read", "reading and decoding every term's coarse rollup alone (DB-API select, json.loads)",
           rollup_floor(engine, coarse))], runs, None),
        ("nightly_refresh_ms", f"recomputing the rollups of the {len(terms) - 1} closed terms "
         "(nightly job)", refresh, [("sql", sql_what.replace("aggregates", "aggregates grouped by campaign"),
                                     sql_floor(trend_sql))], heavy_runs, None),
    ]
    rows = []
    for key, metric, fn, floors, n_runs, goal in cases:
        samples: list[Sample] = interleaved([fn, *(f[2] for f in floors)], n_runs, unit="ms")
        rows.append(result(f"dashboard.{key}", metric, samples[0], "ms",
                           [Floor(k, what, sm) for (k, what, _), sm in zip(floors, samples[1:], strict=True)],
                           target=goal))
    return rows


if __name__ == "__main__":
    from bench.__main__ import standalone

    standalone("bench_dashboard")
