"""Maintained rollups: the screening cubes of a selection kept in `district_rollups` and read back while fresh.

When every campaign of a selection is closed, its cubes (counts only) are kept (full detail for the dashboard,
type x stage detail for the trends) and read back while younger than `ROLLUP_MAX_AGE` (and until a campaign is
closed again). A rollup holds everything the figures need: the screening measures AND the enrolment of the
screened grades at the moment it was computed (so a request served from it runs no query over the students:
enrolment is as fresh as the rollup, minutes for a running term), in a compact form: the (school, grade, gender)
keys once, then one list of counts per measure, aligned with them (`_encode`), which decodes several times faster
than one [school, grade, gender, count] row per count. A request served from a rollup is identified by the
rollup's key, stamp and refresh time (`RollupSource`): the app's memo of protected figures is looked up with that
before the counts are even read, so a page seen a moment ago by another request of the same worker costs one
small SELECT. A selection with a campaign still running is rolled up too, but trusted for `OPEN_ROLLUP_MAX_AGE`
only (5 minutes, a setting) and only for the same campaigns on the same day; older, it is recomputed in the
request. The scheduler jobs (app/district/tasks.py) keep them fresh; `Context.as_of` tells when the figures
shown were computed.
"""
from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from models import utcnow
from models.district import DistrictRollup

from .context import Context, Selection, district_schools, list_terms, load_context
from .cubes import Cube, enrolled_by_school, roll_cubes, screening_cubes

# Rollups of closed campaigns are trusted for this long (late follow-ups still change them); bump the version
# whenever the meaning of a stored measure changes, so old rollups are recomputed.
ROLLUP_MAX_AGE = timedelta(hours=1)
OPEN_ROLLUP_MAX_AGE = timedelta(minutes=5)  # a selection with a running campaign (dashboard and trend point)
ROLLUP_VERSION = "6"  # 2: the crisis-response counts (crisis_assessed_same_day, crisis_safety_plan); 3: warn_*
# count students by highest level (人); 4: open cases by status (cases_status_open|following|referred); 5: the
# enrolment inside, compact form; 6: referrals and referral feedback received (referrals, referrals_feedback)
Enrolled = Cube | Callable[[], Cube] | None  # the enrolment per (school, grade, gender), or how to get it


class RollupSource(NamedTuple):
    """Which stored rollup a request's counts come from: equal sources mean equal counts."""

    key: str
    stamp: str
    refreshed_at: datetime


def rollup_key(district_id: int | None, selection: Selection, detail: str) -> str:
    what = f"campaign:{selection.campaign_id}" if selection.campaign_id is not None else f"term:{selection.term}"
    return f"d{district_id or 0}:{what}:{detail}"


def coarsen(cubes: dict[str, Cube], ctx: Context) -> dict[str, Cube]:
    """Counts per (type x stage part, grade, gender), each part stored under its first school's id.

    Enough for the district-level cells (levels 0-1) the trend charts show; ~20x smaller than the full cubes.
    """
    rep: dict[int, int] = {}
    parts: dict[tuple[str, str], list[int]] = defaultdict(list)
    for sid in ctx.school_ids:
        info = ctx.schools[sid]
        parts[(info.type, info.stage)].append(sid)
    for members in parts.values():
        first = min(members)
        for sid in members:
            rep[sid] = first
    out: dict[str, Cube] = {}
    for measure, cube in cubes.items():
        coarse: Cube = defaultdict(int)
        for (sid, grade, gender), n in cube.items():
            coarse[(rep.get(sid, sid), grade, gender)] += n
        out[measure] = dict(coarse)
    return out


def _encode(cubes: dict[str, Cube]) -> str:
    """{"k": [school, grade, gender, school, grade, gender, ...], "m": {measure: [count per key, 0 if none]}}."""
    keys = sorted({key for cube in cubes.values() for key in cube})
    flat = [part for key in keys for part in key]
    return json.dumps({"k": flat, "m": {m: [cube.get(key, 0) for key in keys] for m, cube in cubes.items()}},
                      separators=(",", ":"))


def _decode(text: str) -> dict[str, Cube]:
    data = json.loads(text)
    it = iter(data["k"])
    keys = list(zip(it, it, it, strict=True))
    return {m: {key: n for key, n in zip(keys, counts, strict=True) if n} for m, counts in data["m"].items()}


def _enrolled(db: Session, ctx: Context, enrolled: Enrolled) -> dict[str, Cube]:
    """The enrolment cubes: 在籍 ("on_roll") and 应测 ("eligible", the grades screened), see `roll_cubes`."""
    if callable(enrolled):
        enrolled = enrolled()
    if enrolled is None:
        enrolled = enrolled_by_school(db, ctx.school_ids)
    return roll_cubes(ctx, enrolled)


def rollup_stamp(ctx: Context, today: date) -> str:
    """What a rollup of this context must have been computed from to be reused.

    Closed: the campaigns and their closing times. Running: the campaigns and the day (interview deadlines count
    against today), so a new campaign in the term, a campaign closing or midnight all invalidate it.
    """
    if ctx.closed_stamp is not None:
        return f"{ctx.closed_stamp}|{ROLLUP_VERSION}"
    return "open:" + ",".join(map(str, ctx.campaign_ids)) + f"@{today.isoformat()}|{ROLLUP_VERSION}"


def _max_age(ctx: Context, max_age: timedelta | None, open_max_age: timedelta | None) -> timedelta | None:
    if max_age is None:
        return None
    if ctx.closed_stamp is not None:
        return max_age
    return None if open_max_age is None else min(max_age, open_max_age)


def read_rollup(db: Session, key: str) -> tuple[str, datetime, str] | None:
    row = db.execute(
        select(DistrictRollup.stamp, DistrictRollup.refreshed_at, DistrictRollup.cubes)
        .where(DistrictRollup.key == key)
    ).first()
    return None if row is None else (row[0], row[1], row[2])


def _computed_at(db: Session) -> datetime:
    """When figures computed live on `db` were true: now, or as long ago as the statistics replica's replay lag."""
    return utcnow() - timedelta(seconds=float(db.info.get("lag_seconds") or 0))


def fresh_rollup(db: Session, district_id: int | None, selection: Selection, ctx: Context, today: date,
                 detail: str, max_age: timedelta | None,
                 open_max_age: timedelta | None = OPEN_ROLLUP_MAX_AGE) -> RollupSource | None:
    """The stored rollup a request may use (its stamp matches, younger than `max_age` / `open_max_age`, see
    `cached_cubes`), without reading its counts; None when the figures must be computed."""
    age = _max_age(ctx, max_age, open_max_age)
    if age is None or not ctx.campaign_ids:
        return None
    key = rollup_key(district_id, selection, detail)
    row = db.execute(
        select(DistrictRollup.stamp, DistrictRollup.refreshed_at).where(DistrictRollup.key == key)
    ).first()
    if row is None or row[0] != rollup_stamp(ctx, today) or utcnow() - row[1] >= age:
        return None
    return RollupSource(key, row[0], row[1])


def rollup_cubes(db: Session, source: RollupSource) -> dict[str, Cube] | None:
    """The counts of a rollup found by `fresh_rollup` (None if it was replaced since)."""
    row = db.execute(
        select(DistrictRollup.cubes)
        .where(DistrictRollup.key == source.key, DistrictRollup.refreshed_at == source.refreshed_at)
    ).first()
    return None if row is None else _decode(row[0])


def cached_cubes(db: Session, district_id: int | None, selection: Selection, ctx: Context, today: date,
                 tz_name: str, detail: str, max_age: timedelta | None,
                 open_max_age: timedelta | None = OPEN_ROLLUP_MAX_AGE, *, enrolled: Enrolled = None,
                 source: RollupSource | None = None) -> tuple[dict[str, Cube], RollupSource | None]:
    """Every measure of the figures, enrolment included, from a maintained rollup while it is fresh; sets
    `ctx.as_of`. Returns the cubes and the stored rollup they were read from (None when computed here).

    A rollup is used while its stamp (see `rollup_stamp`) matches and it is younger than `max_age` (closed
    campaigns: follow-up figures still move — late interviews, cases closing) or `open_max_age` (a campaign still
    running); otherwise the figures are computed from the screenings and the rollup is written again (not on
    a read-only session, the statistics replica's: there it is computed in memory only).
    `max_age=None` (or `open_max_age=None` for a running selection) always computes live and writes nothing.
    `source`: what `fresh_rollup` found a moment ago (not looked up again).
    """
    age = _max_age(ctx, max_age, open_max_age)
    if age is None or not ctx.campaign_ids:
        ctx.as_of = _computed_at(db)
        cubes = {**_enrolled(db, ctx, enrolled), **screening_cubes(db, ctx, today, tz_name)}
        return (coarsen(cubes, ctx) if detail == "coarse" else cubes), None
    if source is None:
        source = fresh_rollup(db, district_id, selection, ctx, today, detail, max_age, open_max_age)
    if source is not None:
        stored = rollup_cubes(db, source)
        if stored is not None:
            ctx.as_of = source.refreshed_at
            return stored, source
    cubes = {**_enrolled(db, ctx, enrolled), **screening_cubes(db, ctx, today, tz_name)}
    stamp = rollup_stamp(ctx, today)
    if db.info.get("read_only"):
        # Read from the statistics replica (app/db.py: db.statistics): a standby takes no writes, and storing on
        # the primary counts read from an older snapshot would stamp them fresher than they are. Computed in
        # memory and shown; the scheduler's jobs on the primary keep the stored rollups fresh.
        ctx.as_of = _computed_at(db)
    else:
        ctx.as_of = store_rollups(db, district_id, selection, ctx, cubes, stamp)
    # Computed here: no source, so the memo of protected figures is keyed by the counts themselves (the same
    # counts computed again after a rollup expired find the figures protected before).
    return (coarsen(cubes, ctx) if detail == "coarse" else cubes), None


def store_rollups(db: Session, district_id: int | None, selection: Selection, ctx: Context, cubes: dict[str, Cube],
                  stamp: str) -> datetime:
    """Write the full and coarse rollups of a selection (replacing older ones). Flushes, never commits.

    `cubes`: the screening measures, and the enrolment ("on_roll", "eligible"; read here when missing). Returns the
    refresh time written. The counts must have been computed just before (the time is taken here)."""
    if "eligible" not in cubes:
        cubes = {**_enrolled(db, ctx, None), **cubes}
    now = utcnow()
    for detail, data in (("full", cubes), ("coarse", coarsen(cubes, ctx))):
        key = rollup_key(district_id, selection, detail)
        try:
            with db.begin_nested():
                db.execute(delete(DistrictRollup).where(DistrictRollup.key == key))
                db.execute(insert(DistrictRollup).values(key=key, stamp=stamp, refreshed_at=now, cubes=_encode(data)))
        except IntegrityError:  # another request wrote the same rollup a moment ago: theirs is as good
            pass
        except OperationalError:
            # A read request (SQLite: deferred BEGIN) whose snapshot is older than another writer's commit cannot
            # take the write lock (SQLITE_BUSY_SNAPSHOT): the figures computed are still shown, not stored.
            if db.get_bind().dialect.name != "sqlite":
                raise
    return now


def refresh_rollups(db: Session, district_id: int | None, today: date, tz_name: str = "Asia/Shanghai",
                    *, running: bool = False, due_within: timedelta | None = None,
                    max_age: timedelta = ROLLUP_MAX_AGE, open_max_age: timedelta = OPEN_ROLLUP_MAX_AGE) -> list[str]:
    """Recompute rollups (`flask district refresh-rollups`, the scheduler jobs). Returns the terms refreshed.

    Default: every term whose campaigns are all closed. `running=True`: terms with a running campaign too (and,
    when such a term has a single campaign, the same counts stored under that campaign's selection, whose figures
    are identical). `due_within`: only rollups that are missing, computed from other campaigns, or would expire
    within that time (the frequent job; a term rolled up a moment ago is not computed again).
    """
    done = []
    memo: list[Cube] = []

    def enrolled_memo() -> Cube:  # the roll of the whole district, read once for every term refreshed
        if not memo:
            memo.append(enrolled_by_school(db, district_schools(db, district_id)))
        return memo[0]

    for term in list_terms(db, district_id):
        selection = Selection(term, None)
        ctx = load_context(db, district_id, selection)
        if not ctx.campaign_ids or (ctx.closed_stamp is None and not running):
            continue
        stamp = rollup_stamp(ctx, today)
        if due_within is not None:
            row = read_rollup(db, rollup_key(district_id, selection, "full"))
            age = max_age if ctx.closed_stamp is not None else min(max_age, open_max_age)
            if row is not None and row[0] == stamp and utcnow() - row[1] + due_within < age:
                continue
        cubes = {**_enrolled(db, ctx, enrolled_memo), **screening_cubes(db, ctx, today, tz_name)}
        store_rollups(db, district_id, selection, ctx, cubes, stamp)
        if len(ctx.campaign_ids) == 1:
            one = Selection(None, ctx.campaign_ids[0])
            one_ctx = load_context(db, district_id, one)
            if one_ctx.campaign_ids == ctx.campaign_ids and one_ctx.eligible == ctx.eligible:
                store_rollups(db, district_id, one, one_ctx, cubes, rollup_stamp(one_ctx, today))
        done.append(term)
    return done

