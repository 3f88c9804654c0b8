"""Maintained rollups: the screening cubes of a selection kept in `district_rollups` and read back while fresh.

When every campaign of a selection is closed, its cubes (counts only) are kept (full detail for the dashboard,
type x stage detail for the trends) and read back while younger than `ROLLUP_MAX_AGE` (and until a campaign is
closed again). A selection with a campaign still running is rolled up too, but trusted for `OPEN_ROLLUP_MAX_AGE`
only (5 minutes, a setting) and only for the same campaigns on the same day; older, it is recomputed in the
request. The scheduler jobs (app/district/tasks.py) keep them fresh; `Context.as_of` tells when the figures
shown were computed.
"""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import date, datetime, timedelta

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from models import utcnow
from models.district import DistrictRollup

from .context import Context, Selection, list_terms, load_context
from .cubes import Cube, screening_cubes

# Rollups of closed campaigns are trusted for this long (late follow-ups still change them); bump the version
# whenever the meaning of a stored measure changes, so old rollups are recomputed.
ROLLUP_MAX_AGE = timedelta(hours=1)
OPEN_ROLLUP_MAX_AGE = timedelta(minutes=5)  # a selection with a running campaign (dashboard and trend point)
ROLLUP_VERSION = "2"  # 2: the crisis-response counts (crisis_assessed_same_day, crisis_safety_plan)


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
    return json.dumps({m: [[s, g, x, n] for (s, g, x), n in cube.items()] for m, cube in cubes.items()},
                      separators=(",", ":"))


def _decode(text: str) -> dict[str, Cube]:
    return {m: {(s, g, x): n for s, g, x, n in rows} for m, rows in json.loads(text).items()}


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


def cached_screening_cubes(db: Session, district_id: int | None, selection: Selection, ctx: Context, today: date,
                           tz_name: str, detail: str, max_age: timedelta | None,
                           open_max_age: timedelta | None = OPEN_ROLLUP_MAX_AGE) -> dict[str, Cube]:
    """The screening measures, from a maintained rollup while it is fresh; sets `ctx.as_of`.

    A rollup is used while its stamp (see `rollup_stamp`) matches and it is younger than `max_age` (closed
    campaigns: follow-up figures still move — late interviews, cases closing) or `open_max_age` (a campaign still
    running); otherwise the figures are computed from the screenings and the rollup is written again (not on
    a read-only session, the statistics replica's: there it is computed in memory only).
    `max_age=None` (or `open_max_age=None` for a running selection) always computes live and writes nothing.
    """
    age = _max_age(ctx, max_age, open_max_age)
    if age is None or not ctx.campaign_ids:
        ctx.as_of = _computed_at(db)
        cubes = screening_cubes(db, ctx, today, tz_name)
        return coarsen(cubes, ctx) if detail == "coarse" else cubes
    stamp = rollup_stamp(ctx, today)
    row = read_rollup(db, rollup_key(district_id, selection, detail))
    if row is not None and row[0] == stamp and utcnow() - row[1] < age:
        ctx.as_of = row[1]
        return _decode(row[2])
    cubes = screening_cubes(db, ctx, today, tz_name)
    if db.info.get("read_only"):
        # Read from the statistics replica (app/db.py: db.statistics): a standby takes no writes, and storing on
        # the primary counts read from an older snapshot would stamp them fresher than they are. Computed in
        # memory and shown; the scheduler's jobs on the primary keep the stored rollups fresh.
        ctx.as_of = _computed_at(db)
    else:
        ctx.as_of = store_rollups(db, district_id, selection, ctx, cubes, stamp)
    return coarsen(cubes, ctx) if detail == "coarse" else cubes


def store_rollups(db: Session, district_id: int | None, selection: Selection, ctx: Context, cubes: dict[str, Cube],
                  stamp: str) -> datetime:
    """Write the full and coarse rollups of a selection (replacing older ones). Flushes, never commits.

    Returns the refresh time written. The counts must have been computed just before (the time is taken here)."""
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
        cubes = screening_cubes(db, ctx, today, tz_name)
        store_rollups(db, district_id, selection, ctx, cubes, stamp)
        if len(ctx.campaign_ids) == 1:
            one = Selection(None, ctx.campaign_ids[0])
            one_ctx = load_context(db, district_id, one)
            if one_ctx.campaign_ids == ctx.campaign_ids and one_ctx.eligible == ctx.eligible:
                store_rollups(db, district_id, one, one_ctx, cubes, rollup_stamp(one_ctx, today))
        done.append(term)
    return done

