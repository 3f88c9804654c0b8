"""The audit area's scheduled job (collected by app/scheduler/jobs.py): `audit_checkpoint`, every
AUDIT_CHECKPOINT_MINUTES, appends a signed checkpoint of the chain to the sink outside the database
(app/audit/checkpoints.py) — only when the chain still extends the newest checkpoint; otherwise it writes
nothing, records an `audit.checkpoint_mismatch` event and reports `mismatch: 1`."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.scheduler.spec import Job, Sweep, SweepContext
from models.audit import Actor, append_event

from .checkpoints import write_checkpoint


def checkpoint_sweep(db: Session, now: datetime, ctx: SweepContext) -> dict[str, int]:
    result = write_checkpoint(db, now=now)
    if result.written is not None:
        return {"written": 1, "events": result.written.count, "mismatch": 0}
    if result.mismatch:
        append_event(db, Actor.system("scheduler"), "audit.checkpoint_mismatch", detail={"problem": result.reason})
    return {"written": 0, "events": 0, "mismatch": int(result.mismatch)}


JOBS = (Job("audit_checkpoint", (Sweep("audit_checkpoint", checkpoint_sweep),), "AUDIT_CHECKPOINT_MINUTES",
            by_hand=False),)
