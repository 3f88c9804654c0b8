"""Demo step (order 20): a campaign across the demo schools, begun two weeks before the demo's today, with screenings.

CES-DC for grades 4–6, PHQ-A and GAD-7 for grades 7–9; answers drawn so that roughly 10–20% of forms are positive
and a handful carry a crisis answer. Everything goes through `record_screening`, like real data. Deterministic for
a given seed (ctx.rng). Uses the schools and students the roster step made (read from the database, so it also
works on factory data).
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select

from models import Actor, Campaign, School, Student, User, counselor_schools
from screening import get_instrument

from .campaigns import InstrumentRule, close_campaign, create_campaign
from .recording import batch, record_screening

RULES = (InstrumentRule("cesdc", 4, 6), InstrumentRule("phqa", 7, 9), InstrumentRule("gad7", 7, 9))
COMPLETION = 0.92  # some students were absent on the day


def _term_of(day: date) -> str:
    """The school term of a day: autumn 1 September - 31 January, spring 1 February - 31 August (the rule of
    app.care.policy.term_of, restated so that screenings do not import the care area)."""
    if day.month >= 9:
        return f"{day.year}-{day.year + 1}-1"
    return f"{day.year - 1}-{day.year}-{1 if day.month == 1 else 2}"


PROFILES = {"calm": (0.70, 0.24, 0.05, 0.01), "low": (0.42, 0.38, 0.15, 0.05), "high": (0.08, 0.27, 0.35, 0.30)}


def recheck_answers(inst_id: str, rng: Any, weights: tuple[float, ...]) -> list[int | None]:
    """Answers to a recheck: drawn with `weights` over each item's values, never a crisis answer."""
    return _weighted_answers(inst_id, weights, rng, crisis=False)


def _answers(inst_id: str, profile: str, rng: Any, crisis: bool) -> list[int | None]:
    return _weighted_answers(inst_id, PROFILES[profile], rng, crisis)


def _weighted_answers(inst_id: str, weights: tuple[float, ...], rng: Any, crisis: bool) -> list[int | None]:
    inst = get_instrument(inst_id)
    out: list[int | None] = []
    for item in inst.items:
        values = sorted(item.values)
        if len(values) == 2:  # yes / no questions (PHQ-A 10–13)
            out.append(0)
            continue
        w = (list(weights) + [0.0] * len(values))[: len(values)]
        if item.reverse:  # a reverse-scored item: a calm child answers at the other end
            w.reverse()
        out.append(rng.choices(values, weights=w)[0])
    if inst_id == "phqa":
        out[8] = (1 if crisis else 0)  # item 9 carries the crisis; a calm demo never has one by chance
        if crisis and rng.random() < 0.5:
            out[12] = 1
    return out


def demo_screenings(ctx: Any) -> str:
    """The term's campaign and its screenings: `ctx.term` (a term of the demo's history, the clock at its end),
    else one campaign two weeks before `ctx.today`. Each school day's screenings are recorded with the clock at
    that morning (app.demo.at), so every stamp (screening, warning, alert, audit) is the day's."""
    from app.demo import at, school_moment

    s = ctx.session
    schools = list(s.scalars(select(School).order_by(School.code)))
    if not schools:
        return "screenings: no schools, nothing to do"
    counselor = s.scalars(select(User).join(counselor_schools, counselor_schools.c.user_id == User.id)
                          .where(User.role == "counselor").order_by(User.id)).first()
    actor = Actor.for_user(counselor) if counselor else Actor.system("demo")
    # Two weeks before the demo's today (clock.today() by default): the screenings lie in the past whatever the
    # clock says, and the campaign's term follows the date (autumn 1 Sep - 31 Jan, spring 1 Feb - 31 Aug).
    history = getattr(ctx, "term", None)
    start = history.starts_on if history is not None else ctx.today - timedelta(days=14)
    term = _term_of(start)
    season = "秋季" if term.endswith("-1") else "春季"
    with at(ctx, school_moment(start - timedelta(days=10), 9, 0)):
        campaign = create_campaign(
            s,
            actor,
            name=f"{term[:4]}学年{season}心理健康筛查",
            term=term,
            starts_on=start,
            ends_on=start + timedelta(days=30),
            schools=schools,
            rules=list(RULES),
            guardian_notice="letter",
            guardian_notice_on=start - timedelta(days=7),
            created_by=counselor,
        )
    students = list(
        s.scalars(select(Student).where(Student.status == "enrolled", Student.grade >= 4).order_by(Student.id))
    )
    ctx.vault.preload_keys(st.data_key_id for st in students)
    plan = _draw(ctx, campaign, students, start)
    count = positive = crises = 0
    for day in sorted({d for d, _, _ in plan}):
        todays = [(st, forms) for d, st, forms in plan if d == day]
        with at(ctx, school_moment(day, 10, 30)) as moment, batch(s, [st for st, _ in todays]):
            for st, forms in todays:
                for inst_id, answers, mode in forms:
                    screening = record_screening(
                        s, actor, ctx.vault, st, inst_id, answers, mode=mode, administered_on=day,
                        campaign=campaign, today=day, recorded_at=moment,
                    )
                    count += 1
                    positive += bool(screening.positive)
                    crises += bool(screening.critical)
    ctx.data["campaign"] = campaign
    ctx.data.setdefault("campaigns", []).append(campaign)
    return (f"screenings: campaign {term} in {len(schools)} schools, {count} screenings, {positive} positive, "
            f"{crises} crises")


def _draw(ctx: Any, campaign: Campaign, students: list, start: date) -> list[tuple[date, Any, list]]:
    """Who is screened on which day with which answers (drawn in student order, so a seed gives the same term)."""
    plan = []
    for st in students:
        if ctx.rng.random() > COMPLETION:
            continue
        roll = ctx.rng.random()
        profile = "high" if roll < 0.08 else ("low" if roll < 0.30 else "calm")
        crisis = st.grade >= 7 and profile == "high" and ctx.rng.random() < 0.2
        day = start + timedelta(days=ctx.rng.randrange(0, 10))
        forms = [(inst_id, _answers(inst_id, profile, ctx.rng, crisis and inst_id == "phqa"),
                  "self" if ctx.rng.random() < 0.85 else "paper")
                 for inst_id in campaign.instruments_for_grade(st.grade)]
        plan.append((day, st, forms))
    return plan


def close_past_campaign(ctx: Any) -> str:
    """Per term (order 45): a past term's campaign closes at the end of its window,
    so its figures are those of a closed campaign; the current term's stays open."""
    from app.demo import at, school_moment

    history = getattr(ctx, "term", None)
    campaign = ctx.data.get("campaign")
    if history is None or history.current or campaign is None:
        return "campaign: still running"
    with at(ctx, school_moment(campaign.ends_on, 17, 0)):  # the window's end (the scheduler's close, by hand)
        close_campaign(ctx.session, Actor.system("demo-seed"), campaign)
    return f"campaign {campaign.term} closed on {campaign.ends_on.isoformat()}"


__all__ = ["close_past_campaign", "demo_screenings", "recheck_answers"]
