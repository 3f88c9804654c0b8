"""Small care rules that are data, not code paths: terms, check-in due dates, head-teacher tiers and guidance.

Terms are named like campaigns (`2026-2027-1` autumn, `2026-2027-2` spring). A care-group student is due a
check-in once per term; the check-in counts as late after CHECKIN_WEEKS into the term.
"""
from __future__ import annotations

from datetime import date, timedelta

from flask_babel import lazy_gettext as _l

from app import care_groups

CHECKIN_WEEKS = 6  # a termly check-in should be done within the first weeks of a term
ACTIVE_CASE_STATUSES = ("open", "following", "referred")
PENDING_RECHECK_STATUSES = ("planned", "due", "overdue", "escalated")
CASE_LEVELS = ("L1", "L2", "L3")


def triggering_groups() -> tuple[str, ...]:
    """The app's care groups that raise a level, sorted by key (the order the care lists show them in)."""
    return tuple(sorted(care_groups.triggering_groups()))


def term_of(day: date) -> str:
    """Autumn term from 1 September to the end of January; spring from 1 February to the end of August."""
    if day.month >= 9:
        return f"{day.year}-{day.year + 1}-1"
    if day.month == 1:
        return f"{day.year - 1}-{day.year}-1"
    return f"{day.year - 1}-{day.year}-2"


def term_start(term: str) -> date:
    first, second, half = term.split("-")
    return date(int(first), 9, 1) if half == "1" else date(int(second), 2, 1)


def next_term(term: str) -> str:
    first, second, half = term.split("-")
    return f"{first}-{second}-2" if half == "1" else f"{second}-{int(second) + 1}-1"


def checkin_due_on(term: str) -> date:
    return term_start(term) + timedelta(weeks=CHECKIN_WEEKS)


def next_checkin_due(last_term: str | None, today: date) -> date:
    """The date the next termly check-in is due: this term's if none was done this term, else next term's."""
    current = term_of(today)
    if last_term is None or last_term < current:
        return checkin_due_on(current)
    return checkin_due_on(next_term(last_term))


# Head-teacher tiers: plain words, no level numbers, no clinical terms (ux.md).
TIERS = ("close", "general", "care")
TIER_OF_LEVEL = {"L1": "close", "L2": "close", "L3": "general"}
TIER_LABELS = {
    "close": _l("Close attention"),
    "general": _l("General attention"),
    "care": _l("Care-group student"),
}
TIER_GUIDANCE = {
    "close": _l(
        "Watch this student's mood and behaviour every day, do not criticise them alone, "
        "and contact the counselor at once if anything seems wrong"
    ),
    "general": _l("Pay more attention to mood changes, and contact the counselor promptly if anything seems wrong"),
    "care": _l("Talk with the student regularly about life and study, and keep in touch with the guardian"),
}
