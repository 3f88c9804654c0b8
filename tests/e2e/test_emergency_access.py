"""Issue 21, emergency access end to end in Chromium: a counselor of another school finds the student (school,
grade and file number only), states a reason, confirms with the password (the demo server runs password-only),
reads the file; the district's reviewer sees the access with the page read and records a verdict."""
from __future__ import annotations

from sqlalchemy import select

from models import EmergencyAccess
from tests.e2e.conftest import login_as, shot
from tests.factories import PASSWORD, Factory


def test_a_counselor_breaks_the_glass_and_a_reviewer_records_the_verdict(page, live_server, keyring):
    with live_server.session() as session:
        f = Factory(session, keyring)
        home = f.school(name="紧急测试甲校")
        other = f.school(name="紧急测试乙校")
        student = f.student(home, name="紧急测试生", number="E2E0000021", grade=6)
        f.user("counselor", username="e2e-bg-home", schools=[home])
        f.user("counselor", username="e2e-bg-req", schools=[other], display_name="援助老师")
        f.user("district", username="e2e-bg-rev")
        public_id = student.public_id

    login_as(page, live_server, "e2e-bg-req", PASSWORD)
    page.goto(f"{live_server.url}/emergency/")
    page.fill("input[name=q]", "紧急测试生")
    with page.expect_navigation():
        page.click("main form[action='/emergency/search'] button[type=submit]")
    assert "紧急测试生" not in page.url
    row = page.locator(f"[data-testid=match-{public_id}]")
    assert "紧急测试甲校" in row.inner_text() and "紧急测试生" not in page.locator("main").inner_text()
    shot(page, "emergency-search")
    with page.expect_navigation():
        row.locator("a").click()
    page.select_option("select[name=reason]", "counselor_absent")
    page.fill("textarea[name=reason_text]", "本校心理老师请假，学生情绪失控")
    page.fill("input[name=answer]", "wrong password")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/emergency/students/" in page.url  # refused, nothing granted
    page.fill("input[name=answer]", PASSWORD)
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert page.url.endswith(f"/students/{public_id}")
    assert "紧急测试生" in page.locator("main").inner_text()
    shot(page, "emergency-file-open")
    with live_server.session() as session:
        grant = session.scalars(select(EmergencyAccess).where(
            EmergencyAccess.reason_text.like("本校心理老师请假%"))).one()
        uid = grant.uid

    page.context.clear_cookies()
    login_as(page, live_server, "e2e-bg-rev", PASSWORD)
    page.goto(f"{live_server.url}/emergency/review")
    card = page.locator(f"[data-testid=review-{uid}]")
    assert "援助老师" in card.inner_text() and card.locator("[data-testid=reads] li").count() == 1
    assert "紧急测试生" not in page.locator("main").inner_text()
    card.locator("input[value=justified]").check()
    card.locator("input[name=note]").fill("已电话核实")
    with page.expect_navigation():
        card.locator("button[type=submit]").click()
    assert "合理" in page.locator(f"[data-testid=review-{uid}] [data-testid=verdict]").inner_text()
    shot(page, "emergency-review")
