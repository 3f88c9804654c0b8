"""The help channel end to end in the browser: from the student entrance, without a session code, a student asks
to talk urgently; the counselor's open worklist shows the urgent request by itself (no manual reload), and the
student sees the confirmation with the counselor's contact and the support lines."""
from __future__ import annotations

from sqlalchemy import select

from models import Actor, SchoolClass, Student, User
from models.vault import Vault
from tests.e2e.conftest import login_as, shot
from tests.waiting import wait_until

NUMBER = "E2EHELP0001"
BIRTH = "2012-11"


def _student(live_server):
    with live_server.session() as s:
        counselor = s.scalars(select(User).where(User.username == "counselor")).one()
        school = next(sc for sc in counselor.schools if sc.stage in ("junior", "nine_year"))
        school.counselor_contact_name = "李老师"
        school.counselor_room = "心理辅导室 204"
        school.counselor_hours = "每天午休 12:10–13:00"
        klass = SchoolClass(school_id=school.id, grade=8, name="八年级(求助)班", school_year="2026-2027")
        s.add(klass)
        s.flush()
        student = Student(school_id=school.id, class_id=klass.id, grade=8, gender="M", birth_ym=BIRTH)
        s.add(student)
        Vault(s, live_server.app.extensions["xinmiao_keyring"], Actor.system("e2e")).seal_identity(
            student, name="求助学生", student_number=NUMBER)
        return school.name


def test_an_urgent_request_to_talk_reaches_the_counselors_worklist_live(page, browser, live_server):
    school_name = _student(live_server)
    login_as(page, live_server, "counselor")
    page.goto(f"{live_server.url}/care/worklist")
    before = page.locator("[data-testid=help-urgent]").count()

    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    student = context.new_page()
    student.set_default_timeout(15_000)
    student.goto(f"{live_server.url}/s")
    with student.expect_navigation():
        student.click("[data-testid=ask-to-talk]")
    assert student.url.endswith("/s/help")
    student.select_option("#school", label=school_name)
    student.fill("#student_number", NUMBER)
    student.fill("#birth_month", BIRTH)
    student.check("[data-testid=urgency-urgent]")
    student.fill("#message", "我想今天和老师聊聊")
    shot(student, "help-request-form")
    with student.expect_navigation():
        student.click("[data-testid=help-submit]")
    student.wait_for_selector("[data-testid=help-sent]")
    text = student.locator("main").inner_text()
    assert "李老师" in text and "心理辅导室 204" in text and "12356" in text and "962525" in text
    assert "记录" not in student.locator("body").inner_text()  # no staff footer
    shot(student, "help-request-sent")
    context.close()

    # the counselor's worklist, left open, shows it in the crisis section by itself
    wait_until(lambda: page.locator("[data-testid=worklist-crisis] [data-testid=help-urgent]").count() > before,
               timeout=30, what="the urgent request on the open worklist")
    row = page.locator("[data-testid=worklist-crisis] tr", has=page.locator("[data-testid=help-urgent]")).last
    assert "求助学生" in row.inner_text()
    shot(page, "help-request-worklist")
    badge = page.locator("[data-testid=notification-badge]")
    assert badge.count() == 1
    with page.expect_navigation():
        row.locator("a.button").click()
    assert page.locator("[data-testid=help-message]").first.inner_text() == "我想今天和老师聊聊"
    shot(page, "help-request-file")
    page.goto(f"{live_server.url}/care/worklist")
    with page.expect_navigation():
        page.locator("[data-testid^=school-contact-]").first.click()
    shot(page, "school-contact-form")
