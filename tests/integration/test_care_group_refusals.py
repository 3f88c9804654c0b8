"""An unknown care-group code (`left-behind` for `left_behind`) is refused with the valid codes wherever it can
enter — never ignored, since an ignored group drops a positive screen from level 2 to level 3 (issue 14)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.roster import service
from app.roster_import import service as roster_import
from models import Actor, Student
from models.vault import Vault
from screening import UnknownCareGroup, score, suggest_level
from tests.roster_import_corpus import EN_HEADER, csv_bytes, students, write
from tests.unit.screening.shipped import POLICY

VALID = "left_behind, migrant, hardship, boarding"


def test_the_engine_refuses_an_unknown_group_instead_of_lowering_the_level():
    positive = score("phq9", [2, 2, 1, 1, 1, 1, 1, 1, 0])
    assert suggest_level([positive], ["left_behind"], POLICY)[0] == "L2"
    with pytest.raises(UnknownCareGroup) as exc:
        suggest_level([positive], ["left-behind"], POLICY)
    assert "'left-behind'" in str(exc.value) and VALID in str(exc.value)


def test_the_roster_service_refuses_an_unknown_group_naming_it(db_session, factory):
    school = factory.school()
    counselor = factory.counselor(school)
    data = service.StudentData(
        name="吴同学", student_number="G3104449999", school_id=school.id, grade=7, class_id=None, gender="M",
        birth_ym="2012-02", care_groups=["left-behind"], guardians=[])
    with pytest.raises(service.RosterError) as exc:
        service.create_student(db_session, Actor.for_user(counselor), factory.vault, counselor, data)
    assert exc.value.field == "care_groups" and exc.value.unknown == ["left-behind"]
    assert db_session.scalar(select(func.count()).select_from(Student)) == 0


def test_a_roster_file_with_a_misspelt_group_column_is_refused_with_the_valid_codes(app, db_session, factory,
                                                                                     keyring, tmp_path):
    school = factory.school()
    header = ["left-behind" if h == "left_behind" else h for h in EN_HEADER]
    path = write(tmp_path, "r.csv", csv_bytes(students(3), header=header))
    vault = Vault(db_session, keyring, Actor.system("tests"))
    with app.test_request_context():
        plan = roster_import.plan_import(db_session, vault, school, path)
        texts = [(p.row, p.column, p.text()) for p in plan.problems]
    assert not plan.ok
    assert any(row == 1 and col == "left-behind" and VALID in text for row, col, text in texts), texts
