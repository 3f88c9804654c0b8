"""Notifications grouped by what they are about: one line per subject, newest first, paged.

A crisis and every re-alert about it are one subject (the warning); the reminders about one recheck are one
(the recheck); a head teacher's observations of one student are one (the student); anything else stands alone.
A group shows its newest notification, how many notifications it holds, how many of them are unread, and, for a
crisis, how many reminders were actually sent (the number of re-alert rows — not the re-alert window's index,
which counts two-hour windows since the warning and once read "第 563 次提醒").

The grouping is done by the database (GROUP BY a subject key), so a counselor with thousands of old rows gets a
page of 50 groups in one query; "newest" is the group's latest `created_at`, ties broken by id.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, case, cast, distinct, exists, func, literal, or_, select, update
from sqlalchemy.orm import Session

from models import Notification, Student, Warning, utcnow

PAGE_SIZE = 50
SUBJECT_KEY = re.compile(r"^[wron]:[0-9]{1,18}$")


def subject_key() -> ColumnElement[str]:
    """`w:<warning id>`, `r:<recheck id>`, `o:<student id>` (observations) or `n:<notification id>`."""
    return case(
        (Notification.warning_id.is_not(None), literal("w:") + cast(Notification.warning_id, String)),
        (Notification.recheck_id.is_not(None), literal("r:") + cast(Notification.recheck_id, String)),
        (
            (Notification.kind == "observation") & Notification.student_id.is_not(None),
            literal("o:") + cast(Notification.student_id, String),
        ),
        else_=literal("n:") + cast(Notification.id, String),
    )


@dataclass
class Group:
    key: str
    latest: Notification
    count: int
    unread: int
    reminders: int
    first_at: datetime
    student: Student | None = None
    name: str | None = None  # only when the reader may see the student's name


def unread_subjects(db: Session, user: Any) -> int:
    """The badge: how many subjects have something unread (eight alerts about one crisis count once)."""
    return int(
        db.scalar(
            select(func.count(distinct(subject_key())))
            .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        )
        or 0
    )


def page_of_groups(db: Session, user: Any, *, unread_only: bool, page: int) -> tuple[list[Group], int]:
    """One page of groups for `user` (newest first) and the number of pages (at least 1)."""
    key = subject_key().label("subject")
    unread = func.sum(case((Notification.read_at.is_(None), 1), else_=0))
    grouped = (
        select(
            key,
            func.max(Notification.id).label("latest_id"),
            func.count().label("n"),
            unread.label("unread"),
            func.sum(case((Notification.kind == "crisis_realert", 1), else_=0)).label("reminders"),
            func.min(Notification.created_at).label("first_at"),
            func.max(Notification.created_at).label("last_at"),
        )
        .where(Notification.user_id == user.id)
        .group_by(key)
    )
    if unread_only:
        grouped = grouped.having(unread > 0)
    total = int(db.scalar(select(func.count()).select_from(grouped.subquery())) or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(page, 1), pages)
    rows = db.execute(
        grouped.order_by(func.max(Notification.created_at).desc(), func.max(Notification.id).desc())
        .limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)
    ).all()
    latest = {n.id: n for n in db.scalars(select(Notification).where(Notification.id.in_([r.latest_id for r in rows])))}
    groups = [
        Group(r.subject, latest[r.latest_id], int(r.n), int(r.unread or 0), int(r.reminders or 0), r.first_at)
        for r in rows
    ]
    return groups, pages


def attach_students(db: Session, user: Any, vault: Any, groups: list[Group]) -> None:
    """The groups' students, and their names where `user` may see them (one audited reveal for the page)."""
    ids = {g.latest.student_id for g in groups if g.latest.student_id}
    if not ids:
        return
    visible = {s.id: s for s in db.scalars(select(Student).where(Student.id.in_(ids), Student.visible_to(user)))}
    names = (
        vault.reveal_many(list(visible.values()), "notifications.list", columns=("name",)) if visible else {}
    )
    for g in groups:
        student = visible.get(g.latest.student_id or 0)
        if student is not None:
            g.student = student
            identity = names.get(student.id)
            g.name = getattr(identity, "name", None)


def mark_subject_read(db: Session, user: Any, key: str) -> int:
    """Mark a whole group read, except crisis alerts whose warning nobody acknowledged (they stay until handled).
    An unknown or malformed key marks nothing."""
    if not SUBJECT_KEY.match(key):
        return 0
    return _mark_read(db, user, subject_key() == key)


def mark_everything_read(db: Session, user: Any) -> int:
    return _mark_read(db, user, None)


def _mark_read(db: Session, user: Any, condition: ColumnElement[bool] | None) -> int:
    unacknowledged = exists().where(Warning.id == Notification.warning_id, Warning.acknowledged_at.is_(None))
    stmt = update(Notification).where(
        Notification.user_id == user.id,
        Notification.read_at.is_(None),
        or_(Notification.requires_ack.is_(False), ~unacknowledged),
    )
    if condition is not None:
        stmt = stmt.where(condition)
    result = db.execute(stmt.values(read_at=utcnow()).execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)
