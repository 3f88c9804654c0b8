"""Help requests (我想找老师聊聊): a student, or a head teacher on a student's behalf, asks the counselor to talk.

One service for both ways in. The request is stored with its urgency and the student's optional message (sealed,
at most MESSAGE_MAX characters), audited (`help.requested`, never the message), and reaches:
- the counselor's worklist at its tier (app/care/queries.py `_help_items`): `urgent` with the crises (treated like a
  crisis), `soon` due the same day, `whenever` due within the week;
- the counselors of the student's school as a notification, through the one notification writer: an urgent request
  is a `help_urgent` alert that stays until acknowledged (no active counselor: the administrators are told, as for
  a crisis) and is re-alerted by the scheduler (`realert_help`, app/care/tasks.py) while nobody acknowledged it;
- the student's file (the help section, app/care/sections.py).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.notifications.service import admins, counselor_ids_by_school, counselors_of_school, notify, notify_many
from models import Actor, HelpRequest, Student, User, append_event, utcnow
from models.care import HELP_URGENCIES
from models.vault import Vault

MESSAGE_MAX = 300


class HelpRequestError(ValueError):
    pass


def raise_request(db: Session, actor: Actor, vault: Vault, student: Student, urgency: str, message: str | None, *,
                  raised_by: str = "student", user: User | None = None) -> HelpRequest:
    if urgency not in HELP_URGENCIES:
        raise HelpRequestError("Choose how urgent it feels.")
    text = (message or "").strip()
    if len(text) > MESSAGE_MAX:
        raise HelpRequestError("The message is too long.")
    req = HelpRequest(student_id=student.id, school_id=student.school_id, urgency=urgency, raised_by=raised_by,
                      raised_by_id=user.id if user is not None else None, created_at=utcnow())
    req.ensure_uid()
    vault.seal_into(req, "message", text or None, student=student)
    db.add(req)
    db.flush()
    append_event(db, actor, "help.requested", student_public_id=student.public_id, target=f"help:{req.uid}",
                 detail={"urgency": urgency, "raised_by": raised_by, "message": bool(text)})
    counselors = counselors_of_school(db, student.school_id)
    kind = "help_urgent" if urgency == "urgent" else "help_request"
    for counselor in counselors:
        notify(db, counselor, kind, f"help:{req.uid}", student_id=student.id, params={"urgency": urgency},
               requires_ack=urgency == "urgent")
    if urgency == "urgent" and not counselors:
        for admin in admins(db):
            notify(db, admin, "crisis_unassigned", f"help_unassigned:{req.uid}",
                   params={"school": student.school.name})
    return req


def acknowledge(db: Session, actor: Actor, req: HelpRequest, user: User) -> bool:
    if req.acknowledged_at is not None:
        return False
    req.acknowledged_at = utcnow()
    req.acknowledged_by_id = user.id
    append_event(db, actor, "help.acknowledged", target=f"help:{req.uid}")
    return True


@dataclass(frozen=True)
class _Due:
    request_id: int
    uid: str
    student_id: int
    school_id: int
    window: int


def realert_help(db: Session, now: datetime, hours: float) -> dict[str, int]:
    """Urgent requests nobody acknowledged within `hours`: one re-alert per counselor per window (dedup key)."""
    rows = db.execute(
        select(HelpRequest.id, HelpRequest.uid, HelpRequest.student_id, HelpRequest.school_id, HelpRequest.created_at)
        .where(HelpRequest.urgency == "urgent", HelpRequest.acknowledged_at.is_(None),
               HelpRequest.created_at <= now - timedelta(hours=hours))
    ).all()
    due = [_Due(i, uid, sid, school, int((now - at).total_seconds() // (hours * 3600)))
           for i, uid, sid, school, at in rows]
    if not due:
        return {"help_realerts": 0}
    counselors = counselor_ids_by_school(db, {d.school_id for d in due})
    new: list[dict[str, Any]] = [
        {"user_id": user_id, "kind": "help_realert", "dedup_key": f"help_realert:{d.uid}:{d.window}",
         "student_id": d.student_id, "warning_id": None, "params": json.dumps({"window": d.window}),
         "requires_ack": True, "created_at": now}
        for d in due for user_id in counselors.get(d.school_id, ())
    ]
    return {"help_realerts": notify_many(db, new)}
