"""Notifications grouped per subject: one line per student and warning with the reminders actually sent, the
student named where the reader may see the name, a place to act, a whole group marked read, pages of 50."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from app.notifications.service import notify
from models import AuditEvent, Notification, Warning, clock
from tests.conftest import login, post


def _lines(html: str) -> list[str]:
    return re.findall(r'<li class="notification[^"]*"[^>]*data-testid="notification".*?</li>', html, re.S)


def _crisis(db_session, factory, counselor, student, reminders: int):
    warning = Warning(student_id=student.id, school_id=student.school_id, suggested_level="L1")
    warning.ensure_uid()
    db_session.add(warning)
    db_session.flush()
    first = notify(db_session, counselor, "crisis", f"crisis:{warning.id}", student_id=student.id,
                   warning_id=warning.id, requires_ack=True)
    for window in range(1, reminders + 1):
        # the re-alert job numbers windows since the warning; it skips windows (a scheduler down overnight)
        notify(db_session, counselor, "crisis_realert", f"crisis_realert:{warning.id}:{window * 70}",
               student_id=student.id, warning_id=warning.id, params={"window": window * 70}, requires_ack=True)
    return warning, first


def test_a_crisis_and_its_reminders_are_one_line_naming_the_student_with_the_real_count(client, db_session, factory):
    school = factory.school()
    anna = factory.student(school=school, name="黄晨")
    ben = factory.student(school=school, name="李想")
    counselor = factory.counselor(school)
    _crisis(db_session, factory, counselor, anna, reminders=7)
    _crisis(db_session, factory, counselor, ben, reminders=0)
    login(client, counselor.username)
    html = client.get("/notifications").get_data(as_text=True)
    lines = _lines(html)
    assert len(lines) == 2
    by_name = {re.search(r'data-testid="notification-student">(.*?)<', li).group(1): li for li in lines}
    assert set(by_name) == {"黄晨", "李想"}
    assert 'data-testid="reminders">已提醒 7 次<' in by_name["黄晨"]
    assert 'data-testid="reminders"' not in by_name["李想"]
    assert "第 490 次" not in html and "490" not in by_name["黄晨"]
    # the place to act: acknowledge from here, or open the file
    assert "/acknowledge" in by_name["黄晨"] and f"/students/{anna.public_id}" in by_name["黄晨"]
    assert '<span class="count">2</span>' in html  # the badge counts subjects, not rows
    revealed = db_session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.action == "notifications.list"))
    assert revealed == 1  # one audited reveal for the page


def test_newest_subject_first(client, db_session, factory):
    school = factory.school()
    old, new = factory.student(school=school, name="早一"), factory.student(school=school, name="晚二")
    counselor = factory.counselor(school)
    _w, first = _crisis(db_session, factory, counselor, old, reminders=0)
    first.created_at = clock.now() - timedelta(hours=3)
    _crisis(db_session, factory, counselor, new, reminders=0)
    db_session.flush()
    login(client, counselor.username)
    html = client.get("/notifications").get_data(as_text=True)
    names = re.findall(r'data-testid="notification-student">(.*?)<', html)
    assert names == ["晚二", "早一"]


def test_marking_a_group_read_marks_every_row_but_keeps_an_unacknowledged_crisis(client, db_session, factory):
    school = factory.school()
    student = factory.student(school=school)
    counselor = factory.counselor(school)
    warning, _first = _crisis(db_session, factory, counselor, student, reminders=3)
    recheck_notes = [
        notify(db_session, counselor, "observation", f"obs:{i}", student_id=student.id) for i in range(3)
    ]
    login(client, counselor.username)
    assert post(client, f"/notifications/group/o:{student.id}/read").status_code == 302
    for note in recheck_notes:
        db_session.refresh(note)
        assert note.read_at is not None
    assert post(client, f"/notifications/group/w:{warning.id}/read").status_code == 302
    unread = db_session.scalar(select(func.count()).select_from(Notification)
                               .where(Notification.warning_id == warning.id, Notification.read_at.is_(None)))
    assert unread == 4  # the crisis stays until someone acknowledges it
    assert post(client, f"/interviews/{warning.uid}/acknowledge", {"next": "/notifications"}).status_code == 302
    assert post(client, f"/notifications/group/w:{warning.id}/read").status_code == 302
    unread = db_session.scalar(select(func.count()).select_from(Notification)
                               .where(Notification.warning_id == warning.id, Notification.read_at.is_(None)))
    assert unread == 0


def test_a_group_key_marks_only_the_readers_own_rows_and_bad_keys_mark_nothing(client, db_session, factory):
    school = factory.school()
    student = factory.student(school=school)
    counselor, colleague = factory.counselor(school), factory.counselor(school)
    note = notify(db_session, counselor, "observation", "obs:x", student_id=student.id)
    login(client, colleague.username)
    for key in (f"o:{student.id}", "o:1 OR 1=1", "x:1", f"o:{student.id}%27"):
        assert post(client, f"/notifications/group/{key}/read").status_code in (302, 404)
    db_session.refresh(note)
    assert note.read_at is None


def test_the_admin_is_told_of_a_crisis_without_a_counselor_but_not_given_the_name(client, db_session, factory):
    school = factory.school(name="无心理老师小学")
    student = factory.student(school=school, name="王小二")
    admin = factory.user("admin")
    warning = Warning(student_id=student.id, school_id=school.id, suggested_level="L1")
    warning.ensure_uid()
    db_session.add(warning)
    db_session.flush()
    notify(db_session, admin, "crisis_unassigned", f"crisis_unassigned:{warning.id}", student_id=student.id,
           warning_id=warning.id, params={"school": school.name})
    login(client, admin.username)
    html = client.get("/notifications").get_data(as_text=True)
    (line,) = _lines(html)
    assert "无心理老师小学" in line and "王小二" not in html and 'data-testid="notification-student"' not in line
    assert "/acknowledge" not in line


def test_the_list_pages_by_fifty_subjects(client, db_session, factory):
    school = factory.school()
    student = factory.student(school=school)
    counselor = factory.counselor(school)
    for i in range(120):
        notify(db_session, counselor, "digest", f"digest:{i}", params={"overdue": i, "due_this_week": 0,
                                                                         "crises": 0, "unread": 0})
    notify(db_session, counselor, "observation", "obs:only", student_id=student.id)
    login(client, counselor.username)
    first = client.get("/notifications").get_data(as_text=True)
    assert len(_lines(first)) == 50 and "第 1 页，共 3 页" in first
    third = client.get("/notifications?page=3").get_data(as_text=True)
    assert len(_lines(third)) == 21 and 'rel="next"' not in third and 'rel="prev"' in third
    assert len(_lines(client.get("/notifications?page=99").get_data(as_text=True))) == 21  # clamped to the last
    assert len(_lines(client.get("/notifications?page=x").get_data(as_text=True))) == 50
