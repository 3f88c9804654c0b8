"""The last outcome of each job (models.SchedulerJobRun): written by the runner, shown on /admin/scheduler."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from models import SchedulerJobRun


def _row(session: Session, job_id: str) -> SchedulerJobRun:
    row = session.get(SchedulerJobRun, job_id)
    if row is None:
        row = SchedulerJobRun(job_id=job_id, holder="", last_counts="{}", failures=0)
        session.add(row)
    return row


def record_success(session: Session, job_id: str, holder: str, at: datetime, counts: dict[str, Any]) -> None:
    """In the job's own transaction: committed with the job's work, or not at all."""
    row = _row(session, job_id)
    row.holder, row.last_success_at = holder[:100], at
    row.last_counts = json.dumps(counts, sort_keys=True, default=str)
    session.flush()


def record_failure(session: Session, job_id: str, holder: str, at: datetime, exc: BaseException) -> None:
    """In a transaction of its own, after the job's was rolled back. The error's type and first line only."""
    row = _row(session, job_id)
    first_line = (str(exc).splitlines() or [""])[0]
    row.holder, row.last_failure_at = holder[:100], at
    row.last_error = f"{type(exc).__name__}: {first_line}"[:500]
    row.failures = (row.failures or 0) + 1
    session.flush()
