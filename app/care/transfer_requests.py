"""Transfer requests: a student's file moves to another school only when the sending side approves.

The receiving school asks (a counselor of it, from a roster import's row or the "request a transfer" form; an
admin through the transfer form; a CLI operator through `flask roster import --request-transfers`). The sending
school's counselors decide; where the sending school has no active counselor, the district's officers and admins
do. Nobody decides their own request. Approval moves the file with `service.transfer_student` (the one move);
refusal and cancellation change nothing of the student. Every request and decision is an audit event
(transfer.requested / transfer.approved / transfer.refused / transfer.cancelled), and approval also writes the
move's transfer.out / transfer.in.

The requesting side learns nothing of the student before approval: not the school that holds the number, not a
name (its pages show the request's own facts: the class asked for, when, the status and the decision's reason).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from models import Actor, School, SchoolClass, Student, TransferRequest, User, append_event, counselor_schools, utcnow

from .service import CareError, transfer_student

REASON_MAX = 300


def _detail(req: TransferRequest, **extra: Any) -> dict[str, Any]:
    return {"request": req.uid, "from_school": req.from_school.code, "to_school": req.to_school.code,
            "to_class": req.to_class_id, "source": req.source, **extra}


def pending_for(db: Session, student: Student, to_school_id: int) -> TransferRequest | None:
    return db.scalars(select(TransferRequest).where(
        TransferRequest.student_id == student.id, TransferRequest.to_school_id == to_school_id,
        TransferRequest.status == "pending",
    )).first()


def request_transfer(
    db: Session, actor: Actor, student: Student, to_class: SchoolClass, *, source: str = "form"
) -> TransferRequest:
    """Ask for `student` to move to `to_class`. Idempotent: a pending request for the same student and school is
    returned as it is (a roster imported twice asks once)."""
    from_school = db.get_one(School, student.school_id)
    to_school = db.get_one(School, to_class.school_id)
    if to_school.district_id != from_school.district_id:
        raise CareError("Transfers stay within the district.")
    if to_school.id == from_school.id:
        raise CareError("Choose another school.")
    if student.status == "erased":
        raise CareError("This student's record has been erased.")
    existing = pending_for(db, student, to_school.id)
    if existing is not None:
        return existing
    req = TransferRequest(
        student_id=student.id, from_school_id=from_school.id, to_school_id=to_school.id, to_class_id=to_class.id,
        source=source, status="pending", requested_by_id=actor.user_id, requested_as=actor.username[:64],
    )
    req.ensure_uid()
    db.add(req)
    db.flush()
    append_event(db, actor, "transfer.requested", student_public_id=student.public_id,
                 target=f"transfer:{req.uid}", detail=_detail(req))
    return req


def _active_counselors(db: Session, school_id: int) -> list[int]:
    return list(db.scalars(
        select(User.id).join(counselor_schools, counselor_schools.c.user_id == User.id)
        .where(counselor_schools.c.school_id == school_id, User.role == "counselor", User.active.is_(True))
    ))


def deciders_are_counselors(db: Session, req: TransferRequest) -> bool:
    """True when the sending school has an active counselor (then only its counselors decide)."""
    return bool(_active_counselors(db, req.from_school_id))


def may_decide(db: Session, user: Any, req: TransferRequest) -> bool:
    """The sending school's active counselors; where it has none, the district's officers and admins. Never the
    requester."""
    if req.status != "pending" or not user.active or user.id == req.requested_by_id:
        return False
    counselors = _active_counselors(db, req.from_school_id)
    if counselors:
        return user.role == "counselor" and user.id in counselors
    return user.role in ("district", "admin") and user.district_id == req.from_school.district_id


def may_cancel(user: Any, req: TransferRequest) -> bool:
    """The requester, or a counselor of the receiving school."""
    if req.status != "pending":
        return False
    return user.id == req.requested_by_id or (user.role == "counselor" and req.to_school_id in user.school_ids)


def _clean_reason(reason: str | None, required: bool) -> str | None:
    reason = (reason or "").strip()
    if required and not reason:
        raise CareError("Give a reason.")
    if len(reason) > REASON_MAX:
        raise CareError("The reason is too long.")
    return reason or None


def _decided(req: TransferRequest, user: Any, status: str, reason: str | None) -> None:
    req.status = status
    req.decided_by_id = user.id
    req.decided_at = utcnow()
    req.reason = reason


def approve(db: Session, actor: Actor, user: Any, req: TransferRequest, reason: str | None = None) -> None:
    """Approve and move the file. Refused (CareError, nothing changed) when the user may not decide or the
    student is no longer where the request found them."""
    if not may_decide(db, user, req):
        raise CareError("You cannot decide this request.")
    reason = _clean_reason(reason, required=False)
    student = db.get_one(Student, req.student_id)
    if student.school_id != req.from_school_id or student.status == "erased":
        raise CareError("The student is no longer at this school; the request cannot be approved.")
    _decided(req, user, "approved", reason)
    db.flush()
    append_event(db, actor, "transfer.approved", student_public_id=student.public_id, target=f"transfer:{req.uid}",
                 detail=_detail(req))
    transfer_student(db, actor, student, db.get_one(SchoolClass, req.to_class_id))
    # other pending requests for this student asked the school that no longer holds them
    for other in db.scalars(select(TransferRequest).where(
        TransferRequest.student_id == student.id, TransferRequest.status == "pending", TransferRequest.id != req.id
    )):
        _decided(other, user, "cancelled", "superseded")
        append_event(db, actor, "transfer.cancelled", student_public_id=student.public_id,
                     target=f"transfer:{other.uid}", detail=_detail(other, why="superseded"))
    db.flush()


def refuse(db: Session, actor: Actor, user: Any, req: TransferRequest, reason: str | None) -> None:
    if not may_decide(db, user, req):
        raise CareError("You cannot decide this request.")
    _decided(req, user, "refused", _clean_reason(reason, required=True))
    db.flush()
    append_event(db, actor, "transfer.refused", student_public_id=req.student.public_id,
                 target=f"transfer:{req.uid}", detail=_detail(req))


def cancel(db: Session, actor: Actor, user: Any, req: TransferRequest) -> None:
    if not may_cancel(user, req):
        raise CareError("You cannot cancel this request.")
    _decided(req, user, "cancelled", None)
    db.flush()
    append_event(db, actor, "transfer.cancelled", student_public_id=req.student.public_id,
                 target=f"transfer:{req.uid}", detail=_detail(req))


def cancel_for_erased(db: Session, actor: Actor, student: Student) -> int:
    """An erased student's pending requests end (nothing is left to move)."""
    n = 0
    for req in db.scalars(select(TransferRequest).where(
        TransferRequest.student_id == student.id, TransferRequest.status == "pending"
    )):
        req.status, req.decided_at, req.reason = "cancelled", utcnow(), "erased"
        append_event(db, actor, "transfer.cancelled", student_public_id=student.public_id,
                     target=f"transfer:{req.uid}", detail=_detail(req, why="erased"))
        n += 1
    if n:
        db.flush()
    return n


# -- lists ------------------------------------------------------------------------------------------------------
def to_decide(db: Session, user: Any) -> list[TransferRequest]:
    """Pending requests this user may decide."""
    rows = db.scalars(select(TransferRequest).where(
        TransferRequest.visible_to(user), TransferRequest.status == "pending"
    ).order_by(TransferRequest.requested_at, TransferRequest.id))
    return [r for r in rows if may_decide(db, user, r)]


def asked_by_my_schools(db: Session, user: Any, limit: int = 200) -> list[TransferRequest]:
    """Requests into this counselor's schools (pending first, then the latest decided)."""
    if user.role != "counselor":
        return []
    return list(db.scalars(select(TransferRequest).where(
        TransferRequest.to_school_id.in_(user.school_ids)
    ).order_by((TransferRequest.status == "pending").desc(), TransferRequest.requested_at.desc(),
               TransferRequest.id.desc()).limit(limit)))


def pending_count(db: Session, user: Any) -> int:
    return len(to_decide(db, user))


def has_pending(db: Session, student_id: int) -> bool:
    return bool(db.scalar(select(exists().where(TransferRequest.student_id == student_id,
                                                TransferRequest.status == "pending"))))
