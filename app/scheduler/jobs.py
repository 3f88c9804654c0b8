"""Every job the scheduler runs, collected from the areas' `tasks.py` in this order (an explicit list of modules
imported normally: nothing is loaded by name), and the follow-up sweeps run by hand (`flask rechecks sweep`).

To add a job: declare it in your area's tasks.py (`JOBS = (Job(...),)`, types in app/scheduler/spec.py), add the
module below, and list it in docs/scheduler.md.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.audit import tasks as audit_tasks
from app.care import tasks as care_tasks
from app.district import tasks as district_tasks
from app.notifications import tasks as notification_tasks
from app.rechecks import tasks as recheck_tasks
from app.rechecks.policy import RecheckPolicy, load_recheck_policy
from app.rechecks.service import school_timezone
from app.retention import tasks as retention_tasks

from .spec import Job, Sweep, SweepContext

JOBS: tuple[Job, ...] = (
    *recheck_tasks.JOBS, *care_tasks.JOBS, *notification_tasks.JOBS, *district_tasks.JOBS, *audit_tasks.JOBS,
    *retention_tasks.JOBS,
)


def by_hand_sweeps() -> list[Sweep]:
    """The follow-up sweeps (rechecks, crisis re-alerts, check-in reminders, weekly digest, mail), in job order."""
    return [sweep for job in JOBS if job.by_hand for sweep in job.sweeps]


def run_sweep(name: str, db: Session, now: datetime, policy: RecheckPolicy | None = None,
              tz: ZoneInfo | None = None) -> dict[str, int]:
    sweep = next(s for s in by_hand_sweeps() if s.name == name)
    return sweep.run(db, _aware(now), SweepContext(policy or load_recheck_policy(), tz or school_timezone()))


def run_all_sweeps(db: Session, now: datetime, policy: RecheckPolicy | None = None,
                   tz: ZoneInfo | None = None) -> dict[str, Any]:
    """Every follow-up sweep once, in order, in the caller's transaction. Returns counts per sweep and the total."""
    ctx = SweepContext(policy or load_recheck_policy(), tz or school_timezone())
    out: dict[str, Any] = {}
    for sweep in by_hand_sweeps():
        out[sweep.name] = sweep.run(db, _aware(now), ctx)
    out["notifications_created"] = sum(v.get("notifications_created", 0) for v in out.values() if isinstance(v, dict))
    return out


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo else now.replace(tzinfo=UTC)
