"""Submitting screenings: what every entrance does with a completed instrument, in one service.

The student entrance (app/student_entry/views.py), paper entry (app/screenings/views.py) and the import
(app/screenings/importer.py) hand their rows to `submit_screening` (one) or `submit_screenings` (a batch: the import,
a class grid). For each row it records the screening (app/screenings/recording.py: score, seal, the care area's
warning, the signals), refuses a second copy of a campaign's instrument — the database's unique constraint decides,
caught inside a savepoint so that nothing of the refused rows stays — forgets the student's drafts of a class
session's instrument, and writes the audit event.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import Actor, Campaign, ClassSession, Screening, Student, append_event
from models.vault import Vault

from .drafts import drop_draft
from .recording import ScreeningError, batch, record_screening

PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class Submission:
    """One completed instrument of one student. `session`: the class session it was answered in (self-completion)."""

    student: Student
    instrument_id: str
    answers: Sequence[Any]
    administered_on: date
    campaign: Campaign | None = None
    session: ClassSession | None = None


class DuplicateScreening(ScreeningError):
    """The campaign already has this instrument of this student. `rows`: the submissions refused (their indices)."""

    def __init__(self, rows: Sequence[int]):
        super().__init__("already recorded for this campaign", code="duplicate")
        self.rows = list(rows)


def submit_screening(db: Session, actor: Actor, vault: Vault, submission: Submission, *, mode: str) -> Screening:
    """Record one screening and its audit event; forget the student's drafts of it when answered in a session.

    Raises ScreeningError naming the item for a wrong answer, DuplicateScreening when the campaign has it already
    (a second browser of the same student, a double click, a paper copy of a completed form)."""
    sub = submission
    try:
        with db.begin_nested():
            screening = record_screening(db, actor, vault, sub.student, sub.instrument_id, sub.answers, mode=mode,
                                         administered_on=sub.administered_on, campaign=sub.campaign,
                                         session=sub.session)
            db.flush()
    except IntegrityError as exc:
        raise _duplicate_or_raise(db, [sub], exc) from None
    if sub.session is not None:
        drop_draft(db, sub.session, sub.student, sub.instrument_id)
    detail: dict[str, Any] = {"instrument": sub.instrument_id, "mode": mode}
    if sub.session is not None:
        detail["session"] = sub.session.id
    append_event(db, actor, "screening.recorded", student_public_id=sub.student.public_id,
                 target=f"screening:{screening.uid}", detail=detail)
    return screening


@dataclass(frozen=True)
class Summary:
    """The one audit event of a batch (an import): action, target and detail."""

    action: str
    target: str | None
    detail: dict[str, Any]


def submit_screenings(
    db: Session, actor: Actor, vault: Vault, submissions: Sequence[Submission], *, mode: str,
    summary: Summary | None = None, progress: Callable[[int], None] | None = None,
) -> list[Screening]:
    """Record a batch of screenings as one: all of them, or none (a wrong answer raises ScreeningError, a
    duplicate DuplicateScreening naming every refused row). Bulk speed: one savepoint for the batch and
    `batch(...)` (grouped flushes, receivers prefetch once).

    Audit: one `screening.recorded` event per screening, or only `summary` when given (the import's one event
    for the file). `progress(n)` is called every PROGRESS_EVERY screenings."""
    screenings: list[Screening] = []
    try:
        with db.begin_nested():
            with batch(db, [s.student for s in submissions]):
                for sub in submissions:
                    screenings.append(record_screening(
                        db, actor, vault, sub.student, sub.instrument_id, sub.answers, mode=mode,
                        administered_on=sub.administered_on, campaign=sub.campaign, session=sub.session))
                    if progress is not None and len(screenings) % PROGRESS_EVERY == 0:
                        db.flush()
                        progress(len(screenings))
            db.flush()
    except IntegrityError as exc:
        raise _duplicate_or_raise(db, submissions, exc) from None
    for sub in submissions:
        if sub.session is not None:
            drop_draft(db, sub.session, sub.student, sub.instrument_id)
    if summary is not None:
        append_event(db, actor, summary.action, target=summary.target, detail=summary.detail)
    else:
        for sub, screening in zip(submissions, screenings, strict=True):
            detail: dict[str, Any] = {"instrument": sub.instrument_id, "mode": mode}
            if sub.session is not None:
                detail["session"] = sub.session.id
            append_event(db, actor, "screening.recorded", student_public_id=sub.student.public_id,
                         target=f"screening:{screening.uid}", detail=detail)
    return screenings


def _duplicate_or_raise(db: Session, submissions: Sequence[Submission], exc: IntegrityError) -> DuplicateScreening:
    """After the savepoint rolled back: which submissions the campaign already has (or repeat an earlier row of the
    batch). None: the error was not a duplicate, and is raised as it is."""
    keyed = [(i, (s.campaign.id, s.student.id, s.instrument_id)) for i, s in enumerate(submissions)
             if s.campaign is not None]
    wanted = sorted({k for _, k in keyed})
    stored: set[tuple[int | None, int, str]] = set()
    for i in range(0, len(wanted), 300):
        stored.update(
            db.execute(
                select(Screening.campaign_id, Screening.student_id, Screening.instrument_id).where(
                    tuple_(Screening.campaign_id, Screening.student_id, Screening.instrument_id).in_(
                        wanted[i : i + 300]
                    )
                )
            ).tuples()
        )
    seen: set[tuple[int, int, str]] = set()
    refused = []
    for i, key in keyed:
        if key in stored or key in seen:
            refused.append(i)
        seen.add(key)
    if not refused:
        raise exc
    return DuplicateScreening(refused)
