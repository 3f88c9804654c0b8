"""The audit area's scheduled jobs (collected by app/scheduler/jobs.py):

- `audit_link`, every AUDIT_LINK_SECONDS (1 s): the linker (models/audit.py `link_pending`) gives each event
  appended since the last run its chain position and hash, oldest first, at most AUDIT_LINK_MAX_PER_RUN per run
  (a backlog is caught up over the next runs). Quiet: when nothing is unlinked (a look on a connection of its own)
  it takes no lock and writes nothing — no run row, no lease renewal, no `job` line. A
  chain whose tip disagrees with `audit_head` is not extended: the run reports `refused: 1` and links nothing.
- `audit_checkpoint`, every AUDIT_CHECKPOINT_MINUTES: appends a signed checkpoint of the linked chain to the sink
  outside the database (app/audit/checkpoints.py) — only when the chain still extends the newest checkpoint;
  otherwise it writes nothing, records an `audit.checkpoint_mismatch` event and reports `mismatch: 1`.
"""
from __future__ import annotations

import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from app.scheduler.spec import Job, Sweep, SweepContext
from models.audit import Actor, AuditEvent, ChainLinkError, append_event, link_pending

from .checkpoints import write_checkpoint

log = logging.getLogger("xinmiao.audit")


def link_sweep(db: Session, now: datetime, ctx: SweepContext) -> dict[str, int]:
    config = current_app.config
    if not db.in_transaction() and not _anything_unlinked(db):
        return {"linked": 0, "refused": 0}  # the usual second: no lock taken at all (SQLite: no write lock)
    try:
        with db.begin_nested():
            result = link_pending(db, batch=int(config["AUDIT_LINK_BATCH"]),
                                  max_events=int(config["AUDIT_LINK_MAX_PER_RUN"]))
    except ChainLinkError as exc:
        log.error("audit linker refused: %s (run `flask audit verify`)", exc)
        return {"linked": 0, "refused": 1}
    return {"linked": result.linked, "refused": 0}


def _anything_unlinked(db: Session) -> bool:
    """A look on a connection of its own in a plain (SQLite: deferred) transaction, before the job's own
    transaction begins: an idle linker run then takes no write lock and claims nothing."""
    look = select(AuditEvent.seq).where(AuditEvent.chain_seq.is_(None)).limit(1)
    bind = db.get_bind()
    if not isinstance(bind, Engine):  # a session bound to one connection (the tests'): look through it
        return db.execute(look).first() is not None
    with bind.execution_options(sqlite_begin="DEFERRED").connect() as conn:
        return conn.execute(look).first() is not None


def checkpoint_sweep(db: Session, now: datetime, ctx: SweepContext) -> dict[str, int]:
    result = write_checkpoint(db, now=now)
    if result.written is not None:
        return {"written": 1, "events": result.written.count, "mismatch": 0}
    if result.mismatch:
        append_event(db, Actor.system("scheduler"), "audit.checkpoint_mismatch", detail={"problem": result.reason})
    return {"written": 0, "events": 0, "mismatch": int(result.mismatch)}


JOBS = (
    Job("audit_link", (Sweep("audit_link", link_sweep),), seconds_key="AUDIT_LINK_SECONDS", by_hand=False,
        quiet=True),
    Job("audit_checkpoint", (Sweep("audit_checkpoint", checkpoint_sweep),), "AUDIT_CHECKPOINT_MINUTES",
        by_hand=False),
)
