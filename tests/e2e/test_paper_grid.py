"""Paper forms by class in the browser (issue 16): a class of 40 students, PHQ-A, all 40 forms typed with the
keyboard only (digits move to the next item, Enter to the next student), one form with a crisis answer on item 9;
recorded as one batch; 40 screenings stored and the crisis alert is in the counselor's notifications."""
from __future__ import annotations

from sqlalchemy import func, select

from models import Actor, Notification, SchoolClass, Screening, Student, User
from models.vault import Vault
from tests.e2e.conftest import login_as, shot

CLASS_SIZE = 40
CRISIS_ROW = 17  # the 18th student by number answers 2 on item 9 (thoughts of self-harm)
CALM = "0101001000100"  # 13 PHQ-A answers, total 3
CRISIS = "0101001020100"  # item 9 = 2


def _class_of_forty(live_server):  # type: ignore[no-untyped-def]
    with live_server.session() as s:
        counselor = s.scalars(select(User).where(User.username == "counselor")).one()
        school = next(sc for sc in counselor.schools if sc.stage in ("junior", "nine_year"))
        klass = SchoolClass(school_id=school.id, grade=8, name="八年级(网格)班", school_year="2026-2027")
        s.add(klass)
        s.flush()
        vault = Vault(s, live_server.app.extensions["xinmiao_keyring"], Actor.system("e2e"))
        students = []
        for i in range(CLASS_SIZE):
            student = Student(school_id=school.id, class_id=klass.id, grade=8, gender="MF"[i % 2], birth_ym="2013-03")
            s.add(student)
            vault.seal_identity(student, name=f"纸卷学生{i:02d}", student_number=f"GRID{i:06d}")
            students.append(student)
        s.flush()
        return klass.id, [st.id for st in students], counselor.id


def test_forty_phqa_forms_typed_with_the_keyboard_only(page, live_server):
    class_id, student_ids, counselor_id = _class_of_forty(live_server)
    login_as(page, live_server, "counselor")
    page.goto(f"{live_server.url}/screenings/grid/{class_id}/phqa")
    assert page.locator("tbody tr[data-row]").count() == CLASS_SIZE
    first = page.locator("input.cell").first
    assert first.evaluate("el => el === document.activeElement")  # the cursor is in the first cell on arrival

    # an answer outside the item's set is refused and the item named
    page.keyboard.type("7")
    assert "第 1 题只能填 0–3" in page.locator("[data-testid=grid-live]").inner_text()
    assert first.input_value() == ""

    for row in range(CLASS_SIZE):
        page.keyboard.type(CRISIS if row == CRISIS_ROW else CALM)
        page.keyboard.press("Enter")
        if row == 0:
            assert page.locator("tr[data-row='0'] td.total").inner_text() == "3"  # the total follows the typing
    crisis_total = page.locator(f"tr[data-row='{CRISIS_ROW}'] td.total").inner_text()
    assert crisis_total == "5"
    shot(page, "paper-grid-40-typed")
    # after the last student Enter moves to the record button; Enter on it records the grid
    assert page.evaluate("document.activeElement.getAttribute('data-testid')") == "grid-save"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "已录入问卷：40 份" in page.content()
    shot(page, "paper-grid-recorded")

    with live_server.session() as s:
        stored = s.scalar(select(func.count()).select_from(Screening).where(Screening.student_id.in_(student_ids),
                                                                            Screening.mode == "paper"))
        assert stored == CLASS_SIZE
        crisis_student = s.scalars(select(Student).where(Student.id.in_(student_ids))
                                   .order_by(Student.id)).all()[CRISIS_ROW]
        alerts = s.scalars(select(Notification).where(Notification.kind == "crisis",
                                                      Notification.student_id == crisis_student.id)).all()
        assert counselor_id in {a.user_id for a in alerts}
        crisis_public_id = crisis_student.public_id

    page.goto(f"{live_server.url}/notifications")
    # the crisis alert is in the counselor's notifications, linking to the student's file to act
    assert "一级预警" in page.content() and crisis_public_id in page.content()
    shot(page, "paper-grid-crisis-notification")
