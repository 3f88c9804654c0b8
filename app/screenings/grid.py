"""Paper forms by class: one grid per class and instrument, one row per enrolled student, one cell per item.

Reading the grid (`load_grid`): the class's enrolled students (ordered by student number), their names and
numbers opened under one audit event, and the draft of the grid if one was saved (its rows opened under one more
event). Parsing what was posted (`parse_grid`): a blank cell stays blank (None: the engine's missing-item rules
score an incomplete form), a value outside the item's answers is an error naming the student's row and the item.
A row with no answer at all is a form not entered and is skipped.

Saving (`save_grid`): the entered rows go to `submit_screenings` as ONE batch, the same service as every other
screening (scored, sealed, the care area's warning, the crisis alert at once, one `screening.recorded` event per
screening); all of them or none (docs/decisions.md, "Class grid: one batch"). Then the grid's draft is forgotten.
Drafting (`save_draft`): the rows typed so far, each sealed under its student's key (`PaperGridDraft`).

Functions take the database session, the actor and the vault and flush, never commit.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import Actor, Campaign, PaperGridDraft, SchoolClass, Student, utcnow
from models.vault import Identity, Vault
from screening.definition import Instrument

from .submission import Submission, submit_screenings


@dataclass
class GridRow:
    student: Student
    identity: Identity
    answers: list[int | None]
    errors: dict[int, str] = field(default_factory=dict)  # item number -> message

    @property
    def entered(self) -> bool:
        return any(v is not None for v in self.answers)


@dataclass
class GridError:
    """A cell refused: the student's row and the item (for messages naming both)."""

    student: Student
    name: str
    item: int
    value: str


def cell_name(student: Student, item: int) -> str:
    return f"a.{student.public_id}.{item}"


def class_students(db: Session, klass: SchoolClass) -> list[Student]:
    return list(db.scalars(select(Student).where(Student.class_id == klass.id, Student.status == "enrolled")
                           .order_by(Student.id)))


def load_grid(db: Session, vault: Vault, klass: SchoolClass, inst: Instrument) -> tuple[list[GridRow], bool]:
    """(rows ordered by student number, whether a draft was found): the names opened under one event, the draft's
    answers under another."""
    students = class_students(db, klass)
    detail = {"purpose": "paper_grid", "class_id": klass.id, "instrument": inst.id}
    identities = vault.reveal_many(students, "roster.class_list", detail=detail)
    drafts = list(db.scalars(select(PaperGridDraft).where(PaperGridDraft.class_id == klass.id,
                                                          PaperGridDraft.instrument_id == inst.id)))
    by_student: dict[int, list[int | None]] = {}
    if drafts:
        opened = vault.reveal_rows(drafts, "answers", "draft.resume", detail=detail)
        for d in drafts:
            values = opened.get(d.uid)
            if isinstance(values, list) and len(values) == inst.item_count:
                by_student[d.student_id] = [v if isinstance(v, int) else None for v in values]
    rows = [GridRow(s, identities[s.id], by_student.get(s.id, [None] * inst.item_count)) for s in students]
    rows.sort(key=lambda r: (r.identity.student_number or "", r.student.id))
    return rows, bool(by_student)


def parse_grid(rows: Sequence[GridRow], inst: Instrument, form: Mapping[str, Any]) -> list[GridError]:
    """Put the posted cells into `rows` (in place) and return the refused cells, in row then item order."""
    errors: list[GridError] = []
    for row in rows:
        row.answers = []
        row.errors = {}
        for item in inst.items:
            raw = str(form.get(cell_name(row.student, item.number), "") or "").strip()
            if raw == "":
                row.answers.append(None)
                continue
            value = int(raw) if raw.isdigit() and raw.isascii() else None
            if value is None or value not in item.values:
                row.answers.append(None)
                row.errors[item.number] = raw
                errors.append(GridError(row.student, row.identity.name or "", item.number, raw))
                continue
            row.answers.append(value)
    return errors


def save_draft(db: Session, actor: Actor, vault: Vault, klass: SchoolClass, inst: Instrument,
               rows: Sequence[GridRow]) -> int:
    """Seal the entered rows as the grid's draft (a row emptied again loses its draft); returns rows kept."""
    existing = {d.student_id: d for d in db.scalars(select(PaperGridDraft).where(
        PaperGridDraft.class_id == klass.id, PaperGridDraft.instrument_id == inst.id))}
    kept = 0
    for row in rows:
        draft = existing.get(row.student.id)
        if not row.entered:
            if draft is not None:
                db.delete(draft)
            continue
        if draft is None:
            draft = PaperGridDraft(class_id=klass.id, student_id=row.student.id, instrument_id=inst.id)
            db.add(draft)
        vault.seal_into(draft, "answers", list(row.answers), student=row.student)
        draft.updated_by_id = actor.user_id
        draft.updated_at = utcnow()
        kept += 1
    db.flush()
    return kept


def save_grid(db: Session, actor: Actor, vault: Vault, klass: SchoolClass, inst: Instrument, rows: Sequence[GridRow],
              *, administered_on: date, campaign: Campaign | None) -> int:
    """Record every entered row as one batch through `submit_screenings` (all or none: ScreeningError or
    DuplicateScreening propagate), then forget the grid's draft. Returns the number of screenings recorded."""
    entered = [r for r in rows if r.entered]
    subs = [Submission(r.student, inst.id, list(r.answers), administered_on, campaign=campaign) for r in entered]
    if subs:
        submit_screenings(db, actor, vault, subs, mode="paper")
    db.execute(delete(PaperGridDraft).where(PaperGridDraft.class_id == klass.id,
                                            PaperGridDraft.instrument_id == inst.id))
    return len(subs)


def running_total(inst: Instrument, answers: Sequence[int | None]) -> int | None:
    """The sum of the answered items of the instrument's total scale as typed (reverse items counted as the engine
    counts them; the engine prorates missing items on saving). None when nothing of the scale is answered."""
    if inst.total is None:
        return None
    total = None
    for i in inst.total.idx:
        if i < len(answers) and answers[i] is not None:
            total = (total or 0) + scored_value(inst.items[i].values, inst.items[i].reverse, answers[i] or 0)
    return total


def scored_value(values: Sequence[int], reverse: bool, value: int) -> int:
    return max(values) + min(values) - value if reverse else value
