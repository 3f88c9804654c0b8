"""Answers survive a dropped network: a student answers half of PHQ-A, the connection drops (Playwright's
`set_offline`), they answer the rest (item 9 = 1) and press submit while offline; the page says the answers are
kept on the device; the connection returns and the page sends itself. Exactly one screening is stored, the
counselor's session page shows the crisis alert, and nothing of the submitted answers stays in the browser."""
from __future__ import annotations

from sqlalchemy import func, select

from models import Actor, Campaign, School, SchoolClass, Screening, Student, User
from models.vault import Vault
from tests.e2e.conftest import login_as, shot
from tests.waiting import wait_until

NUMBER = "E2EOFF20130702"
NAME = "断网学生"


def _class_with_a_student(live_server, number: str = NUMBER, name: str = NAME):
    with live_server.session() as s:
        counselor = s.scalars(select(User).where(User.username == "counselor")).one()
        school = next(sc for sc in counselor.schools if sc.stage in ("junior", "nine_year"))
        klass = SchoolClass(school_id=school.id, grade=8, name=f"八年级({name})班", school_year="2026-2027")
        s.add(klass)
        s.flush()
        student = Student(school_id=school.id, class_id=klass.id, grade=8, gender="M", birth_ym="2013-07")
        s.add(student)
        Vault(s, live_server.app.extensions["xinmiao_keyring"], Actor.system("e2e")).seal_identity(
            student, name=name, student_number=number)
        s.flush()
        campaign = s.scalars(
            select(Campaign).join(Campaign.schools).where(School.id == school.id, Campaign.status == "open")
        ).first()
        assert campaign is not None
        return campaign.id, klass.id, student.id


def _screenings(live_server, student_id: int) -> int:
    with live_server.session() as s:
        return s.scalar(select(func.count()).select_from(Screening).where(
            Screening.student_id == student_id, Screening.instrument_id == "phqa"))


def test_a_questionnaire_answered_across_a_network_cut_is_stored_once_with_its_alert(page, browser, live_server):
    campaign_id, class_id, student_id = _class_with_a_student(live_server)
    login_as(page, live_server, "counselor")
    page.goto(f"{live_server.url}/campaigns/{campaign_id}")
    with page.expect_navigation():
        page.click(f"[data-testid=open-session-{class_id}]")
    code = page.locator("[data-testid=session-code]").inner_text().strip()
    entry_code = page.locator(f"tr[data-name='{NAME}'] [data-testid=entry-code]").inner_text().strip()

    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    student = context.new_page()
    student.set_default_timeout(15_000)
    student.goto(f"{live_server.url}/s?code={code}")
    student.fill("#student_number", NUMBER)
    student.fill("#entry_code", entry_code)
    with student.expect_navigation():
        student.click("main button[type=submit]")
    assert 'value="phqa"' in student.content()
    answers = {n: 0 for n in range(1, 14)}
    answers[9] = 1
    for n in range(1, 7):
        student.check(f"input[name=q{n}][value='{answers[n]}']")

    context.set_offline(True)  # the school's connection drops in the middle of the questionnaire
    for n in range(7, 14):
        student.check(f"input[name=q{n}][value='{answers[n]}']")
    state = student.locator("#save-state")
    wait_until(lambda: "网络中断" in state.inner_text(), timeout=10, what="no offline notice")
    assert state.inner_text().strip() == "网络中断，答案已保存在本机，恢复后自动提交"
    kept = student.evaluate("window.sessionStorage.getItem('xinmiao-answers')")
    assert kept and '"q9":"1"' in kept
    student.click("[data-testid=submit]")  # pressed while offline
    wait_until(lambda: "网络中断" in state.inner_text(), timeout=10, what="no offline notice after submit")
    assert student.url.endswith("/s/q") and 'value="phqa"' in student.content()
    shot(student, "offline-questionnaire-kept")
    assert _screenings(live_server, student_id) == 0

    with student.expect_navigation(timeout=20_000):
        context.set_offline(False)  # the connection returns: the page sends itself
    student.wait_for_selector("input[name=instrument][value=gad7]", state="attached")
    assert _screenings(live_server, student_id) == 1
    assert student.evaluate("window.sessionStorage.getItem('xinmiao-answers')") is None
    assert student.evaluate("window.localStorage.length") == 0

    alert = page.locator("#crisis-alerts .alert-crisis", has_text=NAME)
    alert.first.wait_for(state="visible", timeout=20_000)
    shot(page, "offline-crisis-alert")

    # the second page, cut right after pressing submit: sent once the connection returns
    for n in range(1, 8):
        student.check(f"input[name=q{n}][value='0']")
    context.set_offline(True)
    student.click("[data-testid=submit]")
    wait_until(lambda: "网络中断" in state.inner_text(), timeout=10, what="no offline notice")
    with student.expect_navigation(timeout=20_000):
        context.set_offline(False)
    student.wait_for_selector("[data-testid=thanks]")
    assert _screenings(live_server, student_id) == 1
    with live_server.session() as s:
        assert s.scalar(select(func.count()).select_from(Screening).where(
            Screening.student_id == student_id, Screening.instrument_id == "gad7")) == 1
    assert student.evaluate("window.sessionStorage.length") == 0
    shot(student, "offline-thanks")
    context.close()
