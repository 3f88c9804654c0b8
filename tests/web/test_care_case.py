"""The case page: plan with optimistic locking, timeline entries, referral form, closing, scope and CSRF."""
from __future__ import annotations

from sqlalchemy import select

from app.care import service, warning_lifecycle
from models import AuditEvent, CaseEntry
from tests.conftest import login, post
from tests.integration.care_support import actor_vault, make_recheck, make_warning


def _case(factory, db_session, keyring):  # type: ignore[no-untyped-def]
    school = factory.school()
    klass = factory.klass(school)
    counselor = factory.counselor(school)
    student = factory.student(klass=klass, name="个案同学")
    actor, vault = actor_vault(db_session, keyring, counselor)
    case = warning_lifecycle.confirm_level(
        db_session, actor, vault, make_warning(db_session, student, "L2"), "L2", "确认"
    )
    return case, student, counselor, klass


def test_plan_saves_and_a_stale_form_is_refused_with_the_text_shown_back(app, factory, db_session, keyring):
    case, _, counselor, _ = _case(factory, db_session, keyring)
    first, second = app.test_client(), app.test_client()
    login(first, counselor.username)
    other = factory.counselor(case.student.school)
    login(second, other.username)
    version = case.version
    ok = post(
        first,
        f"/cases/{case.uid}/plan",
        {"version": version, "goals": "第一位老师的目标", "measures": "", "responsibilities": ""},
    )
    assert ok.status_code == 302
    stale = post(
        second,
        f"/cases/{case.uid}/plan",
        {"version": version, "goals": "第二位老师的目标", "measures": "每周辅导", "responsibilities": ""},
    )
    html = stale.get_data(as_text=True)
    assert stale.status_code == 200
    assert "另一位心理教师已保存了此个案" in html and "第二位老师的目标" in html and "第一位老师的目标" in html
    page = first.get(f"/cases/{case.uid}").get_data(as_text=True)
    assert "第一位老师的目标" in page and "第二位老师的目标" not in page


def test_counselor_records_a_parent_contact_and_a_referral_and_prints_the_form(client, factory, db_session, keyring):
    case, student, counselor, _ = _case(factory, db_session, keyring)
    login(client, counselor.username)
    r1 = post(client, f"/cases/{case.uid}/entries", {"kind": "parent_contact", "occurred_on": "2026-11-20",
                                                      "note": "电话联系母亲", "visibility": "shared"})
    r2 = post(
        client,
        f"/cases/{case.uid}/entries",
        {
            "kind": "referral",
            "occurred_on": "2026-11-21",
            "note": "建议专业评估",
            "visibility": "counselor",
            "destination": "区精神卫生中心",
            "referral_status": "sent",
        },
    )
    assert r1.status_code == 302 and r2.status_code == 302
    page = client.get(f"/cases/{case.uid}").get_data(as_text=True)
    assert "电话联系母亲" in page and "区精神卫生中心" in page and "已转介" in page
    referral = db_session.scalar(
        select(CaseEntry).where(CaseEntry.kind == "referral", CaseEntry.student_id == student.id)
    )
    assert (
        post(client, f"/entries/{referral.uid}/referral", {"status": "feedback", "feedback": "已就诊"}).status_code
        == 302
    )
    before_consent = client.get(f"/care/referrals/{referral.uid}/print")  # consent first, as for the packet
    assert before_consent.status_code == 302 and f"/care/referrals/{referral.uid}" in before_consent.headers["Location"]
    assert post(client, f"/care/referrals/{referral.uid}/consent",
                {"how": "in_person", "by": "母亲", "on": "2026-11-21"}).status_code == 302
    printed = client.get(f"/care/referrals/{referral.uid}/print").get_data(as_text=True)
    assert "转介单" in printed and "个案同学" in printed and "区精神卫生中心" in printed and "建议专业评估" in printed
    assert "referral.printed" in set(db_session.scalars(select(AuditEvent.action)))


def test_a_referral_without_destination_and_a_confidentiality_entry_without_whom_are_refused(
    client, factory, db_session, keyring
):
    case, _, counselor, _ = _case(factory, db_session, keyring)
    login(client, counselor.username)
    r = post(client, f"/cases/{case.uid}/entries", {"kind": "referral", "occurred_on": "2026-11-21", "note": "x",
                                                     "visibility": "counselor", "referral_status": "planned"})
    assert r.status_code == 200 and "转介需要填写转介机构" in r.get_data(as_text=True)
    r = post(
        client,
        f"/cases/{case.uid}/entries",
        {
            "kind": "confidentiality",
            "occurred_on": "2026-11-21",
            "note": "有风险",
            "visibility": "counselor",
            "referral_status": "planned",
        },
    )
    assert r.status_code == 200 and "请写明告知了谁" in r.get_data(as_text=True)


def test_closing_suggestion_shows_and_closing_needs_a_reason(client, factory, db_session, keyring):
    case, student, counselor, _ = _case(factory, db_session, keyring)
    make_recheck(db_session, student, negative=True, done_days_ago=-1)
    make_recheck(db_session, student, negative=True, done_days_ago=-2)
    login(client, counselor.username)
    assert "最近两次复查均为阴性" in client.get(f"/cases/{case.uid}").get_data(as_text=True)
    refused = post(client, f"/cases/{case.uid}/close", {"version": case.version, "reason": ""})
    assert refused.status_code == 200 and "请填写理由" in refused.get_data(as_text=True)
    assert (
        post(client, f"/cases/{case.uid}/close", {"version": case.version, "reason": "复查阴性，结案"}).status_code
        == 302
    )
    db_session.refresh(case)
    assert case.status == "closed"


def test_case_routes_refuse_wrong_roles_other_schools_and_missing_csrf(app, factory, db_session, keyring):
    case, _, counselor, klass = _case(factory, db_session, keyring)
    urls_get = [f"/cases/{case.uid}"]
    urls_post = [f"/cases/{case.uid}/plan", f"/cases/{case.uid}/entries", f"/cases/{case.uid}/close"]
    for user, expected in ((factory.head_teacher(klass), 403), (factory.user("admin"), 403),
                           (factory.counselor(factory.school()), 404)):
        c = app.test_client()
        login(c, user.username)
        for url in urls_get:
            assert c.get(url).status_code == expected, url
        for url in urls_post:
            assert (
                post(
                    c, url, {"version": 1, "reason": "x", "kind": "note", "occurred_on": "2026-11-01", "note": "x"}
                ).status_code
                == expected
            ), url
    c = app.test_client()
    login(c, counselor.username)
    for url in urls_post:
        assert c.post(url, data={"version": 1, "reason": "x"}).status_code == 400, url


def test_the_student_file_shows_warnings_history_case_and_timeline(client, factory, db_session, keyring):
    case, student, counselor, _ = _case(factory, db_session, keyring)
    actor, vault = actor_vault(db_session, keyring, counselor)
    from datetime import date

    service.add_entry(db_session, actor, vault, student, "interview", date(2026, 11, 2), "首次约谈记录", case=case)
    login(client, counselor.username)
    html = client.get(f"/students/{student.public_id}").get_data(as_text=True)
    assert 'id="warnings"' in html and 'id="case"' in html and "首次约谈记录" in html and "确认" in html
