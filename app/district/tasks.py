"""Scheduled jobs of the district statistics (collected by app/scheduler/jobs.py, one transaction each).

- `refresh_due_rollups` (job `district_rollups`, every DISTRICT_ROLLUP_REFRESH_MINUTES): recomputes the rollup of
  every term with a running campaign, and of closed terms whose rollup is missing or would expire before the next
  run, so that dashboard requests find a fresh rollup instead of computing the figures themselves.
- `refresh_all_rollups` (job `district_rollups_nightly`, daily at DISTRICT_NIGHTLY_REFRESH_AT): every term.

Aggregate counts only, like everything the district service writes.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy.orm import Session

from app.scheduler.spec import Job, Sweep, SweepContext

from . import service


def _settings() -> tuple[ZoneInfo, timedelta, timedelta, timedelta]:
    cfg = current_app.config
    return (
        ZoneInfo(cfg.get("TIMEZONE", "Asia/Shanghai")),
        timedelta(minutes=int(cfg.get("DISTRICT_ROLLUP_MAX_AGE_MINUTES", 60))),
        timedelta(minutes=int(cfg.get("DISTRICT_OPEN_ROLLUP_MAX_AGE_MINUTES", 5))),
        timedelta(minutes=int(cfg.get("DISTRICT_ROLLUP_REFRESH_MINUTES", 3))),
    )


def _refresh(db: Session, now: datetime, due_within: timedelta | None) -> dict[str, int]:
    tz, max_age, open_max_age, _every = _settings()
    today = now.astimezone(tz).date()
    terms = 0
    for district_id in service.district_ids(db):
        terms += len(service.refresh_rollups(db, district_id, today, tz.key, running=True, due_within=due_within,
                                             max_age=max_age, open_max_age=open_max_age))
    return {"terms_refreshed": terms}


def refresh_due_rollups(db: Session, now: datetime) -> dict[str, int]:
    """Running terms, and closed terms whose rollup would expire before the next run (plus a minute to compute)."""
    _tz, _max_age, _open, every = _settings()
    return _refresh(db, now, due_within=every + timedelta(minutes=1))


def refresh_all_rollups(db: Session, now: datetime) -> dict[str, int]:
    """Every term of every district (nightly)."""
    return _refresh(db, now, due_within=None)


def _due_sweep(db: Session, now: datetime, ctx: SweepContext) -> dict[str, int]:
    return refresh_due_rollups(db, now)


def _nightly_sweep(db: Session, now: datetime, ctx: SweepContext) -> dict[str, int]:
    return refresh_all_rollups(db, now)


JOBS = (
    Job("district_rollups", (Sweep("district_rollups", _due_sweep),), "DISTRICT_ROLLUP_REFRESH_MINUTES", by_hand=False),
    Job("district_rollups_nightly", (Sweep("district_rollups_nightly", _nightly_sweep),),
        at_key="DISTRICT_NIGHTLY_REFRESH_AT", by_hand=False),
)
