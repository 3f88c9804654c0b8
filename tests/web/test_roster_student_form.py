"""Creating and editing students: validation next to each field, uniqueness, scope, CSRF, audit, escaping."""
from __future__ import annotations

import json
import re

from sqlalchemy import func, select

from models import AuditEvent, Student
from tests.conftest import login, post


def _form(school, klass=None, **overrides):
    data = {
        "name": "刘小华",
        "student_number": "G3109998887",
        "national_id": "",
        "gender": "F",
        "birth_ym": "2013-09",
        "school_id": str(school.id),
        "grade": str(klass.grade if klass else 7),
        "class_id": str(klass.id) if klass else "0",
        "status": "enrolled",
        "care_groups": ["left_behind", "boarding"],
        "guardians-0-name": "刘大华",
        "guardians-0-relation": "父亲",
        "guardians-0-phone": "139 0000 1234",
        "guardians-1-name": "", "guardians-1-relation": "", "guardians-1-phone": "",
        "guardians-2-name": "", "guardians-2-relation": "", "guardians-2-phone": "",
    }
    data.update(overrides)
    return data


def _field_errors(html, name):
    """The error paragraphs inside the field block that holds the input `name`."""
    for block in re.findall(r'<div class="field[^"]*">(.*?)</div>', html, re.S):
        if f'name="{name}"' in block:
            return re.findall(r'<p class="error">([^<]*)</p>', block)
    raise AssertionError(f"no field {name}")


def _latest(db_session, action):
    return db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq.desc())
    ).first()


def _setup(client, factory):
    school = factory.school()
    klass = factory.klass(school, grade=7)
    counselor = factory.counselor(school)
    login(client, counselor.username, factory.PASSWORD)
    return school, klass


def _open_identity(factory, student):
    factory.session.refresh(student)  # the app wrote through its own session
    reader = factory.vault.reveal(student, "tests.read")
    return reader.identity


def test_counselor_creates_a_student_with_sealed_identity_and_care_groups(client, factory, db_session):
    school, klass = _setup(client, factory)
    response = post(client, "/students/new", _form(school, klass))
    assert response.status_code == 302
    student = db_session.scalars(select(Student).where(Student.school_id == school.id)).one()
    assert response.headers["Location"].endswith(f"/students/{student.public_id}")
    assert (student.grade, student.class_id, student.gender, student.birth_ym) == (7, klass.id, "F", "2013-09")
    assert student.care_groups == ["boarding", "left_behind"]
    assert "刘小华".encode() not in student.name_enc
    identity = _open_identity(factory, student)
    assert identity.name == "刘小华" and identity.student_number == "G3109998887"
    assert identity.guardians == [{"name": "刘大华", "relation": "父亲", "phone": "13900001234"}]
    event = _latest(db_session, "student.created")
    assert event.student_public_id == student.public_id
    assert "刘小华" not in event.detail and "G3109998887" not in event.detail
    assert {"name", "student_number", "class", "guardians", "care_groups"} <= set(json.loads(event.detail)["fields"])


def test_new_student_form_renders_with_every_care_group(client, factory):
    _setup(client, factory)
    html = client.get("/students/new").get_data(as_text=True)
    for label in ("留守儿童", "随迁子女", "困难学生", "寄宿生", "学籍号", "出生年月", "监护人 3"):
        assert label in html


def test_every_error_is_shown_next_to_its_field_in_chinese(client, factory, db_session):
    school, klass = _setup(client, factory)
    other_grade = factory.klass(school, grade=8)
    data = _form(
        school, klass,
        name="", birth_ym="2013/9", national_id="12345",
        class_id=str(other_grade.id),
        **{"guardians-0-phone": "139-abc", "guardians-1-relation": "母亲"},
    )
    response = post(client, "/students/new", data)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert _field_errors(html, "name") == ["此项必填"]
    assert _field_errors(html, "birth_ym") == ["请按 YYYY-MM 格式填写出生年月，例如 2013-09"]
    assert _field_errors(html, "national_id") == ["身份证号为18位：前17位是数字，最后一位是数字或X"]
    assert _field_errors(html, "class_id") == ["请选择同一学校、同一年级的班级，或暂不分班"]
    assert _field_errors(html, "guardians-0-phone") == ["电话号码只能是数字：手机号11位，或固定电话号码"]
    assert _field_errors(html, "guardians-1-name") == ["请填写监护人姓名"]
    assert _field_errors(html, "guardians-1-phone") == ["请填写监护人电话"]
    assert _field_errors(html, "student_number") == []
    assert db_session.scalar(select(func.count()).select_from(Student).where(Student.school_id == school.id)) == 0


def test_a_birth_month_out_of_range_is_refused(client, factory):
    school, klass = _setup(client, factory)
    for bad in ("2013-13", "2013-00", "1890-01", "3013-01"):
        html = post(client, "/students/new", _form(school, klass, birth_ym=bad)).get_data(as_text=True)
        assert _field_errors(html, "birth_ym"), bad


def test_a_student_number_already_used_in_the_district_is_refused_even_in_full_width(client, factory, db_session):
    school, klass = _setup(client, factory)
    factory.student(school=factory.school(), number="G3105550001")  # another school of the same district
    response = post(client, "/students/new", _form(school, klass, student_number="Ｇ３１０５５５０００１"))
    assert response.status_code == 422
    assert _field_errors(response.get_data(as_text=True), "student_number") == ["该学籍号在本区已有学生使用"]


def test_a_blind_index_collision_on_the_number_is_not_taken_for_a_duplicate(client, factory, db_session):
    school, klass = _setup(client, factory)
    other = factory.student(school=school, number="G3100000000")
    factory_vault = factory.vault
    other.student_number_bidx = factory_vault.blind_index("student_number", "G3107770001")
    db_session.flush()
    assert post(client, "/students/new", _form(school, klass, student_number="G3107770001")).status_code == 302


def test_a_counselor_cannot_create_a_student_in_another_school(client, factory, db_session):
    _, klass = _setup(client, factory)
    elsewhere = factory.school()
    response = post(client, "/students/new", _form(elsewhere, None))
    assert response.status_code == 422
    assert db_session.scalar(select(func.count()).select_from(Student).where(Student.school_id == elsewhere.id)) == 0


def test_posting_without_csrf_is_refused(client, factory, db_session):
    school, klass = _setup(client, factory)
    assert client.post("/students/new", data=_form(school, klass)).status_code == 400
    student = factory.student(school=school)
    assert client.post(f"/students/{student.public_id}/edit", data=_form(school, klass)).status_code == 400
    assert db_session.scalar(select(func.count()).select_from(Student).where(Student.school_id == school.id)) == 1


def test_html_typed_into_the_form_is_stored_as_text_and_escaped_on_every_page(client, factory, db_session):
    school, klass = _setup(client, factory)
    evil = "<script>alert('x')</script>"
    response = post(client, "/students/new", _form(school, klass, name=evil, **{"guardians-0-relation": "<b>父</b>"}))
    assert response.status_code == 302
    student = db_session.scalars(select(Student).where(Student.school_id == school.id)).one()
    assert _open_identity(factory, student).name == evil
    for url in (response.headers["Location"], "/students", f"/students/{student.public_id}/edit"):
        html = client.get(url).get_data(as_text=True)
        assert evil not in html and "<b>父</b>" not in html
        assert "&lt;script&gt;" in html


def test_edit_form_is_prefilled_and_writes_one_audit_event(client, factory, db_session):
    school, klass = _setup(client, factory)
    student = factory.student(klass=klass, name="陈一", number="G3101112223",
                              guardians=[{"name": "陈爸", "relation": "父亲", "phone": "13911112222"}])
    before = db_session.scalar(select(func.count()).select_from(AuditEvent))
    html = client.get(f"/students/{student.public_id}/edit").get_data(as_text=True)
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)) == before + 1
    for value in ('value="陈一"', 'value="G3101112223"', 'value="陈爸"', 'value="13911112222"'):
        assert value in html


def test_editing_records_which_fields_changed_but_never_the_values(client, factory, db_session):
    school, klass = _setup(client, factory)
    klass8 = factory.klass(school, grade=8)
    student = factory.student(
        klass=klass,
        name="陈一",
        number="G3101112223",
        birth_ym="2013-09",
        groups=["left_behind"],
        guardians=[{"name": "陈爸", "relation": "父亲", "phone": "13911112222"}],
    )
    data = _form(school, klass8, name="陈一", student_number="G3101112223", care_groups=["migrant"],
                 **{"guardians-0-name": "陈爸", "guardians-0-relation": "父亲", "guardians-0-phone": "13911112222"})
    response = post(client, f"/students/{student.public_id}/edit", data)
    assert response.status_code == 302
    db_session.refresh(student)
    assert (student.grade, student.class_id, student.care_groups) == (8, klass8.id, ["migrant"])
    event = _latest(db_session, "student.updated")
    assert sorted(json.loads(event.detail)["fields"]) == ["care_groups", "class", "grade"]
    assert "migrant" not in event.detail and "陈" not in event.detail


def test_renaming_a_student_is_recorded_as_a_name_change(client, factory, db_session):
    school, klass = _setup(client, factory)
    student = factory.student(klass=klass, name="陈一", number="G3101112224", birth_ym="2013-09", groups=[],
                              guardians=[])
    data = _form(school, klass, name="陈壹", student_number="G3101112224", care_groups=[], **{"guardians-0-name": "",
                 "guardians-0-relation": "", "guardians-0-phone": ""})
    assert post(client, f"/students/{student.public_id}/edit", data).status_code == 302
    assert json.loads(_latest(db_session, "student.updated").detail)["fields"] == ["name"]
    assert _open_identity(factory, student).name == "陈壹"


def test_a_student_keeps_their_own_number_when_edited(client, factory):
    school, klass = _setup(client, factory)
    student = factory.student(klass=klass, number="G3101112225")
    data = _form(school, klass, student_number="G3101112225")
    assert post(client, f"/students/{student.public_id}/edit", data).status_code == 302


def test_counselor_of_another_school_cannot_edit_by_url(app, factory, db_session):
    school = factory.school()
    klass = factory.klass(school)
    student = factory.student(klass=klass, name="原名")
    client = app.test_client()
    login(client, factory.counselor(factory.school()).username, factory.PASSWORD)
    assert post(client, f"/students/{student.public_id}/edit", _form(school, klass, name="改名")).status_code == 404
    assert _open_identity(factory, student).name == "原名"


def test_gender_and_grade_must_be_chosen_not_defaulted(client, factory):
    school, klass = _setup(client, factory)
    html = client.get("/students/new").get_data(as_text=True)
    assert re.search(r'<option selected value="">— 请选择 —</option>', html)
    response = post(client, "/students/new", _form(school, None, gender="", grade=""))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert _field_errors(html, "gender") == ["此项必填"] and _field_errors(html, "grade") == ["此项必填"]
