"""Demo step 30: confirmed levels, open cases with plans and timelines, a referral with feedback, check-ins.

The counselors are shown at work: nearly every October warning confirmed or dismissed after its interview, a
handful of interviews still to do, two crises not yet acknowledged, most termly check-ins done.

Works on the warnings the screenings step (20) created; without them it only records care-group check-ins.
Deterministic for a given seed: rows are taken in id order and choices come from `ctx.rng`.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from models import (
    Actor,
    CareCase,
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
from .policy import term_of, term_start, triggering_groups

UNACKNOWLEDGED_CRISES = 2  # crises still waiting for a counselor to acknowledge them (the rest were handled)
CHECKINS_MISSED = 0.03  # care-group students whose termly check-in is still to do

PLAN = {
    "goals": "稳定情绪，恢复正常作息和学习；每周至少一次与同伴的积极交往",
    "measures": "每周一次个别辅导；班主任每天关注；与家长每两周沟通一次；必要时转介专业机构",
    "responsibilities": "心理教师：个别辅导与随访；班主任：日常观察并记录；家长：关注在家情绪与睡眠",
}


def seed_care(ctx) -> str:
    db, rng, today = ctx.session, ctx.rng, ctx.today
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
    pending = _still_pending(ctx, warnings, counselors)
    confirmed = dismissed = cases = referrals = assessed = 0
    # A student's level-1 warning is handled after their other warnings: the crisis case is not lowered by a less
    # urgent warning confirmed after it (app/care/crisis.py refuses that until the crisis response is complete).
    for warning in sorted(warnings, key=lambda w: (w.suggested_level == "L1", w.id)):
        counselor = counselors.get(warning.school_id)
        if counselor is None or warning.id in pending:
            continue
        actor = Actor.for_user(counselor)
        if warning.suggested_level == "L3" and rng.random() < 0.25:
            warning_lifecycle.dismiss_warning(
                db, actor, ctx.vault, warning, "约谈后学生情绪稳定，近期考试压力所致，暂不预警"
            )
            _stamp_confirmation(warning, None, _school_hours(ctx, _interview_day(ctx, warning)))
            dismissed += 1
            continue
        level = warning.suggested_level
        if level == "L2" and rng.random() < 0.2:
            level = "L3"
        case = warning_lifecycle.confirm_level(
            db, actor, ctx.vault, warning, level, "已约谈，学生自述近期情绪低落，与筛查结果一致"
        )
        confirmed += 1
        opened = _interview_day(ctx, warning)
        _stamp_confirmation(warning, case, _school_hours(ctx, opened))
        if case is None:
            continue
        cases += 1
        student = warning.student
        service.add_entry(
            db,
            actor,
            ctx.vault,
            student,
            "interview",
            opened,
            "首次约谈：了解近期学习和家庭情况，约定下周再谈",
            case=case,
        )
        # reviews spread over the coming weeks; now and then one slipped by a day or two
        review = (
            today - timedelta(days=rng.randint(1, 3))
            if rng.random() < 0.06
            else today + timedelta(days=rng.randint(1, 28))
        )
        service.update_plan(db, actor, ctx.vault, case, PLAN, review)
        service.add_entry(db, actor, ctx.vault, student, "parent_contact", min(opened + timedelta(days=1), today),
                          "电话联系家长，说明情况，家长表示会多陪伴孩子", case=case, visibility="shared")
        if level == "L1":
            service.add_entry(
                db,
                actor,
                ctx.vault,
                student,
                "confidentiality",
                opened,
                "学生存在自伤风险，按规定告知监护人和分管校长",
                case=case,
                told_whom="监护人（母亲）、分管副校长",
            )
            if referrals == 0 or rng.random() < 0.5:
                entry = service.add_entry(
                    db,
                    actor,
                    ctx.vault,
                    student,
                    "referral",
                    min(opened + timedelta(days=2), today),
                    "持续情绪低落并有自伤念头，建议专业评估",
                    case=case,
                    destination="区精神卫生中心儿童青少年门诊",
                    referral_status="sent",
                )
                service.update_referral(db, actor, ctx.vault, entry, student, "feedback",
                                        "已就诊，建议学校继续心理支持，两周后复诊")
                if opened + timedelta(days=9) <= today:
                    service.add_entry(db, actor, ctx.vault, student, "return", opened + timedelta(days=9),
                                      "学生返校，情绪较前平稳", case=case, visibility="shared")
                referrals += 1
            assessed += _seed_crisis_response(ctx, actor, warning, case, first=assessed == 0)
    checkins = _seed_checkins(ctx, counselors)
    return (f"care: {confirmed} levels confirmed, {dismissed} dismissed, {cases} cases, {referrals} referrals "
            f"with feedback, {assessed} safety assessments, {checkins} care-group check-ins")


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


def _seed_crisis_response(ctx, actor: Actor, warning: Warning, case, first: bool) -> int:
    """A level-1 case's crisis response, within the story: the assessment a few hours after the warning (the same
    school day), the steps its outcome requires, and a safety plan (now and then none yet for no current risk)."""
    from app.support_resources import professionals_text

    db, rng, today = ctx.session, ctx.rng, ctx.today
    outcome = "imminent" if first else ("further_evaluation" if rng.random() < 0.7 else "no_current_risk")
    at = min(warning.created_at + timedelta(hours=2), utcnow())
    answers = {q: {"answer": a, "note": n} for q, (a, n) in ANSWERS[outcome].items()}
    crisis.record_assessment(db, actor, ctx.vault, warning, answers, outcome, REASONS[outcome], at=at)
    day = crisis.local_day(at)
    if outcome == "imminent":
        service.add_entry(db, actor, ctx.vault, warning.student, "parent_contact", day,
                          "当天电话告知母亲，母亲到校陪同", case=case)
        service.add_entry(db, actor, ctx.vault, warning.student, "referral", day, "急迫自杀风险，当天紧急转介",
                          case=case, destination="市精神卫生中心急诊", referral_status="accepted", emergency=True)
    if outcome == "no_current_risk" and rng.random() < 0.25:
        return 1
    steps = {**SAFETY_PLAN, "professionals": "学校心理老师（心理辅导室）\n" + professionals_text("zh"),
             "environment": "药品交给妈妈保管；晚上房门不反锁"}
    crisis.save_safety_plan(db, actor, ctx.vault, case, steps, today + timedelta(days=rng.randint(-2, 10)), at=at)
    return 1


def _still_pending(ctx, warnings: list[Warning], counselors: dict[int, User]) -> set[int]:
    """The warnings a working counselor has not got to yet: 1–3 interviews per school (mostly due this week, now and
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
        chosen = sorted(rng.sample(rows, min(len(rows), rng.randint(1, 3))), key=lambda w: w.id)
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
    """The day the counselor saw the student about this warning: a crisis the same day, most others within the
    week, now and then one later; never before the screening and never after today."""
    rng, today = ctx.rng, ctx.today
    screened = warning.created_at.astimezone(clock.school_timezone()).date()
    if warning.suggested_level == "L1":
        delay = 0 if rng.random() < 0.85 else 1
    else:
        delay = rng.randint(0, 5) if rng.random() < 0.9 else rng.randint(6, 12)
    return min(screened + timedelta(days=delay), today)


def _school_hours(ctx, day: date) -> datetime:
    """An instant on `day` in school hours (08:30–16:30 in the school zone), never later than now."""
    minutes = ctx.rng.randint(8 * 60 + 30, 16 * 60 + 30)
    local = datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=clock.school_timezone())
    return min(local, clock.now())


def _stamp_confirmation(warning: Warning, case: CareCase | None, at: datetime) -> None:
    """Date the confirmation the service just recorded at the seed's run time to the story's interview, so that
    the case opens before its follow-ups and the timeliness figures see real delays (the audit log keeps the
    real time: it is append-only and says when the seed ran)."""
    at = max(at, warning.created_at)
    warning.confirmed_at = at
    if warning.acknowledged_at is not None and warning.acknowledged_at > at:
        warning.acknowledged_at = at
    if warning.first_contact_at is not None and warning.first_contact_at > at:
        warning.first_contact_at = at
    if warning.history:
        warning.history[-1].at = at
    if case is not None and case.opened_at > at:
        case.opened_at = at


def _seed_checkins(ctx, counselors: dict[int, User]) -> int:
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
            by_id=counselor.id, by_role="counselor", guardian_contacted=rng.random() < 0.6, created_at=utcnow(),
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
