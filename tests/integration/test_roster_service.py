"""Roster services on a real database: create/update flush only, uniqueness in the district, audit fields."""
from __future__ import annotations

import json

import pytest
import yaml
from sqlalchemy import func, select

from app.care_groups import CareGroupConfigError, care_group_keys, care_group_label, load_care_groups
from app.roster import service
from config import CONFIG_DIR
from models import Actor, AuditEvent, Student


def _data(school, klass=None, **kw):
    values = dict(
        name="吴同学", student_number="G3104440001", school_id=school.id, grade=klass.grade if klass else 7,
        class_id=klass.id if klass else None, gender="M", birth_ym="2012-02", care_groups=["hardship"],
        guardians=[{"name": "吴妈妈", "relation": "母亲", "phone": "13800002222"}],
    )
    values.update(kw)
    return service.StudentData(**values)


def _events(db_session, action):
    return list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def test_create_student_seals_identity_sets_blind_indexes_and_audits_fields(db_session, factory):
    school = factory.school()
    counselor = factory.counselor(school)
    vault = factory.vault
    student = service.create_student(db_session, Actor.for_user(counselor), vault, counselor, _data(school))
    assert student.id is not None and student.name_bidx == vault.blind_index("name", "吴同学")
    assert student.student_number_bidx == vault.blind_index("student_number", "G3104440001")
    assert student.care_groups == ["hardship"]
    [event] = _events(db_session, "student.created")
    assert event.actor == counselor.username and "吴" not in event.detail


def test_services_flush_but_never_commit(db_session, factory):
    school = factory.school()
    counselor = factory.counselor(school)
    service.create_student(db_session, Actor.for_user(counselor), factory.vault, counselor, _data(school))
    assert db_session.in_transaction()
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Student).where(Student.school_id == school.id)) == 0


def test_duplicate_number_in_the_same_district_is_refused_on_the_number_field(db_session, factory):
    school = factory.school()
    counselor = factory.counselor(school)
    factory.student(school=factory.school(), number="G3104440001")
    with pytest.raises(service.RosterError) as err:
        service.create_student(db_session, Actor.for_user(counselor), factory.vault, counselor, _data(school))
    assert err.value.field == "student_number"


def test_a_class_of_another_grade_or_school_is_refused(db_session, factory):
    school = factory.school()
    counselor = factory.counselor(school)
    for klass in (factory.klass(school, grade=8), factory.klass(factory.school(), grade=7)):
        with pytest.raises(service.RosterError) as err:
            service.create_student(db_session, Actor.for_user(counselor), factory.vault, counselor,
                                   _data(school, class_id=klass.id, grade=7))
        assert err.value.field == "class_id"


def test_a_school_outside_the_counselors_scope_is_refused(db_session, factory):
    counselor = factory.counselor(factory.school())
    with pytest.raises(service.RosterError) as err:
        service.create_student(db_session, Actor.for_user(counselor), factory.vault, counselor, _data(factory.school()))
    assert err.value.field == "school_id"


def test_update_without_changes_writes_no_event(db_session, factory):
    school = factory.school()
    counselor = factory.counselor(school)
    actor = Actor.for_user(counselor)
    student = service.create_student(db_session, actor, factory.vault, counselor, _data(school))
    assert service.update_student(db_session, actor, factory.vault, counselor, student, _data(school)) == []
    assert _events(db_session, "student.updated") == []


def test_update_names_changed_identity_fields_and_ignores_spacing_only_edits(db_session, factory):
    school = factory.school()
    counselor = factory.counselor(school)
    actor = Actor.for_user(counselor)
    student = service.create_student(db_session, actor, factory.vault, counselor, _data(school))
    changed = service.update_student(
        db_session, actor, factory.vault, counselor, student,
        _data(school, name="吴 同学", national_id="11010120120201123X",
              guardians=[{"name": "吴爸爸", "relation": "父亲", "phone": "13800003333"}]),
    )
    assert changed == ["national_id", "guardians"]
    [event] = _events(db_session, "student.updated")
    assert json.loads(event.detail) == {"fields": ["national_id", "guardians"]}
    assert factory.vault.reveal(student, "tests.read").identity.name == "吴 同学"  # stored as entered


def test_an_update_cannot_move_a_student_to_another_school(db_session, factory):
    school, other = factory.school(), factory.school()
    counselor = factory.counselor(school, other)
    actor = Actor.for_user(counselor)
    student = service.create_student(db_session, actor, factory.vault, counselor, _data(school))
    with pytest.raises(service.RosterError):
        service.update_student(db_session, actor, factory.vault, counselor, student, _data(other))


@pytest.mark.parametrize(
    "raw, expected",
    [("13900001111", "13900001111"), ("139 0000 1111", "13900001111"), ("+86 139-0000-1111", "13900001111"),
     ("１３９００００１１１１", "13900001111"), ("021-69691234", "02169691234"), ("1390000111", None),
     ("139abc", None), ("", None), ("12", None)],
)
def test_phone_numbers_are_digits_only(raw, expected):
    assert service.clean_phone(raw) == expected


def test_shipped_care_groups_match_the_warning_policy():
    policy = yaml.safe_load((CONFIG_DIR / "warning_policy.yaml").read_text(encoding="utf-8"))
    assert set(care_group_keys()) == set(policy["care_groups"])
    assert care_group_keys() == ("left_behind", "migrant", "hardship", "boarding")
    assert [care_group_label(k, "zh") for k in care_group_keys()] == ["留守儿童", "随迁子女", "困难学生", "寄宿生"]
    assert care_group_label("migrant", "en") == "Migrant child"


def test_a_broken_care_group_file_is_refused(tmp_path):
    # The care groups are the warning policy's `care_groups` (one definition): a key the database column cannot
    # hold, or a group without its English label, is refused.
    shipped = yaml.safe_load((CONFIG_DIR / "warning_policy.yaml").read_text(encoding="utf-8"))
    path = tmp_path / "warning_policy.yaml"
    for groups in (
        {"a-b": {"zh": "甲", "en": "A", "triggers": True}},
        {"x" * 31: {"zh": "甲", "en": "A", "triggers": True}},
        {"a": {"zh": "甲", "triggers": True}},
    ):
        path.write_text(
            yaml.safe_dump({**shipped, "care_groups": groups}, allow_unicode=True, sort_keys=False), encoding="utf-8"
        )
        with pytest.raises(CareGroupConfigError):
            load_care_groups(path)
    path.write_text(yaml.safe_dump(shipped, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert [g.key for g in load_care_groups(path)] == ["left_behind", "migrant", "hardship", "boarding"]
