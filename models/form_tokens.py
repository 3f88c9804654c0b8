"""One-time form tokens, spent: the database's unique constraint is what makes a form count once.

A form that must not be acted on twice (a student's questionnaire page, an import, another long POST) carries a
random token issued when the page was rendered (app/form_tokens.py). Acting on the form spends the token by
inserting its row in the same transaction as the work; a second copy of the same form (a double click, a retry
after a dropped connection, a resent request) finds the row — or, racing, hits the unique constraint — and is
answered from `result` (idempotent replay) or refused.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, UTCDateTime, utcnow


class SpentFormToken(Base):
    __tablename__ = "spent_form_tokens"
    __table_args__ = (UniqueConstraint("token", name="uq_spent_form_tokens_token"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64))
    # what the form was: "student-submit", "roster-import", ... A token spent for one purpose is refused for another.
    purpose: Mapped[str] = mapped_column(String(40))
    # who and what it was for, to answer a replay ("student:12:phqa"); never answers or names
    scope: Mapped[str] = mapped_column(String(120))
    spent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
