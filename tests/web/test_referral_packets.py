"""Referral packets and the service's feedback (app/care/referrals.py): consent first, the packet holds exactly the
ticked sections (read back from the PDF), the feedback is sealed, a referral without feedback comes onto the
worklist, the district figures count referrals and feedback, and only counselors reach any of it."""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, text

from app.care import crisis, service, warning_lifecycle
from models import AuditEvent, CaseEntry, Screening, clock
from tests.conftest import login, post
from tests.integration.care_support import actor_vault, make_warning
from tests.pdf_tools import pdf_text, squeeze

REASON = "持续情绪低落两月余需专业评估"
PLAN_SIGN = "晚上独自一人时反复想到结束生命"
PLAN_PRO = "区心理援助热线值班医生"
PHONE = "13912345678"
ASSESS_REASON = "近期有自杀想法但无计划需进一步评估"


@pytest.fixture
def world(factory, db_session, keyring):  # type: ignore[no-untyped-def]
    school = factory.school(name="转介测试中学")
    klass = factory.klass(school)
    counselor = factory.counselor(school, display_name="周老师")
    student = factory.student(klass=klass, name="转介同学",
                              guardians=[{"name": "王丽", "relation": "母亲", "phone": PHONE}])
    actor, vault = actor_vault(db_session, keyring, counselor)
    warning = make_warning(db_session, student, "L1")
    case = warning_lifecycle.confirm_level(db_session, actor, vault, warning, "L1", "确认一级")
    answers = {q: {"answer": "no", "note": ""} for q in ("thoughts", "plan", "past_attempts", "means", "supports")}
    crisis.record_assessment(db_session, actor, vault, warning, answers, "further_evaluation", ASSESS_REASON)
    crisis.save_safety_plan(db_session, actor, vault, case, {"warning_signs": PLAN_SIGN, "professionals": PLAN_PRO},
                            clock.today() + timedelta(days=7))
    db_session.add(Screening(student_id=student.id, school_id=school.id, class_id=klass.id, grade=klass.grade,
                             instrument_id="phqa", instrument_version="1.0", mode="paper",
                             administered_on=date(2026, 9, 17), valid=True, total=19, positive=True,
                             critical=False, suggested_level="L2"))
    referral = service.add_entry(db_session, actor, vault, student, "referral", clock.today(), REASON, case=case,
                                 destination="市精神卫生中心儿少门诊", referral_status="sent")
    db_session.flush()
    return {"school": school, "klass": klass, "counselor": counselor, "student": student, "case": case,
            "referral": referral}


def _packet(client, uid: str, *sections: str):  # type: ignore[no-untyped-def]
    return client.get(f"/care/referrals/{uid}/packet.pdf", query_string=[("section", s) for s in sections])


def _consent_by_phone(client, uid: str):  # type: ignore[no-untyped-def]
    return post(client, f"/care/referrals/{uid}/consent",
                {"how": "phone", "by": "王丽（母亲）", "on": "2026-11-20", "no_consent_reason": ""})


def test_the_packet_is_refused_until_the_consent_or_a_reason_without_it_is_recorded(client, world, db_session):
    uid = world["referral"].uid
    login(client, world["counselor"].username)
    page = client.get(f"/care/referrals/{uid}").get_data(as_text=True)
    assert 'data-testid="packet-needs-consent"' in page and 'data-testid="packet-form"' not in page
    refused = _packet(client, uid, "reason")
    assert refused.status_code == 302 and refused.mimetype != "application/pdf"
    assert "referral.packet" not in set(db_session.scalars(select(AuditEvent.action)))
    # consent without who / without a reason is refused, nothing recorded
    r = post(client, f"/care/referrals/{uid}/consent", {"how": "phone", "by": "", "on": "2026-11-20"})
    assert r.status_code == 200 and "请写明谁同意及同意日期" in r.get_data(as_text=True)
    r = post(client, f"/care/referrals/{uid}/consent", {"how": "none", "no_consent_reason": " "})
    assert r.status_code == 200 and "未经监护人同意的转介须写明原因" in r.get_data(as_text=True)
    db_session.expire_all()
    assert db_session.get(CaseEntry, world["referral"].id).consent_recorded_at is None
    assert _packet(client, uid, "reason").status_code == 302
    # without consent, with its reason: recorded (sealed), and the packet may be printed
    r = post(client, f"/care/referrals/{uid}/consent",
             {"how": "none", "no_consent_reason": "急迫风险，监护人暂无法联系"})
    assert r.status_code == 302
    db_session.expire_all()
    entry = db_session.get(CaseEntry, world["referral"].id)
    assert entry.consent_recorded_at is not None and entry.consent_how is None
    assert entry.no_consent_reason_enc and "急迫风险".encode() not in entry.no_consent_reason_enc
    ok = _packet(client, uid, "reason")
    assert ok.status_code == 200 and ok.mimetype == "application/pdf"
    assert "未经监护人同意" in squeeze(pdf_text(ok.data)) and "急迫风险" in squeeze(pdf_text(ok.data))


def test_the_packet_holds_exactly_the_chosen_sections(client, world, db_session):
    uid = world["referral"].uid
    login(client, world["counselor"].username)
    assert _consent_by_phone(client, uid).status_code == 302
    page = client.get(f"/care/referrals/{uid}").get_data(as_text=True)
    assert "王丽（母亲）" in page and "电话" in page

    first = _packet(client, uid, "reason", "safety_plan")
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    text1 = squeeze(pdf_text(first.data))
    assert "转介同学" in text1 and "市精神卫生中心儿少门诊" in text1  # the header
    assert REASON in text1 and PLAN_SIGN in text1 and PLAN_PRO in text1
    for absent in (PHONE, "王丽（母亲）电话", "2026年9月17日", "PHQ", ASSESS_REASON, "观察到的风险", "联系方式",
                   "筛查结果"):
        assert absent not in text1, absent

    second = _packet(client, uid, "screenings", "risk", "contacts", "bogus")
    text2 = squeeze(pdf_text(second.data))
    assert PHONE in text2 and "周老师" in text2 and "19" in text2 and ASSESS_REASON in text2
    assert "2026" in text2 and "观察到的风险" in text2
    for absent in (REASON, PLAN_SIGN, PLAN_PRO):
        assert absent not in text2, absent

    events = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "referral.packet")
                                .order_by(AuditEvent.seq)).all()
    assert [json.loads(e.detail).get("sections") for e in events] == [["reason", "safety_plan"],
                                                         ["screenings", "risk", "contacts"]]
    assert all(e.student_public_id == world["student"].public_id for e in events)
    # nothing ticked: no packet
    assert _packet(client, uid).status_code == 302


def test_the_services_feedback_is_recorded_sealed(client, world, db_session):
    uid = world["referral"].uid
    login(client, world["counselor"].username)
    r = post(client, f"/care/referrals/{uid}/feedback",
             {"impression": "中度抑郁发作印象", "advice": "每两周复诊一次", "next_appointment": "2026-12-10"})
    assert r.status_code == 302
    raw = db_session.execute(
        text("SELECT service_feedback_enc, referral_status, feedback_at FROM case_entries WHERE id = :id"),
        {"id": world["referral"].id},
    ).one()
    blob = bytes(raw[0])
    assert blob and "中度抑郁".encode() not in blob and "复诊".encode() not in blob and b"2026-12-10" not in blob
    assert raw[1] == "feedback" and raw[2] is not None
    page = client.get(f"/care/referrals/{uid}").get_data(as_text=True)
    assert "中度抑郁发作印象" in page and "每两周复诊一次" in page and "2026-12-10" in page
    assert "referral.feedback_recorded" in set(db_session.scalars(select(AuditEvent.action)))
    empty = post(client, f"/care/referrals/{uid}/feedback", {"impression": "", "advice": ""})
    assert empty.status_code == 200 and "请记录机构的诊断印象或建议" in empty.get_data(as_text=True)


def test_a_referral_without_feedback_comes_onto_the_worklist_after_the_configured_days(
    app, client, factory, db_session, keyring, moved_clock,
):
    moved_clock(datetime.fromisoformat("2026-11-02T09:00+08:00"))
    school = factory.school()
    counselor = factory.counselor(school)
    student = factory.student(klass=factory.klass(school), name="待反馈同学")
    actor, vault = actor_vault(db_session, keyring, counselor)
    referral = service.add_entry(db_session, actor, vault, student, "referral", clock.today(), "转介",
                                 destination="中心", referral_status="sent")
    db_session.flush()
    login(client, counselor.username)
    assert 'data-testid="referral-feedback-due"' not in client.get("/care/worklist").get_data(as_text=True)
    app.config["REFERRAL_FEEDBACK_DAYS"] = 10
    moved_clock(datetime.fromisoformat("2026-11-11T09:00+08:00"))  # day 9: not late yet
    client = app.test_client()  # days later: a new sign-in
    login(client, counselor.username)
    assert 'data-testid="referral-feedback-due"' not in client.get("/care/worklist").get_data(as_text=True)
    moved_clock(datetime.fromisoformat("2026-11-12T09:00+08:00"))  # day 10
    client = app.test_client()
    login(client, counselor.username)
    page = client.get("/care/worklist").get_data(as_text=True)
    assert 'data-testid="referral-feedback-due"' in page and "待反馈同学" in page
    assert f"/care/referrals/{referral.uid}#feedback" in page
    assert post(client, f"/care/referrals/{referral.uid}/feedback", {"impression": "已就诊", "advice": ""}
                ).status_code == 302
    assert 'data-testid="referral-feedback-due"' not in client.get("/care/worklist").get_data(as_text=True)


@pytest.mark.parametrize("role", ["head_teacher", "district", "admin"])
def test_other_roles_are_refused_every_referral_route(app, factory, world, role):  # type: ignore[no-untyped-def]
    uid = world["referral"].uid
    user = factory.head_teacher(world["klass"]) if role == "head_teacher" else factory.user(role)
    client = app.test_client()
    login(client, user.username)
    assert client.get(f"/care/referrals/{uid}").status_code == 403
    assert _packet(client, uid, "reason").status_code == 403
    assert post(client, f"/care/referrals/{uid}/consent", {"how": "phone", "by": "x", "on": "2026-11-20"}
                ).status_code == 403
    assert post(client, f"/care/referrals/{uid}/feedback", {"impression": "x"}).status_code == 403


def test_a_counselor_of_another_school_gets_not_found_and_posts_need_csrf(app, factory, world):
    uid = world["referral"].uid
    other = app.test_client()
    login(other, factory.counselor(factory.school()).username)
    assert other.get(f"/care/referrals/{uid}").status_code == 404
    assert _packet(other, uid, "reason").status_code == 404
    mine = app.test_client()
    login(mine, world["counselor"].username)
    assert mine.post(f"/care/referrals/{uid}/consent", data={"how": "phone", "by": "x", "on": "2026-11-20"}
                     ).status_code == 400
    assert mine.post(f"/care/referrals/{uid}/feedback", data={"impression": "x"}).status_code == 400


def test_the_packet_needs_a_recent_login_and_the_page_reads_in_english(client, world):
    uid = world["referral"].uid
    login(client, world["counselor"].username)
    assert _consent_by_phone(client, uid).status_code == 302
    with client.session_transaction() as sess:
        sess["lang"] = "en"
    page = client.get(f"/care/referrals/{uid}").get_data(as_text=True)
    assert "The referral packet" in page and "Consent given by 王丽（母亲）" in page and "By phone" in page
    with client.session_transaction() as sess:
        sess["auth_at"] = 0
    stale = _packet(client, uid, "reason")
    assert stale.status_code == 302 and "reauth" in stale.headers["Location"]
