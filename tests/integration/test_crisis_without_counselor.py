"""A crisis at a school that has no active counselor must not reach nobody: the administrators are told to
assign one — with the school's name only, never the student or anything clinical."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.screenings.recording import record_screening
from models import Actor, Notification
from models.vault import Vault

# create_app connects the care area's warning receiver and the notifications' crisis alerts
pytestmark = pytest.mark.usefixtures("app")

PHQA_CRISIS = [1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]


def test_a_crisis_at_a_school_without_counselor_alerts_the_admins_without_naming_the_student(
    db_session, factory, keyring
):
    school = factory.school(name="三星镇小学")
    student = factory.student(school=school)
    factory.counselor(school, active=False)  # a disabled account cannot act on it
    admin = factory.user("admin")
    vault = Vault(db_session, keyring, Actor.system("tests"))
    record_screening(db_session, Actor.system("tests"), vault, student, "phqa", PHQA_CRISIS,
                     mode="paper", administered_on=date(2026, 10, 12))
    notes = db_session.scalars(select(Notification)).all()
    assert [(n.user_id, n.kind) for n in notes] == [(admin.id, "crisis_unassigned")]
    assert notes[0].student_id is None and notes[0].warning_id is None
    assert "三星镇小学" in notes[0].params


def test_a_crisis_at_a_school_with_a_counselor_does_not_bother_the_admins(db_session, factory, keyring):
    school = factory.school()
    student = factory.student(school=school)
    counselor = factory.counselor(school)
    factory.user("admin")
    vault = Vault(db_session, keyring, Actor.system("tests"))
    record_screening(db_session, Actor.system("tests"), vault, student, "phqa", PHQA_CRISIS,
                     mode="paper", administered_on=date(2026, 10, 12))
    assert {(n.user_id, n.kind) for n in db_session.scalars(select(Notification))} == {(counselor.id, "crisis")}


def test_the_admin_sees_the_alert_in_chinese_with_the_school_name(client, db_session, factory, keyring):
    from tests.conftest import login

    school = factory.school(name="三星镇小学")
    student = factory.student(school=school, name="王小明")
    admin = factory.user("admin")
    vault = Vault(db_session, keyring, Actor.system("tests"))
    record_screening(db_session, Actor.system("tests"), vault, student, "phqa", PHQA_CRISIS,
                     mode="paper", administered_on=date(2026, 10, 12))
    login(client, admin.username, factory.PASSWORD)
    html = client.get("/notifications").get_data(as_text=True)
    assert "三星镇小学收到一条一级预警" in html
    assert "王小明" not in html and student.public_id not in html
