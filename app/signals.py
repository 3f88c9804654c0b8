"""Domain events that let one area react to another without importing its views.

Senders call `signal.send(sender_name, db=session, actor=actor, ...)` inside their service, in the same
transaction; receivers (declared in an area's `area.py`, app/areas.py) must only flush, never commit. Receivers run
synchronously, so a failure in one rolls the whole request back: nothing half-written stays.

- screening_recorded: db, actor, screening (models.Screening), warning (models.Warning | None)
- level_confirmed:    db, actor, warning, case (models.CareCase | None), previous_level (str | None)
- case_closed:        db, actor, case
- student_transferred: db, actor, student, from_school_id, to_school_id
"""
from blinker import Namespace

_signals = Namespace()

screening_recorded = _signals.signal("screening-recorded")
level_confirmed = _signals.signal("level-confirmed")
case_closed = _signals.signal("case-closed")
student_transferred = _signals.signal("student-transferred")
