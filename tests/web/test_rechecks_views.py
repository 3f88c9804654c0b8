"""The recheck lists (/rechecks): counselors of the school only; names revealed under one audit event."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from models import AuditEvent, Recheck, clock
from tests.conftest import login


def _recheck(db_session, student, due, status="planned", **kw):
    r = Recheck(
        student_id=student.id,
        school_id=student.school_id,
        level="L2",
        instrument_id="phqa",
        due_on=due,
        status=status,
        **kw,
    )
    db_session.add(r)
    db_session.flush()
    return r


def test_a_counselor_sees_overdue_and_this_weeks_rechecks_of_their_schools_with_names(client, db_session, factory):
    school = factory.school()
    counselor = factory.counselor(school)
    late = factory.student(school=school, name="李晓红")
    soon = factory.student(school=school, name="张伟")
    foreign = factory.student(name="赵六")
    today = school_today()
    _recheck(db_session, late, today - timedelta(days=3), "overdue")
    _recheck(db_session, soon, today, "due")
    _recheck(db_session, foreign, today - timedelta(days=3), "overdue")
    login(client, counselor.username)
    response = client.get("/rechecks")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    overdue_part = html.split('data-testid="rechecks-overdue"')[1].split('data-testid="rechecks-week"')[0]
    assert "PHQ-A" in overdue_part and "PHQA" not in html and "phqa" not in html
    week_part = html.split('data-testid="rechecks-week"')[1].split('data-testid="rechecks-done"')[0]
    assert "李晓红" in overdue_part and "张伟" in week_part
    assert "赵六" not in html
    assert f'href="/students/{late.public_id}"' in html
    events = list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == "rechecks.list")))
    assert len(events) == 1


def test_the_list_filters_by_one_of_the_counselors_schools(client, db_session, factory):
    a, b = factory.school(), factory.school()
    counselor = factory.counselor(a, b)
    with_a = factory.student(school=a, name="甲校学生")
    with_b = factory.student(school=b, name="乙校学生")
    day = school_today()
    _recheck(db_session, with_a, day - timedelta(days=1), "overdue")
    _recheck(db_session, with_b, day - timedelta(days=1), "overdue")
    login(client, counselor.username)
    html = client.get(f"/rechecks?school={a.id}").get_data(as_text=True)
    assert "甲校学生" in html and "乙校学生" not in html


def test_a_school_outside_the_counselors_scope_is_not_a_filter(client, db_session, factory):
    mine, other = factory.school(), factory.school()
    counselor = factory.counselor(mine)
    _recheck(db_session, factory.student(school=other, name="外校学生"), school_today() - timedelta(days=1), "overdue")
    login(client, counselor.username)
    html = client.get(f"/rechecks?school={other.id}").get_data(as_text=True)
    assert "外校学生" not in html


def test_done_rechecks_show_on_time_or_late(client, db_session, factory):
    from models import utcnow

    school = factory.school()
    counselor = factory.counselor(school)
    day = school_today()
    _recheck(
        db_session,
        factory.student(school=school),
        day - timedelta(days=5),
        "done",
        on_time=True,
        negative=True,
        completed_at=utcnow(),
    )
    _recheck(
        db_session,
        factory.student(school=school),
        day - timedelta(days=9),
        "done",
        on_time=False,
        negative=False,
        completed_at=utcnow(),
    )
    login(client, counselor.username)
    html = client.get("/rechecks").get_data(as_text=True)
    done_part = html.split('data-testid="rechecks-done"')[1]
    assert "按时完成" in done_part and "逾期完成" in done_part and "仍为阳性" in done_part


def test_other_roles_are_refused(client, factory):
    for user in (factory.head_teacher(), factory.user("district"), factory.user("admin")):
        login(client, user.username)
        assert client.get("/rechecks").status_code == 403
        client.post("/logout", data={"csrf_token": _token(client)})


def test_an_empty_list_explains_where_rechecks_come_from(client, factory):
    login(client, factory.counselor().username)
    assert "确认预警等级后，系统会自动安排复查" in client.get("/rechecks").get_data(as_text=True)


def school_today():
    return clock.today("Asia/Shanghai")


def _token(client):
    from tests.conftest import csrf_token

    return csrf_token(client)


def test_the_student_file_lists_the_students_rechecks(client, db_session, factory):
    school = factory.school()
    counselor = factory.counselor(school)
    student = factory.student(school=school)
    _recheck(db_session, student, school_today() + timedelta(days=4), "planned")
    login(client, counselor.username)
    html = client.get(f"/students/{student.public_id}").get_data(as_text=True)
    section = html.split('data-testid="file-rechecks"')[1]
    assert "复查" in html and "PHQ-A" in section and "已安排" in section
