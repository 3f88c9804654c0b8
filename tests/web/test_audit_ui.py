"""The admin audit browser: admin only, filters, pagination, no decrypted data, browsing audited, verify button."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from models import AuditEvent, clock
from models.audit import Actor, append_event
from tests.audit_support import link_audit
from tests.conftest import login, post
from tests.integration.keys_support import disable_audit_triggers


@pytest.fixture
def admin(factory):  # type: ignore[no-untyped-def]
    return factory.user("admin")


@pytest.fixture
def admin_client(client, admin, factory):  # type: ignore[no-untyped-def]
    login(client, admin.username, factory.PASSWORD)
    return client


def table(response) -> str:  # type: ignore[no-untyped-def]
    """Only the events table of the page (the filter form lists known actions too)."""
    html = response.get_data(as_text=True)
    start = html.find('<table class="audit-table"')
    return html[start : html.find("</table>", start)] if start >= 0 else ""


def browse_events(db_session) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    return list(
        db_session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.browse").order_by(AuditEvent.seq))
    )


@pytest.mark.parametrize("role", ["counselor", "head_teacher", "district"])
def test_other_roles_are_refused_the_audit_browser(client, factory, role):
    user = factory.user(role)
    login(client, user.username, factory.PASSWORD)
    assert client.get("/admin/audit").status_code == 403
    assert post(client, "/admin/audit/verify").status_code == 403


def test_an_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/admin/audit")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_admin_sees_events_with_actor_role_action_student_target_address_and_time(
    admin_client, factory, db_session
):
    student = factory.student(name="龙婉清", number="G5500112233")
    reader = factory.vault.reveal(student, "student.view", target="file")
    assert reader.name == "龙婉清"
    html = admin_client.get("/admin/audit").get_data(as_text=True)
    assert "审计日志" in html
    assert student.public_id in html and "student.view" in html and "tests" in html and "file" in html
    assert "auth.login" in html and "127.0.0.1" in html
    assert "龙婉清" not in html and "G5500112233" not in html


def test_the_nav_shows_the_audit_log_to_admins_only(admin_client, client, factory):
    assert 'href="/admin/audit"' in admin_client.get("/admin/audit").get_data(as_text=True)
    other = client.application.test_client()
    counselor = factory.counselor()
    login(other, counselor.username, factory.PASSWORD)
    page = other.get("/account/password").get_data(as_text=True)
    assert 'href="/admin/audit"' not in page


def test_filtering_by_student_shows_only_that_students_events(admin_client, factory):
    a, b = factory.student(), factory.student()
    factory.vault.reveal(a, "student.view")
    factory.vault.reveal(b, "student.export")
    html = table(admin_client.get(f"/admin/audit?student={a.public_id}"))
    assert a.public_id in html and "student.view" in html
    assert b.public_id not in html and "student.export" not in html


def test_filtering_by_user_and_action(admin_client, admin, factory, db_session):
    append_event(db_session, Actor(99, "zhao", "counselor", "10.0.0.9"), "student.view", target="x1")
    append_event(db_session, Actor(98, "qian", "counselor", "10.0.0.8"), "student.view", target="x2")
    append_event(db_session, Actor(99, "zhao", "counselor", "10.0.0.9"), "case.update", target="x3")
    html = table(admin_client.get("/admin/audit?user=zhao&action=student.view"))
    assert "x1" in html and "x2" not in html and "x3" not in html
    prefix = table(admin_client.get("/admin/audit?user=zhao&action=case.*"))
    assert "x3" in prefix and "x1" not in prefix


def test_filtering_by_date_range_uses_local_days(admin_client, db_session):
    old = append_event(db_session, Actor.system("job"), "test.old", target="long-ago")
    disable_audit_triggers(db_session)  # back-date the event as if it was written long ago
    db_session.execute(
        update(AuditEvent).where(AuditEvent.seq == old.seq).values(at=datetime(2026, 1, 10, 17, 0, tzinfo=UTC))
    )
    # 17:00 UTC on 10 January is 01:00 on 11 January in Shanghai
    on_day = admin_client.get("/admin/audit?date_from=2026-01-11&date_to=2026-01-11").get_data(as_text=True)
    assert "long-ago" in on_day
    day_before = admin_client.get("/admin/audit?date_from=2026-01-10&date_to=2026-01-10").get_data(as_text=True)
    assert "long-ago" not in day_before


def test_an_end_date_before_the_start_date_is_explained(admin_client):
    html = admin_client.get("/admin/audit?date_from=2026-03-02&date_to=2026-03-01").get_data(as_text=True)
    assert "截止日期早于起始日期" in html


def test_browsing_writes_an_audit_browse_event_with_the_filters(admin_client, admin, db_session):
    admin_client.get("/admin/audit?user=zhao&action=student.view&date_from=2026-01-01&page=1")
    events = browse_events(db_session)
    assert len(events) == 1
    event = events[0]
    assert event.actor == admin.username and event.role == "admin"
    assert json.loads(event.detail) == {"user": "zhao", "action": "student.view", "date_from": "2026-01-01", "page": 1}


def test_the_list_is_paginated_newest_first(admin_client, db_session):
    for i in range(120):
        append_event(db_session, Actor.system("job"), "test.bulk", target=f"n{i:03d}")
    first = admin_client.get("/admin/audit?action=test.bulk").get_data(as_text=True)
    assert "n119" in first and "n070" in first and "n069" not in first
    assert "第 1 页，共 3 页" in first and "page=2" in first and "action=test.bulk" in first
    third = admin_client.get("/admin/audit?action=test.bulk&page=3").get_data(as_text=True)
    assert "n019" in third and "n000" in third and "n020" not in third


def test_verify_button_without_csrf_is_refused(admin_client):
    assert admin_client.post("/admin/audit/verify").status_code == 400


def test_verify_button_reports_an_intact_chain_and_is_audited(admin_client, db_session):
    response = post(admin_client, "/admin/audit/verify", follow_redirects=True)
    assert response.status_code == 200
    assert "审计链完整" in response.get_data(as_text=True)
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.verify"))
    assert json.loads(event.detail)["ok"] is True


def test_verify_button_reports_a_tampered_chain(admin_client, factory, db_session):
    student = factory.student()
    for _ in range(3):
        factory.vault.reveal(student, "student.view")
    link_audit(db_session)
    disable_audit_triggers(db_session)
    db_session.execute(update(AuditEvent).where(AuditEvent.action == "student.view").values(target="edited"))
    html = post(admin_client, "/admin/audit/verify", follow_redirects=True).get_data(as_text=True)
    assert "审计链在第" in html and "断裂" in html


def test_verify_button_reports_events_left_unlinked_past_the_bound_and_pending_ones(admin_client, db_session):
    link_audit(db_session)
    append_event(db_session, Actor.system("job"), "test.fresh")  # just appended: pending, not a fault
    html = post(admin_client, "/admin/audit/verify", follow_redirects=True).get_data(as_text=True)
    assert "审计链完整" in html and "正等待链入审计链" in html
    append_event(db_session, Actor.system("job"), "test.stuck", at=clock.now() - timedelta(seconds=61))
    html = post(admin_client, "/admin/audit/verify", follow_redirects=True).get_data(as_text=True)
    assert "超过 60 秒仍未链入审计链" in html and "审计链完整" not in html
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.verify")
                               .order_by(AuditEvent.seq.desc())).first()
    assert json.loads(event.detail)["ok"] is False and json.loads(event.detail)["stale"] == 1


def test_verify_button_needs_a_recent_login(admin_client):
    with admin_client.session_transaction() as s:
        s["auth_at"] = (clock.now() - timedelta(hours=2)).timestamp()
    response = post(admin_client, "/admin/audit/verify")
    assert response.status_code == 302 and "/reauth" in response.headers["Location"]


def test_events_show_a_translated_label_the_students_public_id_and_school(admin_client, factory, db_session):
    school = factory.school(name="第九中学")
    student = factory.student(school=school, name="龙婉清")
    append_event(db_session, Actor(99, "zhao", "counselor", "10.0.0.9"), "case.entry_added",
                 student_public_id=student.public_id, target="case:241dfd3f-aaaa")
    html = table(admin_client.get(f"/admin/audit?student={student.public_id}"))
    row = html[html.index('data-action="case.entry_added"'):]
    row = row[: row.index("</tr>")]
    assert "个案新增记录" in row and student.public_id in row and "第九中学" in row
    assert "个案 <code>241dfd3f-aaaa</code>" in row
    assert "龙婉清" not in html


def test_the_action_filter_offers_labels_by_area_and_keeps_the_choice(admin_client, db_session):
    append_event(db_session, Actor(99, "zhao", "counselor", "10.0.0.9"), "case.view", target="x1")
    append_event(db_session, Actor(99, "zhao", "counselor", "10.0.0.9"), "case.closed", target="x2")
    append_event(db_session, Actor(99, "zhao", "counselor", "10.0.0.9"), "student.view", target="x3")
    page = admin_client.get("/admin/audit?action=case.*").get_data(as_text=True)
    select_html = page[page.index('<select id="action"'):page.index("</select>")]
    assert '<optgroup label="个案">' in select_html
    assert '<option value="case.*" selected>全部：个案</option>' in select_html
    assert '<option value="case.entry_added" >个案新增记录</option>' in select_html
    rows = table(admin_client.get("/admin/audit?action=case.*"))
    assert "x1" in rows and "x2" in rows and "x3" not in rows
    only = admin_client.get("/admin/audit?action=case.closed").get_data(as_text=True)
    assert '<option value="case.closed" selected>个案结案</option>' in only
    assert "x2" in table(admin_client.get("/admin/audit?action=case.closed"))


def test_the_list_numbers_events_by_their_chain_position_and_marks_pending_ones(admin_client, db_session):
    append_event(db_session, Actor.system("job"), "test.linked", target="is-linked")
    link_audit(db_session)
    position = db_session.scalar(select(AuditEvent.chain_seq).where(AuditEvent.action == "test.linked"))
    append_event(db_session, Actor.system("job"), "test.pending", target="is-pending")
    html = table(admin_client.get("/admin/audit?action=test.*"))
    rows = html.split("<tr>")
    linked = next(r for r in rows if "is-linked" in r)
    pending = next(r for r in rows if "is-pending" in r)
    assert f'<td class="num">{position}</td>' in linked
    assert 'title="尚未链入审计链"' in pending and 'title="尚未链入审计链"' not in linked
