"""Shared setup for the screenings tests: a school, a grade-7 class, students, a counselor, a campaign, a session."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from app.screenings.campaigns import InstrumentRule, create_campaign
from app.screenings.sessions import open_session
from models import Actor, clock

PHQA_CRISIS = [1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
PHQA_CALM = [0] * 13
GAD7_CALM = [0] * 7


@dataclass
class Setup:
    school: Any
    klass: Any
    students: list
    counselor: Any
    campaign: Any
    session: Any
    numbers: list
    keyring: Any = None

    def code(self, i: int = 0, session: Any = None) -> str:
        """Student i's personal entry code for the session (as the counselor's console shows it)."""
        from app.screenings.entry_codes import codes_of

        cs = session or self.session
        return codes_of(self.counselor_db, self.keyring, cs)[self.students[i].id].code

    counselor_db: Any = None


def build(factory: Any, db_session: Any, *, n: int = 3, minutes: int = 60, grade: int = 7,
          rules: list[InstrumentRule] | None = None) -> Setup:
    school = factory.school()
    klass = factory.klass(school, grade=grade)
    numbers = [f"S7{factory_seq(i)}" for i in range(n)]
    students = [factory.student(school=school, klass=klass, number=numbers[i], birth_ym=f"2013-0{i + 1}")
                for i in range(n)]
    counselor = factory.counselor(school)
    actor = Actor.for_user(counselor)
    campaign = create_campaign(
        db_session,
        actor,
        name="秋季筛查",
        term="2026-2027-1",
        starts_on=clock.today() - timedelta(days=1),
        ends_on=clock.today() + timedelta(days=30),
        schools=[school],
        rules=rules or [
            InstrumentRule("cesdc", 4, 6),
            InstrumentRule("phqa", 7, 9),
            InstrumentRule("gad7", 7, 9),
            InstrumentRule("psc17", 7, 9),
        ],
        guardian_notice="letter",
        guardian_notice_on=clock.today() - timedelta(days=7),
        created_by=counselor,
    )
    cs = open_session(db_session, actor, campaign, klass, minutes=minutes, user=counselor, keyring=factory.keyring)
    db_session.flush()
    return Setup(school, klass, students, counselor, campaign, cs, numbers, factory.keyring, db_session)


_counter = [0]


def factory_seq(i: int) -> str:
    _counter[0] += 1
    return f"{_counter[0]:05d}{i}"


def answers_form(answers: list, instrument: str) -> dict:
    data = {"instrument": instrument}
    for i, a in enumerate(answers, start=1):
        if a is not None:
            data[f"q{i}"] = str(a)
    return data
