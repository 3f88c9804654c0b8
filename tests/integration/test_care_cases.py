"""Cases: plan, timeline, closing rule, concurrent edits, transfers, and sealed fields at rest."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from app import signals
from app.care import service, warning_lifecycle
from models import AuditEvent, CareCase, CaseEntry, Notification, Recheck, Student, Warning, clock
from tests.integration.care_support import actor_vault, make_recheck, make_warning, raw_bytes


def _case(db, factory, keyring, level="L2"):  # type: ignore[no-untyped-def]
    school = factory.school()
    counselor = factory.counselor(school)
    student = factory.student(school=school)
    actor, vault = actor_vault(db, keyring, counselor)
    case = warning_lifecycle.confirm_level(db, actor, vault, make_warning(db, student, level), level, "约谈确认")
    return case, student, counselor, actor, vault


def test_closing_is_suggested_after_two_negative_rechecks_in_a_row(db_session, factory, keyring):
    case, student, *_ = _case(db_session, factory, keyring)
    assert not service.closing_suggested(db_session, case)
    make_recheck(db_session, student, negative=False, done_days_ago=-1)  # positive, then two negatives after
    make_recheck(db_session, student, negative=True, done_days_ago=-2)
    assert not service.closing_suggested(db_session, case)
    make_recheck(db_session, student, negative=True, done_days_ago=-3)
    assert service.closing_suggested(db_session, case)


def test_a_positive_recheck_after_a_negative_one_withdraws_the_suggestion(db_session, factory, keyring):
    case, student, *_ = _case(db_session, factory, keyring)
    make_recheck(db_session, student, negative=True, done_days_ago=-1)
    make_recheck(db_session, student, negative=True, done_days_ago=-2)
    make_recheck(db_session, student, negative=False, done_days_ago=-3)
    assert not service.closing_suggested(db_session, case)


def test_closing_needs_a_reason_and_sends_case_closed(db_session, factory, keyring):
    case, _, _, actor, vault = _case(db_session, factory, keyring)
    with pytest.raises(service.CareError):
        service.close_case(db_session, actor, vault, case, "")
    closed = []
    with signals.case_closed.connected_to(lambda sender, **kw: closed.append(kw["case"].id)):
        service.close_case(db_session, actor, vault, case, "两次复查阴性，随访稳定")
    assert case.status == "closed" and closed == [case.id]
    assert vault.reveal(case.student, "t").get(case, "close_reason") == "两次复查阴性，随访稳定"


def test_a_save_from_a_stale_form_is_refused(db_session, factory, keyring):
    case, _, _, actor, vault = _case(db_session, factory, keyring)
    loaded_version = case.version
    service.update_plan(db_session, actor, vault, case, {"goals": "第一位老师"}, None, expected_version=loaded_version)
    with pytest.raises(service.StaleCaseError):
        service.update_plan(
            db_session, actor, vault, case, {"goals": "第二位老师"}, None, expected_version=loaded_version
        )
    assert vault.reveal(case.student, "t").get_json(case, "plan")["goals"] == "第一位老师"


def test_two_counselors_saving_one_case_at_once_the_second_is_refused(fresh_database, keyring):
    """Real commits on a fresh database. Both forms were loaded at version 1; the first save wins, the second
    is refused by the posted version; interleaved in-flight saves are refused by the database itself
    (version_id_col: StaleDataError; SQLite's WAL snapshot refuses the stale writer before that)."""
    from sqlalchemy.exc import OperationalError

    from app.cli import upgrade_database
    from models import User
    from models.db import make_engine
    from tests.factories import Factory

    upgrade_database(fresh_database.url)
    engine = make_engine(fresh_database.url)

    def save(goals, version, session=None):  # type: ignore[no-untyped-def]
        own = session is None
        session = session or Session(engine, expire_on_commit=False)
        try:
            case = session.get(CareCase, case_id)
            actor, vault = actor_vault(session, keyring, session.get(User, counselor_id))
            service.update_plan(session, actor, vault, case, {"goals": goals}, None, expected_version=version)
            if own:
                session.commit()
        finally:
            if own:
                session.close()  # a refused save rolls back and lets go of the database

    try:
        with Session(engine, expire_on_commit=False) as setup:
            case, *_ = _case(setup, Factory(setup, keyring), keyring)
            counselor_id, case_id = case.owner_id, case.id
            setup.commit()
        save("甲", 1)
        with pytest.raises(service.StaleCaseError):
            save("乙", 1)

        # The second counselor's page read the case in a read-only (DEFERRED, on SQLite) transaction.
        first, second = Session(engine), Session(engine.execution_options(sqlite_begin="DEFERRED"))
        held = second.get(CareCase, case_id)  # loaded at version 2 before the first save commits (kept alive:
        assert held.version == 2  # the identity map holds rows weakly)
        save("丙", 2, first)
        first.commit()
        with pytest.raises((StaleDataError, OperationalError)):
            save("丁", 2, second)
        second.rollback()
        first.close(), second.close()
        with Session(engine) as check:
            row = check.get(CareCase, case_id)
            _, vault = actor_vault(check, keyring, check.get(User, counselor_id))
            assert vault.reveal(row.student, "t").get_json(row, "plan")["goals"] == "丙"
    finally:
        engine.dispose()


def test_transfer_moves_the_file_and_its_access_and_is_audited_both_ways(db_session, factory, keyring):
    case, student, old_counselor, actor, vault = _case(db_session, factory, keyring)
    new_school = factory.school()
    new_class = factory.klass(new_school, grade=student.grade)
    new_counselor = factory.counselor(new_school)
    recheck = make_recheck(db_session, student, due=clock.today())
    moved = []
    with signals.student_transferred.connected_to(lambda sender, **kw: moved.append(kw["to_school_id"])):
        service.transfer_student(db_session, actor, student, new_class)

    def visible(user):  # type: ignore[no-untyped-def]
        return db_session.scalar(select(Student.id).where(Student.id == student.id, Student.visible_to(user)))

    assert visible(old_counselor) is None and visible(new_counselor) == student.id
    assert db_session.get(CareCase, case.id).school_id == new_school.id
    assert db_session.get(Recheck, recheck.id).school_id == new_school.id
    assert db_session.scalar(select(Warning.school_id).where(Warning.id == case.warning_id)) == new_school.id
    actions = set(
        db_session.scalars(select(AuditEvent.action).where(AuditEvent.student_public_id == student.public_id))
    )
    assert {"transfer.out", "transfer.in"} <= actions and moved == [new_school.id]


def test_a_transfer_outside_the_district_is_refused(db_session, factory, keyring):
    from models import District, School, SchoolClass

    _, student, _, actor, _ = _case(db_session, factory, keyring)
    other = District(code="OTHER9", name="外区")
    db_session.add(other)
    db_session.flush()
    school = School(district_id=other.id, code="X9999", name="外区学校", type="urban", stage="junior")
    db_session.add(school)
    db_session.flush()
    klass = SchoolClass(school_id=school.id, grade=7, name="七年级(1)班", school_year="2026-2027")
    db_session.add(klass)
    db_session.flush()
    with pytest.raises(service.CareError):
        service.transfer_student(db_session, actor, student, klass)


def test_a_head_teacher_observation_is_shared_and_notifies_the_counselors(db_session, factory, keyring):
    school = factory.school()
    klass = factory.klass(school)
    counselor = factory.counselor(school)
    teacher = factory.head_teacher(klass)
    student = factory.student(klass=klass)
    actor, vault = actor_vault(db_session, keyring, teacher)
    entry = service.add_entry(db_session, actor, vault, student, "observation", clock.today(), "这周上课常走神",
                              visibility="counselor")
    assert entry.visibility == "shared" and entry.seen_by_counselor_at is None
    assert db_session.scalar(select(Notification.kind).where(Notification.user_id == counselor.id)) == "observation"
    with pytest.raises(service.CareError):
        service.add_entry(db_session, actor, vault, student, "referral", clock.today(), "x", destination="y")


def test_every_sealed_care_field_is_unreadable_in_the_database(db_session, factory, keyring):
    case, student, _, actor, vault = _case(db_session, factory, keyring)
    secrets = {
        "plan": "目标秘密甲", "reason": "约谈确认", "close": "关闭理由秘密乙", "note": "家访记录秘密丙",
        "dest": "转介机构秘密丁", "feedback": "反馈秘密戊", "told": "告知对象秘密己", "checkin": "谈心秘密庚",
    }
    service.update_plan(db_session, actor, vault, case, {"goals": secrets["plan"]}, None)
    referral = service.add_entry(db_session, actor, vault, student, "referral", clock.today(), secrets["note"],
                                 case=case, destination=secrets["dest"])
    service.update_referral(db_session, actor, vault, referral, student, "feedback", secrets["feedback"])
    conf = service.add_entry(db_session, actor, vault, student, "confidentiality", clock.today(), "风险",
                             case=case, told_whom=secrets["told"])
    checkin = service.record_checkin(db_session, actor, vault, student, clock.today(), secrets["checkin"])
    service.close_case(db_session, actor, vault, case, secrets["close"])
    db_session.flush()

    blobs = [
        raw_bytes(db_session, "care_cases", "plan_enc", "id = :i", {"i": case.id}),
        raw_bytes(db_session, "care_cases", "close_reason_enc", "id = :i", {"i": case.id}),
        raw_bytes(db_session, "case_entries", "note_enc", "id = :i", {"i": referral.id}),
        raw_bytes(db_session, "case_entries", "destination_enc", "id = :i", {"i": referral.id}),
        raw_bytes(db_session, "case_entries", "feedback_enc", "id = :i", {"i": referral.id}),
        raw_bytes(db_session, "case_entries", "told_whom_enc", "id = :i", {"i": conf.id}),
        raw_bytes(db_session, "care_checkins", "note_enc", "id = :i", {"i": checkin.id}),
    ]
    blobs += [
        bytes(b)
        for b in db_session.execute(
            text("SELECT reason_enc FROM warning_changes WHERE student_id = :s AND reason_enc IS NOT NULL"),
            {"s": student.id},
        ).scalars()
    ]
    assert all(blobs) and len(blobs) == 8
    everything = b"".join(blobs)
    for secret in secrets.values():
        assert secret.encode() not in everything
        assert secret.encode("utf-16-le") not in everything
    # and they do open through the vault
    reader = vault.reveal(student, "t")
    assert reader.get(db_session.get(CaseEntry, referral.id), "destination") == secrets["dest"]
