"""Crisis alerts: who is told, at once, when a level-1 warning opens (`signals.warning_opened`).

Every active counselor of the student's school gets a `crisis` notification that stays until acknowledged
(dedup key `crisis:<warning uid>`). When the school has no active counselor, nobody could act on it: every active
administrator gets `crisis_unassigned` (`crisis_unassigned:<warning uid>`, the school's name only: no student, no
clinical detail) so that a counselor is assigned; the warning waits in that counselor's queue. The re-alerts of a
crisis nobody acknowledged are the scheduler's (app/care/tasks.py).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models import Student, Warning

from .service import admins, counselors_of_school, notify


def alert_crisis(sender: Any, db: Session, warning: Warning, student: Student, **_: Any) -> None:
    """The `warning_opened` receiver: alerts for a level-1 warning; nothing for other levels."""
    if warning.suggested_level != "L1":
        return
    db.flush()  # the warning's id, for the notifications' references
    counselors = counselors_of_school(db, student.school_id)
    for counselor in counselors:
        # references only: the notification is rendered per locale and carries no clinical text
        notify(db, counselor, "crisis", f"crisis:{warning.uid}", student_id=student.id,
               warning_id=warning.id, requires_ack=True)
    if not counselors:
        for admin in admins(db):
            notify(db, admin, "crisis_unassigned", f"crisis_unassigned:{warning.uid}",
                   params={"school": student.school.name})
