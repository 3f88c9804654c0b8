"""ASQ in a grade-5 class session, in the browser: question 5 appears only after a "yes" above; a positive
screen reaches the counselor as a level-1 warning, and an acute positive (yes to question 5) as "now", above every
other row of the worklist (the demo's own level-1 crises included)."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.screenings.campaigns import InstrumentRule, create_campaign
from models import Actor, SchoolClass, Screening, Student, User, Warning, clock
from models.vault import Vault
from tests.e2e.conftest import console_entry_code, login_as, shot, student_sign_in

PUPILS = (("E2EASQ0001", "2016-03", "五年级甲"), ("E2EASQ0002", "2016-07", "五年级乙"))


def _grade5_class_and_campaign(live_server):
    with live_server.session() as s:
        counselor = s.scalars(select(User).where(User.username == "counselor")).one()
        # a primary or nine-year school when the counselor has one (the demo counselor's may be junior only)
        school = next((sc for sc in counselor.schools if sc.stage in ("primary", "nine_year")), counselor.schools[0])
        klass = SchoolClass(school_id=school.id, grade=5, name="五年级(ASQ)班", school_year="2026-2027")
        s.add(klass)
        s.flush()
        vault = Vault(s, live_server.app.extensions["xinmiao_keyring"], Actor.system("e2e"))
        for number, birth, name in PUPILS:
            pupil = Student(school_id=school.id, class_id=klass.id, grade=5, gender="M", birth_ym=birth)
            s.add(pupil)
            vault.seal_identity(pupil, name=name, student_number=number)
        s.flush()
        today = clock.today()
        campaign = create_campaign(
            s, Actor.system("e2e"), name="五年级 ASQ 筛查", term="2026-2027-1", starts_on=today,
            ends_on=today + timedelta(days=10), schools=[school],
            rules=[InstrumentRule("asq", 4, 9)], created_by=counselor)
        return campaign.id, klass.id


def _answer_asq(student, q1_4, q5=None):
    assert 'value="asq"' in student.content()
    q5_box = student.locator("#item-5")
    assert q5_box.is_hidden(), "question 5 is asked only after a positive answer above"
    for n, value in enumerate(q1_4, start=1):
        student.check(f"input[name=q{n}][value='{value}']")
    if q5 is not None:
        q5_box.wait_for(state="visible")
        student.check(f"input[name=q5][value='{q5}']")
    with student.expect_navigation():
        student.click("[data-testid=submit]")
    student.wait_for_selector("[data-testid=thanks]")


def test_asq_positive_and_acute_reach_the_counselor_as_level_1_and_now(page, browser, live_server):
    campaign_id, class_id = _grade5_class_and_campaign(live_server)
    login_as(page, live_server, "counselor")
    page.goto(f"{live_server.url}/campaigns/{campaign_id}")
    with page.expect_navigation():
        page.click(f"[data-testid=open-session-{class_id}]")
    code = page.locator("[data-testid=session-code]").inner_text().strip()
    entry = {number: console_entry_code(page, name) for number, _birth, name in PUPILS}

    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
    context.set_default_timeout(15_000)
    first = context.new_page()
    student_sign_in(first, live_server, code, PUPILS[0][0], entry[PUPILS[0][0]])
    shot(first, "student-asq")
    _answer_asq(first, (0, 1, 0, 0), q5=0)  # positive, not acute
    context.close()

    context = browser.new_context(viewport={"width": 1024, "height": 768}, locale="zh-CN")
    context.set_default_timeout(15_000)
    second = context.new_page()
    student_sign_in(second, live_server, code, PUPILS[1][0], entry[PUPILS[1][0]])
    first_box = second.locator("#item-5")
    second.check("input[name=q1][value='1']")
    first_box.wait_for(state="visible")
    shot(second, "student-asq-q5")
    second.check("input[name=q1][value='0']")
    first_box.wait_for(state="hidden")
    _answer_asq(second, (0, 0, 1, 0), q5=1)  # acute
    context.close()

    with live_server.session() as s:
        rows = s.execute(select(Screening.suggested_level, Screening.flags, Warning.suggested_level)
                         .join(Warning, Warning.screening_id == Screening.id)
                         .where(Screening.campaign_id == campaign_id).order_by(Screening.id)).all()
        assert [(r[0], r[2]) for r in rows] == [("L1", "L1"), ("L1", "L1")]
        assert "acute" not in rows[0][1] and "acute" in rows[1][1]

    page.goto(f"{live_server.url}/care/worklist")
    crisis = page.locator("[data-testid=worklist-crisis] tbody tr")
    crisis.first.wait_for()
    assert crisis.count() >= 3, "the demo's own level-1 crises are listed too"
    top = crisis.nth(0)
    assert "五年级乙" in top.inner_text() and top.get_attribute("data-testid") == "worklist-now"
    assert "立即" in top.inner_text()
    assert page.locator("[data-testid=worklist-now]").count() == 1
    assert "五年级甲" in page.locator("[data-testid=worklist-crisis]").inner_text()
    shot(page, "worklist-asq-now")
