"""Tests that check the audit chain right after actions must link it first: appends only insert events, and the
scheduler's `audit_link` job (models/audit.py `link_pending`) chains them a second later in production."""
from __future__ import annotations

from sqlalchemy.orm import Session

from models.audit import ChainBreak, LinkResult, link_pending, verify_chain


def link_audit(session: Session) -> LinkResult:
    """Link every event appended so far, in the caller's transaction (as the linker job would)."""
    return link_pending(session)


def linked_chain(session: Session) -> tuple[int, ChainBreak | None]:
    """Link what is pending, then walk the chain: (events verified, first break or None)."""
    link_pending(session)
    return verify_chain(session)
