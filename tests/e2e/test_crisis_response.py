"""Browser: a counselor confirms a level-1 warning, records the brief suicide safety assessment on the case page,
sees the next steps, writes the safety plan (the professionals step prefilled) and opens the printable plan."""
from __future__ import annotations

import json

from sqlalchemy import select

from tests.e2e.conftest import login_as, shot

STUDENT_NAME = "司马安测"
REASON = "一级预警：PHQ-A 危机项目阳性：第9题（自伤念头）"


def _seed(live_server):  # type: ignore[no-untyped-def]
    """A level-1 warning for a new student of the demo counselor's first school."""
    from models import Actor, Student, User, Warning, utcnow
    from models.vault import Vault

    with live_server.session() as s:
        teacher = s.scalar(select(User).where(User.username == "teacher"))
        klass = teacher.classes[0]
        vault = Vault(s, live_server.app.extensions["xinmiao_keyring"], Actor.system("e2e"))
        student = Student(school_id=klass.school_id, class_id=klass.id, grade=klass.grade, gender="M",
                          birth_ym="2012-09")
        s.add(student)
        vault.seal_identity(student, name=STUDENT_NAME, student_number="G3199999902",
                            guardians=[{"name": "司马爸爸", "relation": "父亲", "phone": "13900002222"}])
        s.flush()
        warning = Warning(student_id=student.id, school_id=student.school_id, suggested_level="L1", status="suggested",
                          reasons=json.dumps([{"zh": REASON, "en": REASON}], ensure_ascii=False), created_at=utcnow())
        warning.ensure_uid()
        s.add(warning)
        s.flush()
        return warning.uid


def test_counselor_records_an_assessment_and_a_safety_plan_and_prints_it(page, live_server):
    warning_uid = _seed(live_server)
    login_as(page, live_server, "counselor")
    page.goto(f"{live_server.url}/warnings/{warning_uid}/confirm")
    assert page.locator('[data-testid="assessment-link"]').count() == 1  # the confirm page asks for the assessment
    page.check("input[name=level][value=L1]")
    page.fill("textarea[name=reason]", "当天约谈，学生承认近两周有自伤念头")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/cases/" in page.url

    # The case page: the assessment form first, then the checklist it leads to.
    form = page.locator('[data-testid="assessment-form"]')
    for question, answer in (("thoughts", "yes"), ("plan", "no"), ("past_attempts", "no"), ("means", "unknown"),
                             ("supports", "yes")):
        form.locator(f"input[name={question}][value={answer}]").check()
    form.locator("textarea[name=thoughts_note]").fill("近两周睡前常有，此刻没有")
    form.locator("input[name=outcome][value=further_evaluation]").check()
    form.locator("textarea[name=reason]").fill("反复出现自杀想法但无计划，需转介进一步评估")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    checklist = page.locator('[data-testid="crisis-checklist"]')
    assert checklist.locator('[data-step="assessment"][data-done="yes"]').count() == 1
    assert checklist.locator('[data-step="referral"][data-done="no"]').count() == 1
    assert checklist.locator('[data-step="safety_plan"][data-done="no"]').count() == 1
    shot(page, "crisis-case-checklist")

    # The safety plan: six steps, the professionals step prefilled from config/support_resources.yaml.
    with page.expect_navigation():
        page.click('[data-testid="safety-plan-link"]')
    plan = page.locator('[data-testid="safety-plan-form"]')
    assert "12356" in plan.locator("textarea[name=professionals]").input_value()
    plan.locator("textarea[name=warning_signs]").fill("晚上一个人在房间、和家里吵架以后")
    plan.locator("textarea[name=coping]").fill("听音乐，画画，深呼吸")
    plan.locator("textarea[name=distractions]").fill("去操场跑步，找同桌聊天")
    plan.locator("textarea[name=help_people]").fill("爸爸；班主任")
    plan.locator("textarea[name=environment]").fill("药品交给爸爸保管")
    with page.expect_navigation():
        plan.locator("button[type=submit]").click()
    assert page.locator('[data-testid="crisis-checklist"] [data-step="safety_plan"][data-done="yes"]').count() == 1

    # The printable plan: the student's words and the support lines, nothing staff-only; on A4 paper.
    with page.expect_navigation():
        page.click('[data-testid="safety-plan-print"]')
    sheet = page.locator('[data-testid="safety-plan-sheet"]')
    text = sheet.inner_text()
    assert "我的安全计划" in text and "晚上一个人在房间" in text and "12356" in text and STUDENT_NAME in text
    for staff_only in ("反复出现自杀想法", "近两周睡前常有", "一级预警", "PHQ", "评估"):
        assert staff_only not in text, staff_only
    page.emulate_media(media="print")
    assert not page.locator("header.topbar").is_visible()
    shot(page, "crisis-safety-plan-print")
    pdf = page.pdf(format="A4", prefer_css_page_size=True)
    assert pdf.startswith(b"%PDF")
