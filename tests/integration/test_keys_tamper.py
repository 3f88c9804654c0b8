"""Ciphertexts in the database, opened through the Vault: moved, flipped or re-keyed values fail closed."""
from __future__ import annotations

import struct

import pytest
from sqlalchemy import select

from models import CaseEntry, DataKey, Screening, Student, WarningChange
from models.audit import Actor
from models.crypto import CryptoError, parse_header
from models.vault import Vault
from tests.integration.keys_support import raw_update, seed_sealed


def fresh_vault(session, keyring) -> Vault:  # type: ignore[no-untyped-def]
    session.expire_all()
    return Vault(session, keyring, Actor.system("tests"))


def test_every_stored_value_parses_as_version_key_id_nonce_and_ciphertext(db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=2)
    blobs = []
    for s in seeded.students:
        blobs += [s.name_enc, s.student_number_enc, s.guardians_enc]
    blobs += list(db_session.scalars(select(CaseEntry.note_enc))) + list(
        db_session.scalars(select(Screening.answers_enc))
    )
    blobs += list(db_session.scalars(select(WarningChange.reason_enc)))
    for blob in blobs:
        version, key_id, nonce = parse_header(blob)
        assert version == 1 and len(nonce) == 12
        assert key_id in {s.data_key_id for s in seeded.students}


def test_a_name_copied_to_another_students_row_fails_to_open(db_session, keyring):
    a, b = seed_sealed(db_session, keyring, count=2).students
    raw_update(db_session, Student, b.id, name_enc=bytes(a.name_enc))
    with pytest.raises(CryptoError):
        _ = fresh_vault(db_session, keyring).reveal(db_session.get(Student, b.id), "t").name


def test_a_name_copied_to_the_student_number_column_of_the_same_row_fails_to_open(db_session, keyring):
    (a,) = seed_sealed(db_session, keyring, count=1).students
    raw_update(db_session, Student, a.id, student_number_enc=bytes(a.name_enc))
    with pytest.raises(CryptoError):
        _ = fresh_vault(db_session, keyring).reveal(db_session.get(Student, a.id), "t").student_number


def test_a_note_copied_to_another_entry_of_the_same_student_fails_to_open(db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=1)
    entry = seeded.entries[0]
    twin = CaseEntry(student_id=entry.student_id, kind="note", occurred_on=entry.occurred_on)
    twin.ensure_uid()
    db_session.add(twin)
    db_session.flush()
    raw_update(db_session, CaseEntry, twin.id, note_enc=bytes(entry.note_enc))
    reader = fresh_vault(db_session, keyring).reveal(seeded.students[0], "t")
    assert reader.get(db_session.get(CaseEntry, entry.id), "note") == seeded.notes[0]
    with pytest.raises(CryptoError):
        reader.get(db_session.get(CaseEntry, twin.id), "note")


def test_a_note_copied_into_another_table_fails_to_open(db_session, keyring):
    seeded = seed_sealed(db_session, keyring, count=1)
    change = db_session.scalar(select(WarningChange))
    raw_update(db_session, WarningChange, change.id, reason_enc=bytes(seeded.entries[0].note_enc))
    with pytest.raises(CryptoError):
        fresh_vault(db_session, keyring).reveal(seeded.students[0], "t").get(
            db_session.get(WarningChange, change.id), "reason"
        )


@pytest.mark.parametrize("position", [0, 5, 12, 20, -17, -1])
def test_a_flipped_bit_anywhere_in_a_stored_value_fails(db_session, keyring, position):
    (a,) = seed_sealed(db_session, keyring, count=1).students
    blob = bytearray(a.name_enc)
    blob[position] ^= 0x04
    raw_update(db_session, Student, a.id, name_enc=bytes(blob))
    with pytest.raises(CryptoError):
        _ = fresh_vault(db_session, keyring).reveal(db_session.get(Student, a.id), "t").name


def test_an_unknown_key_id_in_a_stored_value_fails_closed(db_session, keyring):
    (a,) = seed_sealed(db_session, keyring, count=1).students
    blob = bytearray(a.name_enc)
    struct.pack_into(">Q", blob, 1, 0x0DEADBEEF)  # a key id that has no data_keys row
    raw_update(db_session, Student, a.id, name_enc=bytes(blob))
    with pytest.raises(CryptoError, match="unknown data key"):
        _ = fresh_vault(db_session, keyring).reveal(db_session.get(Student, a.id), "t").name


def test_another_students_key_id_in_a_stored_value_fails_closed(db_session, keyring):
    a, b = seed_sealed(db_session, keyring, count=2).students
    blob = bytearray(a.name_enc)
    struct.pack_into(">Q", blob, 1, b.data_key_id)
    raw_update(db_session, Student, a.id, name_enc=bytes(blob))
    with pytest.raises(CryptoError):
        _ = fresh_vault(db_session, keyring).reveal(db_session.get(Student, a.id), "t").name


def test_a_data_key_wrapped_under_an_unknown_master_version_fails_closed(db_session, keyring):
    (a,) = seed_sealed(db_session, keyring, count=1).students
    raw_update(db_session, DataKey, a.data_key_id, master_version=99)
    with pytest.raises(CryptoError, match="unknown master key version"):
        _ = fresh_vault(db_session, keyring).reveal(db_session.get(Student, a.id), "t").name


def test_one_students_wrapped_data_key_moved_to_another_key_row_fails_to_unwrap(db_session, keyring):
    a, b = seed_sealed(db_session, keyring, count=2).students
    wrapped_a = bytes(db_session.get(DataKey, a.data_key_id).wrapped)
    raw_update(db_session, DataKey, b.data_key_id, wrapped=wrapped_a)
    with pytest.raises(CryptoError):
        _ = fresh_vault(db_session, keyring).reveal(db_session.get(Student, b.id), "t").name
