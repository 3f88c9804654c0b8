"""A student's unfinished answers (ResponseDraft): autosaved per page, sealed, picked up in a later session of the
same campaign, forgotten once the instrument is submitted.

Functions take the database session explicitly and flush, never commit.
"""
from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models import ClassSession, ResponseDraft, Student, utcnow
from models.vault import Vault


def _latest_draft(db: Session, cs: ClassSession, student: Student, instrument_id: str) -> ResponseDraft | None:
    """This student's latest draft of the instrument in any session of the campaign (a new session after the first
    expired picks up where the student stopped)."""
    return db.scalars(
        select(ResponseDraft).join(ClassSession, ClassSession.id == ResponseDraft.session_id)
        .where(ClassSession.campaign_id == cs.campaign_id, ResponseDraft.student_id == student.id,
               ResponseDraft.instrument_id == instrument_id)
        .order_by(ResponseDraft.updated_at.desc(), ResponseDraft.id.desc()).limit(1)
    ).first()


def has_draft(db: Session, cs: ClassSession, student: Student, instrument_id: str) -> bool:
    return _latest_draft(db, cs, student, instrument_id) is not None


def load_draft(db: Session, vault: Vault, cs: ClassSession, student: Student, instrument_id: str) -> dict[str, int]:
    draft = _latest_draft(db, cs, student, instrument_id)
    if draft is None or draft.answers_enc is None:
        return {}
    # the student's own answers back to themselves: audited as such
    reader = vault.reveal(student, "draft.resume", target=f"session:{cs.id}")
    data = reader.get_json(draft, "answers") or {}
    return {str(k): int(v) for k, v in data.items() if v is not None}


def save_draft(db: Session, vault: Vault, cs: ClassSession, student: Student, instrument_id: str,
               answers: Mapping[int, int] | Mapping[str, int]) -> ResponseDraft:
    """Seal the answers given so far (item number, as an int or as the str it is stored as -> value)."""
    draft = db.scalars(
        select(ResponseDraft).where(
            ResponseDraft.session_id == cs.id,
            ResponseDraft.student_id == student.id,
            ResponseDraft.instrument_id == instrument_id,
        )
    ).first()
    if draft is None:
        draft = ResponseDraft(session_id=cs.id, student_id=student.id, instrument_id=instrument_id)
        db.add(draft)
    vault.seal_into(draft, "answers", {str(k): v for k, v in sorted(answers.items())}, student=student)
    draft.updated_at = utcnow()
    db.flush()
    return draft


def drop_draft(db: Session, cs: ClassSession, student: Student, instrument_id: str) -> None:
    """Forget the student's drafts of this instrument in every session of the campaign (it has been submitted)."""
    sessions = select(ClassSession.id).where(ClassSession.campaign_id == cs.campaign_id)
    db.execute(
        delete(ResponseDraft).where(
            ResponseDraft.session_id.in_(sessions),
            ResponseDraft.student_id == student.id,
            ResponseDraft.instrument_id == instrument_id,
        )
    )
