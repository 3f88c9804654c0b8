"""`Vault.collecting_new_keys`: bulk writers get new data keys as row values instead of ORM objects, and the
students sealed that way open exactly like any other."""
from __future__ import annotations

import pytest
from sqlalchemy import insert

from models import Actor, DataKey, Student
from models.vault import Vault


def test_keys_made_while_collecting_are_listed_as_rows_and_not_added_to_the_session(db_session, keyring, factory):
    klass = factory.klass()
    vault = Vault(db_session, keyring, Actor.system("tests"))
    student = Student(school_id=klass.school_id, class_id=klass.id, grade=klass.grade, gender="F", birth_ym="2013-05")
    with vault.collecting_new_keys() as rows:
        vault.seal_identity(student, name="王小红", student_number="G3101000001")
    assert [r["id"] for r in rows] == [student.data_key_id]
    assert rows[0]["master_version"] == keyring.current_version
    assert not [obj for obj in db_session.new if isinstance(obj, DataKey)]
    db_session.execute(insert(DataKey.__table__), rows)
    db_session.add(student)
    db_session.flush()

    fresh = Vault(db_session, keyring, Actor.system("tests"))  # no cached keys: unwraps the stored row
    reader = fresh.reveal(student, "student.view")
    assert (reader.name, reader.student_number) == ("王小红", "G3101000001")
    assert student.student_number_bidx == fresh.blind_index("student_number", "G3101000001")


def test_after_the_block_new_keys_go_to_the_session_again(db_session, keyring, factory):
    klass = factory.klass()
    vault = Vault(db_session, keyring, Actor.system("tests"))
    with vault.collecting_new_keys():
        pass
    student = Student(school_id=klass.school_id, class_id=klass.id, grade=klass.grade, gender="M", birth_ym="2013-05")
    vault.seal_identity(student, name="李明")
    assert [obj.id for obj in db_session.new if isinstance(obj, DataKey)] == [student.data_key_id]


def test_collecting_blocks_do_not_nest(db_session, keyring):
    vault = Vault(db_session, keyring, Actor.system("tests"))
    with vault.collecting_new_keys():
        with pytest.raises(RuntimeError):
            with vault.collecting_new_keys():
                pass
