"""Domain events that let one area react to another without importing its views.

Senders call `signal.send(sender_name, db=session, actor=actor, ...)` inside their service, in the same
transaction; receivers (declared in an area's `area.py`, app/areas.py) must only flush, never commit. Receivers run
synchronously, so a failure in one rolls the whole request back: nothing half-written stays.

- screening_scored:   db, actor, screening (scored and added to the session; inside a screenings `batch(...)` not
                      flushed yet), student, reasons (the engine's, for the warning), policy (the warning policy the
                      level came from), today, recorded_at (given for historical loads). The care area opens the
                      warning (app/care/warning_lifecycle.py) and returns it: the one receiver whose reply is used.
- warning_opened:     db, actor, warning (models.Warning, not flushed yet), student. Crisis alerts
                      (app/notifications/crisis.py).
- screening_recorded: db, actor, screening (models.Screening, stored), warning (models.Warning | None, the one
                      opened on screening_scored)
- level_confirmed:    db, actor, warning, case (models.CareCase | None), previous_level (str | None)
- case_closed:        db, actor, case
- student_transferred: db, actor, student, from_school_id, to_school_id
"""
from blinker import Namespace

_signals = Namespace()

screening_scored = _signals.signal("screening-scored")
warning_opened = _signals.signal("warning-opened")
screening_recorded = _signals.signal("screening-recorded")
level_confirmed = _signals.signal("level-confirmed")
case_closed = _signals.signal("case-closed")
student_transferred = _signals.signal("student-transferred")
