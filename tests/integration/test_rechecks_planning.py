"""Rechecks are planned when a level is confirmed, re-planned when it changes, and completed by a screening."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.care.service import closing_suggested
from app.rechecks import service
from models import Recheck

from .rechecks_support import at, confirm, make_case, make_screening, make_warning, open_rechecks, record

pytestmark = pytest.mark.usefixtures("app")  # create_app connects this area's signal receivers

DAY = date(2026, 11, 2)


def _flagged(db, factory, level="L2", instrument="phqa"):
    student = factory.student()
    screening = make_screening(db, student, instrument, on=DAY, level=level)
    warning = make_warning(db, student, level, screening=screening)
    return student, warning


def test_confirming_a_level_plans_one_recheck_after_the_policy_interval_with_the_triggering_instrument(
    db_session, factory
):
    student, warning = _flagged(db_session, factory, "L2", "gad7")
    confirm(db_session, warning, "L2", at(DAY, 15))
    [recheck] = open_rechecks(db_session, student)
    assert (recheck.level, recheck.instrument_id, recheck.status) == ("L2", "gad7", "planned")
    assert recheck.due_on == DAY + timedelta(days=14)
    assert recheck.warning_id == warning.id and recheck.school_id == student.school_id


@pytest.mark.parametrize("level, days", [("L1", 7), ("L2", 14), ("L3", 30)])
def test_each_level_has_its_default_interval(db_session, factory, level, days):
    student, warning = _flagged(db_session, factory, level)
    confirm(db_session, warning, level, at(DAY, 9))
    assert open_rechecks(db_session, student)[0].due_on == DAY + timedelta(days=days)


def test_the_due_date_counts_from_the_school_day_not_the_utc_day(db_session, factory):
    student, warning = _flagged(db_session, factory, "L1")
    confirm(db_session, warning, "L1", at(DAY, 7))  # 07:00 in Shanghai is still the previous day in UTC
    assert open_rechecks(db_session, student)[0].due_on == DAY + timedelta(days=7)


def test_a_changed_level_replans_the_same_recheck_instead_of_adding_a_second(db_session, factory):
    student, warning = _flagged(db_session, factory, "L3")
    confirm(db_session, warning, "L3", at(DAY))
    [first] = open_rechecks(db_session, student)
    first.status = "overdue"  # whatever state it reached, a re-plan starts it again
    confirm(db_session, warning, "L1", at(DAY + timedelta(days=3)))
    [again] = open_rechecks(db_session, student)
    assert again.id == first.id
    assert (again.level, again.status, again.overdue_at) == ("L1", "planned", None)
    assert again.due_on == DAY + timedelta(days=3 + 7)


def test_confirming_the_same_level_again_keeps_the_plan(db_session, factory):
    student, warning = _flagged(db_session, factory, "L2")
    confirm(db_session, warning, "L2", at(DAY))
    confirm(db_session, warning, "L2", at(DAY + timedelta(days=5)))
    [recheck] = open_rechecks(db_session, student)
    assert recheck.due_on == DAY + timedelta(days=14)


def test_a_new_warning_for_the_same_student_moves_the_open_recheck(db_session, factory):
    student, warning = _flagged(db_session, factory, "L3")
    confirm(db_session, warning, "L3", at(DAY))
    newer = make_warning(
        db_session, student, "L2", screening=make_screening(db_session, student, "phqa", on=DAY + timedelta(days=10))
    )
    confirm(db_session, newer, "L2", at(DAY + timedelta(days=10)))
    [recheck] = open_rechecks(db_session, student)
    assert (recheck.warning_id, recheck.level, recheck.due_on) == (newer.id, "L2", DAY + timedelta(days=24))


def test_dismissing_the_warning_cancels_the_open_recheck(db_session, factory):
    student, warning = _flagged(db_session, factory, "L3")
    confirm(db_session, warning, "L3", at(DAY))
    confirm(db_session, warning, "none", at(DAY + timedelta(days=1)))
    assert open_rechecks(db_session, student) == []
    assert db_session.scalar(select(Recheck.status).where(Recheck.student_id == student.id)) == "cancelled"


def test_a_care_level_has_no_recheck(db_session, factory):
    student, warning = _flagged(db_session, factory, "care")
    confirm(db_session, warning, "care", at(DAY))
    assert open_rechecks(db_session, student) == []


def test_without_a_triggering_screening_the_policy_default_instrument_is_used(db_session, factory):
    student = factory.student()
    warning = make_warning(db_session, student, "L2")
    confirm(db_session, warning, "L2", at(DAY))
    assert open_rechecks(db_session, student)[0].instrument_id == "phq9"


def test_a_screening_with_the_same_instrument_completes_the_recheck_and_links_both_ways(db_session, factory):
    student, warning = _flagged(db_session, factory, "L2", "phqa")
    confirm(db_session, warning, "L2", at(DAY))
    [recheck] = open_rechecks(db_session, student)
    screening = make_screening(db_session, student, "phqa", on=recheck.due_on - timedelta(days=1), positive=False)
    record(db_session, screening)
    assert screening.recheck_id == recheck.id and recheck.screening_id == screening.id
    assert (recheck.status, recheck.on_time, recheck.negative) == ("done", True, True)


def test_a_late_positive_recheck_is_recorded_as_late_and_not_negative(db_session, factory):
    student, warning = _flagged(db_session, factory, "L2", "phqa")
    confirm(db_session, warning, "L2", at(DAY))
    [recheck] = open_rechecks(db_session, student)
    screening = make_screening(db_session, student, "phqa", on=recheck.due_on + timedelta(days=3), positive=True)
    record(db_session, screening)
    assert (recheck.status, recheck.on_time, recheck.negative) == ("done", False, False)


def test_a_critical_answer_is_never_a_negative_recheck(db_session, factory):
    student, warning = _flagged(db_session, factory, "L1", "phqa")
    confirm(db_session, warning, "L1", at(DAY))
    screening = make_screening(db_session, student, "phqa", on=DAY + timedelta(days=5), positive=False, critical=True)
    record(db_session, screening)
    recheck = db_session.get(Recheck, screening.recheck_id)
    assert recheck.negative is False


def test_a_screening_with_another_instrument_leaves_the_recheck_open(db_session, factory):
    student, warning = _flagged(db_session, factory, "L2", "phqa")
    confirm(db_session, warning, "L2", at(DAY))
    other = make_screening(db_session, student, "gad7", on=DAY + timedelta(days=3))
    record(db_session, other)
    assert other.recheck_id is None
    assert open_rechecks(db_session, student)[0].status == "planned"


def test_while_the_case_is_open_a_done_recheck_plans_the_next_and_closing_the_case_cancels_it(db_session, factory):
    student, warning = _flagged(db_session, factory, "L2", "phqa")
    owner = factory.counselor(student.school)
    case = make_case(db_session, student, warning, owner)
    confirm(db_session, warning, "L2", at(DAY), case=case)
    record(db_session, make_screening(db_session, student, "phqa", on=DAY + timedelta(days=14), positive=False))
    [nxt] = open_rechecks(db_session, student)
    assert nxt.case_id == case.id and nxt.due_on == DAY + timedelta(days=28)
    from app import signals
    from models import Actor

    case.status = "closed"
    signals.case_closed.send("tests", db=db_session, actor=Actor.system("tests"), case=case)
    assert open_rechecks(db_session, student) == []


def test_two_negative_rechecks_in_a_row_suggest_closing_the_case(db_session, factory):
    student, warning = _flagged(db_session, factory, "L2", "phqa")
    case = make_case(db_session, student, warning, factory.counselor(student.school))
    case.opened_at = at(DAY)
    confirm(db_session, warning, "L2", at(DAY), case=case)
    record(db_session, make_screening(db_session, student, "phqa", on=DAY + timedelta(days=14), positive=False))
    assert closing_suggested(db_session, case) is False
    record(db_session, make_screening(db_session, student, "phqa", on=DAY + timedelta(days=28), positive=False,
                                      recorded_at=at(DAY + timedelta(days=28), 11)))
    assert closing_suggested(db_session, case) is True  # the care area's rule, fed by these rechecks


def test_a_positive_recheck_between_negatives_does_not_suggest_closing(db_session, factory):
    student, warning = _flagged(db_session, factory, "L2", "phqa")
    case = make_case(db_session, student, warning, factory.counselor(student.school))
    case.opened_at = at(DAY)
    confirm(db_session, warning, "L2", at(DAY), case=case)
    for days, positive in ((14, False), (28, True), (42, False)):
        record(db_session, make_screening(db_session, student, "phqa", on=DAY + timedelta(days=days), positive=positive,
                                          recorded_at=at(DAY + timedelta(days=days), 11)))
    assert closing_suggested(db_session, case) is False


def test_lists_show_overdue_due_this_week_and_done_only_for_the_counselors_schools(db_session, factory):
    mine, other = factory.school(), factory.school()
    counselor = factory.counselor(mine)
    today = date(2026, 11, 25)  # a Wednesday: the week ends on Sunday the 29th
    rows = {}
    for label, school, due, status in [
        ("overdue", mine, today - timedelta(days=2), "overdue"),
        ("week", mine, today + timedelta(days=3), "due"),
        ("later", mine, today + timedelta(days=10), "planned"),
        ("foreign", other, today - timedelta(days=2), "overdue"),
    ]:
        s = factory.student(school=school)
        rows[label] = Recheck(
            student_id=s.id, school_id=school.id, level="L2", instrument_id="phqa", due_on=due, status=status
        )
        db_session.add(rows[label])
    db_session.flush()
    lists = service.recheck_lists(db_session, counselor, today)
    assert [r.id for r in lists.overdue] == [rows["overdue"].id]
    assert [r.id for r in lists.due_this_week] == [rows["week"].id]
    assert lists.week_end == date(2026, 11, 29)
    assert [(r["label"], r["overdue"], r["due_this_week"]) for r in lists.per_school] == [(mine.name, 1, 1)]



def test_the_care_areas_confirm_level_plans_the_recheck_with_its_case(db_session, factory):
    from app.care.warning_lifecycle import confirm_level
    from models import Actor

    student, warning = _flagged(db_session, factory, "L2", "phqa")
    counselor = factory.counselor(student.school)
    case = confirm_level(db_session, Actor.for_user(counselor), factory.vault, warning, "L1", "约谈后确认")
    [recheck] = open_rechecks(db_session, student)
    assert (recheck.level, recheck.instrument_id) == ("L1", "phqa")
    assert case is not None and recheck.case_id == case.id


def test_inside_a_screenings_batch_rechecks_are_completed_as_one_by_one_with_one_recheck_query_for_the_batch(
    db_session, factory
):
    from sqlalchemy import event

    from app.screenings.recording import batch, record_screening
    from models import Actor
    from models.vault import Vault

    student, warning = _flagged(db_session, factory, "L2", "phqa")
    owner = factory.counselor(student.school)
    case = make_case(db_session, student, warning, owner)
    confirm(db_session, warning, "L2", at(DAY), case=case)
    [recheck] = open_rechecks(db_session, student)
    others = [factory.student(school=student.school) for _ in range(3)]
    vault = Vault(db_session, factory.keyring, Actor.system("tests"))
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db_session.connection(), "before_cursor_execute", seen)
    try:
        with batch(db_session, [student, *others]):
            for who in [student, *others]:
                record_screening(db_session, Actor.system("tests"), vault, who, "phqa", [0] * 13, mode="import",
                                 administered_on=DAY + timedelta(days=10), today=DAY + timedelta(days=10))
    finally:
        event.remove(db_session.connection(), "before_cursor_execute", seen)
    assert (recheck.status, recheck.on_time, recheck.negative) == ("done", True, True)
    [nxt] = open_rechecks(db_session, student)  # the follow-up, planned inside the batch
    assert nxt.case_id == case.id
    assert all(open_rechecks(db_session, o) == [] for o in others)
    recheck_selects = [s for s in statements if s.lstrip().upper().startswith("SELECT") and "FROM rechecks" in s]
    # the batch's prefetch, then only the student who had an open recheck is looked up (plus the follow-up check)
    assert len(recheck_selects) <= 3
