"""The care area's scheduled work (collected by app/scheduler/jobs.py), run by the scheduler in one transaction
per job, idempotent (each notification has a dedup key; app/notifications/service.py writes them):

- job `crisis_realerts`: a level-1 warning nobody acknowledged within the policy's window re-alerts every active
  counselor of the school, once per window (`crisis_realert:<warning>:<window>`); which warnings and which window
  is the warning's lifecycle (app/care/warning_lifecycle.py);
- job `reminders`: care-group check-ins missing this term remind the class's head teachers
  (`checkin_due:<term>:<point>:<class>`; after downtime only the latest reminder point is sent), then the
  notifications' weekly digest (app/notifications/tasks.py), as one job as before.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, not_, select
from sqlalchemy.orm import Session

from app.notifications.service import counselor_ids_by_school, notify_many
from app.notifications.tasks import WEEKLY_DIGEST
from app.rechecks.policy import RecheckPolicy
from app.rechecks.service import local_date
from app.scheduler.spec import Job, Sweep
from models import CareCheckin, Student, StudentCareGroup, User, teacher_classes

from .help_requests import realert_help
from .warning_lifecycle import crisis_realerts


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def realert_crises(db: Session, now: datetime, policy: RecheckPolicy) -> dict[str, int]:
    """Level-1 warnings nobody acknowledged within the window: one re-alert per counselor per window."""
    now = _aware(now)
    due = crisis_realerts(db, now, policy.crisis_realert_hours)
    if not due:
        return {"re_alerts": 0, "warnings": 0, "notifications_created": 0}
    counselors = counselor_ids_by_school(db, {r.school_id for r in due})
    new: list[dict[str, Any]] = []
    for r in due:
        for user_id in counselors.get(r.school_id, ()):
            new.append(
                {
                    "user_id": user_id,
                    "kind": "crisis_realert",
                    "dedup_key": f"crisis_realert:{r.warning_id}:{r.window}",
                    "student_id": r.student_id,
                    "warning_id": r.warning_id,
                    "params": json.dumps({"window": r.window}),
                    "requires_ack": True,
                    "created_at": now,
                }
            )
    created = notify_many(db, new)
    return {"re_alerts": created, "warnings": len(due), "notifications_created": created}


def remind_checkins(db: Session, now: datetime, policy: RecheckPolicy, tz: ZoneInfo | None = None) -> dict[str, int]:
    """Remind head teachers of classes whose care-group students have no check-in by them this term."""
    today = local_date(_aware(now), tz)
    span = policy.term_for(today)
    if span is None or not policy.checkin_groups:
        return {"reminders": 0, "classes": 0, "notifications_created": 0}
    term, _first, last = span
    reached = [p for p in policy.remind_days_before_term_end if today >= last - timedelta(days=p)]
    if not reached:
        return {"reminders": 0, "classes": 0, "notifications_created": 0}
    point = min(reached)  # after downtime only the latest reminder point is sent, not every missed one
    in_group = exists().where(
        StudentCareGroup.student_id == Student.id, StudentCareGroup.group.in_(policy.checkin_groups)
    )
    checked = exists().where(
        CareCheckin.student_id == Student.id, CareCheckin.term == term, CareCheckin.by_role == "head_teacher"
    )
    missing = (
        select(Student.class_id, func.count(Student.id).label("n"))
        .where(Student.status == "enrolled", Student.class_id.is_not(None), in_group, not_(checked))
        .group_by(Student.class_id)
        .subquery()
    )
    rows = db.execute(
        select(missing.c.class_id, missing.c.n, User.id)
        .join(teacher_classes, teacher_classes.c.class_id == missing.c.class_id)
        .join(User, User.id == teacher_classes.c.user_id)
        .where(User.active.is_(True), User.role == "head_teacher")
    ).all()
    new = [
        {
            "user_id": user_id, "kind": "checkin_due", "dedup_key": f"checkin_due:{term}:{point}:{class_id}",
            "params": json.dumps({"count": int(n), "term": term, "ends_on": last.isoformat(), "class_id": class_id}),
            "created_at": _aware(now),
        }
        for class_id, n, user_id in rows
    ]
    created = notify_many(db, new)
    return {"reminders": created, "classes": len({r[0] for r in rows}), "notifications_created": created}


CRISIS_REALERTS = Sweep("crisis_realerts", lambda db, now, ctx: realert_crises(db, now, ctx.policy))
# urgent help requests are re-alerted like crises, in the same job and window (app/care/help_requests.py)
HELP_REALERTS = Sweep("help_realerts",
                      lambda db, now, ctx: realert_help(db, _aware(now), ctx.policy.crisis_realert_hours))
CHECKIN_REMINDERS = Sweep("checkin_reminders", lambda db, now, ctx: remind_checkins(db, now, ctx.policy, ctx.tz))
JOBS = (
    Job("crisis_realerts", (CRISIS_REALERTS, HELP_REALERTS), "crisis_minutes"),
    Job("reminders", (CHECKIN_REMINDERS, WEEKLY_DIGEST), "reminders_minutes"),
)
