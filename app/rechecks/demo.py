"""Demo step 40 (each term): the rechecks that confirmed levels planned, done as a counselor does them, then cases
closed and reviewed, and (in the current term) one sweep.

Confirming a level (care, order 30) plans its recheck through the level_confirmed signal, due from the day of the
confirmation. Here every recheck that has fallen due by the term's "today" is done by a recheck screening
(`record_screening(..., recheck=...)`, which completes it and plans the follow-up while the case stays open),
recorded with the clock at that day: most on time, some late; in the current term now and then one is still
outstanding (overdue). At a past term's end, cases whose last two rechecks were negative are closed by their
counselor and the others' plans are reviewed for the next term. In the current term, one sweep at the demo's
"today" creates the notifications a counselor would have by now. Deterministic per seed.
"""
from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from models import Actor, CareCase, Recheck, Student, User, counselor_schools

from .service import OPEN_STATUSES

LATE = 0.25  # rechecks done a few days after their due date
LEFT_UNDONE = 0.12  # in the current term: due rechecks nobody has done yet
RECOVERED = (0.80, 0.17, 0.03, 0.0)  # answer weights at a recheck: most students are better by then


def seed_rechecks(ctx) -> str:
    from app.scheduler.jobs import by_hand_sweeps, run_sweep

    from .policy import load_recheck_policy
    from .service import school_timezone

    db, today = ctx.session, ctx.today
    term = getattr(ctx, "term", None)
    current = term is None or term.current
    counselors = _counselors(db)
    done = late = closed = 0
    left: set[int] = set()
    while True:  # follow-ups planned by completed rechecks may fall due within the term too
        rows = [r for r in db.scalars(select(Recheck).where(Recheck.status.in_(OPEN_STATUSES),
                                                            Recheck.due_on <= today)
                                      .order_by(Recheck.due_on, Recheck.id)) if r.id not in left]
        if not rows:
            break
        for r in rows:
            is_late = ctx.rng.random() < LATE
            day = r.due_on + timedelta(days=ctx.rng.randint(1, 6)) if is_late else r.due_on - timedelta(
                days=ctx.rng.randint(0, 2))
            if day > today or (current and ctx.rng.random() < LEFT_UNDONE) or r.school_id not in counselors:
                left.add(r.id)  # still to do (or done after the story's today)
                continue
            _do_recheck(ctx, counselors[r.school_id], r, max(day, _planned_on(r)))
            done += 1
            late += is_late
            closed += _close_if_recovered(ctx, counselors[r.school_id], r)
    reviewed = 0
    if not current:
        reviewed = _term_end(ctx, counselors)
    created = 0
    if current:
        tz = school_timezone()
        now = datetime.combine(today, time(8, 0), tzinfo=tz).astimezone(UTC)
        policy = load_recheck_policy()
        for sweep in by_hand_sweeps():
            if sweep.name != "mail":
                created += run_sweep(sweep.name, db, now, policy, tz).get("notifications_created", 0)
    open_now = db.scalar(select(Recheck.id).where(Recheck.status.in_(OPEN_STATUSES)).limit(1)) is not None
    tail = (f"; one sweep created {created} notifications" if current
            else f"; {closed} cases closed, {reviewed} reviewed")
    return f"rechecks: {done} done ({late} late), {len(left)} due still to do{'' if open_now else ', none open'}{tail}"


def _counselors(db) -> dict[int, User]:
    out: dict[int, User] = {}
    for user_id, school_id in db.execute(select(counselor_schools.c.user_id, counselor_schools.c.school_id)
                                         .order_by(counselor_schools.c.school_id, counselor_schools.c.user_id)):
        if school_id not in out:
            out[school_id] = db.get(User, user_id)
    return out


def _planned_on(r: Recheck) -> date:
    """Never before the day the recheck was planned (a follow-up planned on its predecessor's day)."""
    from .service import local_date

    return local_date(r.created_at)


def _do_recheck(ctx, counselor: User, r: Recheck, day: date) -> None:
    """The recheck screening, recorded by the counselor that day (the rechecks area completes the recheck)."""
    from app.demo import at, school_moment
    from app.screenings.demo import recheck_answers
    from app.screenings.recording import record_screening

    student = ctx.session.get(Student, r.student_id)
    if student is None or student.status != "enrolled":
        return
    with at(ctx, school_moment(day, 14, ctx.rng.randint(0, 50))) as moment:
        record_screening(ctx.session, Actor.for_user(counselor), ctx.vault, student, r.instrument_id,
                         recheck_answers(r.instrument_id, ctx.rng, RECOVERED), mode="paper", administered_on=day,
                         recheck=r, today=day, recorded_at=moment)


def _close_if_recovered(ctx, counselor: User, r: Recheck) -> int:
    """After a recheck: the counselor closes the case once its last two rechecks were negative (the default rule),
    unless a level-1 case's crisis response is incomplete."""
    from app.care import service as care
    from app.care.errors import CareError
    from app.demo import at

    case = ctx.session.get(CareCase, r.case_id) if r.case_id is not None else None
    if case is None or case.status == "closed" or not care.closing_suggested(ctx.session, case):
        return 0
    with at(ctx, (r.completed_at or case.opened_at) + timedelta(minutes=40)):
        try:
            care.close_case(ctx.session, Actor.for_user(counselor), ctx.vault, case,
                            "连续两次复查阴性，学生情绪稳定，经评估结案")
        except CareError:
            return 0
    return 1


def _term_end(ctx, counselors: dict[int, User]) -> int:
    """A past term's last week: the plans of the cases still open are reviewed, the next review in the next term."""
    from app.care import service as care
    from app.care.policy import term_start
    from app.demo import at, school_moment

    db = ctx.session
    nxt = ctx.terms[ctx.terms.index(ctx.term) + 1]
    reviewed = 0
    for case in db.scalars(select(CareCase).where(CareCase.status != "closed").order_by(CareCase.id)).all():
        counselor = counselors.get(case.school_id)
        if counselor is None:
            continue
        if nxt.current:  # reviewed again in the weeks after the demo's today
            review = nxt.today + timedelta(days=ctx.rng.randint(8, 40))
        else:
            review = max(term_start(nxt.term), nxt.starts_on) + timedelta(days=ctx.rng.randint(7, 40))
        with at(ctx, school_moment(ctx.today - timedelta(days=ctx.rng.randint(1, 5)), 15, 0)):
            actor = Actor.for_user(counselor)
            care.update_plan(db, actor, ctx.vault, case, care_plan(), review)
            review_safety_plan(ctx, actor, case, review)
        reviewed += 1
    return reviewed


def review_safety_plan(ctx, actor: Actor, case: CareCase, review: date) -> bool:
    from app.care.demo import review_safety_plan as review_plan

    return review_plan(ctx, actor, case, review)


def care_plan() -> dict[str, str]:
    from app.care.demo import PLAN

    return PLAN
