"""Browser: a counselor opens a referral from the case timeline, records the guardian's consent, prints a packet of
two ticked sections (the download read back) and records the service's feedback."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from models import clock
from tests.e2e.conftest import login_as, shot
from tests.pdf_tools import pdf_text, squeeze

STUDENT_NAME = "欧阳转介"
PHONE = "13900003333"
REASON = "情绪低落伴失眠两月需门诊评估"


def _seed(live_server):  # type: ignore[no-untyped-def]
    """A level-2 case with a referral for a new student of the demo counselor's first school."""
    from app.care import service, warning_lifecycle
    from models import Actor, Student, User, Warning, utcnow
    from models.vault import Vault

    with live_server.session() as s:
        counselor = s.scalar(select(User).where(User.username == "counselor"))
        teacher = s.scalar(select(User).where(User.username == "teacher"))
        klass = teacher.classes[0]
        actor = Actor.for_user(counselor)
        vault = Vault(s, live_server.app.extensions["xinmiao_keyring"], actor)
        student = Student(school_id=klass.school_id, class_id=klass.id, grade=klass.grade, gender="F",
                          birth_ym="2012-03")
        s.add(student)
        vault.seal_identity(student, name=STUDENT_NAME, student_number="G3199999931",
                            guardians=[{"name": "欧阳妈妈", "relation": "母亲", "phone": PHONE}])
        s.flush()
        warning = Warning(student_id=student.id, school_id=student.school_id, suggested_level="L2",
                          status="suggested", reasons='[{"zh": "预警", "en": "warning"}]', created_at=utcnow())
        warning.ensure_uid()
        s.add(warning)
        s.flush()
        case = warning_lifecycle.confirm_level(s, actor, vault, warning, "L2", "约谈确认")
        service.add_entry(s, actor, vault, student, "referral", clock.today(), REASON, case=case,
                          destination="区精神卫生中心", referral_status="sent")
        return case.uid


def test_counselor_records_consent_prints_the_packet_and_records_feedback(page, live_server, tmp_path):
    case_uid = _seed(live_server)
    login_as(page, live_server, "counselor")
    page.goto(f"{live_server.url}/cases/{case_uid}")
    with page.expect_navigation():
        page.locator('[data-testid="referral-open"]').first.click()
    assert page.locator('[data-testid="packet-needs-consent"]').count() == 1

    form = page.locator('[data-testid="consent-form"]')
    form.locator("input[name=how][value=phone]").check()
    form.locator("input[name=by]").fill("欧阳妈妈（母亲）")
    form.locator("input[name=on]").fill(clock.today().isoformat())
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    assert "欧阳妈妈（母亲）" in page.locator('[data-testid="consent-recorded"]').inner_text()

    packet = page.locator('[data-testid="packet-form"]')
    packet.locator("input[name=section][value=reason]").check()
    packet.locator("input[name=section][value=contacts]").check()
    with page.expect_download() as info:
        packet.locator("button[type=submit]").click()
    pdf = Path(info.value.path()).read_bytes()
    text = squeeze(pdf_text(pdf))
    assert STUDENT_NAME in text and REASON in text and PHONE in text
    assert "安全计划" not in text and "筛查结果" not in text and "观察到的风险" not in text

    feedback = page.locator('[data-testid="feedback-form"]')
    feedback.locator("textarea[name=impression]").fill("焦虑抑郁状态")
    feedback.locator("textarea[name=advice]").fill("心理治疗每周一次，两周后复诊")
    with page.expect_navigation():
        feedback.locator("button[type=submit]").click()
    assert "焦虑抑郁状态" in page.locator('[data-testid="feedback-recorded"]').inner_text()
    shot(page, "referral-page")
