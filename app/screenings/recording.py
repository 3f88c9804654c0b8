"""Recording a screening: check the answers, score them, seal them, store the row, tell the other areas.

`record_screening` is the ONE way a screening row is written: `submit_screening` (app/screenings/submission.py:
the student entrance, paper entry, the import) and the demo and benchmarks call it. It knows nothing of warnings:
the care area opens the warning on `signals.screening_scored` (app/care/warning_lifecycle.py) and every area may
react to `signals.screening_recorded` once the row is stored.

Functions take the database session and the acting user (audit Actor) explicitly and flush, never commit.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import signals
from app.policies import instrument_settings, warning_policy
from models import Actor, Campaign, ClassSession, Screening, Student, Warning, clock
from models.vault import Vault
from screening import AnswerError, UnknownInstrument, get_instrument, score, suggest_level

MODES = ("self", "paper", "import")
SEX_OF_GENDER = {"M": "male", "F": "female"}


class ScreeningError(ValueError):
    """A screening that cannot be recorded; `item` names the offending item when there is one."""

    def __init__(self, message: str, item: int | None = None, code: str = "invalid"):
        super().__init__(message)
        self.item = item
        self.code = code


def answer_error_text(exc: ScreeningError) -> str:
    """The error in the reader's language, naming the item."""
    from flask_babel import gettext as _

    if exc.code == "instrument":
        return _("Unknown instrument.")
    if exc.code == "count":
        return _("Wrong number of answers: %(message)s", message=str(exc))
    if exc.item:
        return _("Item %(n)s: the answer is not one of the allowed answers.", n=exc.item)
    return str(exc)


def grade_refusal_text(instrument_id: str, grade: int) -> str | None:
    """None when the instrument is validated for `grade`; else the reason, in the reader's language, naming the
    instrument, its grades and its ages (the definition's `grades`, from its validated ages)."""
    from flask_babel import gettext as _

    inst = get_instrument(instrument_id)
    if inst.grade_allowed(grade):
        return None
    ages = f"{inst.age_min}–{inst.age_max}" if inst.age_max is not None else f"{inst.age_min}+"
    return _("%(name)s is validated for grades %(lo)s–%(hi)s (ages %(ages)s), not grade %(grade)s.",
             name=inst.short_name, lo=inst.grade_min, hi=inst.grade_max, ages=ages, grade=grade)


def local_today(tz: str | None = None) -> date:
    return clock.today(tz)


def check_answers(instrument_id: str, answers: Sequence[Any]) -> list[int | None]:
    """The answers as the engine takes them (None = unanswered), or ScreeningError naming the item."""
    try:
        inst = get_instrument(instrument_id)
    except UnknownInstrument:
        raise ScreeningError(f"unknown instrument {instrument_id!r}", code="instrument") from None
    if len(answers) != inst.item_count:
        raise ScreeningError(
            f"{inst.short_name} has {inst.item_count} items, got {len(answers)} answers", code="count",
            item=min(len(answers) + 1, inst.item_count),
        )
    if all(type(v) is int for v in answers) and all(v in m for v, m in zip(answers, inst.value_maps, strict=True)):
        return list(answers)  # the usual case (forms, imports, the demo): every answer already an allowed int
    clean: list[int | None] = []
    for item, value in zip(inst.items, answers, strict=True):
        if value is None or value == "":
            clean.append(None)
            continue
        try:
            number = int(value) if not isinstance(value, bool) else int(value)
        except (TypeError, ValueError):
            raise ScreeningError(f"item {item.number}: {value!r} is not a number", item=item.number) from None
        try:
            clean.append(item.validate(number))
        except AnswerError as exc:
            raise ScreeningError(str(exc), item=exc.item) from None
    return clean


def record_screening(
    db: Session,
    actor: Actor,
    vault: Vault,
    student: Student,
    instrument_id: str,
    answers: Sequence[Any],
    *,
    mode: str,
    administered_on: date,
    campaign: Campaign | None = None,
    session: ClassSession | None = None,
    recheck: Any = None,
    today: date | None = None,
    recorded_at: datetime | None = None,
) -> Screening:
    """Validate, score, seal the answers, keep the result in clear and suggest a level; send
    `signals.screening_scored` (the care area opens the warning and alerts), flush, then send
    `signals.screening_recorded` (inside `batch(...)`, a bulk load, the flush and that signal happen per group of
    screenings).

    Raises ScreeningError (naming the item) for an unknown instrument or an answer outside the item's set.
    `today` and `recorded_at` default to now (given for historical loads such as the demo).
    """
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}")
    clean = check_answers(instrument_id, answers)
    # grade and sex choose the norm group of a norm-referenced (licensed) instrument; others ignore them
    result = score(instrument_id, clean, instrument_settings(instrument_id), grade=student.grade,
                   sex=SEX_OF_GENDER.get(student.gender or ""))
    policy = warning_policy()
    # every stored group was checked against the policy when it was entered (roster, import); a group the district
    # has since removed from its policy no longer raises a level, by the district's choice
    groups = [g for g in student.care_groups if g in policy.care_groups]
    level, reasons = suggest_level([result], groups, policy)
    screening = Screening.from_result(
        result,
        student,
        suggested_level=level,
        mode=mode,
        administered_on=administered_on,
        campaign_id=campaign.id if campaign is not None else None,
        session_id=session.id if session is not None else None,
        recheck_id=getattr(recheck, "id", None),
        recorded_by_id=actor.user_id,
    )
    if recorded_at is not None:
        screening.recorded_at = recorded_at
    vault.seal_into(screening, "answers", clean, student=student)
    db.add(screening)
    warning = opened_warning(signals.screening_scored.send(
        "screenings", db=db, actor=actor, screening=screening, student=student, reasons=reasons, policy=policy,
        today=today, recorded_at=recorded_at,
    ))
    batch_info = db.info.get(BATCH_KEY)
    if batch_info is None:
        db.flush()  # receivers see the stored screening, with its id
        signals.screening_recorded.send("screenings", db=db, actor=actor, screening=screening, warning=warning)
    else:
        # a bulk load: screenings are flushed together, then their signals sent in order (same transaction)
        batch_info["pending"].append((actor, screening, warning))
        if len(batch_info["pending"]) >= BATCH_FLUSH:
            _drain(db, batch_info)
    return screening


def opened_warning(replies: list[tuple[Any, Any]]) -> Warning | None:
    """The warning a `screening_scored` receiver opened (the care area's), if any."""
    for _receiver, value in replies:
        if isinstance(value, Warning):
            return value
    return None


BATCH_KEY = "xinmiao_screening_batch"
BATCH_FLUSH = 500


def _drain(db: Session, batch_info: dict[str, Any]) -> None:
    pending, batch_info["pending"] = batch_info["pending"], []
    db.flush()
    for actor, screening, warning in pending:
        signals.screening_recorded.send("screenings", db=db, actor=actor, screening=screening, warning=warning)


@contextmanager
def batch(db: Session, students: Iterable[Student]) -> Iterator[None]:
    """Bulk loading (imports, the demo, benchmarks). Receivers prefetch what they need for these students once
    (`batch_prefetch`, no query per screening); screenings are flushed in groups of BATCH_FLUSH and
    `screening_recorded` is sent for each, in order, right after its group is flushed (receivers always see stored
    rows with ids). Everything pending is flushed and signalled when the block ends; on an exception nothing more
    is sent."""
    ids = sorted({s.id for s in students if s.id is not None})
    info: dict[str, Any] = {"pending": [], "student_ids": ids, "prefetched": {}}
    db.info[BATCH_KEY] = info
    try:
        yield
        _drain(db, info)
    finally:
        db.info.pop(BATCH_KEY, None)


def in_batch(db: Session) -> bool:
    return BATCH_KEY in db.info


def batch_prefetch(db: Session, key: str, load: Callable[[list[int]], Any]) -> Any:
    """The batch-prefetch hook for receivers of `screening_scored` / `screening_recorded` (and anything else that
    runs per screening).

    Inside `batch(...)`: `load(student_ids)` (the batch's student ids, sorted) runs ONCE per batch and its result is
    kept under `key` (name it after your area, e.g. "rechecks.open"); later calls return the same object, so a
    receiver may keep it up to date as it changes rows. Outside a batch: None (the receiver queries per screening
    as usual). A screening may be recorded inside the batch for a student not given to `batch(...)`: a receiver
    should treat a student id missing from its prefetched data as "not prefetched" and query for it."""
    info = db.info.get(BATCH_KEY)
    if info is None:
        return None
    cache = info["prefetched"]
    if key not in cache:
        cache[key] = load(info["student_ids"])
    return cache[key]


def chunks(items: list[int], size: int) -> Iterator[list[int]]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def result_of(screening: Screening) -> dict[str, Any]:
    return json.loads(screening.result_json or "{}")


def screenings_of(db: Session, student: Student) -> list[Screening]:
    return list(db.scalars(select(Screening).where(Screening.student_id == student.id)
                           .order_by(Screening.administered_on, Screening.id)))


def done_instruments(db: Session, campaign: Campaign, student: Student) -> set[str]:
    return set(db.scalars(select(Screening.instrument_id).where(Screening.campaign_id == campaign.id,
                                                                Screening.student_id == student.id)))
