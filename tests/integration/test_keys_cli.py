"""`flask keys status|rotate|verify` and `flask audit verify` against a real database and a real key file."""
from __future__ import annotations

import base64
import os
import stat

import pytest
from sqlalchemy import delete, func, select, update

from models import AuditEvent, DataKey, Student, verify_chain
from models.audit import Actor
from models.crypto import KeyRing
from models.vault import Vault
from tests.audit_support import link_audit
from tests.conftest import _session_on, make_test_app
from tests.integration.keys_support import (
    disable_audit_triggers,
    key_file_for,
    key_file_versions,
    raw_update,
    seed_sealed,
)


@pytest.fixture
def key_file(tmp_path, keyring):  # type: ignore[no-untyped-def]
    return key_file_for(keyring, tmp_path)


@pytest.fixture
def cli_app(engine, connection, key_file):  # type: ignore[no-untyped-def]
    """The app as an operator runs it: key ring loaded from the key file, sharing the test's transaction."""
    return make_test_app(
        engine, KeyRing.generate(), lambda: _session_on(connection), KEYRING=None, KEY_FILE=str(key_file)
    )


def run(app, *args):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args))


def versions_in_use(session) -> dict[int, int]:  # type: ignore[no-untyped-def]
    rows = session.execute(
        select(DataKey.master_version, func.count())
        .where(DataKey.wrapped.is_not(None))
        .group_by(DataKey.master_version)
    ).all()
    return {v: n for v, n in rows}


def test_keys_status_lists_versions_current_and_data_keys_per_version(cli_app, db_session, keyring):
    seed_sealed(db_session, keyring, count=3)
    result = run(cli_app, "keys", "status")
    assert result.exit_code == 0, result.output
    assert "master key versions: 1 (current: 1)" in result.output
    assert "version 1 (current): 3 data keys" in result.output
    assert "0 destroyed" in result.output
    assert "key file" in result.output


def test_keys_rotate_adds_a_version_to_the_key_file_and_rewraps_every_data_key(cli_app, db_session, keyring, key_file):
    seed_sealed(db_session, keyring, count=5)
    before = {row.id: bytes(row.wrapped) for row in db_session.scalars(select(DataKey))}
    result = run(cli_app, "keys", "rotate", "--batch-size", "2")
    assert result.exit_code == 0, result.output + result.stderr
    assert key_file_versions(key_file) == [1, 2]
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    db_session.expire_all()
    assert versions_in_use(db_session) == {2: 5}
    after = {row.id: bytes(row.wrapped) for row in db_session.scalars(select(DataKey))}
    assert after.keys() == before.keys() and all(after[k] != before[k] for k in before)
    assert "rewrapped 5 data keys in 3 batches to version 2" in result.output
    verify = run(cli_app, "keys", "verify")
    assert verify.exit_code == 0, verify.output + verify.stderr
    assert "0 failed" in verify.output
    actions = list(db_session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))
    assert actions.count("key.rotate") == 2 and "key.add_version" in actions


def test_everything_opens_with_the_rotated_key_file_and_not_with_the_old_master_key_alone(
    cli_app, db_session, keyring, key_file
):
    seeded = seed_sealed(db_session, keyring, count=2)
    assert run(cli_app, "keys", "rotate").exit_code == 0
    db_session.expire_all()
    new_ring = KeyRing.from_file(key_file)
    reader = Vault(db_session, new_ring, Actor.system("t")).reveal(seeded.students[0], "test.open")
    assert reader.name == seeded.names[0]
    assert reader.get(seeded.entries[0], "note") == seeded.notes[0]
    from models.crypto import CryptoError

    with pytest.raises(CryptoError):
        _ = Vault(db_session, keyring, Actor.system("t")).reveal(seeded.students[1], "test.open").name


def test_rotating_twice_adds_a_third_version(cli_app, db_session, keyring, key_file):
    seed_sealed(db_session, keyring, count=2)
    assert run(cli_app, "keys", "rotate").exit_code == 0
    assert run(cli_app, "keys", "rotate").exit_code == 0
    assert key_file_versions(key_file) == [1, 2, 3]
    db_session.expire_all()
    assert versions_in_use(db_session) == {3: 2}


def test_rotate_with_keys_from_environment_variables_explains_and_changes_nothing(
    engine, connection, db_session, keyring, monkeypatch
):
    k1, idx = os.urandom(32), os.urandom(32)
    monkeypatch.setenv("XINMIAO_MASTER_KEYS", "1:" + base64.urlsafe_b64encode(k1).decode())
    monkeypatch.setenv("XINMIAO_INDEX_KEY", base64.urlsafe_b64encode(idx).decode())
    monkeypatch.delenv("XINMIAO_KEY_FILE", raising=False)
    app = make_test_app(engine, keyring, lambda: _session_on(connection), KEYRING=None, KEY_FILE=None)
    seed_sealed(db_session, KeyRing({1: k1}, 1, idx), count=2)
    result = run(app, "keys", "rotate")
    assert result.exit_code == 2
    assert "XINMIAO_MASTER_KEYS" in result.output and "flask keys rotate --rewrap-only" in result.output
    assert versions_in_use(db_session) == {1: 2}


def test_rewrap_only_moves_every_key_to_a_version_added_in_the_environment(
    engine, connection, db_session, keyring, monkeypatch
):
    k1, k2, idx = os.urandom(32), os.urandom(32), os.urandom(32)
    b = lambda k: base64.urlsafe_b64encode(k).decode()  # noqa: E731
    seeded = seed_sealed(db_session, KeyRing({1: k1}, 1, idx), count=3)
    monkeypatch.setenv("XINMIAO_MASTER_KEYS", f"1:{b(k1)},2:{b(k2)}")
    monkeypatch.setenv("XINMIAO_INDEX_KEY", b(idx))
    monkeypatch.delenv("XINMIAO_KEY_FILE", raising=False)
    app = make_test_app(engine, keyring, lambda: _session_on(connection), KEYRING=None, KEY_FILE=None)
    status = run(app, "keys", "status")
    assert "3 data keys are not on the current version" in status.output
    result = run(app, "keys", "rotate", "--rewrap-only")
    assert result.exit_code == 0, result.output + result.stderr
    db_session.expire_all()
    assert versions_in_use(db_session) == {2: 3}
    only_v2 = KeyRing({2: k2}, 2, idx)
    assert Vault(db_session, only_v2, Actor.system("t")).reveal(seeded.students[2], "t").name == seeded.names[2]
    again = run(app, "keys", "rotate", "--rewrap-only")
    assert again.exit_code == 0 and "nothing to rewrap" in again.output


def test_a_data_key_on_a_version_missing_from_the_key_ring_is_reported_and_fails_the_rotation(
    cli_app, db_session, keyring
):
    seeded = seed_sealed(db_session, keyring, count=2)
    raw_update(db_session, DataKey, seeded.students[0].data_key_id, master_version=7)
    result = run(cli_app, "keys", "rotate")
    assert result.exit_code == 1
    assert f"FAILED data key {seeded.students[0].data_key_id}" in result.stderr


# -- keys verify --------------------------------------------------------------------------------------------------


def test_keys_verify_opens_every_sealed_value_and_exits_zero(cli_app, db_session, keyring):
    seed_sealed(db_session, keyring, count=3)
    result = run(cli_app, "keys", "verify")
    assert result.exit_code == 0, result.stderr
    # 3 students x (name, number, guardians) + 3 x (case note, answers, warning reason); national id empty
    assert "checked 18 values" in result.output and "18 opened" in result.output and "0 failed" in result.output
    assert (
        db_session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "key.verify")).count('"failed": 0') == 1
    )


def test_keys_verify_reports_a_ciphertext_copied_to_another_row_by_table_column_and_uid(cli_app, db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=2)
    a, b = seeded.students
    raw_update(db_session, Student, b.id, name_enc=bytes(a.name_enc))
    result = run(cli_app, "keys", "verify")
    assert result.exit_code == 1
    assert f"FAILED students.name row {b.public_id}" in result.stderr
    assert "1 failed" in result.output


def test_keys_verify_reports_a_note_moved_to_another_entry_of_the_same_student(cli_app, db_session, keyring):
    from models import CaseEntry

    seeded = seed_sealed(db_session, keyring, count=1)
    entry = seeded.entries[0]
    twin = CaseEntry(
        student_id=entry.student_id, kind="note", occurred_on=entry.occurred_on, note_enc=bytes(entry.note_enc)
    )
    twin.ensure_uid()
    db_session.add(twin)
    db_session.flush()
    result = run(cli_app, "keys", "verify")
    assert result.exit_code == 1
    assert f"FAILED case_entries.note row {twin.uid}" in result.stderr


def test_keys_verify_reports_a_flipped_bit(cli_app, db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=1)
    blob = bytearray(seeded.students[0].guardians_enc)
    blob[-5] ^= 0x01
    raw_update(db_session, Student, seeded.students[0].id, guardians_enc=bytes(blob))
    result = run(cli_app, "keys", "verify")
    assert result.exit_code == 1 and "students.guardians" in result.stderr


def test_keys_verify_with_a_sample_opens_only_that_many_values(cli_app, db_session, keyring):
    seed_sealed(db_session, keyring, count=3)
    result = run(cli_app, "keys", "verify", "--sample", "4")
    assert result.exit_code == 0
    assert "checked 4 values (a random sample of 4)" in result.output


def test_keys_verify_counts_an_erased_students_values_apart_from_failures(cli_app, db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=2)
    assert run(cli_app, "students", "erase", seeded.students[0].public_id, "--yes").exit_code == 0
    result = run(cli_app, "keys", "verify")
    assert result.exit_code == 0, result.stderr
    assert "3 of erased students" in result.output and "0 failed" in result.output


# -- audit verify ------------------------------------------------------------------------------------------------


def test_audit_verify_prints_the_number_of_events(cli_app, db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=2)
    Vault(db_session, keyring, Actor.system("t")).reveal(seeded.students[0], "student.view")
    link_audit(db_session)
    last = db_session.scalar(select(AuditEvent.hash).where(AuditEvent.chain_seq == 1))
    result = run(cli_app, "audit", "verify")
    assert result.exit_code == 0
    assert result.stdout.splitlines()[0] == f"audit chain OK: 1 events, head {last}"


def test_audit_verify_prints_the_first_broken_link_and_exits_non_zero(cli_app, db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=1)
    vault = Vault(db_session, keyring, Actor.system("t"))
    for _ in range(3):
        vault.reveal(seeded.students[0], "student.view")
    link_audit(db_session)
    disable_audit_triggers(db_session)
    db_session.execute(update(AuditEvent).where(AuditEvent.chain_seq == 2).values(actor="nobody"))
    result = run(cli_app, "audit", "verify")
    assert result.exit_code == 1
    assert "BROKEN at event 2" in result.stderr


def test_audit_verify_detects_a_deleted_event(cli_app, db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=1)
    vault = Vault(db_session, keyring, Actor.system("t"))
    for _ in range(3):
        vault.reveal(seeded.students[0], "student.view")
    link_audit(db_session)
    disable_audit_triggers(db_session)
    db_session.execute(delete(AuditEvent).where(AuditEvent.chain_seq == 1))
    result = run(cli_app, "audit", "verify")
    assert result.exit_code == 1 and "BROKEN at event 1" in result.stderr
    assert verify_chain(db_session)[1] is not None


def test_rotate_add_only_saves_the_new_version_and_rewraps_nothing_until_rewrap_only(
    cli_app, db_session, keyring, key_file
):
    seed_sealed(db_session, keyring, count=3)
    added = run(cli_app, "keys", "rotate", "--add-only")
    assert added.exit_code == 0, added.output + added.stderr
    assert key_file_versions(key_file) == [1, 2] and "--rewrap-only" in added.output
    db_session.expire_all()
    assert versions_in_use(db_session) == {1: 3}
    rewrap = run(cli_app, "keys", "rotate", "--rewrap-only")
    assert rewrap.exit_code == 0
    db_session.expire_all()
    assert versions_in_use(db_session) == {2: 3}
    assert key_file_versions(key_file) == [1, 2]


def test_rotate_refuses_add_only_together_with_rewrap_only(cli_app):
    result = run(cli_app, "keys", "rotate", "--add-only", "--rewrap-only")
    assert result.exit_code == 2
