"""Care-group roster and check-ins; transfers between schools through the page."""
from __future__ import annotations

import re

from sqlalchemy import select

from models import AuditEvent, CareCheckin
from tests.conftest import login, post


def test_care_roster_shows_guardian_contact_on_file_without_the_phone(client, factory, db_session):
    school = factory.school()
    counselor = factory.counselor(school)
    factory.student(school=school, name="有电话生", groups=["left_behind"],
                    guardians=[{"name": "王妈妈", "relation": "母亲", "phone": "13912345678"}])
    factory.student(school=school, name="无电话生", groups=["hardship"], guardians=[])
    factory.student(school=school, name="普通生")
    login(client, counselor.username)
    html = client.get("/care/groups").get_data(as_text=True)
    assert "有电话生" in html and "无电话生" in html and "普通生" not in html
    assert "13912345678" not in html and "王妈妈" not in html
    assert "留守儿童" in html and "困难学生" in html
    filtered = client.get("/care/groups?group=hardship").get_data(as_text=True)
    assert "无电话生" in filtered and "有电话生" not in filtered


def test_head_teacher_records_a_check_in_for_their_class_only(app, factory, db_session):
    school = factory.school()
    klass = factory.klass(school)
    mine = factory.student(klass=klass, name="本班生", groups=["migrant"])
    other = factory.student(klass=factory.klass(school), name="外班生", groups=["migrant"])
    teacher = factory.head_teacher(klass)
    c = app.test_client()
    login(c, teacher.username)
    roster = c.get("/care/groups").get_data(as_text=True)
    assert "本班生" in roster and "外班生" not in roster
    data = {"occurred_on": "2026-11-20", "guardian_contacted": "y", "note": "谈心：适应良好"}
    assert post(c, f"/care/groups/{mine.public_id}/checkin", data).status_code == 302
    row = db_session.scalar(select(CareCheckin).where(CareCheckin.student_id == mine.id))
    assert row.by_role == "head_teacher" and row.guardian_contacted and row.term == "2026-2027-1"
    assert post(c, f"/care/groups/{other.public_id}/checkin", data).status_code == 404
    assert c.post(f"/care/groups/{mine.public_id}/checkin", data=data).status_code == 400
    district = factory.user("district")
    d = app.test_client()
    login(d, district.username)
    assert d.get("/care/groups").status_code == 403


def test_a_counselor_transfers_a_student_and_loses_access(app, factory, db_session):
    old = factory.school()
    new = factory.school()
    new_class = factory.klass(new, name="七年级(9)班")
    student = factory.student(school=old, name="转学生")
    old_counselor, new_counselor = factory.counselor(old), factory.counselor(new)
    c = app.test_client()
    login(c, old_counselor.username)
    page = c.get(f"/care/students/{student.public_id}/transfer").get_data(as_text=True)
    assert "七年级(9)班" in page
    assert c.post(f"/care/students/{student.public_id}/transfer", data={"to_class": new_class.id}).status_code == 400
    assert post(c, f"/care/students/{student.public_id}/transfer", {"to_class": new_class.id}).status_code == 302
    db_session.refresh(student)
    assert student.school_id == new.id
    assert c.get(f"/students/{student.public_id}").status_code == 404
    n = app.test_client()
    login(n, new_counselor.username)
    assert n.get(f"/students/{student.public_id}").status_code == 200
    actions = set(
        db_session.scalars(select(AuditEvent.action).where(AuditEvent.student_public_id == student.public_id))
    )
    assert {"transfer.out", "transfer.in"} <= actions


def test_transfer_refuses_head_teachers_and_other_schools_counselors(app, factory):
    school = factory.school()
    klass = factory.klass(school)
    student = factory.student(klass=klass)
    for user, expected in ((factory.head_teacher(klass), 403), (factory.counselor(factory.school()), 404)):
        c = app.test_client()
        login(c, user.username)
        assert c.get(f"/care/students/{student.public_id}/transfer").status_code == expected


def test_the_transfer_form_preselects_no_school_or_class_and_requires_a_choice(app, factory, db_session):
    old = factory.school()
    primary = factory.school()
    factory.klass(primary, name="一年级(1)班")
    middle = factory.school()
    target = factory.klass(middle, name="七年级(2)班")
    student = factory.student(school=old, name="七年级生")
    c = app.test_client()
    login(c, factory.counselor(old).username)
    page = c.get(f"/care/students/{student.public_id}/transfer").get_data(as_text=True)
    select_html = page[page.index('<select id="to_class"'):page.index("</select>")]
    options = re.findall(r"<option[^>]*>", select_html)
    assert len(options) == 3 and 'value=""' in options[0]
    assert [o for o in options if "selected" in o] == [options[0]]
    assert "required" in select_html[:select_html.index(">")]
    refused = post(c, f"/care/students/{student.public_id}/transfer", {"to_class": ""})
    assert refused.status_code == 200 and "请选择转入的学校和班级。" in refused.get_data(as_text=True)
    db_session.refresh(student)
    assert student.school_id == old.id
    assert post(c, f"/care/students/{student.public_id}/transfer", {"to_class": target.id}).status_code == 302
    db_session.refresh(student)
    assert student.school_id == middle.id
