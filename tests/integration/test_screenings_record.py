"""record_screening: the one path every screening takes (score, seal, warning, crisis alert, signal)."""
from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select, text

from app.screenings.recording import ScreeningError, record_screening
from app.signals import screening_recorded
from models import Actor, Notification, Warning
from models.vault import Vault

# create_app connects the care area's warning receiver and the notifications' crisis alerts
pytestmark = pytest.mark.usefixtures("app")

PHQA_CRISIS = [1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
PHQA_CALM = [0] * 9 + [0, 0, 0, 0]


@pytest.fixture
def vault(db_session, keyring):
    return Vault(db_session, keyring, Actor.system("tests"))


def test_a_crisis_answer_creates_a_level_1_warning_and_alerts_every_counselor_of_the_school(db_session, factory, vault):
    school = factory.school()
    student = factory.student(school=school)
    first, second = factory.counselor(school), factory.counselor(school)
    other = factory.counselor(factory.school())
    screening = record_screening(db_session, Actor.system("tests"), vault, student, "phqa", PHQA_CRISIS,
                                 mode="paper", administered_on=date(2026, 10, 12))
    db_session.flush()
    assert screening.critical and screening.suggested_level == "L1"
    warning = db_session.scalars(select(Warning).where(Warning.screening_id == screening.id)).one()
    assert warning.suggested_level == "L1" and warning.status == "suggested"
    assert warning.interview_due_on is not None
    assert [c.action for c in warning.history] == ["suggested"]
    notes = db_session.scalars(select(Notification).where(Notification.warning_id == warning.id)).all()
    assert sorted(n.user_id for n in notes) == sorted([first.id, second.id])
    assert other.id not in {n.user_id for n in notes}
    assert all(n.kind == "crisis" and n.requires_ack and n.params == "{}" for n in notes)


def test_a_calm_form_creates_no_warning(db_session, factory, vault):
    student = factory.student()
    screening = record_screening(db_session, Actor.system("tests"), vault, student, "phqa", PHQA_CALM,
                                 mode="paper", administered_on=date(2026, 10, 12))
    db_session.flush()
    assert screening.suggested_level == "none" and screening.total == 0
    assert db_session.scalar(select(Warning.id).where(Warning.student_id == student.id)) is None


def test_a_positive_screen_in_a_care_group_student_is_level_2(db_session, factory, vault):
    student = factory.student(groups=["left_behind"])
    answers = [2, 2, 2, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0]
    screening = record_screening(db_session, Actor.system("tests"), vault, student, "phqa", answers,
                                 mode="import", administered_on=date(2026, 10, 12))
    db_session.flush()
    assert screening.positive and screening.suggested_level == "L2"


def test_an_out_of_range_answer_is_refused_naming_the_item(db_session, factory, vault):
    student = factory.student()
    answers = [0] * 13
    answers[4] = 7
    with pytest.raises(ScreeningError) as err:
        record_screening(db_session, Actor.system("tests"), vault, student, "phqa", answers,
                         mode="paper", administered_on=date(2026, 10, 12))
    assert err.value.item == 5
    assert "item 5" in str(err.value)


def test_a_wrong_number_of_answers_is_refused(db_session, factory, vault):
    with pytest.raises(ScreeningError):
        record_screening(db_session, Actor.system("tests"), vault, factory.student(), "gad7", [0, 1, 2],
                         mode="paper", administered_on=date(2026, 10, 12))


def test_the_answers_are_not_readable_in_the_database(db_session, factory, vault):
    student = factory.student()
    screening = record_screening(db_session, Actor.system("tests"), vault, student, "gad7", [3, 2, 1, 3, 2, 1, 3],
                                 mode="paper", administered_on=date(2026, 10, 12))
    db_session.flush()
    raw = db_session.execute(
        text("SELECT answers_enc FROM screenings WHERE id = :id"), {"id": screening.id}
    ).scalar_one()
    assert raw is not None and b"[3, 2, 1" not in bytes(raw) and b"3,2,1" not in bytes(raw)
    reader = vault.reveal(student, "tests.read")
    assert reader.get_json(screening, "answers") == [3, 2, 1, 3, 2, 1, 3]
    # the result stays in clear for plain SQL
    total = db_session.execute(text("SELECT total FROM screenings WHERE id = :id"), {"id": screening.id}).scalar_one()
    assert total == 15


def test_the_screening_recorded_signal_carries_the_screening_and_its_warning(db_session, factory, vault):
    seen = []

    def receiver(sender, **kw):
        seen.append((kw["screening"], kw["warning"]))

    screening_recorded.connect(receiver)
    try:
        screening = record_screening(db_session, Actor.system("tests"), vault, factory.student(), "phqa", PHQA_CRISIS,
                                     mode="paper", administered_on=date(2026, 10, 12))
    finally:
        screening_recorded.disconnect(receiver)
    assert seen[0][0] is screening and seen[0][1].suggested_level == "L1"


def test_the_result_explanation_is_kept_in_clear(db_session, factory, vault):
    screening = record_screening(db_session, Actor.system("tests"), vault, factory.student(), "phqa", PHQA_CRISIS,
                                 mode="paper", administered_on=date(2026, 10, 12))
    detail = json.loads(screening.result_json)
    assert any("一级预警" in line["zh"] for line in detail["explanation"])
