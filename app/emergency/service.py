"""Emergency access (break the glass, issue 21): when a school's counselor is absent and a crisis comes in, another
counselor of the district, or a counselor on the district's crisis team, opens that one student's file for a
limited time.

The steps, each a function here:
- `find_students`: an exact search (full name or student number, by blind index: nothing is decrypted) across
  the district's schools, outside the requester's own scope. The requester sees first only what tells two
  matches apart without naming anyone: the school, the grade and the start of the public id (no name, no class,
  no level); the name appears once access is granted, in the file itself. Audited (`emergency.search`, the count,
  never the query).
- `request_access`: a reason from a list plus free text, and the requester proves themself again (the TOTP code;
  their password if they have no second factor: app.auth.service.confirm_presence). Only then is an
  `EmergencyAccess` row written, for EMERGENCY_ACCESS_HOURS (default 24); the scope rule (`Student.visible_to`)
  opens the one student until it expires, and models.vault writes each page read as `emergency.read`.
- the school's counselors, every admin and the district's officers (the reviewers) are told at once through the
  notifications (`emergency_access`: the school, the grade, who and why by reason code; no name, no clinical
  content; the e-mail only says "N items");
- `review_rows` / `record_verdict`: the review list of every emergency access with what was read (from the audit
  events), and a reviewer's verdict, justified or not, with a note (`emergency.reviewed`).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import has_request_context
from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.notifications.service import admins, counselors_of_school, notify
from models import (
    EMERGENCY_REASONS,
    EMERGENCY_VERDICTS,
    Actor,
    AuditEvent,
    EmergencyAccess,
    School,
    Student,
    User,
    append_event,
    clock,
    counselor_schools,
    utcnow,
)
from models.crypto import normalise
from models.vault import Vault

DEFAULT_HOURS = 24
MAX_MATCHES = 20
PURPOSE = "emergency_access"


def _(message: str) -> str:
    """Translated in a request (the user's language); plain English elsewhere."""
    return gettext(message) if has_request_context() else message


class EmergencyError(Exception):
    def __init__(self, message: str, field: str | None = None, locked: bool = False):
        super().__init__(message)
        self.field = field
        self.locked = locked


def district_of(db: Session, user: User) -> int | None:
    """The district a requester acts in: their own (users.district_id), else that of their schools."""
    if user.district_id is not None:
        return user.district_id
    return db.scalar(select(School.district_id).join(counselor_schools, counselor_schools.c.school_id == School.id)
                     .where(counselor_schools.c.user_id == user.id).limit(1))


def may_request(db: Session, user: User) -> bool:
    """An active counselor with a school of their own in a district, or one on the district's crisis team."""
    if user.role != "counselor" or not user.active:
        return False
    if not user.crisis_team and not user.school_ids:
        return False
    return district_of(db, user) is not None


@dataclass(frozen=True)
class Candidate:
    """What the requester sees of a match before access: nothing that names the student."""

    public_id: str
    school: str
    grade: int
    active_until: Any  # their unexpired emergency access to this student, if any

    @property
    def short_id(self) -> str:
        return self.public_id[:8]


def _outside_scope(db: Session, user: User, district_id: int) -> Any:
    own = select(counselor_schools.c.school_id).where(counselor_schools.c.user_id == user.id)
    return (Student.school_id.in_(select(School.id).where(School.district_id == district_id))
            & Student.school_id.not_in(own) & (Student.status != "erased"))


def find_students(db: Session, vault: Vault, actor: Actor, user: User, query: str) -> list[Candidate]:
    """Students of the requester's district, not of their own schools, whose full name or student number is
    exactly `query` (blind indexes: no decryption); audited with the count only."""
    district_id = district_of(db, user)
    wanted = normalise(query or "")
    if district_id is None or not wanted:
        return []
    match = (Student.name_bidx.in_(vault.blind_indexes("name", wanted))
             | Student.student_number_bidx.in_(vault.blind_indexes("student_number", wanted)))
    rows = db.execute(
        select(Student.id, Student.public_id, Student.grade, School.name).join(School, School.id == Student.school_id)
        .where(match, _outside_scope(db, user, district_id)).order_by(School.name, Student.grade, Student.public_id)
        .limit(MAX_MATCHES)
    ).all()
    active = dict(db.execute(
        select(EmergencyAccess.student_id, EmergencyAccess.expires_at).where(
            EmergencyAccess.user_id == user.id, EmergencyAccess.student_id.in_([r[0] for r in rows] or [-1]),
            EmergencyAccess.expires_at > utcnow())
    ).tuples().all())
    append_event(db, actor, "emergency.search", detail={"matches": len(rows)})
    return [Candidate(public_id, school, grade, active.get(sid)) for sid, public_id, grade, school in rows]


def requestable_student(db: Session, user: User, public_id: str) -> Student | None:
    """The student `user` may ask emergency access to (of their district, outside their own scope), or None."""
    district_id = district_of(db, user)
    if district_id is None or not may_request(db, user):
        return None
    return db.scalars(select(Student).where(Student.public_id == public_id,
                                            _outside_scope(db, user, district_id))).first()


def request_access(
    db: Session, actor: Actor, user: User, student: Student, *, reason: str, reason_text: str, answer: str,
    hours: int = DEFAULT_HOURS,
) -> EmergencyAccess:
    """Grant `user` emergency access to `student` after the reason and the re-authentication; raises
    EmergencyError (nothing granted) otherwise. Tells the school's counselors, the admins and the reviewers."""
    if reason not in EMERGENCY_REASONS:
        raise EmergencyError(_("Choose a reason."), "reason")
    text = " ".join((reason_text or "").split())
    if len(text) < 5:
        raise EmergencyError(_("Say in a few words why this cannot wait."), "reason_text")
    outcome = auth_service.confirm_presence(db, user, answer, actor.client_addr, PURPOSE)
    if outcome.user is None:
        raise EmergencyError(_("Wrong code.") if auth_service.second_factor_due(user) else _("Wrong password."),
                             "answer", locked=outcome.locked)
    now = utcnow()
    grant = EmergencyAccess(user_id=user.id, student_id=student.id, school_id=student.school_id, reason=reason,
                            reason_text=text[:500], factor=outcome.factor or "password", granted_at=now,
                            expires_at=now + timedelta(hours=hours))
    db.add(grant)
    db.flush()
    append_event(db, actor, "emergency.granted", student_public_id=student.public_id,
                 target=f"emergency:{grant.uid}",
                 detail={"reason": reason, "hours": hours, "factor": grant.factor, "school": student.school_id})
    _announce(db, grant, student, user)
    return grant


def _announce(db: Session, grant: EmergencyAccess, student: Student, requester: User) -> None:
    school = db.get(School, student.school_id)
    params = {"school": school.name if school else "—", "grade": student.grade, "user": requester.display_name,
              "reason": grant.reason,
              "until": grant.expires_at.astimezone(clock.school_timezone()).strftime("%Y-%m-%d %H:%M")}
    key = f"emergency:{grant.uid}"
    for counselor in counselors_of_school(db, student.school_id):
        # the school's own counselors may see the student: the notification links to the file
        notify(db, counselor, "emergency_access", key, student_id=student.id, params=params)
    for user in [*admins(db), *reviewers(db, school.district_id if school else None)]:
        notify(db, user, "emergency_access", key, params=params)  # no student reference: they see none


def reviewers(db: Session, district_id: int | None) -> list[User]:
    """The district's officers (role district) of `district_id`, and those of no district (a one-district
    installation): they review emergency access beside the admins."""
    where = User.district_id.is_(None) if district_id is None else (
        (User.district_id == district_id) | User.district_id.is_(None))
    return list(db.scalars(select(User).where(User.role == "district", User.active.is_(True), where)
                           .order_by(User.id)))


def active_grants(db: Session, user: User) -> list[EmergencyAccess]:
    """The requester's own emergency accesses, newest first (the expired ones too, for their record)."""
    return list(db.scalars(select(EmergencyAccess).where(EmergencyAccess.user_id == user.id)
                           .order_by(EmergencyAccess.granted_at.desc()).limit(50)))


def grants_for_student(db: Session, student: Student) -> list[EmergencyAccess]:
    """The emergency accesses to `student`, newest first (shown on the file to the school's counselors)."""
    return list(db.scalars(select(EmergencyAccess).where(EmergencyAccess.student_id == student.id)
                           .order_by(EmergencyAccess.granted_at.desc()).limit(20)))


def own_grant(db: Session, user: User, uid: str) -> EmergencyAccess | None:
    return db.scalars(select(EmergencyAccess).where(EmergencyAccess.uid == uid,
                                                    EmergencyAccess.user_id == user.id)).first()


def end_access(db: Session, actor: Actor, grant: EmergencyAccess) -> bool:
    """The requester ends their access before it expires (the crisis is handed back); True when it was still
    open. The row keeps its place on the review list; the audit event keeps the expiry it had."""
    now = utcnow()
    if grant.expires_at <= now:
        return False
    planned = grant.expires_at
    grant.expires_at = max(now, grant.granted_at + timedelta(microseconds=1))
    db.flush()
    append_event(db, actor, "emergency.ended", student_public_id=grant.student.public_id,
                 target=f"emergency:{grant.uid}", detail={"planned_until": planned.isoformat()})
    return True


@dataclass
class ReviewRow:
    grant: EmergencyAccess
    reads: list[tuple[Any, str]]  # (when, the page's audit action)

    @property
    def public_short(self) -> str:
        return self.grant.student.public_id[:8]


def _reviewable(user: User) -> Any:
    if user.role == "admin" or user.district_id is None:
        return EmergencyAccess.id.is_not(None)
    return EmergencyAccess.school_id.in_(select(School.id).where(School.district_id == user.district_id))


def review_rows(db: Session, user: User, pending_only: bool = False) -> list[ReviewRow]:
    """Every emergency access the reviewer may review (an admin: all; a district officer: their district's),
    newest first, each with what was read under it (its `emergency.read` events)."""
    query = select(EmergencyAccess).where(_reviewable(user))
    if pending_only:
        query = query.where(EmergencyAccess.verdict.is_(None))
    grants = list(db.scalars(query.order_by(EmergencyAccess.granted_at.desc()).limit(200)))
    reads: dict[str, list[tuple[Any, str]]] = {}
    targets = [f"emergency:{g.uid}" for g in grants]
    for i in range(0, len(targets), 500):
        for at, target, detail in db.execute(
            select(AuditEvent.at, AuditEvent.target, AuditEvent.detail)
            .where(AuditEvent.action == "emergency.read", AuditEvent.target.in_(targets[i:i + 500]))
            .order_by(AuditEvent.seq)
        ):
            try:
                page = json.loads(detail or "{}").get("read", "")
            except (ValueError, AttributeError):
                page = ""
            reads.setdefault(target, []).append((at, page))
    return [ReviewRow(g, reads.get(f"emergency:{g.uid}", [])) for g in grants]


def reviewable_grant(db: Session, user: User, uid: str) -> EmergencyAccess | None:
    return db.scalars(select(EmergencyAccess).where(EmergencyAccess.uid == uid, _reviewable(user))).first()


def record_verdict(db: Session, actor: Actor, user: User, grant: EmergencyAccess, verdict: str, note: str) -> None:
    """A reviewer's verdict on one emergency access (a later verdict replaces it; each is audited)."""
    if verdict not in EMERGENCY_VERDICTS:
        raise EmergencyError(_("Choose a verdict."), "verdict")
    text = " ".join((note or "").split())
    if verdict == "not_justified" and not text:
        raise EmergencyError(_("Say why it was not justified."), "note")
    grant.verdict = verdict
    grant.verdict_note = text[:500] or None
    grant.reviewed_by_id = user.id
    grant.reviewed_as = user.username
    grant.reviewed_at = utcnow()
    db.flush()
    append_event(db, actor, "emergency.reviewed", target=f"emergency:{grant.uid}",
                 detail={"verdict": verdict, "requester": grant.user.username})


def set_crisis_team(db: Session, actor: Actor, user: User, on: bool) -> bool:
    """An admin puts a counselor on (or off) the district's crisis team; True when it changed (audited)."""
    if user.role != "counselor":
        raise EmergencyError(_("Only counselors can be on the crisis team."))
    if bool(user.crisis_team) == on:
        return False
    user.crisis_team = on
    db.flush()
    append_event(db, actor, "user.crisis_team_changed", target=f"user:{user.username}", detail={"crisis_team": on})
    return True
