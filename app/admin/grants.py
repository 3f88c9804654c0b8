"""Clinical access takes two people (separation of duties, issue 15).

An admin (or a CLI operator) *proposes* a counselor's school or a head teacher's class; until a second person
approves, the user has no access there: the scope rule (`Student.visible_to`) reads `counselor_schools` /
`teacher_classes`, and only `approve` writes them. Who approves: a district officer of the school's district, or
an active counselor of that school (for a class: the class's school) — never the proposer, never the grantee, never
an admin. Removing access needs nobody's approval (`revoke`, at once). The school's counselors are told of every
proposal, grant and revocation (a notification naming the user and the school, no clinical content). Every step is
an audit event (`access.proposed|granted|refused|cancelled|revoked`) and a row of `access_grants`, the review list
(`/admin/access-grants`).

The demo seed, the test factories and an operator's explicit `flask users add --operator-approves` create
approved grants with `record_approved`: the same row and audit event, the one actor recorded as proposer and
approver (`detail.same_person = true`), so a review sees that no second person was involved.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from models import (
    AccessGrant,
    Actor,
    School,
    SchoolClass,
    User,
    append_event,
    counselor_schools,
    teacher_classes,
    utcnow,
)


class GrantError(ValueError):
    """A decision the rules refuse; the message is an English msgid."""


def _target(grant: AccessGrant) -> dict[str, Any]:
    if grant.school_id is not None:
        assert grant.school is not None
        return {"school": grant.school.code}
    assert grant.school_class is not None
    return {"class": grant.class_id, "school": grant.school_class.school.code}


def _event(db: Session, actor: Actor, action: str, grant: AccessGrant, **extra: Any) -> None:
    append_event(db, actor, action, target=f"user:{grant.user.username}",
                 detail={"grant": grant.uid, "role": grant.user.role, **_target(grant), **extra})


def _school_of(grant: AccessGrant) -> School:
    if grant.school is not None:
        return grant.school
    assert grant.school_class is not None
    return grant.school_class.school


def _school_counselors(db: Session, school_id: int) -> list[User]:
    return list(db.scalars(
        select(User).join(counselor_schools, counselor_schools.c.user_id == User.id)
        .where(counselor_schools.c.school_id == school_id, User.role == "counselor", User.active.is_(True))
    ))


def _tell_counselors(db: Session, grant: AccessGrant, kind: str) -> None:
    """The school's counselors (not the grantee) are told: who, which school or class, no clinical content."""
    from app.notifications.service import notify

    school = _school_of(grant)
    params = {"user": grant.user.display_name, "username": grant.user.username, "school": school.name,
              "class": grant.school_class.name if grant.school_class is not None else ""}
    for counselor in _school_counselors(db, school.id):
        if counselor.id != grant.user_id:
            notify(db, counselor, kind, f"{kind}:{grant.uid}", params=params)


def _has_access(db: Session, user: User, school: School | None, klass: SchoolClass | None) -> bool:
    if school is not None:
        return db.scalar(select(counselor_schools.c.user_id).where(
            counselor_schools.c.user_id == user.id, counselor_schools.c.school_id == school.id)) is not None
    assert klass is not None
    return db.scalar(select(teacher_classes.c.user_id).where(
        teacher_classes.c.user_id == user.id, teacher_classes.c.class_id == klass.id)) is not None


def _new(user: User, actor: Actor, school: School | None, klass: SchoolClass | None, status: str) -> AccessGrant:
    if (school is None) == (klass is None):
        raise ValueError("a grant is for one school or one class")
    grant = AccessGrant(user_id=user.id, school_id=school.id if school else None,
                        class_id=klass.id if klass else None, status=status, proposed_by_id=actor.user_id,
                        proposed_as=actor.username[:64], proposed_at=utcnow())
    grant.user, grant.school, grant.school_class = user, school, klass
    grant.ensure_uid()
    return grant


def _same_target(school: School | None, klass: SchoolClass | None) -> Any:
    if school is not None:
        return AccessGrant.school_id == school.id
    assert klass is not None
    return AccessGrant.class_id == klass.id


def _open_access(user: User, school: School | None, klass: SchoolClass | None) -> None:
    if school is not None and school not in user.schools:
        user.schools.append(school)
    if klass is not None and klass not in user.classes:
        user.classes.append(klass)


def propose(db: Session, actor: Actor, user: User, *, school: School | None = None,
            klass: SchoolClass | None = None) -> AccessGrant | None:
    """Propose access; None when the user has it already. A pending proposal for the same target is returned."""
    if _has_access(db, user, school, klass):
        return None
    pending = db.scalars(select(AccessGrant).where(
        AccessGrant.user_id == user.id, AccessGrant.status == "pending", _same_target(school, klass)
    )).first()
    if pending is not None:
        return pending
    grant = _new(user, actor, school, klass, "pending")
    db.add(grant)
    db.flush()
    _event(db, actor, "access.proposed", grant)
    _tell_counselors(db, grant, "access_proposed")
    return grant


def record_approved(db: Session, actor: Actor, user: User, *, school: School | None = None,
                    klass: SchoolClass | None = None, reason: str = "seed") -> AccessGrant | None:
    """An approved grant with one actor as proposer and approver (the demo seed, the test factories, an operator's
    explicit `--operator-approves`): recorded and audited as such, never silent."""
    if _has_access(db, user, school, klass):
        return None
    grant = _new(user, actor, school, klass, "approved")
    grant.decided_by_id, grant.decided_as, grant.decided_at, grant.reason = (
        actor.user_id, actor.username[:64], utcnow(), reason)
    db.add(grant)
    _open_access(user, school, klass)
    db.flush()
    _event(db, actor, "access.granted", grant, same_person=True, reason=reason)
    return grant


def may_decide(db: Session, decider: Any, grant: AccessGrant) -> bool:
    """A district officer of the school's district, or an active counselor of the school; never the proposer or
    the grantee, never an admin."""
    if grant.status != "pending" or not decider.active:
        return False
    if decider.id in (grant.user_id, grant.proposed_by_id):
        return False
    if grant.user.role != ("counselor" if grant.school_id is not None else "head_teacher") or not grant.user.active:
        return False  # the role changed since the proposal: nothing to open
    school = _school_of(grant)
    if decider.role == "district":
        return decider.district_id == school.district_id
    if decider.role == "counselor":
        return school.id in decider.school_ids
    return False


def approve(db: Session, actor: Actor, decider: Any, grant: AccessGrant) -> None:
    if not may_decide(db, decider, grant):
        raise GrantError("You cannot decide this request.")
    grant.status, grant.decided_by_id, grant.decided_as, grant.decided_at = (
        "approved", decider.id, decider.username[:64], utcnow())
    _open_access(grant.user, grant.school, grant.school_class)
    db.flush()
    _event(db, actor, "access.granted", grant, proposed_by=grant.proposed_as, same_person=False)
    _tell_counselors(db, grant, "access_granted")


def refuse(db: Session, actor: Actor, decider: Any, grant: AccessGrant, reason: str | None) -> None:
    if not may_decide(db, decider, grant):
        raise GrantError("You cannot decide this request.")
    reason = (reason or "").strip()
    if not reason:
        raise GrantError("Give a reason.")
    grant.status, grant.decided_by_id, grant.decided_as, grant.decided_at, grant.reason = (
        "refused", decider.id, decider.username[:64], utcnow(), reason[:300])
    db.flush()
    _event(db, actor, "access.refused", grant)


def revoke(db: Session, actor: Actor, user: User, *, school: School | None = None,
           klass: SchoolClass | None = None) -> None:
    """Remove access at once (no second person needed); pending proposals for it are cancelled."""
    for pending in db.scalars(select(AccessGrant).where(
        AccessGrant.user_id == user.id, AccessGrant.status == "pending", _same_target(school, klass)
    )):
        pending.status, pending.decided_at, pending.decided_as = "cancelled", utcnow(), actor.username[:64]
        _event(db, actor, "access.cancelled", pending)
    if not _has_access(db, user, school, klass):
        db.flush()
        return
    if school is not None:
        user.schools = [s for s in user.schools if s.id != school.id]
    if klass is not None:
        user.classes = [c for c in user.classes if c.id != klass.id]
    row = _new(user, actor, school, klass, "revoked")
    row.decided_by_id, row.decided_as, row.decided_at = actor.user_id, actor.username[:64], utcnow()
    db.add(row)
    db.flush()
    _event(db, actor, "access.revoked", row)
    _tell_counselors(db, row, "access_revoked")


def pending_for_user(db: Session, user: User) -> list[AccessGrant]:
    return list(db.scalars(select(AccessGrant).where(AccessGrant.user_id == user.id,
                                                     AccessGrant.status == "pending").order_by(AccessGrant.id)))


def review_list(db: Session, viewer: Any, limit: int = 300) -> list[AccessGrant]:
    """Grants, proposals and revocations the viewer may review: an admin all of them; a district officer those
    of the district's schools; a counselor those of their schools. Pending first, then the latest."""
    stmt = select(AccessGrant).outerjoin(SchoolClass, SchoolClass.id == AccessGrant.class_id)
    school_of = or_(AccessGrant.school_id.in_(select(School.id).where(School.district_id == viewer.district_id)),
                    SchoolClass.school_id.in_(select(School.id).where(School.district_id == viewer.district_id)))
    if viewer.role == "counselor":
        mine = viewer.school_ids or [-1]
        stmt = stmt.where(or_(AccessGrant.school_id.in_(mine), SchoolClass.school_id.in_(mine)))
    elif viewer.role == "district":
        stmt = stmt.where(school_of)
    elif viewer.role != "admin":
        return []
    return list(db.scalars(stmt.order_by((AccessGrant.status == "pending").desc(), AccessGrant.id.desc())
                           .limit(limit)))


def visible_grant(db: Session, viewer: Any, uid: str) -> AccessGrant | None:
    return next((g for g in review_list(db, viewer, limit=10_000) if g.uid == uid), None)
