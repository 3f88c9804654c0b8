"""The head teacher's class list: their classes only, name, gender and care groups, one audit event."""
from __future__ import annotations

from sqlalchemy import func, select

from models import AuditEvent
from tests.conftest import login


def test_head_teacher_sees_their_class_with_gender_and_care_groups(client, factory):
    school = factory.school()
    mine = factory.klass(school, grade=4, name="四年级(1)班")
    other = factory.klass(school, grade=4, name="四年级(2)班")
    factory.student(klass=mine, name="甲同学", gender="M", groups=["left_behind"], number="G3100000001")
    factory.student(klass=other, name="乙同学")
    factory.student(klass=mine, name="丙同学", status="transferred_out")
    teacher = factory.head_teacher(mine)
    login(client, teacher.username, factory.PASSWORD)
    html = client.get("/my-class").get_data(as_text=True)
    assert "四年级(1)班" in html and "甲同学" in html and "男" in html and "留守儿童" in html
    assert "乙同学" not in html and "四年级(2)班" not in html
    assert "丙同学" not in html  # only enrolled students
    assert "G3100000001" not in html  # no student numbers on the class list


def test_class_list_writes_one_audit_event_per_view(client, factory, db_session):
    klass = factory.klass()
    for _ in range(3):
        factory.student(klass=klass)
    teacher = factory.head_teacher(klass)
    login(client, teacher.username, factory.PASSWORD)
    count = lambda: db_session.scalar(select(func.count()).select_from(AuditEvent))  # noqa: E731
    before = count()
    client.get("/my-class")
    assert count() == before + 1
    event = db_session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert event.action == "roster.class_list" and '"count": 3' in event.detail


def test_class_list_escapes_html_in_names(client, factory):
    klass = factory.klass()
    factory.student(klass=klass, name="<script>x()</script>")
    login(client, factory.head_teacher(klass).username, factory.PASSWORD)
    html = client.get("/my-class").get_data(as_text=True)
    assert "<script>x()</script>" not in html and "&lt;script&gt;x()&lt;/script&gt;" in html


def test_class_list_links_to_no_student_file(client, factory):
    klass = factory.klass()
    student = factory.student(klass=klass)
    login(client, factory.head_teacher(klass).username, factory.PASSWORD)
    assert student.public_id not in client.get("/my-class").get_data(as_text=True)


def test_other_roles_get_403_on_the_class_list(app, factory):
    for role in ("counselor", "district", "admin"):
        client = app.test_client()
        login(client, factory.user(role).username, factory.PASSWORD)
        assert client.get("/my-class").status_code == 403


def test_head_teacher_without_a_class_is_told_what_to_do(client, factory):
    login(client, factory.user("head_teacher").username, factory.PASSWORD)
    assert "请联系系统管理员分配班级" in client.get("/my-class").get_data(as_text=True)


def test_navigation_shows_each_role_its_roster_entry(app, factory):
    counselor, teacher = app.test_client(), app.test_client()
    login(counselor, factory.counselor().username, factory.PASSWORD)
    login(teacher, factory.head_teacher().username, factory.PASSWORD)
    c_html = counselor.get("/students").get_data(as_text=True)
    t_html = teacher.get("/my-class").get_data(as_text=True)
    assert 'href="/students"' in c_html and "学生档案" in c_html and 'href="/my-class"' not in c_html
    assert 'href="/my-class"' in t_html and "我的班级" in t_html and 'href="/students"' not in t_html
