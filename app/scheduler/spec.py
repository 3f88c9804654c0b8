"""What an area declares in its `tasks.py` for the scheduler: sweeps, and the jobs that run them.

A **sweep** is one idempotent, set-based pass over the database (`run(db, now, ctx)` returns counts); a **job** is
what the scheduler runs on a timer: one or more sweeps in ONE transaction. `app/scheduler/jobs.py` collects the
jobs of every area in order; nothing is loaded by name.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.rechecks.policy import RecheckPolicy


@dataclass(frozen=True)
class SweepContext:
    """What every sweep may read besides the database and the clock: the follow-up policy
    (config/recheck_policy.yaml: windows, reminder points, digest day) and the schools' time zone."""

    policy: RecheckPolicy
    tz: ZoneInfo


@dataclass(frozen=True)
class Sweep:
    name: str  # its key in the job's log line and in `flask rechecks sweep --json`
    run: Callable[[Session, datetime, SweepContext], dict[str, int]]


@dataclass(frozen=True)
class Job:
    id: str  # stable: APScheduler's job id (a restart replaces, never duplicates)
    sweeps: tuple[Sweep, ...]
    minutes_key: str = ""  # interval: a key of the recheck policy's schedule, else an app config key (minutes)
    at_key: str = ""  # instead of an interval: daily at HH:MM (app config key; scheduler time zone)
    seconds_key: str = ""  # instead of minutes: an interval in seconds (app config key), for frequent jobs
    quiet: bool = False  # print its `job {...}` line only when a count is non-zero (a job that runs every second)
    day_key: str = ""  # with at_key: monthly, on this day of the month (app config key, 1-28)
    by_hand: bool = True  # `flask rechecks sweep` runs its sweeps too (the follow-up sweeps)
