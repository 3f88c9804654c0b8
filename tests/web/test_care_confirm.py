"""Confirming a warning's level through the page: roles, scope, CSRF, reason required, the case it opens."""
from __future__ import annotations

from sqlalchemy import select

from models import AuditEvent, CareCase
from tests.conftest import login, post, reread
from tests.integration.care_support import make_warning


def _setup(factory, db_session, level="L1"):  # type: ignore[no-untyped-def]
    school = factory.school()
    klass = factory.klass(school)
    counselor = factory.counselor(school)
    student = factory.student(klass=klass, name="危机同学")
    warning = make_warning(db_session, student, level, reason="PHQ-A 危机项目阳性")
    return school, klass, counselor, student, warning


def test_counselor_confirms_a_crisis_with_a_reason_and_lands_on_the_new_case(client, factory, db_session):
    _, _, counselor, student, warning = _setup(factory, db_session)
    login(client, counselor.username)
    page = client.get(f"/warnings/{warning.uid}/confirm").get_data(as_text=True)
    assert "危机同学" in page and "PHQ-A 危机项目阳性" in page and "确认预警等级" in page
    response = post(client, f"/warnings/{warning.uid}/confirm", {"level": "L1", "reason": "当天约谈，确认有自伤念头"})
    assert response.status_code == 302
    case = db_session.scalar(select(CareCase).where(CareCase.student_id == student.id))
    assert response.headers["Location"].endswith(f"/cases/{case.uid}")
    assert "warning.confirmed" in set(db_session.scalars(select(AuditEvent.action)))
    history = client.get(f"/warnings/{warning.uid}/confirm").get_data(as_text=True)
    assert "当天约谈，确认有自伤念头" in history


def test_a_confirmation_without_a_reason_is_refused_next_to_the_field(client, factory, db_session):
    _, _, counselor, _, warning = _setup(factory, db_session)
    login(client, counselor.username)
    response = post(client, f"/warnings/{warning.uid}/confirm", {"level": "L2", "reason": ""})
    assert response.status_code == 200 and "请填写理由" in response.get_data(as_text=True)
    assert reread(db_session, warning).status == "suggested"
    assert reread(db_session, warning).confirmed_level is None


def test_dismissing_redirects_to_the_student_file(client, factory, db_session):
    _, _, counselor, student, warning = _setup(factory, db_session, "L3")
    login(client, counselor.username)
    response = post(client, f"/warnings/{warning.uid}/confirm", {"level": "none", "reason": "误报"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/students/{student.public_id}")
    assert reread(db_session, warning).status == "dismissed"


def test_confirming_refuses_other_roles_other_schools_and_missing_csrf(app, factory, db_session):
    _, klass, _, _, warning = _setup(factory, db_session)
    url = f"/warnings/{warning.uid}/confirm"
    teacher = factory.head_teacher(klass)
    district = factory.user("district")
    stranger = factory.counselor(factory.school())
    for user, expected in ((teacher, 403), (district, 403), (stranger, 404)):
        c = app.test_client()
        login(c, user.username)
        assert c.get(url).status_code == expected
        assert post(c, url, {"level": "L1", "reason": "x"}).status_code == expected
    owner = factory.counselor(warning.student.school)
    c = app.test_client()
    login(c, owner.username)
    assert c.post(url, data={"level": "L1", "reason": "x"}).status_code == 400
    assert reread(db_session, warning).status == "suggested"
    assert db_session.scalar(select(CareCase.id).where(CareCase.warning_id == warning.id)) is None
