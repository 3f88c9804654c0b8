"""Confirming levels: history with sealed reasons, audit events, cases opened and updated, signals."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app import signals
from app.care import crisis, service, warning_lifecycle
from models import AuditEvent, CareCase, WarningChange
from models.care import ASSESSMENT_QUESTIONS
from tests.integration.care_support import actor_vault, make_warning


def _actions(db):
    return [a for a in db.scalars(select(AuditEvent.action).order_by(AuditEvent.seq))]


def test_confirming_a_suggested_level_keeps_history_opens_a_case_and_is_audited(db_session, factory, keyring):
    school = factory.school()
    counselor = factory.counselor(school)
    student = factory.student(school=school)
    warning = make_warning(db_session, student, "L2")
    actor, vault = actor_vault(db_session, keyring, counselor)

    case = warning_lifecycle.confirm_level(db_session, actor, vault, warning, "L2", "约谈后确认情绪低落")

    assert warning.status == "confirmed" and warning.confirmed_level == "L2"
    assert [c.action for c in warning.history] == ["suggested", "confirmed"]
    reader = vault.reveal(student, "test")
    assert reader.get(warning.history[-1], "reason") == "约谈后确认情绪低落"
    assert case is not None and case.level == "L2" and case.owner_id == counselor.id and case.status == "open"
    assert {"warning.confirmed", "case.opened"} <= set(_actions(db_session))


def test_raising_then_lowering_records_each_change_and_moves_the_open_case(db_session, factory, keyring):
    school = factory.school()
    counselor = factory.counselor(school)
    student = factory.student(school=school)
    actor, vault = actor_vault(db_session, keyring, counselor)
    first = make_warning(db_session, student, "L3")
    case = warning_lifecycle.confirm_level(db_session, actor, vault, first, "L1", "约谈中透露自伤念头")
    second = make_warning(db_session, student, "L2")
    with pytest.raises(crisis.CrisisStepsMissing):  # a level-1 case is lowered only after its safety assessment
        warning_lifecycle.confirm_level(db_session, actor, vault, second, "L3", "情况好转")
    answers = {q: {"answer": "no", "note": ""} for q in ASSESSMENT_QUESTIONS}
    crisis.record_assessment(db_session, actor, vault, first, answers, "no_current_risk", "评估未见当前风险")
    same_case = warning_lifecycle.confirm_level(db_session, actor, vault, second, "L3", "情况好转")

    assert same_case.id == case.id and same_case.level == "L3"
    assert (
        db_session.scalar(select(CareCase.id).where(CareCase.student_id == student.id).order_by(CareCase.id.desc()))
        == case.id
    )
    actions = [
        c.action
        for c in db_session.scalars(
            select(WarningChange).where(WarningChange.student_id == student.id).order_by(WarningChange.id)
        )
    ]
    assert actions == ["suggested", "raised", "suggested", "lowered"]
    assert {"warning.raised", "warning.lowered", "case.updated"} <= set(_actions(db_session))


def test_dismissing_needs_a_reason_and_opens_no_case(db_session, factory, keyring):
    school = factory.school()
    counselor = factory.counselor(school)
    student = factory.student(school=school)
    warning = make_warning(db_session, student, "L3")
    actor, vault = actor_vault(db_session, keyring, counselor)
    with pytest.raises(service.CareError):
        warning_lifecycle.dismiss_warning(db_session, actor, vault, warning, "   ")
    assert warning.status == "suggested"

    assert warning_lifecycle.confirm_level(db_session, actor, vault, warning, "none", "考试压力，已缓解") is None
    assert warning.status == "dismissed"
    assert warning.history[-1].action == "dismissed"
    assert db_session.scalar(select(CareCase).where(CareCase.student_id == student.id)) is None
    assert "warning.dismissed" in _actions(db_session)


def test_confirming_sends_level_confirmed_with_the_previous_level(db_session, factory, keyring):
    school = factory.school()
    counselor = factory.counselor(school)
    student = factory.student(school=school)
    warning = make_warning(db_session, student, "L2")
    actor, vault = actor_vault(db_session, keyring, counselor)
    seen = []

    def receiver(sender, **kw):  # type: ignore[no-untyped-def]
        seen.append((kw["warning"].uid, kw["previous_level"], kw["case"] is not None))

    with signals.level_confirmed.connected_to(receiver):
        warning_lifecycle.confirm_level(db_session, actor, vault, warning, "L2", "确认")
        warning_lifecycle.confirm_level(db_session, actor, vault, warning, "L1", "加重")
    assert seen == [(warning.uid, None, True), (warning.uid, "L2", True)]


def test_confirming_a_crisis_acknowledges_it_and_records_first_contact(db_session, factory, keyring):
    school = factory.school()
    counselor = factory.counselor(school)
    warning = make_warning(db_session, factory.student(school=school), "L1")
    actor, vault = actor_vault(db_session, keyring, counselor)
    warning_lifecycle.confirm_level(db_session, actor, vault, warning, "L1", "当天约谈")
    assert warning.acknowledged_by_id == counselor.id and warning.first_contact_at is not None
