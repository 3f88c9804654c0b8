"""One-time form tokens (models/form_tokens.py): a form acted on once, however often it arrives.

`issue()` makes the token a page renders into a hidden `form_token` field (templates: `form_token_field()`).
`spend(db, token, purpose, scope)` records it in the request's transaction; it answers

- `FRESH` the first time: do the work (in the same transaction: a rollback un-spends the token);
- `REPLAY` when the same token was spent for the same purpose and scope: the work is done already — answer as
  if it had just succeeded (the student's retry after a dropped connection), or refuse a second import;
- `FOREIGN` when it was spent for something else, or is not a token at all: refuse.

The database's unique constraint decides between two copies that race; the loser is rolled back to a savepoint.
A missing token (an old page, a client without the field) is `MISSING`: the caller decides (the student entrance
still accepts it — the campaign's unique constraint refuses a second copy anyway).
"""
from __future__ import annotations

import re
import secrets
from enum import Enum
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models import SpentFormToken

FIELD = "form_token"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


class Spend(Enum):
    FRESH = "fresh"
    REPLAY = "replay"
    FOREIGN = "foreign"
    MISSING = "missing"


def issue() -> str:
    return secrets.token_urlsafe(24)


def spend(db: Session, token: str | None, purpose: str, scope: str) -> Spend:
    """Spend `token` for (purpose, scope) in the current transaction; see the module text for the answers."""
    if not token:
        return Spend.MISSING
    if not TOKEN_RE.match(token):
        return Spend.FOREIGN
    known = _find(db, token)
    if known is None:
        try:
            with db.begin_nested():
                db.add(SpentFormToken(token=token, purpose=purpose, scope=scope[:120]))
                db.flush()
            return Spend.FRESH
        except IntegrityError:
            known = _find(db, token)  # a copy of the same form, committed between our look and our insert
            if known is None:
                raise
    return Spend.REPLAY if (known.purpose, known.scope) == (purpose, scope[:120]) else Spend.FOREIGN


def already_sent(db: Session, form: Any, purpose: str, scope: str) -> bool:
    """For a staff form acted on once (an import's confirmation): spend the posted token; True when this is a
    second copy of a form already acted on (or a token spent elsewhere), which the caller refuses. A form without
    a token (a page from before tokens) is let through: what it does has its own guard (a pending upload is
    forgotten once imported; a campaign's screening is stored once)."""
    return spend(db, form.get(FIELD), purpose, scope) in (Spend.REPLAY, Spend.FOREIGN)


def _find(db: Session, token: str) -> SpentFormToken | None:
    return db.scalars(select(SpentFormToken).where(SpentFormToken.token == token)).first()
