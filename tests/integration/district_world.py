"""A small hand-built district for the district statistics tests, with counts worked out by hand.

School A 城区中学 (urban, junior): 20 students in grade 7 (10 boys, 10 girls); 18 screened (9 + 9); 6 positive
  (3 boys, 3 girls); 2 of the positives are care-group (left-behind) students out of 6 screened care students.
School B 农村小学 (rural small, primary): 8 students in grade 3 (4 boys, 4 girls); 6 screened; 2 positive.
School C 寄宿制中学 (township boarding, junior): 12 students in grade 8 (6 boys, 6 girls); 12 screened; 3 positive.

District: 40 enrolled, 36 screened (coverage 90.0%), 11 positive students (rate 30.6%).
Crises (level-1 warnings) in school A: 6, of which 5 were contacted the same Shanghai day (one is contacted at
00:30 local the next day although it is the same UTC day; one is created at 01:00 local and contacted the same
local day although the UTC dates differ). Interviews due (level-3 warnings in school C): 6, on time 5.
Counselors: A has one full-time, B none (a staffing gap), C one part-time only (also a gap).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from models import Campaign, Screening, Warning
from models.screenings import CampaignInstrument

TERM = "2026-2027-1"


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@dataclass
class World:
    schools: dict[str, object]
    students: list[object] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    numbers: list[str] = field(default_factory=list)
    campaign: object = None
    district_user: object = None


def build(factory) -> World:  # type: ignore[no-untyped-def]
    s = factory.session
    a = factory.school(name="城区中学", type="urban", stage="junior")
    b = factory.school(name="农村小学", type="rural_small", stage="primary")
    c = factory.school(name="寄宿制中学", type="township_boarding", stage="junior")
    world = World({"A": a, "B": b, "C": c})
    campaign = Campaign(
        name="秋季测评", term=TERM, starts_on=date(2026, 9, 1), ends_on=date(2026, 9, 30), status="open"
    )
    campaign.schools = [a, b, c]
    campaign.instruments = [CampaignInstrument(instrument_id="cesdc", grade_from=1, grade_to=9)]
    s.add(campaign)
    s.flush()
    world.campaign = campaign

    def add_students(school, grade, per_gender, screened_per_gender, positive, care=0):  # type: ignore[no-untyped-def]
        """`positive(gender, i)` says whether the i-th screened student of that gender is positive; the first
        `care` boys are left-behind children."""
        klass = factory.klass(school, grade=grade)
        made = []
        for gender in ("M", "F"):
            for i in range(per_gender):
                n = len(world.students) + 1
                name, number = f"测试生{n:03d}", f"G31{n:08d}"
                groups = ["left_behind"] if (gender == "M" and i < care) else []
                st = factory.student(school=school, klass=klass, name=name, number=number, gender=gender, groups=groups)
                world.students.append(st)
                world.names.append(name)
                world.numbers.append(number)
                if i < screened_per_gender:
                    made.append((st, positive(gender, i)))
        for st, pos in made:
            s.add(
                Screening(
                    student_id=st.id,
                    school_id=school.id,
                    class_id=klass.id,
                    grade=grade,
                    campaign_id=campaign.id,
                    instrument_id="cesdc",
                    instrument_version="1.0",
                    mode="paper",
                    administered_on=date(2026, 9, 10),
                    valid=True,
                    total=20 if pos else 5,
                    positive=pos,
                    critical=False,
                    suggested_level="L3" if pos else "none",
                )
            )
        s.flush()
        return made

    # A: boys 0-5 are care students, boys 0 and 1 (care) and 6 (not care) positive; girls 0-2 positive.
    made_a = add_students(a, 7, 10, 9, lambda g, i: i in (0, 1, 6) if g == "M" else i < 3, care=6)
    add_students(b, 3, 4, 3, lambda g, i: i == 0)
    made_c = add_students(c, 8, 6, 6, lambda g, i: g == "F" and i < 3)

    screenings_a = {st.id: s.query(Screening).filter_by(student_id=st.id).one() for st, _ in made_a}
    a_students = [st for st, _ in made_a]
    crises = [
        (utc(2026, 9, 10, 2, 0), utc(2026, 9, 10, 3, 0)),
        (utc(2026, 9, 10, 2, 0), utc(2026, 9, 10, 9, 0)),
        (utc(2026, 9, 11, 1, 0), utc(2026, 9, 11, 8, 0)),
        (utc(2026, 9, 12, 0, 30), utc(2026, 9, 12, 10, 0)),
        (utc(2026, 9, 10, 15, 30), utc(2026, 9, 10, 16, 30)),  # 23:30 -> 00:30 local: NOT the same day
        (utc(2026, 9, 10, 17, 0), utc(2026, 9, 11, 1, 0)),  # 01:00 -> 09:00 local on the 11th: the same day
    ]
    for st, (created, contact) in zip(a_students[:len(crises)], crises, strict=True):  # the first six have one
        s.add(Warning(student_id=st.id, school_id=a.id, screening_id=screenings_a[st.id].id, suggested_level="L1",
                      confirmed_level="L1", status="confirmed", created_at=created, first_contact_at=contact,
                      confirmed_at=contact, acknowledged_at=contact))
    c_students = [st for st, _ in made_c]
    for i, st in enumerate(c_students[:6]):
        scr = s.query(Screening).filter_by(student_id=st.id).one()
        due = date(2026, 9, 24)
        confirmed = utc(2026, 9, 20, 4, 0) if i < 5 else utc(2026, 9, 25, 4, 0)
        s.add(Warning(student_id=st.id, school_id=c.id, screening_id=scr.id, suggested_level="L3", confirmed_level="L3",
                      status="confirmed", created_at=utc(2026, 9, 10, 4, 0), interview_due_on=due,
                      confirmed_at=confirmed))
    s.flush()
    factory.user("counselor", schools=[a])
    part = factory.user("counselor", schools=[c])
    part.full_time = False
    world.district_user = factory.user("district")
    s.flush()
    return world
