"""The demo district (`flask demo seed`), built by steps that areas register.

Each area declares `DemoStep(order, fn)` in its `area.py` (app/areas.py), where `fn(ctx: DemoContext) -> str`
adds its data and returns a one-line summary that the command prints. Order: roster 10, screenings 20, care 30,
rechecks 40, anything else after. Steps share `ctx` (session, vault, a seeded random generator, "today" and what earlier
steps created), run in one transaction, and must be deterministic for a given seed.

History: the district has the terms of `demo_terms(today)` (two school years and more, an autumn and a spring
screening each, the last one in the term of the current campaign). A step declared `each_term=True` runs once
per term, oldest first, with `ctx.term` set, `ctx.today` at that term's "today" (the end of its story for a past
term, the real today for the current one) and the clock travelled there (models.clock.travel), so every stamp the
services write is the time of the story. Steps run first once (setup: those ordered below the first per-term
step), then per term, then once (finish: those ordered above the last per-term step).
"""
from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from models import clock
from models.crypto import KeyRing
from models.vault import Vault


@dataclass(frozen=True)
class DemoTerm:
    """One term of the demo's history: its campaign starts on `starts_on`; `today` is the day its story is told
    up to (a past term: near its end, everything followed up; the current term: the demo's today)."""

    term: str  # e.g. 2026-2027-1 (autumn) or 2026-2027-2 (spring)
    starts_on: date
    today: date
    current: bool

    @property
    def school_year(self) -> str:
        return self.term[:9]

    @property
    def autumn(self) -> bool:
        return self.term.endswith("-1")


def term_of(day: date) -> str:
    """The school term of a day: autumn 1 September - 31 January, spring 1 February - 31 August (the rule of
    app.care.policy.term_of)."""
    if day.month >= 9:
        return f"{day.year}-{day.year + 1}-1"
    return f"{day.year - 1}-{day.year}-{1 if day.month == 1 else 2}"


def _previous_term(term: str) -> str:
    start = int(term[:4])
    return f"{start}-{start + 1}-1" if term.endswith("-2") else f"{start - 1}-{start}-2"


def demo_terms(today: date, lead_days: int = 14) -> list[DemoTerm]:
    """The demo's terms, oldest first: the current campaign begins `lead_days` before `today`, in that day's term;
    before it, every term back to an autumn two school years' worth earlier (4 terms when the current one is a
    spring term, 5 when it is an autumn term), each screened in October or March and followed up to its end."""
    start = today - timedelta(days=lead_days)
    current = term_of(start)
    terms = [DemoTerm(current, start, today, True)]
    name = current
    while len(terms) < (4 if current.endswith("-2") else 5):
        name = _previous_term(name)
        year = int(name[:4])
        if name.endswith("-1"):  # autumn: screened mid-October, followed up until the winter holiday
            terms.append(DemoTerm(name, date(year, 10, 12), date(year + 1, 1, 20), False))
        else:  # spring: screened in March, followed up until the summer holiday
            terms.append(DemoTerm(name, date(year + 1, 3, 9), date(year + 1, 6, 30), False))
    return terms[::-1]


@dataclass
class DemoContext:
    session: Session
    keyring: KeyRing
    vault: Vault
    rng: random.Random
    today: date
    password: str
    data: dict[str, Any] = field(default_factory=dict)  # what earlier steps made: schools, users, students...
    terms: list[DemoTerm] = field(default_factory=list)  # the history (empty: one term, today's, as before)
    term: DemoTerm | None = None  # the term a per-term step is telling (None: setup, finish, or no history)



def school_moment(day: date, hour: int, minute: int = 0) -> datetime:
    """`day` at hour:minute in the school time zone, aware."""
    return datetime.combine(day, time(hour, minute), tzinfo=clock.school_timezone())


@contextmanager
def at(ctx: DemoContext, moment: datetime) -> Iterator[datetime]:
    """The clock at `moment` for the block (never later than the clock of the step: the story has no future), and
    a flush before it ends, so that every stamp the services and the column defaults write is that moment's."""
    moment = min(moment, clock.now())
    with clock.travel(moment) as instant:
        yield instant
        ctx.session.flush()
