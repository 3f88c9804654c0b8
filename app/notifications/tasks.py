"""The notifications' scheduled work (collected by app/scheduler/jobs.py; one transaction per job):

- sweep `weekly_digest` (run by the care area's `reminders` job): from the policy's weekday on, once per ISO week,
  one digest per counselor with anything to review (`digest:<ISO week>`);
- job `mail`: e-mail of the crisis notifications, re-alerts and digests not mailed yet (only when SMTP is set;
  app/notifications/mail.py).
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.rechecks.policy import RecheckPolicy
from app.rechecks.service import OPEN_STATUSES, local_date
from app.scheduler.spec import Job, Sweep, SweepContext
from models import Notification, Recheck, User, Warning, counselor_schools

from .service import notify_many


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo else now.replace(tzinfo=UTC)


def weekly_digest(db: Session, now: datetime, policy: RecheckPolicy, tz: ZoneInfo | None = None) -> dict[str, int]:
    """From the policy's weekday on, once per ISO week: one digest per counselor with anything to review."""
    now = _aware(now)
    today = local_date(now, tz)
    if today.weekday() < policy.digest_weekday:
        return {"digests": 0, "notifications_created": 0}
    iso = today.isocalendar()
    key = f"digest:{iso.year}-W{iso.week:02d}"
    week_end = today + timedelta(days=6 - today.weekday())
    per_school: dict[int, dict[str, int]] = {}

    def add(rows: Any, name: str) -> None:
        for school_id, n in rows:
            per_school.setdefault(school_id, {}).setdefault(name, 0)
            per_school[school_id][name] += int(n)

    add(db.execute(
        select(Recheck.school_id, func.count()).where(Recheck.status.in_(OPEN_STATUSES), Recheck.due_on < today)
        .group_by(Recheck.school_id)), "overdue")
    add(db.execute(
        select(Recheck.school_id, func.count())
        .where(Recheck.status.in_(OPEN_STATUSES), Recheck.due_on >= today, Recheck.due_on <= week_end)
        .group_by(Recheck.school_id)), "due_this_week")
    add(
        db.execute(
            select(Warning.school_id, func.count())
            .where(
                or_(
                    Warning.confirmed_level == "L1",
                    and_(Warning.confirmed_level.is_(None), Warning.suggested_level == "L1"),
                ),
                Warning.status.in_(("suggested", "confirmed")),
                Warning.acknowledged_at.is_(None),
            )
            .group_by(Warning.school_id)
        ),
        "crises",
    )
    unread = dict(db.execute(
        select(Notification.user_id, func.count()).where(Notification.read_at.is_(None), Notification.kind != "digest")
        .group_by(Notification.user_id)).tuples().all())
    new = []
    counselors = db.execute(
        select(User.id, counselor_schools.c.school_id)
        .join(counselor_schools, counselor_schools.c.user_id == User.id, isouter=True)
        .where(User.role == "counselor", User.active.is_(True))
    ).all()
    totals: dict[int, dict[str, int]] = {}
    for user_id, school_id in counselors:
        t = totals.setdefault(user_id, {"overdue": 0, "due_this_week": 0, "crises": 0})
        for name, n in per_school.get(school_id, {}).items():
            t[name] += n
    for user_id, t in totals.items():
        t["unread"] = unread.get(user_id, 0)
        if any(t.values()):
            params: dict[str, int | str] = {**t, "week": f"{iso.year}-W{iso.week:02d}"}
            new.append({"user_id": user_id, "kind": "digest", "dedup_key": key,
                        "params": json.dumps(params, sort_keys=True), "created_at": now})
    created = notify_many(db, new)
    return {"digests": created, "notifications_created": created}


def send_mail(db: Session, now: datetime, ctx: SweepContext) -> dict[str, int]:
    from .mail import send_pending

    return send_pending(db, _aware(now))


WEEKLY_DIGEST = Sweep("weekly_digest", lambda db, now, ctx: weekly_digest(db, now, ctx.policy, ctx.tz))
JOBS = (Job("mail", (Sweep("mail", send_mail),), "mail_minutes"),)
