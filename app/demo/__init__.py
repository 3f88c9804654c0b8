"""The demo district (`flask demo seed`), built by steps that areas register.

Each area declares `DemoStep(order, fn)` in its `area.py` (app/areas.py), where `fn(ctx: DemoContext) -> str`
adds its data and returns a one-line summary that the command prints. Order: roster 10, screenings 20, care 30,
rechecks 40, anything else after. Steps share `ctx` (session, vault, a seeded random generator, "today" and what earlier
steps created), run in one transaction, and must be deterministic for a given seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from models.crypto import KeyRing
from models.vault import Vault


@dataclass
class DemoContext:
    session: Session
    keyring: KeyRing
    vault: Vault
    rng: random.Random
    today: date
    password: str
    data: dict[str, Any] = field(default_factory=dict)  # what earlier steps made: schools, users, students...

