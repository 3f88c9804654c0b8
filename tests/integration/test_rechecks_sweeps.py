"""The sweeps, driven by a controllable clock: each state change tells the right people exactly once."""
from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.care.tasks import realert_crises, remind_checkins
from app.notifications.tasks import weekly_digest
from app.rechecks.policy import load_recheck_policy
from app.rechecks.tasks import advance_rechecks
from app.scheduler.jobs import run_all_sweeps
from models import CareCheckin, Recheck

from .rechecks_support import SHANGHAI, at, confirm, count_notifications, make_case, make_screening, make_warning, notes

pytestmark = pytest.mark.usefixtures("app")
DAY = date(2026, 11, 2)  # a Monday


@pytest.fixture
def policy():
    return load_recheck_policy()


def _planned(db, factory, level="L2", owner=None):
    student = factory.student()
    counselor = factory.counselor(student.school)
    warning = make_warning(db, student, level, screening=make_screening(db, student, "phqa", on=DAY, level=level))
    case = make_case(db, student, warning, owner) if owner else None
    confirm(db, warning, level, at(DAY), case=case)
    recheck = db.scalar(select(Recheck).where(Recheck.student_id == student.id))
    return student, counselor, recheck


def test_a_recheck_falls_due_then_overdue_and_each_step_notifies_exactly_once(db_session, factory, policy):
    student, counselor, recheck = _planned(db_session, factory)  # due 2026-11-16
    assert advance_rechecks(db_session, at(DAY + timedelta(days=5)), policy, SHANGHAI)["rechecks_marked_due"] == 0
    assert count_notifications(db_session) == 0

    counts = advance_rechecks(db_session, at(recheck.due_on - timedelta(days=2)), policy, SHANGHAI)
    assert counts["rechecks_marked_due"] == 1 and counts["notifications_created"] == 1
    db_session.refresh(recheck)
    assert recheck.status == "due"
    [due] = notes(db_session, "recheck_due")
    assert (due.user_id, due.recheck_id, due.student_id) == (counselor.id, recheck.id, student.id)

    counts = advance_rechecks(db_session, at(recheck.due_on + timedelta(days=1)), policy, SHANGHAI)
    assert counts["rechecks_marked_overdue"] == 1 and counts["notifications_created"] == 1
    db_session.refresh(recheck)
    assert recheck.status == "overdue"
    assert len(notes(db_session, "recheck_overdue")) == 1 and len(notes(db_session, "recheck_due")) == 1


def test_sweeping_twice_in_a_row_creates_nothing_new(db_session, factory, policy):
    _planned(db_session, factory)
    now = at(DAY + timedelta(days=30))
    first = run_all_sweeps(db_session, now, policy, SHANGHAI)
    assert first["notifications_created"] > 0
    before = count_notifications(db_session)
    second = run_all_sweeps(db_session, now, policy, SHANGHAI)
    assert second["notifications_created"] == 0
    assert second["rechecks"]["rechecks_marked_due"] == second["rechecks"]["rechecks_escalated"] == 0
    assert count_notifications(db_session) == before


def test_a_recheck_overdue_past_the_policy_limit_is_escalated_to_every_counselor_of_the_school(
    db_session, factory, policy
):
    student = factory.student()
    owner = factory.counselor(student.school)
    colleague = factory.counselor(student.school)
    outsider = factory.counselor(factory.school())
    warning = make_warning(db_session, student, "L2", screening=make_screening(db_session, student, "phqa", on=DAY))
    confirm(db_session, warning, "L2", at(DAY), case=make_case(db_session, student, warning, owner))
    recheck = db_session.scalar(select(Recheck).where(Recheck.student_id == student.id))
    advance_rechecks(db_session, at(recheck.due_on + timedelta(days=1)), policy, SHANGHAI)
    assert [n.user_id for n in notes(db_session, "recheck_overdue")] == [owner.id]  # the case owner only

    limit = recheck.due_on + timedelta(days=policy.escalate_after_days_overdue)
    assert advance_rechecks(db_session, at(limit - timedelta(days=1)), policy, SHANGHAI)["rechecks_escalated"] == 0
    counts = advance_rechecks(db_session, at(limit), policy, SHANGHAI)
    assert counts["rechecks_escalated"] == 1
    assert sorted(n.user_id for n in notes(db_session, "recheck_escalated")) == sorted([owner.id, colleague.id])
    assert outsider.id not in {n.user_id for n in notes(db_session)}


def test_after_downtime_a_long_overdue_recheck_jumps_to_escalated_with_one_notification_per_counselor(
    db_session, factory, policy
):
    _student, counselor, recheck = _planned(db_session, factory)
    counts = advance_rechecks(db_session, at(recheck.due_on + timedelta(days=40)), policy, SHANGHAI)
    assert counts["rechecks_escalated"] == 1 and counts["notifications_created"] == 1
    assert [n.kind for n in notes(db_session, user=counselor)] == ["recheck_escalated"]


def test_a_recheck_without_a_case_owner_notifies_all_counselors_of_the_school(db_session, factory, policy):
    student, counselor, recheck = _planned(db_session, factory)
    second = factory.counselor(student.school)
    advance_rechecks(db_session, at(recheck.due_on), policy, SHANGHAI)
    assert sorted(n.user_id for n in notes(db_session, "recheck_due")) == sorted([counselor.id, second.id])


def test_done_and_cancelled_rechecks_are_left_alone(db_session, factory, policy):
    student, _counselor, recheck = _planned(db_session, factory)
    recheck.status = "done"
    db_session.flush()
    counts = advance_rechecks(db_session, at(recheck.due_on + timedelta(days=60)), policy, SHANGHAI)
    assert counts == {
        "rechecks_marked_due": 0,
        "rechecks_marked_overdue": 0,
        "rechecks_escalated": 0,
        "notifications_created": 0,
    }


def test_an_unacknowledged_crisis_is_realerted_once_per_window_until_acknowledged(db_session, factory, policy):
    student = factory.student()
    counselor = factory.counselor(student.school)
    created = at(DAY, 9)
    warning = make_warning(db_session, student, "L1", created_at=created)
    assert realert_crises(db_session, created + timedelta(hours=1, minutes=59), policy)["re_alerts"] == 0
    assert realert_crises(db_session, created + timedelta(hours=2), policy)["re_alerts"] == 1
    assert realert_crises(db_session, created + timedelta(hours=3), policy)["re_alerts"] == 0  # same window
    assert realert_crises(db_session, created + timedelta(hours=4, minutes=1), policy)["re_alerts"] == 1
    alerts = notes(db_session, "crisis_realert")
    assert [json.loads(n.params)["window"] for n in alerts] == [1, 2]
    assert all(n.user_id == counselor.id and n.warning_id == warning.id and n.requires_ack for n in alerts)
    warning.acknowledged_at = created + timedelta(hours=5)
    db_session.flush()
    assert realert_crises(db_session, created + timedelta(hours=9), policy)["re_alerts"] == 0


def test_a_crisis_lowered_by_the_counselor_is_not_realerted(db_session, factory, policy):
    student = factory.student()
    factory.counselor(student.school)
    warning = make_warning(db_session, student, "L1", created_at=at(DAY, 9))
    warning.confirmed_level, warning.status = "L2", "confirmed"
    db_session.flush()
    assert realert_crises(db_session, at(DAY, 18), policy)["re_alerts"] == 0


def test_head_teachers_are_reminded_once_per_reminder_point_of_missing_care_group_checkins(db_session, factory, policy):
    school = factory.school()
    klass = factory.klass(school)
    teacher = factory.head_teacher(klass)
    left_behind = factory.student(klass=klass, groups=["left_behind"])
    factory.student(klass=klass, groups=["migrant"])
    factory.student(klass=klass)  # not in a care group
    term_end = date(2027, 1, 20)
    first_point = term_end - timedelta(days=42)
    assert remind_checkins(db_session, at(first_point - timedelta(days=1)), policy, SHANGHAI)["reminders"] == 0
    assert remind_checkins(db_session, at(first_point), policy, SHANGHAI)["reminders"] == 1
    assert remind_checkins(db_session, at(first_point + timedelta(days=3)), policy, SHANGHAI)["reminders"] == 0
    [reminder] = notes(db_session, "checkin_due")
    params = json.loads(reminder.params)
    assert (reminder.user_id, params["count"], params["term"]) == (teacher.id, 2, "2026-2027-1")

    db_session.add(CareCheckin(student_id=left_behind.id, school_id=school.id, term="2026-2027-1",
                               occurred_on=first_point, by_role="head_teacher"))
    db_session.flush()
    assert remind_checkins(db_session, at(term_end - timedelta(days=14)), policy, SHANGHAI)["reminders"] == 1
    assert json.loads(notes(db_session, "checkin_due")[-1].params)["count"] == 1


def test_no_reminder_when_every_care_group_student_had_a_checkin(db_session, factory, policy):
    klass = factory.klass()
    factory.head_teacher(klass)
    student = factory.student(klass=klass, groups=["hardship"])
    db_session.add(CareCheckin(student_id=student.id, school_id=klass.school_id, term="2026-2027-1",
                               occurred_on=date(2026, 10, 1), by_role="head_teacher"))
    db_session.flush()
    assert remind_checkins(db_session, at(date(2027, 1, 10)), policy, SHANGHAI)["reminders"] == 0


def test_the_weekly_digest_is_created_once_per_week_for_counselors_with_something_to_review(
    db_session, factory, policy
):
    _student, counselor, recheck = _planned(db_session, factory)
    idle = factory.counselor(factory.school())
    monday = recheck.due_on + timedelta(days=7 - recheck.due_on.weekday() + 7)  # a Monday after the due date
    assert weekly_digest(db_session, at(monday), policy, SHANGHAI)["digests"] == 1
    assert weekly_digest(db_session, at(monday + timedelta(days=2)), policy, SHANGHAI)["digests"] == 0
    [digest] = notes(db_session, "digest")
    assert digest.user_id == counselor.id and json.loads(digest.params)["overdue"] == 1
    assert idle.id not in {n.user_id for n in notes(db_session, "digest")}
    assert weekly_digest(db_session, at(monday + timedelta(days=7)), policy, SHANGHAI)["digests"] == 1


def test_the_digest_waits_for_the_policy_weekday(db_session, factory, policy):
    from dataclasses import replace

    _planned(db_session, factory)
    thursday_policy = replace(policy, digest_weekday=3)
    wednesday = date(2026, 12, 2)
    assert weekly_digest(db_session, at(wednesday), thursday_policy, SHANGHAI)["digests"] == 0
    assert weekly_digest(db_session, at(wednesday + timedelta(days=1)), thursday_policy, SHANGHAI)["digests"] == 1


# -- the stage already notified (notified_stage): a sweep looks only at rechecks whose state changed ------------
def _writes_during(db, fn):
    """The INSERT/UPDATE/DELETE statements `fn` sends on the session's connection."""
    from sqlalchemy import event

    conn = db.connection()
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_args):
        if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append(statement)

    event.listen(conn, "before_cursor_execute", listener)
    try:
        fn()
    finally:
        event.remove(conn, "before_cursor_execute", listener)
    return seen


def test_daily_sweeps_tell_each_person_once_per_stage_and_record_the_stage(db_session, factory, policy):
    owner_student = factory.student()
    owner = factory.counselor(owner_student.school)
    colleague = factory.counselor(owner_student.school)
    warning = make_warning(db_session, owner_student, "L2",
                           screening=make_screening(db_session, owner_student, "phqa", on=DAY))
    confirm(db_session, warning, "L2", at(DAY), case=make_case(db_session, owner_student, warning, owner))
    recheck = db_session.scalar(select(Recheck).where(Recheck.student_id == owner_student.id))
    stages = []
    for day in range(0, 60):
        run_all_sweeps(db_session, at(DAY + timedelta(days=day)), policy, SHANGHAI)
        run_all_sweeps(db_session, at(DAY + timedelta(days=day)), policy, SHANGHAI)  # twice the same day
        db_session.refresh(recheck)
        if not stages or stages[-1] != (recheck.status, recheck.notified_stage):
            stages.append((recheck.status, recheck.notified_stage))
    assert stages == [("planned", None), ("due", "due"), ("overdue", "overdue"), ("escalated", "escalated")]
    told = sorted((n.kind, n.user_id) for n in notes(db_session) if n.recheck_id == recheck.id)
    assert told == sorted([("recheck_due", owner.id), ("recheck_overdue", owner.id),
                           ("recheck_escalated", owner.id), ("recheck_escalated", colleague.id)])


def test_a_sweep_with_nothing_new_writes_nothing(db_session, factory, policy):
    _student, _counselor, recheck = _planned(db_session, factory)
    now = at(recheck.due_on + timedelta(days=1))
    assert advance_rechecks(db_session, now, policy, SHANGHAI)["notifications_created"] == 1
    writes = _writes_during(db_session, lambda: advance_rechecks(db_session, now, policy, SHANGHAI))
    assert writes == []  # so the steady state never takes SQLite's write lock


def test_a_recheck_already_told_of_its_stage_is_not_looked_at_again(db_session, factory, policy):
    _student, counselor, recheck = _planned(db_session, factory)
    now = at(recheck.due_on)
    advance_rechecks(db_session, now, policy, SHANGHAI)
    [due] = notes(db_session, "recheck_due")
    db_session.delete(due)  # were the sweep to look again, its NOT EXISTS guard would let a new one through
    db_session.flush()
    assert advance_rechecks(db_session, now, policy, SHANGHAI)["notifications_created"] == 0
    assert notes(db_session, "recheck_due") == []
    recheck.status, recheck.notified_stage = "overdue", "due"  # the state changes: told once more
    db_session.flush()
    assert advance_rechecks(db_session, now, policy, SHANGHAI)["notifications_created"] == 1
    assert [n.user_id for n in notes(db_session, "recheck_overdue")] == [counselor.id]


def test_a_recheck_with_nobody_to_tell_is_told_once_a_counselor_arrives(db_session, factory, policy):
    _student, counselor, recheck = _planned(db_session, factory)
    counselor.active = False
    db_session.flush()
    now = at(recheck.due_on)
    assert advance_rechecks(db_session, now, policy, SHANGHAI)["notifications_created"] == 0
    db_session.refresh(recheck)
    assert (recheck.status, recheck.notified_stage) == ("due", None)
    counselor.active = True
    db_session.flush()
    assert advance_rechecks(db_session, now, policy, SHANGHAI)["notifications_created"] == 1
    db_session.refresh(recheck)
    assert recheck.notified_stage == "due"
    assert advance_rechecks(db_session, now, policy, SHANGHAI)["notifications_created"] == 0


def test_a_replanned_recheck_starts_again_without_a_stage(db_session, factory, policy):
    student, _counselor, recheck = _planned(db_session, factory)
    advance_rechecks(db_session, at(recheck.due_on), policy, SHANGHAI)
    db_session.refresh(recheck)
    assert recheck.notified_stage == "due"
    warning = make_warning(db_session, student, "L3", screening=make_screening(db_session, student, "phqa", on=DAY))
    confirm(db_session, warning, "L3", at(recheck.due_on))
    db_session.refresh(recheck)
    assert (recheck.status, recheck.notified_stage) == ("planned", None)
