"""Browser: a counselor confirms a crisis and records a parent contact and a referral; the head teacher of the
class sees the student with guidance and no score; another class's head teacher and the district do not."""
from __future__ import annotations

import json
import re

from sqlalchemy import select

from tests.e2e.conftest import DEMO_PASSWORD, login_as, shot

STUDENT_NAME = "欧阳晓测"
REASON = "一级预警：PHQ-A 危机项目阳性：第9题（自伤念头） 总分 23"
CLINICAL = ("PHQ", "总分", "一级", "预警", "自伤", "危机")
SCORE = "23"


def _seed(live_server):  # type: ignore[no-untyped-def]
    """A crisis warning for a new student of the demo head teacher's class, and a head teacher of another class."""
    from app.auth.service import hash_password
    from models import Actor, SchoolClass, Student, User, Warning, utcnow
    from models.vault import Vault

    with live_server.session() as s:
        teacher = s.scalar(select(User).where(User.username == "teacher"))
        klass = teacher.classes[0]
        other_class = s.scalars(
            select(SchoolClass).where(SchoolClass.school_id == klass.school_id, SchoolClass.id != klass.id)
        ).first()
        vault = Vault(s, live_server.app.extensions["xinmiao_keyring"], Actor.system("e2e"))
        student = Student(
            school_id=klass.school_id, class_id=klass.id, grade=klass.grade, gender="F", birth_ym="2013-04"
        )
        s.add(student)
        vault.seal_identity(student, name=STUDENT_NAME, student_number="G3199999901",
                            guardians=[{"name": "欧阳妈妈", "relation": "母亲", "phone": "13900001111"}])
        s.flush()
        warning = Warning(student_id=student.id, school_id=student.school_id, suggested_level="L1", status="suggested",
                          reasons=json.dumps([{"zh": REASON, "en": REASON}], ensure_ascii=False), created_at=utcnow())
        warning.ensure_uid()
        s.add(warning)
        if s.scalar(select(User).where(User.username == "teacher_e2e_other")) is None:
            other = User(
                username="teacher_e2e_other",
                display_name="钱老师",
                password_hash=hash_password(DEMO_PASSWORD),
                role="head_teacher",
                active=True,
                district_id=teacher.district_id,
            )
            other.classes = [other_class]
            s.add(other)
        s.flush()
        return warning.uid, student.public_id


def test_counselor_confirms_a_crisis_and_the_right_people_see_the_right_things(browser, live_server):
    warning_uid, public_id = _seed(live_server)

    def new_page():  # type: ignore[no-untyped-def]
        context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="zh-CN")
        context.set_default_timeout(15_000)
        return context, context.new_page()

    # The counselor: the worklist shows the crisis first; confirm it with a reason.
    ctx, page = new_page()
    login_as(page, live_server, "counselor")
    assert "/care/worklist" in page.url
    crisis = page.locator('[data-testid="worklist-crisis"]')
    assert STUDENT_NAME in crisis.inner_text()
    shot(page, "care-worklist", full_page=False)
    page.goto(f"{live_server.url}/warnings/{warning_uid}/confirm")
    page.check("input[name=level][value=L1]")
    page.fill("textarea[name=reason]", "当天约谈，学生承认近期有自伤念头")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "/cases/" in page.url
    case_url = page.url

    # A parent contact shared with the head teacher, then a referral.
    form = page.locator("#add-entry form")
    form.locator("select[name=kind]").select_option("parent_contact")
    form.locator("select[name=visibility]").select_option("shared")
    form.locator("textarea[name=note]").fill("已电话告知母亲，家长同意陪同就医")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    form = page.locator("#add-entry form")
    form.locator("select[name=kind]").select_option("referral")
    form.locator("textarea[name=note]").fill("持续情绪低落并有自伤念头，建议专业评估")
    form.locator("input[name=destination]").fill("区精神卫生中心儿童青少年门诊")
    form.locator("select[name=referral_status]").select_option("sent")
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    timeline = page.locator("#timeline").inner_text()
    assert "已电话告知母亲" in timeline and "区精神卫生中心儿童青少年门诊" in timeline
    assert "已转介" in page.locator('[data-testid="case-status"]').inner_text()
    shot(page, "care-case")
    assert page.url.startswith(case_url)
    # The student file carries the warning with its history and the case with its timeline.
    page.goto(f"{live_server.url}/students/{public_id}")
    warnings_part = page.locator("#warnings").inner_text()
    assert "当天约谈，学生承认近期有自伤念头" in warnings_part
    assert "区精神卫生中心儿童青少年门诊" in page.locator("#case").inner_text()
    shot(page, "care-student-file")
    ctx.close()

    # The head teacher of that class: the student, the guidance, the next date; nothing clinical.
    ctx, page = new_page()
    login_as(page, live_server, "teacher")
    assert "/care/class" in page.url
    close_tier = page.locator('[data-testid="tier-close"]').inner_text()
    assert STUDENT_NAME in close_tier
    assert "请每天留意该生情绪和行为变化，不单独批评，发现异常立即联系心理老师" in close_tier
    main = page.locator("main").inner_text()
    for word in CLINICAL + ("当天约谈，学生承认近期有自伤念头", "持续情绪低落"):
        assert word not in main, word
    # The score is looked for where a score would stand: a cell of the list, a data- attribute, or a number
    # beside the student's name — not any "23" in the page (a date such as 2026-11-23 is not a score).
    cells = page.locator("main td, main th").all_inner_texts()
    assert cells and all(SCORE not in cell.split() for cell in cells), cells
    assert page.locator('main [data-score], main [data-total], main [data-level]').count() == 0
    student_row = page.locator("main tr", has_text=STUDENT_NAME).inner_text()
    assert re.search(rf"(?<![\d-]){SCORE}(?![\d-])", student_row) is None, student_row
    shot(page, "care-class-list")
    page.goto(f"{live_server.url}/care/class/students/{public_id}")
    detail = page.locator("main").inner_text()
    assert "已电话告知母亲，家长同意陪同就医" in detail
    assert "持续情绪低落" not in detail and "区精神卫生中心" not in detail
    ctx.close()

    # A head teacher of another class and the district officer never see the name.
    for username in ("teacher_e2e_other", "district"):
        ctx, page = new_page()
        login_as(page, live_server, username)
        pages = [page.url, f"{live_server.url}/care/class", f"{live_server.url}/care/groups",
                 f"{live_server.url}/care/class/students/{public_id}", f"{live_server.url}/students/{public_id}"]
        for url in pages:
            page.goto(url)
            assert STUDENT_NAME not in page.content(), (username, url)
        shot(page, f"care-not-visible-{username}")
        ctx.close()
