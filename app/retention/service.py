"""Retention services: the monthly listing of files due, hold and confirm (erasure), and the PIPL export.

Functions take the session and the acting user/actor, flush and never commit. The erasure itself is the one
crypto-shredding of app/keys/service.erase_student (data key destroyed, tombstone left).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import LargeBinary, Table, exists, or_, select
from sqlalchemy.orm import Session, joinedload

from app.care.policy import ACTIVE_CASE_STATUSES
from models import Actor, AuditEvent, Base, CareCase, RetentionReview, Student, User, append_event, utcnow
from models.base import KEY
from models.crypto import CryptoError
from models.retention import OPEN_RETENTION_STATUSES
from models.vault import Identity, Vault

from .policy import RetentionPolicy


class RetentionError(ValueError):
    """A rule broken by the request; `field` names the form field it belongs to (or "")."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# -- the roster's side: when a student leaves ----------------------------------------------------------------------
def record_leaving(student: Student, old_status: str | None, today: date, policy: RetentionPolicy) -> None:
    """Keep `left_on` with the status: set on the change into a leaving status, cleared on re-enrolment."""
    leaving = student.status in policy.leaving_statuses
    if leaving and (old_status not in policy.leaving_statuses or student.left_on is None):
        student.left_on = today
    elif not leaving and student.status != "erased":
        student.left_on = None


# -- the monthly job -----------------------------------------------------------------------------------------------
def list_due(db: Session, actor: Actor, policy: RetentionPolicy, today: date) -> dict[str, int]:
    """Idempotent: lists every left student whose period ran out and who has no open review; lists again the held
    files whose hold ended (held_until before today); drops the open reviews of students enrolled again."""
    now = utcnow()
    returned_schools: list[int] = []
    for review in db.scalars(select(RetentionReview).where(RetentionReview.status == "held",
                                                           RetentionReview.held_until < today)):
        review.status, review.listed_at = "due", now
        returned_schools.append(review.school_id)
    returned = len(returned_schools)
    cancelled = 0
    for review in db.scalars(
        select(RetentionReview).join(Student, Student.id == RetentionReview.student_id)
        .where(RetentionReview.status.in_(OPEN_RETENTION_STATUSES),
               or_(Student.status.not_in(policy.leaving_statuses), Student.left_on.is_(None)))
    ):
        review.status, review.decided_at, review.decided_as = "cancelled", now, actor.username
        cancelled += 1
    open_review = exists().where(RetentionReview.student_id == Student.id,
                                 RetentionReview.status.in_(OPEN_RETENTION_STATUSES))
    due = list(db.execute(
        select(Student.id, Student.school_id, Student.left_on)
        .where(Student.status.in_(policy.leaving_statuses), Student.left_on.is_not(None),
               Student.left_on <= policy.cutoff(today), ~open_review)
        .order_by(Student.id)
    ))
    for sid, school_id, left_on in due:
        db.add(RetentionReview(student_id=sid, school_id=school_id, left_on=left_on, due_on=policy.due_on(left_on),
                               status="due", listed_at=now))
    db.flush()
    _tell_counselors(db, today, [school_id for _sid, school_id, _left in due] + returned_schools)
    counts = {"listed": len(due), "returned_after_hold": returned, "cancelled": cancelled}
    if any(counts.values()):
        append_event(db, actor, "retention.listed", detail={**counts, "today": today.isoformat()})
    return counts


def _tell_counselors(db: Session, today: date, school_ids: list[int]) -> None:
    """One notification per school and run to its counselors: how many files came onto the list (no names)."""
    from collections import Counter

    from app.notifications.service import counselors_of_school, notify_many

    now = utcnow()
    rows = [
        {"user_id": user.id, "kind": "retention_due", "dedup_key": f"retention_due:{school_id}:{today.isoformat()}",
         "params": json.dumps({"count": count}), "created_at": now}
        for school_id, count in sorted(Counter(school_ids).items())
        for user in counselors_of_school(db, school_id)
    ]
    notify_many(db, rows)


# -- the review list -----------------------------------------------------------------------------------------------
@dataclass
class ReviewRow:
    review: RetentionReview
    identity: Identity | None  # counselors only; a district officer sees no names


def review_list(db: Session, vault: Vault, user: User) -> list[ReviewRow]:
    reviews = list(db.scalars(
        select(RetentionReview).where(RetentionReview.visible_to(user),
                                      RetentionReview.status.in_(OPEN_RETENTION_STATUSES))
        .options(joinedload(RetentionReview.student), joinedload(RetentionReview.school))
        .order_by(RetentionReview.status, RetentionReview.due_on, RetentionReview.id)
    ))
    if user.role != "counselor":
        return [ReviewRow(r, None) for r in reviews]
    identities = vault.reveal_many([r.student for r in reviews], "retention.list",
                                   detail={"due": sum(r.status == "due" for r in reviews),
                                           "held": sum(r.status == "held" for r in reviews)})
    return [ReviewRow(r, identities[r.student_id]) for r in reviews]


def recently_erased(db: Session, user: User, limit: int = 20) -> list[RetentionReview]:
    return list(db.scalars(
        select(RetentionReview).where(RetentionReview.visible_to(user), RetentionReview.status == "erased")
        .options(joinedload(RetentionReview.school))
        .order_by(RetentionReview.decided_at.desc()).limit(limit)
    ))


def hold(db: Session, actor: Actor, user: User, review: RetentionReview, policy: RetentionPolicy, reason: str,
         until: date | None, today: date) -> None:
    from .policy import add_months

    if review.status not in OPEN_RETENTION_STATUSES:
        raise RetentionError("", "closed")
    if reason not in policy.hold_reasons:
        raise RetentionError("reason", "reason")
    if until is None or until <= today:
        raise RetentionError("until", "until_past")
    if until > add_months(today, policy.max_hold_months):
        raise RetentionError("until", "until_far")
    review.status, review.hold_reason, review.held_until, review.held_by_id = "held", reason, until, user.id
    db.flush()
    append_event(db, actor, "retention.held", student_public_id=review.student.public_id,
                 target=f"retention:{review.uid}", detail={"reason": reason, "until": until.isoformat()})


def confirm(db: Session, actor: Actor, user: User, review: RetentionReview, policy: RetentionPolicy) -> Student:
    """Erase the file (crypto-shredding). Refused while held, when the student is enrolled again, or while one of
    their cases is still active (close it, or hold the file: the district's open-case figures stay right)."""
    from app.keys.service import erase_student

    student = review.student
    if review.status not in OPEN_RETENTION_STATUSES:
        raise RetentionError("", "closed")
    if review.status != "due":
        raise RetentionError("", "not_due")
    if student.status not in policy.leaving_statuses:
        raise RetentionError("", "enrolled")
    if db.scalar(select(CareCase.id).where(CareCase.student_id == student.id,
                                           CareCase.status.in_(ACTIVE_CASE_STATUSES)).limit(1)) is not None:
        raise RetentionError("", "open_case")
    public_id = student.public_id
    append_event(db, actor, "retention.confirmed", student_public_id=public_id, target=f"retention:{review.uid}",
                 detail={"left_on": review.left_on.isoformat(), "due_on": review.due_on.isoformat(),
                         "months_after_leaving": policy.months_after_leaving})
    erase_student(db, actor, public_id)
    review.status, review.decided_by_id = "erased", user.id
    review.decided_as, review.decided_at = actor.username, utcnow()
    db.flush()
    return student


# -- the PIPL export -----------------------------------------------------------------------------------------------
SKIPPED_TABLES = {"students", "entry_codes"}  # the student row is the identity part; entry codes are credentials


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def export_student(db: Session, vault: Vault, student: Student, fmt: str = "json") -> dict[str, Any]:
    """Everything held about one student, opened under ONE audit event (`student.exported`): identity, then every
    table with a `student_id` (screenings with answers, warnings, cases and their notes, contacts, check-ins,
    safety plans, rechecks, transfers, reviews...), sealed columns opened, then the audit trail of the file (who
    did what, when; no detail). Credentials (entry codes) and key material are left out."""
    reader = vault.reveal(student, "student.exported", detail={"format": fmt})
    ident = reader.identity
    out: dict[str, Any] = {
        "format": "xinmiao-student-export/1",
        "generated_at": utcnow().isoformat(),
        "student": {
            "public_id": student.public_id, "school": student.school.name, "school_code": student.school.code,
            "class": student.school_class.name if student.school_class else None, "grade": student.grade,
            "gender": student.gender, "birth_ym": student.birth_ym, "status": student.status,
            "left_on": _plain(student.left_on), "care_groups": student.care_groups,
            "name": ident.name, "student_number": ident.student_number, "national_id": ident.national_id,
            "guardians": ident.guardians, "created_at": _plain(student.created_at),
        },
        "records": {},
    }
    tables: list[tuple[Any, Table]] = [
        (m.class_, m.local_table) for m in Base.registry.mappers if isinstance(m.local_table, Table)
    ]
    for model, table in sorted(tables, key=lambda pair: pair[1].name):
        if table.name in SKIPPED_TABLES or "student_id" not in table.c:
            continue
        rows = list(db.scalars(select(model).where(table.c.student_id == student.id)))
        if not rows:
            continue
        items = []
        for row in rows:
            item: dict[str, Any] = {}
            for col in table.c:
                if col.info.get("sensitive") == KEY["sensitive"] or col.name == "student_id":
                    continue
                value = getattr(row, col.key, None)
                if col.name.endswith("_enc"):
                    try:
                        text = reader.get(row, col.name[: -len("_enc")])
                    except CryptoError:
                        text = None
                    if text is not None:
                        try:
                            item[col.name[: -len("_enc")]] = json.loads(text)
                        except ValueError:
                            item[col.name[: -len("_enc")]] = text
                    continue
                if isinstance(col.type, LargeBinary):
                    continue
                item[col.name] = _plain(value)
            items.append(item)
        out["records"][table.name] = items
    out["audit"] = [
        {"at": e.at.isoformat(), "actor": e.actor, "role": e.role, "action": e.action}
        for e in db.scalars(select(AuditEvent).where(AuditEvent.student_public_id == student.public_id)
                            .order_by(AuditEvent.seq))
    ]
    return out
