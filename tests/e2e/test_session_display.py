"""The projected session screen (投屏) and the counselor's console side by side: a student in the class submits a
crisis answer; the display view never shows a name or the word 危机 (looked at again and again while the console
waits for its alert), the console shows the alert, named, within seconds."""
from __future__ import annotations

from tests.e2e.conftest import login_as, shot
from tests.e2e.test_crisis_session import _class_with_a_student
from tests.e2e.test_phone_and_a11y import violations
from tests.waiting import wait_until

NAME = "投屏学生"
NUMBER = "E2EDISP20130501"


def _display_is_clean(display) -> bool:
    html = display.content()
    text = display.locator("body").inner_text()
    for forbidden in (NAME, "危机", "预警", "L1", "alert-crisis"):
        assert forbidden not in html, f"the projected screen shows {forbidden!r}"
    assert NAME not in text
    return True


def test_the_display_view_stays_clean_while_the_console_shows_the_crisis(page, browser, live_server):
    campaign_id, class_id = _class_with_a_student(live_server, "八年级(投屏)班", NUMBER, NAME)
    login_as(page, live_server, "counselor")
    page.goto(f"{live_server.url}/campaigns/{campaign_id}")
    with page.expect_navigation():
        page.click(f"[data-testid=open-session-{class_id}]")
    console_url = page.url
    code = page.locator("[data-testid=session-code]").inner_text().strip()
    entry_code = page.locator(f"tr[data-name='{NAME}'] [data-testid=entry-code]").inner_text().strip()

    # the 投屏 button opens the display view in a new window of the same (counselor's) browser
    with page.context.expect_page() as opened:
        page.click("[data-testid=open-display]")
    display = opened.value
    display.wait_for_load_state()
    assert "/display" in display.url
    assert display.locator("[data-testid=display-code]").inner_text().strip() == code
    assert display.locator("[data-count=not_started]").inner_text().strip() == "1"
    assert display.locator(".display-qr svg").count() == 1
    _display_is_clean(display)
    colours_before = display.evaluate("getComputedStyle(document.body).backgroundColor")
    shot(display, "session-display")

    student_context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
    student = student_context.new_page()
    student.set_default_timeout(15_000)
    student.goto(f"{live_server.url}/s?code={code}")
    student.fill("#student_number", NUMBER)
    student.fill("#entry_code", entry_code)
    with student.expect_navigation():
        student.click("main button[type=submit]")
    answers = {n: 0 for n in range(1, 14)}
    answers[9] = 1
    for n, value in answers.items():
        student.check(f"input[name=q{n}][value='{value}']")
    with student.expect_navigation():
        student.click("[data-testid=submit]")

    # the console shows the named alert within seconds; every look at it also looks at the projected screen
    alert = page.locator("#crisis-alerts .alert-crisis")

    def console_alerted() -> bool:
        _display_is_clean(display)
        return alert.count() > 0 and NAME in alert.first.inner_text()

    wait_until(console_alerted, timeout=20, what="the console's crisis alert")
    assert page.url == console_url
    # the display view has taken the new counts (the student is 作答中) and is still clean
    wait_until(lambda: _display_is_clean(display)
               and display.locator("[data-count=in_progress]").inner_text().strip() == "1",
               timeout=20, what="the display's counts")
    assert display.evaluate("getComputedStyle(document.body).backgroundColor") == colours_before
    _display_is_clean(display)
    assert violations(display) == []  # axe-core's WCAG 2.1 A/AA rules, on the screen as it stands after the crisis
    shot(display, "session-display-after-crisis")
    shot(page, "session-console-crisis")
    student_context.close()
