"""A warning's whole life, in one place: opened when a screening suggests a level, acknowledged (a crisis
alert seen), confirmed / raised / lowered after the interview, dismissed, re-alerted while a crisis waits.

- open: `open_warning_for` receives `signals.screening_scored` (sent by app/screenings/recording.py) and opens the
  warning of a suggested level, then sends `signals.warning_opened` (the crisis alerts of app/notifications/
  crisis.py receive it);
- acknowledge: `acknowledge_crisis`; confirm, raise, lower: `confirm_level`; dismiss: `dismiss_warning` (both send
  `signals.level_confirmed`: rechecks are planned on it);
- re-alert: `crisis_realerts` (the scheduler's `crisis_realerts` job, app/care/tasks.py) finds the crises nobody
  acknowledged within the window; app/notifications/service.py writes the re-alerts;
- read: `interview_queue`, `warning_for`.

Every function takes the session and the acting user (an audit `Actor`), flushes and never commits.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session, joinedload

from app import signals
from app.policies import warning_policy
from models import (
    Actor,
    CareCase,
    Notification,
    Screening,
    Student,
    User,
    Warning,
    WarningChange,
    append_event,
    counselor_schools,
    utcnow,
)
from models.vault import Vault
from screening import RANK

from . import crisis
from .policy import CASE_LEVELS
from .service import CareError, active_case, open_or_update_case

OPEN_STATUSES = ("suggested", "confirmed")
INTERVIEW_LEVELS = ("L1", "L2", "L3")
OPEN_WARNINGS_KEY = "care.open_warnings"  # batch_prefetch key: which of a batch's students have an open warning


# -- open ------------------------------------------------------------------------------------------------------
def add_school_days(start: date, days: int) -> date:
    """`days` weekdays after `start` (weekends skipped; holidays are not known here)."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def interview_due(level: str, today: date, policy: Any = None) -> date | None:
    policy = policy or warning_policy()
    window = policy.levels[level].interview_window_days
    if window is None:
        return None
    if level == "L2":  # the policy counts L2's window in school days
        return add_school_days(today, window)
    return today + timedelta(days=window)


def open_warning_for(
    sender: Any, db: Session, actor: Actor, screening: Screening, student: Student, reasons: list[Any],
    policy: Any = None, today: date | None = None, recorded_at: datetime | None = None, **_: Any,
) -> Warning | None:
    """The `screening_scored` receiver: open the warning of the screening's suggested level (none for `none`, and
    none for `care` while the student has an open warning already), with its `suggested` history row, then send
    `warning_opened`. Returns the warning (the screenings area passes it on in `screening_recorded`).

    `today` (the day the interview window counts from) and `recorded_at` are given for historical loads."""
    level = screening.suggested_level
    if level == "none" or (level == "care" and has_open_warning(db, student)):
        return None
    from app.screenings.recording import local_today

    warning = Warning(
        student_id=student.id,
        school_id=student.school_id,
        screening=screening,
        suggested_level=level,
        reasons=json.dumps(reasons, ensure_ascii=False),
        status="suggested",
        interview_due_on=interview_due(level, today or local_today(), policy),
    )
    warning.ensure_uid()
    change = WarningChange(student_id=student.id, action="suggested", to_level=level, by_id=actor.user_id)
    if recorded_at is not None:
        warning.created_at = change.at = recorded_at
    change.ensure_uid()
    warning.history.append(change)
    db.add(warning)
    open_ids = _batch_open_warnings(db)
    if open_ids is not None:
        open_ids.add(student.id)
    signals.warning_opened.send("care", db=db, actor=actor, warning=warning, student=student)
    return warning


def _load_open_warnings(db: Session, student_ids: list[int]) -> set[int]:
    from app.screenings.recording import chunks

    warned: set[int] = set()
    for chunk in chunks(student_ids, 900):
        warned.update(db.scalars(select(Warning.student_id).where(
            Warning.student_id.in_(chunk), Warning.status.in_(OPEN_STATUSES))))
    return warned


def _batch_open_warnings(db: Session) -> set[int] | None:
    """Inside a screenings `batch(...)`: the batch's students with an open warning, loaded with one query per 900
    students and kept up to date as warnings open. Outside a batch: None."""
    from app.screenings.recording import batch_prefetch

    return batch_prefetch(db, OPEN_WARNINGS_KEY, lambda ids: _load_open_warnings(db, ids))


def has_open_warning(db: Session, student: Student) -> bool:
    if student.id is None:
        return False
    open_ids = _batch_open_warnings(db)
    if open_ids is not None:
        return student.id in open_ids
    return db.scalar(
        select(Warning.id).where(Warning.student_id == student.id, Warning.status.in_(OPEN_STATUSES)).limit(1)
    ) is not None


# -- acknowledge -------------------------------------------------------------------------------------------------
def acknowledge_crisis(db: Session, actor: Actor, warning: Warning, user: User) -> bool:
    """Record that a counselor has seen a crisis alert; marks every crisis notification of it read. Audited."""
    if warning.suggested_level != "L1" and warning.confirmed_level != "L1":
        raise CareError("not a crisis warning")
    first = warning.acknowledged_at is None
    now = utcnow()
    if first:
        warning.acknowledged_at = now
        warning.acknowledged_by_id = user.id
    db.execute(
        update(Notification)
        .where(
            Notification.warning_id == warning.id,
            Notification.kind.in_(("crisis", "crisis_realert")),
            Notification.read_at.is_(None),
        )
        .values(read_at=now)
    )
    append_event(db, actor, "warning.acknowledged", student_public_id=warning.student.public_id,
                 target=f"warning:{warning.uid}", detail={"first": first})
    db.flush()
    return first


# -- confirm, raise, lower, dismiss ------------------------------------------------------------------------------
def _require(text: str | None, message: str) -> str:
    if text is None or not str(text).strip():
        raise CareError(message)
    return str(text).strip()


def confirm_level(
    db: Session, actor: Actor, vault: Vault, warning: Warning, level: str, reason: str
) -> CareCase | None:
    """Confirm, raise or lower a warning's level after an interview (约谈). `none` dismisses it.

    The change and its sealed reason go into the history; L1–L3 open a case or update the open one.
    """
    if level == "none":
        dismiss_warning(db, actor, vault, warning, reason)
        return None
    if level not in RANK:
        raise CareError("Unknown level.")
    reason = _require(reason, "A reason is required.")
    if warning.status in ("dismissed", "superseded"):
        raise CareError("This warning is closed.")
    previous = warning.confirmed_level
    from_level = previous or warning.suggested_level
    if RANK[level] < RANK[from_level]:
        action = "raised"
    elif RANK[level] > RANK[from_level]:
        action = "lowered"
    else:
        action = "confirmed"
    if RANK[level] > RANK["L1"]:
        _check_level_one_may_move_on(db, warning, moves_case=level in CASE_LEVELS)
    now = utcnow()
    warning.confirmed_level = level
    warning.status = "confirmed"
    warning.confirmed_at = now
    warning.confirmed_by_id = actor.user_id
    # Confirming happens after seeing the student: the crisis is acknowledged and first contact made.
    if warning.acknowledged_at is None:
        warning.acknowledged_at = now
        warning.acknowledged_by_id = actor.user_id
    if warning.first_contact_at is None:
        warning.first_contact_at = now
    _record_change(vault, warning, action, from_level, level, reason, actor)
    append_event(
        db, actor, f"warning.{action}", student_public_id=warning.student.public_id, target=f"warning:{warning.uid}",
        detail={"from": from_level, "to": level},
    )
    case = open_or_update_case(db, actor, warning, level) if level in CASE_LEVELS else None
    signals.level_confirmed.send("care", db=db, actor=actor, warning=warning, case=case, previous_level=previous)
    db.flush()
    return case


def dismiss_warning(db: Session, actor: Actor, vault: Vault, warning: Warning, reason: str) -> None:
    reason = _require(reason, "A reason is required.")
    if warning.status in ("dismissed", "superseded"):
        raise CareError("This warning is closed.")
    _check_level_one_may_move_on(db, warning, moves_case=False)
    previous = warning.confirmed_level
    from_level = previous or warning.suggested_level
    now = utcnow()
    warning.status = "dismissed"
    warning.confirmed_level = "none"
    warning.confirmed_at = now
    warning.confirmed_by_id = actor.user_id
    if warning.acknowledged_at is None:
        warning.acknowledged_at = now
        warning.acknowledged_by_id = actor.user_id
    _record_change(vault, warning, "dismissed", from_level, "none", reason, actor)
    append_event(
        db, actor, "warning.dismissed", student_public_id=warning.student.public_id, target=f"warning:{warning.uid}",
        detail={"from": from_level},
    )
    signals.level_confirmed.send("care", db=db, actor=actor, warning=warning, case=None, previous_level=previous)
    db.flush()


def _check_level_one_may_move_on(db: Session, warning: Warning, *, moves_case: bool) -> None:
    """Lowering or dismissing a level-1 warning, or confirming a lower level into an open level-1 case (`moves_case`:
    the case takes the confirmed level), needs the crisis response its safety assessment requires
    (app/care/crisis.py). Dismissing another warning of the student leaves the case alone and is not held up."""
    if crisis.is_level_one(warning):
        crisis.check_can_lower(db, warning)
        return
    if not moves_case:
        return
    case = active_case(db, warning.student_id)
    if case is not None and case.level == "L1" and case.warning_id is not None and case.warning_id != warning.id:
        crisis.check_can_lower(db, db.get_one(Warning, case.warning_id))


def _record_change(
    vault: Vault, warning: Warning, action: str, from_level: str | None, to_level: str, reason: str, actor: Actor,
) -> WarningChange:
    change = WarningChange(
        student_id=warning.student_id, action=action, from_level=from_level,
        to_level=to_level, by_id=actor.user_id, at=utcnow(),
    )
    vault.seal_into(change, "reason", reason, student=warning.student)
    warning.history.append(change)  # cascades the insert
    return change


# -- re-alert ----------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Realert:
    """One unacknowledged crisis due a re-alert: `window` 1 after one re-alert window, 2 after two..."""

    warning_id: int
    school_id: int
    student_id: int
    window: int


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def crisis_realerts(db: Session, now: datetime, realert_hours: float) -> list[Realert]:
    """Level-1 warnings (suggested and not confirmed otherwise, or confirmed L1), still open, that nobody
    acknowledged within `realert_hours`: one entry each, with the window they are in."""
    now = _aware(now)
    window = timedelta(hours=realert_hours)
    is_l1 = or_(
        Warning.confirmed_level == "L1", and_(Warning.confirmed_level.is_(None), Warning.suggested_level == "L1")
    )
    rows = db.execute(
        select(Warning.id, Warning.school_id, Warning.student_id, Warning.created_at).where(
            is_l1,
            Warning.status.in_(OPEN_STATUSES),
            Warning.acknowledged_at.is_(None),
            Warning.created_at <= now - window,
        )
    ).all()
    return [Realert(wid, school_id, student_id, int((now - _aware(created_at)) / window))
            for wid, school_id, student_id, created_at in rows]


# -- read --------------------------------------------------------------------------------------------------------
def interview_queue(db: Session, user: User) -> list[Warning]:
    """Suggested, unconfirmed L1–L3 warnings of the counselor's schools: crises first, then level, then oldest.
    Each with its student, the student's school and class, in one query (the list filters and sorts on them:
    tests/web/test_interview_queue_queries.py)."""
    mine = select(counselor_schools.c.school_id).where(counselor_schools.c.user_id == user.id)
    student = joinedload(Warning.student)
    rows = list(
        db.scalars(
            select(Warning)
            .options(student.joinedload(Student.school), student.joinedload(Student.school_class))
            .where(
                Warning.status == "suggested",
                Warning.suggested_level.in_(INTERVIEW_LEVELS),
                Warning.school_id.in_(mine),
            )
        ).unique()
    )
    rows.sort(key=lambda w: (RANK[w.suggested_level], w.created_at, w.id))
    return rows


def warning_for(db: Session, screening: Screening) -> Warning | None:
    return db.scalars(select(Warning).where(Warning.screening_id == screening.id)).first()
