"""The monthly retention review (job `retention_review`, collected by app/scheduler/jobs.py): lists the files whose
retention period after leaving has run out, and lists again the held ones whose hold ended. Idempotent (a file
with an open review is never listed twice), so a catch-up run after downtime does no harm."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.scheduler.spec import Job, Sweep, SweepContext
from models import Actor

from .policy import load_retention_policy
from .service import list_due


def review_sweep(db: Session, now: datetime, ctx: SweepContext) -> dict[str, int]:
    return list_due(db, Actor.system("scheduler"), load_retention_policy(), now.astimezone(ctx.tz).date())


JOBS = (
    Job("retention_review", (Sweep("retention_review", review_sweep),), at_key="RETENTION_REVIEW_AT",
        day_key="RETENTION_REVIEW_DAY", by_hand=False),
)
