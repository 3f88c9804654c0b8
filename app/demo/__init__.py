"""The demo district (`flask demo seed`), built by steps that areas register.

Each area registers `register_demo_step(order, fn)` where `fn(ctx: DemoContext) -> str` adds its data and
returns a one-line summary that the command prints. Order: roster 10, screenings 20, care 30, rechecks 40,
anything else after. Steps share `ctx` (session, vault, a seeded random generator, "today" and what earlier
steps created), run in one transaction, and must be deterministic for a given seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Callable

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


DemoStep = Callable[[DemoContext], str]
DEMO_STEPS: list[tuple[int, str, DemoStep]] = []


def register_demo_step(order: int, fn: DemoStep) -> None:
    name = f"{fn.__module__}.{fn.__name__}"
    if not any(existing == name for _, existing, _ in DEMO_STEPS):
        DEMO_STEPS.append((order, name, fn))
        DEMO_STEPS.sort(key=lambda item: item[0])
