"""Demo step 40: spread the rechecks that confirmed levels planned over the calendar, then sweep once.

Earlier steps confirm levels (care, order 30), which plans rechecks through the level_confirmed signal. Here some
are moved into the past (overdue, escalated), some into this week, some marked done on time or late, and one
sweep at the demo's "today" creates the notifications a counselor would have by now. Deterministic per seed.
"""
from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from models import Recheck

from .service import OPEN_STATUSES


def seed_rechecks(ctx) -> str:
    from app.scheduler.jobs import by_hand_sweeps, run_sweep

    from .policy import load_recheck_policy
    from .service import school_timezone

    db, rng, today = ctx.session, ctx.rng, ctx.today
    rows = list(db.scalars(select(Recheck).where(Recheck.status.in_(OPEN_STATUSES)).order_by(Recheck.id)))
    if not rows:
        return "rechecks: none planned (no confirmed levels)"
    done = 0
    for r in rows:
        roll = rng.random()
        if roll < 0.05:
            r.due_on = today - timedelta(days=rng.randint(1, 12))  # overdue, some long enough to escalate
        elif roll < 0.28:
            r.due_on = today + timedelta(days=rng.randint(0, 6))  # the coming seven days, as the worklist counts
        elif roll < 0.65:  # confirmed in October: many rechecks are already behind the counselor
            r.due_on = today - timedelta(days=rng.randint(2, 20))
            late = rng.random() < 0.3
            finished = r.due_on + timedelta(days=rng.randint(1, 4) if late else -rng.randint(0, 2))
            r.status = "done"
            r.completed_at = datetime.combine(finished, time(9, 0), tzinfo=UTC)
            r.on_time = not late
            r.negative = rng.random() < 0.6
            done += 1
    db.flush()
    tz = school_timezone()
    now = datetime.combine(today, time(8, 0), tzinfo=tz).astimezone(UTC)
    policy = load_recheck_policy()
    created = 0
    for sweep in by_hand_sweeps():
        if sweep.name != "mail":
            created += run_sweep(sweep.name, db, now, policy, tz).get("notifications_created", 0)
    open_now = len(rows) - done
    return f"rechecks: {open_now} open, {done} done; one sweep created {created} notifications"
