"""A class session in the browser: the counselor opens it and reads the student's personal entry code from the
console, a student enters with it and answers PHQ-A with item 9 = 1 in another browser, and the counselor's open
session page shows the crisis alert without a manual reload. The printed slips show the same code."""
from __future__ import annotations

from sqlalchemy import select

from models import Actor, Campaign, School, SchoolClass, User
from models.vault import Vault
from tests.e2e.conftest import login_as, shot

NUMBER = "E2E20130501"
BIRTH = "2013-05"


def _class_with_a_student(live_server, class_name: str = "八年级(E2E)班", number: str = NUMBER,
                          name: str = "测试学生"):
    """A grade-8 class of the demo counselor's junior school with one student, and the school's open campaign
    (each test that uses it names its own class and student: the live server's database is shared)."""
    with live_server.session() as s:
        counselor = s.scalars(select(User).where(User.username == "counselor")).one()
        school = next(sc for sc in counselor.schools if sc.stage in ("junior", "nine_year"))
        klass = SchoolClass(school_id=school.id, grade=8, name=class_name, school_year="2026-2027")
        s.add(klass)
        s.flush()
        from models import Student

        student = Student(school_id=school.id, class_id=klass.id, grade=8, gender="F", birth_ym=BIRTH)
        s.add(student)
        Vault(s, live_server.app.extensions["xinmiao_keyring"], Actor.system("e2e")).seal_identity(
            student, name=name, student_number=number)
        s.flush()
        campaign = s.scalars(
            select(Campaign).join(Campaign.schools).where(School.id == school.id, Campaign.status == "open")
        ).first()
        assert campaign is not None, "the demo seeds an open autumn campaign"
        return campaign.id, klass.id


def test_a_crisis_answer_reaches_the_counselors_session_page_without_a_reload(page, browser, live_server):
    campaign_id, class_id = _class_with_a_student(live_server)
    login_as(page, live_server, "counselor")
    page.goto(f"{live_server.url}/campaigns/{campaign_id}")
    with page.expect_navigation():
        page.click(f"[data-testid=open-session-{class_id}]")
    assert "/sessions/" in page.url
    code = page.locator("[data-testid=session-code]").inner_text().strip()
    assert len(code) == 6
    # the student's personal entry code, read from the console as the counselor reads it out
    entry_code = page.locator("tr[data-name='测试学生'] [data-testid=entry-code]").inner_text().strip()
    assert len(entry_code) == 6 and entry_code != code
    assert "自动刷新" in page.locator("#refresh-note").inner_text()
    page.evaluate("window.__notReloaded = true")
    shot(page, "session-open")

    student_context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
    student = student_context.new_page()
    student.set_default_timeout(15_000)
    student.goto(f"{live_server.url}/s?code={code}")
    assert student.locator("#code").input_value() == code
    student.fill("#student_number", NUMBER)
    student.fill("#entry_code", entry_code)
    with student.expect_navigation():
        student.click("main button[type=submit]")
    assert student.url.endswith("/s/q")
    assert 'value="phqa"' in student.content()
    shot(student, "student-phqa")
    answers = {n: 0 for n in range(1, 14)}
    answers[9] = 1
    for n, value in answers.items():
        student.check(f"input[name=q{n}][value='{value}']")
    with student.expect_navigation():
        student.click("[data-testid=submit]")

    alert = page.locator("#crisis-alerts .alert-crisis")
    alert.first.wait_for(state="visible", timeout=20_000)
    assert "测试学生" in alert.first.inner_text()
    assert page.evaluate("window.__notReloaded === true"), "the page must update by itself"
    shot(page, "session-crisis-alert")

    # the student finishes GAD-7 and sees a warm thank-you, never a score
    for n in range(1, 8):
        student.check(f"input[name=q{n}][value='0']")
    with student.expect_navigation():
        student.click("[data-testid=submit]")
    student.wait_for_selector("[data-testid=thanks]")
    text = student.locator("main").inner_text()
    assert "谢谢" in text and "分" not in text.replace("部分", "")
    shot(student, "student-thanks")
    student_context.close()

    session_url = page.url.split("?")[0].rstrip("/")
    assert "/sessions/" in session_url
    page.goto(session_url + "/slips")
    slip = page.locator("[data-testid=slip]", has_text="测试学生")
    assert slip.locator("[data-testid=slip-code]").inner_text().strip() == entry_code
    page.emulate_media(media="print")
    assert page.locator(".no-print").first.is_hidden()
    shot(page, "session-slips-print")
