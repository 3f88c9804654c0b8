"""The notification list, the badge in the top bar, marking read (POST + CSRF), and scope."""
from __future__ import annotations

from app.notifications.service import notify
from models import Warning
from tests.conftest import login, post


def _counselor_with_notes(db_session, factory):
    student = factory.student()
    counselor = factory.counselor(student.school)
    due = notify(db_session, counselor, "recheck_due", "recheck_due:a", student_id=student.id)
    digest = notify(
        db_session, counselor, "digest", "digest:x", params={"overdue": 3, "due_this_week": 2, "crises": 0, "unread": 1}
    )
    return student, counselor, due, digest


def test_the_list_renders_each_kind_in_chinese_and_the_badge_counts_unread(client, db_session, factory):
    student, counselor, _due, _digest = _counselor_with_notes(db_session, factory)
    login(client, counselor.username)
    html = client.get("/notifications").get_data(as_text=True)
    assert "有一次复查应于" in html
    assert "本周汇总：逾期复查 3 次" in html
    assert f'href="/students/{student.public_id}"' in html
    assert 'data-testid="notification-badge">通知 <span class="count">2</span>' in html


def test_marking_one_read_lowers_the_badge(client, db_session, factory):
    _student, counselor, due, _digest = _counselor_with_notes(db_session, factory)
    login(client, counselor.username)
    assert post(client, f"/notifications/{due.id}/read").status_code == 302
    db_session.refresh(due)
    assert due.read_at is not None
    assert '<span class="count">1</span>' in client.get("/notifications").get_data(as_text=True)


def test_mark_all_read_keeps_unacknowledged_crisis_alerts(client, db_session, factory):
    student, counselor, due, digest = _counselor_with_notes(db_session, factory)
    warning = Warning(student_id=student.id, school_id=student.school_id, suggested_level="L1")
    warning.ensure_uid()
    db_session.add(warning)
    db_session.flush()
    crisis = notify(
        db_session, counselor, "crisis", "crisis:w", student_id=student.id, warning_id=warning.id, requires_ack=True
    )
    login(client, counselor.username)
    assert post(client, "/notifications/read-all").status_code == 302
    for note in (due, digest, crisis):
        db_session.refresh(note)
    assert due.read_at is not None and digest.read_at is not None
    assert crisis.read_at is None


def test_someone_elses_notification_cannot_be_marked_and_is_not_listed(client, db_session, factory):
    _student, counselor, due, _digest = _counselor_with_notes(db_session, factory)
    colleague = factory.counselor()
    login(client, colleague.username)
    assert post(client, f"/notifications/{due.id}/read").status_code == 404
    assert "有一次复查应于" not in client.get("/notifications").get_data(as_text=True)
    db_session.refresh(due)
    assert due.read_at is None


def test_marking_read_without_csrf_is_refused(client, db_session, factory):
    _student, counselor, due, _digest = _counselor_with_notes(db_session, factory)
    login(client, counselor.username)
    assert client.post(f"/notifications/{due.id}/read").status_code == 400
    assert client.post("/notifications/read-all").status_code == 400


def test_marking_read_is_post_only(client, db_session, factory):
    _student, counselor, due, _digest = _counselor_with_notes(db_session, factory)
    login(client, counselor.username)
    assert client.get(f"/notifications/{due.id}/read").status_code == 405


def test_anonymous_visitors_are_sent_to_login(client):
    response = client.get("/notifications")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_head_teacher_sees_a_checkin_reminder_without_clinical_words(client, db_session, factory):
    klass = factory.klass()
    teacher = factory.head_teacher(klass)
    notify(
        db_session,
        teacher,
        "checkin_due",
        "checkin_due:t:42:1",
        params={"count": 2, "term": "2026-2027-1", "ends_on": "2027-01-20"},
    )
    login(client, teacher.username)
    html = client.get("/notifications").get_data(as_text=True)
    assert "您班上有 2 名关爱对象本学期尚未谈心" in html
    for word in ("预警", "复查", "量表"):
        assert word not in html.split('<main', 1)[1]


def test_an_empty_list_says_what_will_appear(client, factory):
    user = factory.counselor()
    login(client, user.username)
    assert "暂无通知" in client.get("/notifications").get_data(as_text=True)
