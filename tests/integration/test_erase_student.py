"""`flask students erase PUBLIC_ID --yes`: crypto-shredding leaves a tombstone without personal data."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.keys import service
from models import AuditEvent, CaseEntry, DataKey, Screening, Student, StudentCareGroup
from models.audit import Actor
from models.crypto import CryptoError
from models.vault import ErasedStudentError, Vault
from tests.conftest import _session_on, make_test_app
from tests.integration.keys_support import key_file_for, raw_update, seed_sealed


@pytest.fixture
def cli_app(engine, connection, keyring, tmp_path):  # type: ignore[no-untyped-def]
    return make_test_app(
        engine, keyring, lambda: _session_on(connection), KEYRING=None, KEY_FILE=str(key_file_for(keyring, tmp_path))
    )


def run(app, *args):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args))


def test_erase_without_yes_refuses_and_changes_nothing(cli_app, db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=1)
    student = seeded.students[0]
    result = run(cli_app, "students", "erase", student.public_id)
    assert result.exit_code == 2 and "--yes" in result.output
    db_session.expire_all()
    assert student.status == "enrolled" and student.name_enc is not None
    assert db_session.get(DataKey, student.data_key_id).wrapped is not None


def test_erase_of_an_unknown_student_exits_non_zero(cli_app):
    result = run(cli_app, "students", "erase", "00000000-0000-0000-0000-000000000000", "--yes")
    assert result.exit_code == 1 and "no student" in result.output


def test_after_erasure_nothing_of_the_student_opens(cli_app, db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=2)
    gone, kept = seeded.students
    old_name_blob = bytes(gone.name_enc)
    result = run(cli_app, "students", "erase", gone.public_id, "--yes")
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    vault = Vault(db_session, keyring, Actor.system("t"))
    reader = vault.reveal(gone, "t")
    assert reader.identity.name is None and reader.identity.guardians == []
    entry = db_session.scalar(select(CaseEntry).where(CaseEntry.student_id == gone.id))
    with pytest.raises(ErasedStudentError):
        reader.get(entry, "note")
    screening = db_session.scalar(select(Screening).where(Screening.student_id == gone.id))
    with pytest.raises(ErasedStudentError):
        reader.get_json(screening, "answers")
    # A ciphertext restored from a backup of the row does not open either: the key is gone.
    raw_update(db_session, Student, gone.id, name_enc=old_name_blob)
    with pytest.raises(CryptoError):
        _ = Vault(db_session, keyring, Actor.system("t")).reveal(db_session.get(Student, gone.id), "t").name
    # The other student is untouched.
    assert Vault(db_session, keyring, Actor.system("t")).reveal(kept, "t").name == seeded.names[1]


def test_after_erasure_the_blind_index_no_longer_finds_the_student(cli_app, db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=1)
    student = seeded.students[0]
    vault = Vault(db_session, keyring, Actor.system("t"))
    by_name = select(Student.id).where(Student.name_bidx == vault.blind_index("name", seeded.names[0]))
    by_number = select(Student.id).where(
        Student.student_number_bidx == vault.blind_index("student_number", seeded.numbers[0])
    )
    assert db_session.scalar(by_name) == student.id
    assert run(cli_app, "students", "erase", student.public_id, "--yes").exit_code == 0
    db_session.expire_all()
    assert db_session.scalar(by_name) is None and db_session.scalar(by_number) is None
    assert not vault.matches(db_session.get(Student, student.id), "name", seeded.names[0])


def test_the_tombstone_holds_no_personal_data(cli_app, db_session, keyring, factory):
    seeded = seed_sealed(db_session, keyring, count=1)
    student = seeded.students[0]
    student.set_care_groups(["left_behind", "hardship"])
    db_session.flush()
    key_id = student.data_key_id
    assert run(cli_app, "students", "erase", student.public_id, "--yes").exit_code == 0
    db_session.expire_all()
    tomb = db_session.get(Student, student.id)
    assert tomb.status == "erased"
    assert (tomb.name_enc, tomb.student_number_enc, tomb.national_id_enc, tomb.guardians_enc) == (
        None,
        None,
        None,
        None,
    )
    assert (tomb.name_bidx, tomb.student_number_bidx) == (None, None)
    assert tomb.class_id is None and tomb.birth_ym == ""
    # care groups stay with the tombstone, like school, grade and gender: the district figures count them
    kept = db_session.scalars(select(StudentCareGroup.group).where(StudentCareGroup.student_id == tomb.id)).all()
    assert sorted(kept) == ["hardship", "left_behind"]
    key = db_session.get(DataKey, key_id)
    assert key.wrapped is None and key.destroyed_at is not None
    # What stays: the random public id (the audit refers to it), school, grade, and categorical results.
    assert tomb.public_id == student.public_id
    screening = db_session.scalar(select(Screening).where(Screening.student_id == tomb.id))
    assert (screening.band, screening.suggested_level) == ("moderately_severe", "L2")


def test_erasure_is_audited_as_student_erased(cli_app, db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=1)
    public_id = seeded.students[0].public_id
    assert run(cli_app, "students", "erase", public_id, "--yes").exit_code == 0
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "student.erased"))
    assert event.student_public_id == public_id and event.role == "system" and event.actor.startswith("cli:")
    assert '"data_key_destroyed": true' in event.detail


def test_erasing_twice_is_refused(cli_app, db_session, keyring):
    public_id = seed_sealed(db_session, keyring, count=1).students[0].public_id
    assert run(cli_app, "students", "erase", public_id, "--yes").exit_code == 0
    again = run(cli_app, "students", "erase", public_id, "--yes")
    assert again.exit_code == 1 and "already erased" in again.output


def test_erase_service_works_inside_a_caller_transaction(db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=1)
    student = service.erase_student(db_session, Actor.system("t"), seeded.students[0].public_id)
    assert student.status == "erased"
    status = service.key_status(db_session, keyring)
    assert status.destroyed == 1 and status.live == 0


def test_a_list_that_includes_an_erased_student_shows_them_without_identity(cli_app, db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=2)
    gone, kept = seeded.students
    assert run(cli_app, "students", "erase", gone.public_id, "--yes").exit_code == 0
    db_session.expire_all()
    identities = Vault(db_session, keyring, Actor.system("t")).reveal_many([gone, kept], "roster.list")
    assert identities[gone.id].name is None and identities[gone.id].student_number is None
    assert identities[kept.id].name == seeded.names[1]
