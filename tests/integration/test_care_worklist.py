"""Worklist sources on a fixed date: check-ins due per term, plan reviews, unread observations, crises."""
from __future__ import annotations

from datetime import date, timedelta
from zoneinfo import ZoneInfo

from app.care import queries, service, warning_lifecycle
from app.care.policy import checkin_due_on, next_checkin_due, term_of
from models import clock
from tests.integration.care_support import actor_vault, make_warning

TZ = ZoneInfo("Asia/Shanghai")


def _kinds(work):  # type: ignore[no-untyped-def]
    return {(item.kind, item.section, item.name) for rows in work.sections.values() for item in rows}


def test_terms_and_check_in_due_dates():
    assert term_of(date(2026, 11, 29)) == "2026-2027-1"
    assert term_of(date(2027, 1, 10)) == "2026-2027-1"
    assert term_of(date(2027, 3, 1)) == "2026-2027-2"
    assert checkin_due_on("2026-2027-1") == date(2026, 10, 13)
    assert next_checkin_due(None, date(2026, 11, 29)) == date(2026, 10, 13)
    assert next_checkin_due("2026-2027-1", date(2026, 11, 29)) == checkin_due_on("2026-2027-2")


def test_a_care_group_student_without_a_check_in_this_term_is_overdue_and_leaves_once_seen(
    db_session, factory, keyring
):
    school = factory.school()
    counselor = factory.counselor(school)
    student = factory.student(school=school, name="留守生", groups=["left_behind"])
    factory.student(school=school, name="寄宿生", groups=["boarding"])  # boarding does not trigger care
    actor, vault = actor_vault(db_session, keyring, counselor)
    today = date(2026, 11, 29)
    work = queries.worklist(db_session, counselor, vault, today, TZ)
    assert ("checkin", "overdue", "留守生") in _kinds(work)
    assert not any(name == "寄宿生" for _, _, name in _kinds(work))
    service.record_checkin(db_session, actor, vault, student, today - timedelta(days=1), "谈心", True)
    assert not any(k == "checkin" for k, _, _ in _kinds(queries.worklist(db_session, counselor, vault, today, TZ)))
    # early in a term the check-in is not yet due, so nothing shows
    assert not any(
        k == "checkin" for k, _, _ in _kinds(queries.worklist(db_session, counselor, vault, date(2027, 2, 3), TZ))
    )


def test_crises_plans_and_observations_come_with_their_sections(db_session, factory, keyring):
    school = factory.school()
    counselor = factory.counselor(school)
    actor, vault = actor_vault(db_session, keyring, counselor)
    crisis = factory.student(school=school, name="危机生")
    planned = factory.student(school=school, name="计划生")
    make_warning(db_session, crisis, "L1")
    case = warning_lifecycle.confirm_level(
        db_session, actor, vault, make_warning(db_session, planned, "L2"), "L2", "确认"
    )
    today = clock.today(TZ)
    service.update_plan(db_session, actor, vault, case, {"goals": "g"}, today)
    teacher = actor.__class__(None, "ht", "head_teacher")
    service.add_entry(db_session, teacher, vault, planned, "observation", today, "观察")
    kinds = _kinds(queries.worklist(db_session, counselor, vault, today, TZ))
    assert ("crisis", "crisis", "危机生") in kinds
    assert ("plan_review", "today", "计划生") in kinds
    assert ("observation", "week", "计划生") in kinds
    service.mark_observations_seen(db_session, actor, planned)
    assert not any(k == "observation" for k, _, _ in _kinds(queries.worklist(db_session, counselor, vault, today, TZ)))
