"""The crisis response of a level-1 warning: the safety assessment, the steps its outcome requires before the case
can be closed or lowered, the safety plan (sealed, printable), and what the head teacher never sees."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from app.care import crisis, service, warning_lifecycle
from models import AuditEvent, CareCase, SafetyAssessment, SafetyPlan, Warning, clock
from tests.conftest import login, post
from tests.integration.care_support import actor_vault, make_warning, raw_bytes

pytestmark = pytest.mark.db

ANSWERS = {"thoughts": "yes", "plan": "no", "past_attempts": "no", "means": "unknown", "supports": "yes"}


def _l1_case(factory, db_session, keyring):  # type: ignore[no-untyped-def]
    school = factory.school()
    klass = factory.klass(school)
    counselor = factory.counselor(school)
    student = factory.student(klass=klass, name="危机同学")
    actor, vault = actor_vault(db_session, keyring, counselor)
    warning = make_warning(db_session, student, "L1", reason="PHQ-A 第9题阳性")
    case = warning_lifecycle.confirm_level(db_session, actor, vault, warning, "L1", "约谈确认一级")
    return case, warning, student, counselor, klass


def _assess(client, warning, outcome, reason="评估理由秘密", **notes):  # type: ignore[no-untyped-def]
    data = {"outcome": outcome, "reason": reason}
    for q, a in ANSWERS.items():
        data[q] = a
        data[f"{q}_note"] = notes.get(q, "")
    return post(client, f"/warnings/{warning.uid}/assessment", data)


def _close(client, db_session, case):  # type: ignore[no-untyped-def]
    db_session.refresh(case)
    return post(client, f"/cases/{case.uid}/close", {"version": case.version, "reason": "随访稳定，结案"})


def _entry(client, case, kind, **extra):  # type: ignore[no-untyped-def]
    data = {"kind": kind, "occurred_on": clock.today().isoformat(), "note": "记录", "visibility": "counselor",
            "referral_status": "sent", **extra}
    return post(client, f"/cases/{case.uid}/entries", data)


def _plan(client, case, **steps):  # type: ignore[no-untyped-def]
    data = {"warning_signs": "晚上睡不着、想躲起来", "coping": "听音乐、画画", "distractions": "去操场跑步",
            "help_people": "妈妈、班主任", "professionals": "心理老师；12356", "environment": "药品交给妈妈保管",
            "review_on": clock.today().isoformat(), **steps}
    return post(client, f"/cases/{case.uid}/safety-plan", data)


def test_a_level_one_case_cannot_be_closed_without_an_assessment(client, factory, db_session, keyring):
    case, warning, _, counselor, _ = _l1_case(factory, db_session, keyring)
    login(client, counselor.username)
    page = client.get(f"/cases/{case.uid}").get_data(as_text=True)
    assert 'data-testid="assessment-form"' in page and 'data-testid="assessment-due"' in page
    refused = _close(client, db_session, case)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 200 and "一级预警个案尚不能结案" in html and "安全评估" in html
    db_session.refresh(case)
    assert case.status != "closed"


def test_a_level_one_warning_cannot_be_lowered_or_dismissed_without_an_assessment(client, factory, db_session,
                                                                                  keyring):
    case, warning, _, counselor, _ = _l1_case(factory, db_session, keyring)
    login(client, counselor.username)
    for level in ("L2", "none"):
        r = post(client, f"/warnings/{warning.uid}/confirm", {"level": level, "reason": "约谈后风险不高"})
        assert r.status_code == 200 and "一级预警尚不能降级" in r.get_data(as_text=True)
    db_session.refresh(warning)
    assert warning.confirmed_level == "L1" and warning.status == "confirmed"


def test_the_service_refuses_too_not_only_the_page(db_session, factory, keyring):
    case, warning, _, counselor, _ = _l1_case(factory, db_session, keyring)
    actor, vault = actor_vault(db_session, keyring, counselor)
    with pytest.raises(crisis.CrisisStepsMissing) as closing:
        service.close_case(db_session, actor, vault, case, "结案")
    assert closing.value.missing == ["assessment"]
    with pytest.raises(crisis.CrisisStepsMissing):
        warning_lifecycle.confirm_level(db_session, actor, vault, warning, "L3", "降级")


def test_imminent_risk_blocks_until_guardian_and_emergency_referral_are_recorded(client, factory, db_session,
                                                                                 keyring):
    case, warning, _, counselor, _ = _l1_case(factory, db_session, keyring)
    login(client, counselor.username)
    assert _assess(client, warning, "imminent").status_code == 302
    page = client.get(f"/cases/{case.uid}").get_data(as_text=True)
    assert 'data-step="guardian" data-done="no"' in page and 'data-step="emergency_referral" data-done="no"' in page
    r = _close(client, db_session, case)
    assert r.status_code == 200 and "告知监护人" in r.get_data(as_text=True) and "紧急转介" in r.get_data(as_text=True)
    assert _entry(client, case, "parent_contact").status_code == 302
    # an ordinary referral is not the emergency referral
    assert _entry(client, case, "referral", destination="区精神卫生中心").status_code == 302
    r = _close(client, db_session, case)
    assert r.status_code == 200 and "紧急转介" in r.get_data(as_text=True)
    r = post(client, f"/warnings/{warning.uid}/confirm", {"level": "L2", "reason": "降级"})
    assert "一级预警尚不能降级" in r.get_data(as_text=True)
    assert _entry(client, case, "referral", destination="市精神卫生中心急诊", emergency="y").status_code == 302
    page = client.get(f"/cases/{case.uid}").get_data(as_text=True)
    assert 'data-step="emergency_referral" data-done="yes"' in page
    assert _close(client, db_session, case).status_code == 302
    db_session.refresh(case)
    assert case.status == "closed"


def test_further_evaluation_needs_a_referral_by_its_due_date_and_a_safety_plan(client, factory, db_session, keyring):
    case, warning, _, counselor, _ = _l1_case(factory, db_session, keyring)
    login(client, counselor.username)
    assert _assess(client, warning, "further_evaluation").status_code == 302
    response = crisis.response_for(db_session, warning, case)
    referral = next(s for s in response.steps if s.key == "referral")
    assessed = crisis.local_day(response.assessment.assessed_at)
    assert (referral.due - assessed).days == crisis.REFERRAL_DAYS and response.missing == ["referral", "safety_plan"]
    r = _close(client, db_session, case)
    assert "转介" in r.get_data(as_text=True) and "安全计划" in r.get_data(as_text=True)
    assert _plan(client, case).status_code == 302
    r = _close(client, db_session, case)
    assert r.status_code == 200 and "还需记录：转介。" in r.get_data(as_text=True)
    assert _entry(client, case, "referral", destination="区精神卫生中心").status_code == 302
    assert _close(client, db_session, case).status_code == 302


def test_no_current_risk_needs_a_plan_to_close_or_a_reason_to_lower(client, factory, db_session, keyring):
    case, warning, _, counselor, _ = _l1_case(factory, db_session, keyring)
    login(client, counselor.username)
    assert _assess(client, warning, "no_current_risk").status_code == 302
    r = _close(client, db_session, case)
    assert r.status_code == 200 and "安全计划" in r.get_data(as_text=True)
    # lowering with a documented reason is the other way on
    assert post(client, f"/warnings/{warning.uid}/confirm", {"level": "L2", "reason": "评估无当前风险，降为二级"}
                ).status_code == 302
    db_session.refresh(case)
    assert case.level == "L2"


def test_a_safety_plan_is_sealed_at_rest_and_prefilled_from_the_support_resources(client, factory, db_session,
                                                                                  keyring):
    case, warning, _, counselor, _ = _l1_case(factory, db_session, keyring)
    login(client, counselor.username)
    _assess(client, warning, "further_evaluation", thoughts="想法记录秘密甲")
    form = client.get(f"/cases/{case.uid}/safety-plan").get_data(as_text=True)
    assert "12356" in form and "962525" in form and "12355" in form
    assert _plan(client, case, warning_signs="预警信号秘密乙", environment="环境安全秘密丙").status_code == 302
    plan = db_session.scalar(select(SafetyPlan).where(SafetyPlan.case_id == case.id))
    assessment = db_session.scalar(select(SafetyAssessment).where(SafetyAssessment.warning_id == warning.id))
    blobs = [raw_bytes(db_session, "safety_plans", f"{step}_enc", "id = :i", {"i": plan.id})
             for step in ("warning_signs", "environment", "coping")]
    blobs += [raw_bytes(db_session, "safety_assessments", col, "id = :i", {"i": assessment.id})
              for col in ("answers_enc", "reason_enc")]
    for blob, secret in zip(blobs, ["预警信号秘密乙", "环境安全秘密丙", "听音乐", "想法记录秘密甲", "评估理由秘密"],
                            strict=True):
        assert blob and secret.encode() not in blob and secret.encode("gbk") not in blob


def test_the_safety_plan_prints_for_the_student_without_staff_only_content_and_is_audited(client, factory, db_session,
                                                                                          keyring):
    case, warning, _, counselor, _ = _l1_case(factory, db_session, keyring)
    login(client, counselor.username)
    _assess(client, warning, "further_evaluation", reason="只给心理老师看的理由")
    _plan(client, case, warning_signs="晚上一个人的时候")
    printed = client.get(f"/cases/{case.uid}/safety-plan/print")
    html = printed.get_data(as_text=True)
    assert printed.status_code == 200 and "我的安全计划" in html and "晚上一个人的时候" in html and "危机同学" in html
    sheet = html[html.index('data-testid="safety-plan-sheet"'):]
    for staff_only in ("只给心理老师看的理由", "约谈确认一级", "PHQ-A", "一级预警", "评估"):
        assert staff_only not in sheet, staff_only
    assert "crisis.safety_plan_printed" in set(db_session.scalars(select(AuditEvent.action)))
    assert "@page" in client.get("/static/css/app.css").get_data(as_text=True)


def test_the_head_teacher_sees_no_assessment_or_plan_content(app, factory, db_session, keyring):
    case, warning, student, counselor, klass = _l1_case(factory, db_session, keyring)
    counselor_client = app.test_client()
    login(counselor_client, counselor.username)
    _assess(counselor_client, warning, "further_evaluation", reason="评估理由秘密丁", plan="计划细节秘密戊")
    _plan(counselor_client, case, warning_signs="预警信号秘密己")
    teacher = app.test_client()
    login(teacher, factory.head_teacher(klass).username)
    for url in ("/care/class", f"/care/class/students/{student.public_id}"):
        html = teacher.get(url).get_data(as_text=True)
        assert "重点关注" in html  # the tier and its guidance
        for secret in ("评估理由秘密丁", "计划细节秘密戊", "预警信号秘密己", "安全计划", "安全评估"):
            assert secret not in html, (url, secret)
    for url in (f"/warnings/{warning.uid}/assessment", f"/cases/{case.uid}/safety-plan",
                f"/cases/{case.uid}/safety-plan/print"):
        assert teacher.get(url).status_code == 403


def test_reading_the_assessment_form_and_the_plan_form_is_audited(client, factory, db_session, keyring):
    case, warning, _, counselor, _ = _l1_case(factory, db_session, keyring)
    login(client, counselor.username)
    assert client.get(f"/warnings/{warning.uid}/assessment").status_code == 200
    assert client.get(f"/cases/{case.uid}/safety-plan").status_code == 200
    actions = set(db_session.scalars(select(AuditEvent.action)))
    assert {"crisis.assessment_form", "crisis.safety_plan_form"} <= actions


def test_an_incomplete_assessment_is_refused_naming_the_field_and_nothing_is_written(client, factory, db_session,
                                                                                    keyring):
    case, warning, _, counselor, _ = _l1_case(factory, db_session, keyring)
    login(client, counselor.username)
    r = post(client, f"/warnings/{warning.uid}/assessment", {"thoughts": "yes", "outcome": "imminent", "reason": ""})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "请回答此问题" in html and "请填写评估结论的理由" in html
    assert db_session.scalar(select(SafetyAssessment.id).where(SafetyAssessment.warning_id == warning.id)) is None


def test_a_level_two_warning_has_no_assessment_route(client, factory, db_session, keyring):
    school = factory.school()
    counselor = factory.counselor(school)
    student = factory.student(school=school)
    warning = make_warning(db_session, student, "L2")
    login(client, counselor.username)
    assert client.get(f"/warnings/{warning.uid}/assessment").status_code == 404
    assert db_session.scalar(select(Warning.id).where(Warning.id == warning.id)) is not None
    assert db_session.scalar(select(CareCase.id).where(CareCase.student_id == student.id)) is None


def _signed_in(app, user):  # type: ignore[no-untyped-def]
    """A new client signed in at the clock's current time (a moved clock may have ended the old session)."""
    client = app.test_client()
    login(client, user.username)
    return client


def _worklist_kinds(client):  # type: ignore[no-untyped-def]
    """(section, kind) of every worklist row, read from the rows' data-kind cells."""
    import re

    html = client.get("/care/worklist").get_data(as_text=True)
    out = []
    for section in ("crisis", "overdue", "today", "week"):
        start = html.find(f'data-testid="worklist-{section}"')
        if start < 0:
            continue
        end = html.find("</section>", start)
        out += [(section, k) for k in re.findall(r'data-kind="([a-z_]+)"', html[start:end])]
    return out


def test_the_worklist_lists_the_assessment_the_referral_and_the_plan_review_when_due(app, factory, db_session, keyring,
                                                                                      moved_clock):
    moved_clock(datetime(2026, 11, 16, 2, 0, tzinfo=UTC))  # Monday 10:00 in Shanghai
    case, warning, _, counselor, _ = _l1_case(factory, db_session, keyring)
    client = _signed_in(app, counselor)
    assert ("today", "assessment") in _worklist_kinds(client)
    moved_clock(datetime(2026, 11, 17, 2, 0, tzinfo=UTC))  # the next day: the assessment is overdue
    client = _signed_in(app, counselor)
    assert ("overdue", "assessment") in _worklist_kinds(client)
    assert _assess(client, warning, "further_evaluation").status_code == 302
    kinds = _worklist_kinds(client)
    assert not any(k == "assessment" for _, k in kinds) and ("week", "referral_due") in kinds  # due 20 Nov
    assert _plan(client, case, review_on="2026-11-19").status_code == 302
    assert ("week", "safety_plan_review") in _worklist_kinds(client)
    assert _entry(client, case, "referral", destination="区精神卫生中心").status_code == 302
    moved_clock(datetime(2026, 11, 21, 2, 0, tzinfo=UTC))
    client = _signed_in(app, counselor)
    kinds = _worklist_kinds(client)
    assert ("overdue", "safety_plan_review") in kinds and not any(k == "referral_due" for _, k in kinds)


def test_the_referral_is_overdue_after_the_configured_days(app, factory, db_session, keyring, moved_clock):
    moved_clock(datetime(2026, 11, 16, 2, 0, tzinfo=UTC))
    case, warning, _, counselor, _ = _l1_case(factory, db_session, keyring)
    client = _signed_in(app, counselor)
    _assess(client, warning, "further_evaluation")
    moved_clock(datetime(2026, 11, 16 + crisis.REFERRAL_DAYS + 1, 2, 0, tzinfo=UTC))
    client = _signed_in(app, counselor)
    assert ("overdue", "referral_due") in _worklist_kinds(client)


def test_crisis_routes_answer_404_to_another_schools_counselor(app, factory, db_session, keyring):
    case, warning, _, counselor, _ = _l1_case(factory, db_session, keyring)
    other = app.test_client()
    login(other, factory.counselor(factory.school()).username)
    for url in (f"/warnings/{warning.uid}/assessment", f"/cases/{case.uid}/safety-plan",
                f"/cases/{case.uid}/safety-plan/print"):
        assert other.get(url).status_code == 404, url
    assert post(other, f"/warnings/{warning.uid}/assessment", {"outcome": "imminent"}).status_code == 404
    assert post(other, f"/cases/{case.uid}/safety-plan", {"warning_signs": "x"}).status_code == 404
