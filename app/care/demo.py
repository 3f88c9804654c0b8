"""Demo step 30 (each term): confirmed levels, open cases with plans and timelines, referrals with feedback,
check-ins.

The counselors are shown at work, each action at the moment of the story (the clock travelled there, so the
timeliness figures see real delays): most crises seen within hours of the screening, some a day or more late;
most interviews within the policy's window, some after it. A past term is followed up to its end; in the current
term a handful of interviews are still to do and two crises are not yet acknowledged.

Works on the warnings the screenings step (20) created; without them it only records care-group check-ins.
Deterministic for a given seed: rows are taken in id order and choices come from `ctx.rng`.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import (
    Actor,
    CareCheckin,
    Student,
    StudentCareGroup,
    User,
    Warning,
    append_event,
    clock,
    counselor_schools,
    utcnow,
)

from . import crisis, service, warning_lifecycle
from .errors import CareError
from .policy import term_of, term_start, triggering_groups

UNACKNOWLEDGED_CRISES = 2  # crises still waiting for a counselor to acknowledge them (the rest were handled)
CHECKINS_MISSED = 0.03  # care-group students whose termly check-in is still to do

PLAN = {
    "goals": "稳定情绪，恢复正常作息和学习；每周至少一次与同伴的积极交往",
    "measures": "每周一次个别辅导；班主任每天关注；与家长每两周沟通一次；必要时转介专业机构",
    "responsibilities": "心理教师：个别辅导与随访；班主任：日常观察并记录；家长：关注在家情绪与睡眠",
}


def seed_care(ctx) -> str:
    """Per term: each warning of the term's screening handled by its school's counselor at the moment of the
    story (the clock travelled there: app.demo.at), every action of the term in time order. A past term is
    followed up to its end; the current term leaves a few interviews and two crises still to do."""
    from app.demo import at

    db = ctx.session
    term = getattr(ctx, "term", None)
    past = term is not None and not term.current
    counselors: dict[int, User] = {}
    for user_id, school_id in db.execute(
        select(counselor_schools.c.user_id, counselor_schools.c.school_id).order_by(
            counselor_schools.c.school_id, counselor_schools.c.user_id)
    ):
        if school_id not in counselors:
            counselors[school_id] = db.get(User, user_id)
    warnings = db.scalars(
        select(Warning).options(selectinload(Warning.history), selectinload(Warning.student))
        .where(Warning.status == "suggested", Warning.suggested_level.in_(("L1", "L2", "L3")))
        .order_by(Warning.id)
    ).all()
    pending = set() if past else _still_pending(ctx, warnings, counselors)
    actions: list[tuple[datetime, int, Callable[[], None]]] = []
    tally: Counter[str] = Counter()
    for warning in warnings:
        counselor = counselors.get(warning.school_id)
        if counselor is None or warning.id in pending:
            continue
        _plan_warning(ctx, Actor.for_user(counselor), warning, actions, tally, first_crisis=not tally["crisis"])
    for moment, _n, action in sorted(actions, key=lambda a: (a[0], a[1])):
        with at(ctx, moment):
            action()
    checkins = _seed_checkins(ctx, counselors)
    late = f", {tally['crisis_late']} crises seen a day or more late" if tally["crisis_late"] else ""
    return (f"care: {tally['confirmed']} levels confirmed, {tally['dismissed']} dismissed, {tally['cases']} cases, "
            f"{tally['referrals']} referrals with feedback, {tally['assessed']} safety assessments{late}, "
            f"{checkins} care-group check-ins")


CRISIS_LATE = 0.2  # crises first seen on a later day (absent, the alert read the next morning)
INTERVIEW_LATE = 0.15  # interviews after the policy's window (exams, absence, a busy counselor)


def _plan_warning(ctx, actor: Actor, warning: Warning, actions: list, tally: Counter, first_crisis: bool) -> None:
    """Draw the story of one warning (in id order, so a seed gives the same story) and queue its actions."""
    from app.demo import school_moment

    rng, today = ctx.rng, ctx.today
    student = warning.student
    created = warning.created_at
    story: dict[str, Any] = {"case": None}

    def queue(moment: datetime, fn: Callable[[], None]) -> None:
        actions.append((moment, len(actions), fn))

    if warning.suggested_level == "L1":
        tally["crisis"] += 1
        if rng.random() < CRISIS_LATE and not first_crisis:
            day = crisis.local_day(created) + timedelta(days=rng.randint(1, 3))
            seen = school_moment(day, 8, rng.randint(10, 50))
            tally["crisis_late"] += 1
        else:
            seen = created + timedelta(hours=2)
        outcome = "imminent" if first_crisis else ("further_evaluation" if rng.random() < 0.7 else "no_current_risk")
        plan_review = crisis.local_day(seen) + timedelta(days=rng.randint(5, 14))
        with_plan = not (outcome == "no_current_risk" and rng.random() < 0.25)
        queue(seen, lambda: _crisis_response(ctx, actor, warning, story, outcome, tally))
        queue(seen + timedelta(hours=1), lambda: _confirm(ctx, actor, warning, "L1", story, tally))
        if with_plan:
            queue(seen + timedelta(hours=1, minutes=30), lambda: _safety_plan(ctx, actor, story, plan_review))
        opened = crisis.local_day(seen)
        level = "L1"
        story_outcome = outcome
    else:
        screened = crisis.local_day(created)
        late = rng.random() < INTERVIEW_LATE
        window = (3, 9) if warning.suggested_level == "L2" else (15, 25)
        delay = rng.randint(*window) if late else rng.randint(0, 3 if warning.suggested_level == "L2" else 10)
        opened = min(screened + timedelta(days=delay), today)
        seen = max(_school_hours(ctx, opened), created + timedelta(minutes=rng.randint(40, 300)))  # after it came in
        if warning.suggested_level == "L3" and rng.random() < 0.25:
            queue(seen, lambda: _dismiss(ctx, actor, warning, tally))
            return
        level = warning.suggested_level
        story_outcome = None
        if level == "L2" and rng.random() < 0.2:
            level = "L3"
        queue(seen, lambda: _confirm(ctx, actor, warning, level, story, tally))
    # reviews spread over the coming weeks; in the current term now and then one slipped by a day or two
    current = getattr(ctx.term, "current", True)
    if not current:
        review = opened + timedelta(days=rng.randint(7, 28))
    elif rng.random() < 0.06:
        review = today - timedelta(days=rng.randint(1, 3))
    else:
        review = today + timedelta(days=rng.randint(1, 28))
    queue(seen + timedelta(minutes=20), lambda: _first_interview(ctx, actor, student, story, opened, review))
    contact_day = min(opened + timedelta(days=1), today)
    queue(school_moment(contact_day, 16, 10), lambda: _entry(
        ctx, actor, student, story, "parent_contact", contact_day, "电话联系家长，说明情况，家长表示会多陪伴孩子",
        visibility="shared"))
    if level != "L1":
        return
    queue(seen + timedelta(minutes=30), lambda: _entry(
        ctx, actor, student, story, "confidentiality", opened, "学生存在自伤风险，按规定告知监护人和分管校长",
        told_whom="监护人（母亲）、分管副校长"))
    # a "further evaluation" outcome is referred within days (app/care/crisis.py); other crises now and then
    if not (story_outcome == "further_evaluation" or tally["referral_planned"] == 0 or rng.random() < 0.3):
        return
    tally["referral_planned"] += 1
    sent = min(opened + timedelta(days=2), today)
    queue(school_moment(sent, 11, 0), lambda: _referral(ctx, actor, student, story, sent))
    queue(school_moment(min(sent + timedelta(days=5), today), 14, 0), lambda: _referral_feedback(
        ctx, actor, student, story, tally))
    back = opened + timedelta(days=9)
    if back <= today:
        queue(school_moment(back, 9, 0), lambda: _entry(ctx, actor, student, story, "return", back,
                                                        "学生返校，情绪较前平稳", visibility="shared"))


def _confirm(ctx, actor: Actor, warning: Warning, level: str, story: dict, tally: Counter) -> None:
    try:
        story["case"] = warning_lifecycle.confirm_level(
            ctx.session, actor, ctx.vault, warning, level, "已约谈，学生自述近期情绪低落，与筛查结果一致")
    except CareError:
        # the student's level-1 case is still in its crisis response: this less urgent warning is talked
        # through in the same interviews and set aside
        _dismiss(ctx, actor, warning, tally)
        return
    tally["confirmed"] += 1
    tally["cases"] += story["case"] is not None


def _dismiss(ctx, actor: Actor, warning: Warning, tally: Counter) -> None:
    warning_lifecycle.dismiss_warning(ctx.session, actor, ctx.vault, warning,
                                      "约谈后学生情绪稳定，近期考试压力所致，暂不预警")
    tally["dismissed"] += 1


def _entry(ctx, actor: Actor, student: Student, story: dict, kind: str, day: date, text: str, **extra) -> Any:
    if story["case"] is None:
        return None
    return service.add_entry(ctx.session, actor, ctx.vault, student, kind, day, text, case=story["case"], **extra)


def _first_interview(ctx, actor: Actor, student: Student, story: dict, day: date, review: date) -> None:
    if _entry(ctx, actor, student, story, "interview", day, "首次约谈：了解近期学习和家庭情况，约定下周再谈"):
        service.update_plan(ctx.session, actor, ctx.vault, story["case"], PLAN, review)


def _referral(ctx, actor: Actor, student: Student, story: dict, day: date) -> None:
    story["referral"] = _entry(ctx, actor, student, story, "referral", day, "持续情绪低落并有自伤念头，建议专业评估",
                               destination="区精神卫生中心儿童青少年门诊", referral_status="sent")


def _referral_feedback(ctx, actor: Actor, student: Student, story: dict, tally: Counter) -> None:
    entry = story.get("referral")
    if entry is None:
        return
    service.update_referral(ctx.session, actor, ctx.vault, entry, student, "feedback",
                            "已就诊，建议学校继续心理支持，两周后复诊")
    tally["referrals"] += 1


ANSWERS = {
    "imminent": {"thoughts": ("yes", "最近每天都有，此刻仍有想死的念头"), "plan": ("yes", "想过从楼顶跳下"),
                 "past_attempts": ("no", ""), "means": ("yes", "住在高层，能上天台"),
                 "supports": ("yes", "愿意让妈妈知道")},
    "further_evaluation": {"thoughts": ("yes", "近两周有过几次，睡前较多，此刻没有"), "plan": ("no", "没有具体计划"),
                           "past_attempts": ("no", ""), "means": ("unknown", "家中药品情况待与家长确认"),
                           "supports": ("yes", "信任班主任和一位同学")},
    "no_current_risk": {"thoughts": ("no", "作答时误解题意，约谈中否认有自伤想法"), "plan": ("no", ""),
                        "past_attempts": ("no", ""), "means": ("no", ""), "supports": ("yes", "与父母关系良好")},
}
REASONS = {
    "imminent": "此刻有自杀想法且有具体计划、可接触手段，属急迫风险，立即紧急转介并告知监护人",
    "further_evaluation": "近期反复出现自杀想法但无计划和既往尝试，需转介专业机构进一步评估",
    "no_current_risk": "约谈中学生否认自伤想法，情绪基本稳定，目前无风险，制定安全计划并继续观察",
}
SAFETY_PLAN = {
    "warning_signs": "晚上一个人在房间、考试成绩不好、和家里吵架以后，会觉得什么都没意思",
    "coping": "听喜欢的歌，画画，做几次深呼吸，写下心里的话",
    "distractions": "去操场跑步，找同桌聊天，去奶奶家",
    "help_people": "妈妈；班主任王老师；好朋友小林",
}


def _crisis_response(ctx, actor: Actor, warning: Warning, story: dict, outcome: str, tally: Counter) -> None:
    """The brief safety assessment when the counselor first sees the student (the same school day for most
    crises), and the steps its outcome requires then and there."""
    db = ctx.session
    answers = {q: {"answer": a, "note": n} for q, (a, n) in ANSWERS[outcome].items()}
    at = clock.now()
    crisis.record_assessment(db, actor, ctx.vault, warning, answers, outcome, REASONS[outcome], at=at)
    story["outcome"] = outcome
    tally["assessed"] += 1
    if outcome == "imminent":
        story["emergency"] = True


def review_safety_plan(ctx, actor: Actor, case, review: date) -> bool:
    """A termly review of an open case's safety plan (the same steps, the next review date); False: none."""
    if crisis.plan_of(ctx.session, case) is None:
        return False
    crisis.save_safety_plan(ctx.session, actor, ctx.vault, case, _plan_steps(), review, at=clock.now())
    return True


def _plan_steps() -> dict[str, str]:
    from app.support_resources import professionals_text

    return {**SAFETY_PLAN, "professionals": "学校心理老师（心理辅导室）\n" + professionals_text("zh"),
            "environment": "药品交给妈妈保管；晚上房门不反锁"}


def _safety_plan(ctx, actor: Actor, story: dict, review: date) -> None:
    case = story["case"]
    if case is None:
        return
    db = ctx.session
    if story.get("emergency"):  # recorded once the case is open: the guardian told, the emergency referral
        day = clock.today()
        service.add_entry(db, actor, ctx.vault, case.student, "parent_contact", day,
                          "当天电话告知母亲，母亲到校陪同", case=case)
        service.add_entry(db, actor, ctx.vault, case.student, "referral", day, "急迫自杀风险，当天紧急转介",
                          case=case, destination="市精神卫生中心急诊", referral_status="accepted", emergency=True)
    crisis.save_safety_plan(db, actor, ctx.vault, case, _plan_steps(), review, at=clock.now())


def _still_pending(ctx, warnings: list[Warning], counselors: dict[int, User]) -> set[int]:
    """The warnings a working counselor has not got to yet: 2–3 interviews per school (mostly due this week, now and
    then one a few days late) and UNACKNOWLEDGED_CRISES crises, taken first in the demo counselor's schools. Every
    other October warning has been confirmed or dismissed after its interview."""
    rng, today = ctx.rng, ctx.today
    mine = {s.id for s in getattr(ctx.data.get("users", {}).get("counselor"), "schools", [])}
    pending: set[int] = set()
    by_school: dict[int, list[Warning]] = {}
    for w in warnings:
        if w.suggested_level != "L1" and w.school_id in counselors:
            by_school.setdefault(w.school_id, []).append(w)
    for school_id in sorted(by_school):
        rows = by_school[school_id]
        chosen = sorted(rng.sample(rows, min(len(rows), rng.randint(2, 3))), key=lambda w: w.id)
        for k, w in enumerate(chosen):
            late = k == 0 and rng.random() < 0.5
            # the interview was rescheduled (absence, exams): due in the coming days, or just missed
            w.interview_due_on = (
                today - timedelta(days=rng.randint(1, 3)) if late else today + timedelta(days=rng.randint(0, 5))
            )
            pending.add(w.id)
    crises = [w for w in warnings if w.suggested_level == "L1" and w.school_id in counselors]
    crises.sort(key=lambda w: (w.school_id not in mine, w.id))
    pending.update(w.id for w in crises[:UNACKNOWLEDGED_CRISES])
    ctx.session.flush()
    return pending


def _interview_day(ctx, warning: Warning) -> date:
    """The day the counselor saw the student about this warning: a crisis the same day (its crisis response is
    dated from the warning, see _seed_crisis_response), most others within the week, now and then one later; never
    before the screening and never after today."""
    rng, today = ctx.rng, ctx.today
    screened = warning.created_at.astimezone(clock.school_timezone()).date()
    if warning.suggested_level == "L1":
        delay = 0
    else:
        delay = rng.randint(0, 5) if rng.random() < 0.9 else rng.randint(6, 12)
    return min(screened + timedelta(days=delay), today)


def _school_hours(ctx, day: date) -> datetime:
    """An instant on `day` in school hours (08:30–16:30 in the school zone), never later than now."""
    minutes = ctx.rng.randint(8 * 60 + 30, 16 * 60 + 30)
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=clock.school_timezone())
    return min(local, clock.now())


def _seed_checkins(ctx, counselors: dict[int, User]) -> int:
    from app.demo import school_moment

    db, rng, today = ctx.session, ctx.rng, ctx.today
    students = db.scalars(
        select(Student)
        .where(Student.status == "enrolled",
               Student.id.in_(select(StudentCareGroup.student_id).where(StudentCareGroup.group.in_(triggering_groups()))))
        .order_by(Student.id)
    ).all()
    start = term_start(term_of(today))
    span = max((today - start).days, 0)
    ctx.vault.preload_keys(st.data_key_id for st in students)
    rows: list[CareCheckin] = []
    for student in students:
        counselor = counselors.get(student.school_id)
        if counselor is None or rng.random() < CHECKINS_MISSED:
            continue
        day = start + timedelta(days=rng.randint(0, span)) if span else today
        # the row `service.record_checkin` writes, inserted in one go (one audit event for the lot, below)
        checkin = CareCheckin(
            student_id=student.id, school_id=student.school_id, term=term_of(day), occurred_on=day,
            by_id=counselor.id, by_role="counselor", guardian_contacted=rng.random() < 0.6,
            created_at=min(school_moment(day, 15, 30), utcnow()),  # written up the afternoon of the talk
        )
        checkin.ensure_uid()
        ctx.vault.seal_into(checkin, "note", "谈心：了解生活和学习情况，学生适应良好", student=student)
        rows.append(checkin)
    db.add_all(rows)
    db.flush()
    if rows:
        append_event(db, Actor.system("demo-seed"), "care.checkins_seeded",
                     detail={"count": len(rows), "term": term_of(today)})
    return len(rows)
