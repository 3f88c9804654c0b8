"""Admin pages: schools, classes, users and scope; audited, recent-login guarded, refused to other roles."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from models import AuditEvent, School, SchoolClass, User
from tests.conftest import login, post


@pytest.fixture
def admin(factory):
    return factory.user("admin", username="root1")


def _actions(db_session, username):
    return [
        e.action
        for e in db_session.scalars(
            select(AuditEvent).where(AuditEvent.target == f"user:{username}").order_by(AuditEvent.seq)
        )
    ]


def test_admin_lands_on_the_admin_home_in_chinese(client, admin, factory):
    factory.school()
    login(client, "root1")
    page = client.get("/", follow_redirects=True).get_data(as_text=True)
    assert "系统管理" in page and "所学校" in page


def test_the_header_names_the_user_and_their_role_once(client, factory):
    """An account called 系统管理员 is not shown as "系统管理员 · 系统管理员"; another shows name · role."""
    import re

    factory.user("admin", username="root2", display_name="系统管理员")
    factory.user("admin", username="root3", display_name="王老师")
    for username, expected in (("root2", "系统管理员"), ("root3", "王老师 · 系统管理员")):
        login(client, username)
        page = client.get("/", follow_redirects=True).get_data(as_text=True)
        who = re.search(r'<span class="who">(.*?)</span>', page, re.S)
        assert who and who.group(1).strip() == expected, who
        post(client, "/logout", {})


def test_admin_creates_a_school_and_a_duplicate_code_is_refused_beside_the_field(client, admin, db_session):
    login(client, "root1")
    r = post(
        client,
        "/admin/schools/new",
        {"code": "3109990001", "name": "崇明区新建小学", "type": "rural_small", "stage": "primary"},
    )
    assert r.status_code == 302
    school = db_session.scalars(select(School).where(School.code == "3109990001")).one()
    assert school.type == "rural_small"
    again = post(
        client, "/admin/schools/new", {"code": "3109990001", "name": "别的学校", "type": "urban", "stage": "junior"}
    )
    assert again.status_code == 200
    assert "已被崇明区新建小学使用" in again.get_data(as_text=True)


def test_admin_edits_a_school_and_the_change_is_audited(client, admin, factory, db_session):
    school = factory.school(name="旧名小学", stage="primary")
    login(client, "root1")
    r = post(
        client,
        f"/admin/schools/{school.id}/edit",
        {"code": school.code, "name": "新名小学", "type": "urban", "stage": "primary"},
    )
    assert r.status_code == 302
    db_session.expire_all()
    assert school.name == "新名小学"
    assert db_session.scalars(select(AuditEvent).where(AuditEvent.action == "school.updated")).first() is not None


def test_admin_creates_a_class_and_a_grade_the_school_lacks_is_refused(client, admin, factory, db_session):
    school = factory.school(stage="junior")
    login(client, "root1")
    r = post(
        client,
        f"/admin/schools/{school.id}/classes/new",
        {"grade": "7", "name": "七年级(5)班", "school_year": "2026-2027"},
    )
    assert r.status_code == 302
    assert db_session.scalars(select(SchoolClass).where(SchoolClass.school_id == school.id)).one().name == "七年级(5)班"
    bad = post(
        client,
        f"/admin/schools/{school.id}/classes/new",
        {"grade": "3", "name": "三年级(1)班", "school_year": "2026-2027"},
    )
    assert bad.status_code == 200 and "该校没有3年级" in bad.get_data(as_text=True)
    listing = client.get(f"/admin/schools/{school.id}/classes").get_data(as_text=True)
    assert "七年级(5)班" in listing


def test_admin_edits_a_class(client, admin, factory, db_session):
    klass = factory.klass(grade=8, name="八年级(1)班")
    login(client, "root1")
    r = post(
        client, f"/admin/classes/{klass.id}/edit", {"grade": "8", "name": "八年级(2)班", "school_year": "2026-2027"}
    )
    db_session.expire_all()
    assert r.status_code == 302 and klass.name == "八年级(2)班"


def test_admin_creates_a_counselor_with_schools_and_it_is_audited(client, admin, factory, db_session):
    s1, s2 = factory.school(), factory.school()
    login(client, "root1")
    r = post(client, "/admin/users/new", {
        "username": "newc", "display_name": "新老师", "email": "", "password": "long-enough-1",
        "role": "counselor", "schools": [str(s1.id), str(s2.id)], "active": "y", "full_time": "y",
    })
    assert r.status_code == 302, r.get_data(as_text=True)
    user = db_session.scalars(select(User).where(User.username == "newc")).one()
    # the schools are proposals until a second person approves (tests/web/test_access_grants.py)
    assert user.role == "counselor" and user.schools == []
    actions = _actions(db_session, "newc")
    assert "user.created" in actions and actions.count("access.proposed") == 2


def test_a_counselor_without_a_school_is_refused(client, admin):
    login(client, "root1")
    r = post(
        client,
        "/admin/users/new",
        {"username": "lonely", "display_name": "x", "password": "long-enough-1", "role": "counselor", "active": "y"},
    )
    assert r.status_code == 200 and "至少需要负责一所学校" in r.get_data(as_text=True)


def test_role_and_scope_changes_are_audited_and_end_the_users_sessions(client, app, admin, factory, db_session):
    klass = factory.klass()
    counselor = factory.counselor()
    victim = app.test_client()
    login(victim, counselor.username)
    login(client, "root1")
    r = post(
        client,
        f"/admin/users/{counselor.id}/access",
        {"role": "head_teacher", "classes": [str(klass.id)], "active": "y"},
    )
    assert r.status_code == 302
    db_session.expire_all()
    # the school is revoked at once; the class is a proposal a second person approves
    assert counselor.role == "head_teacher" and counselor.classes == [] and counselor.schools == []
    actions = _actions(db_session, counselor.username)
    assert "user.role_changed" in actions and "user.scope_changed" in actions
    assert "access.revoked" in actions and "access.proposed" in actions
    assert victim.get("/").status_code == 302 and "/login" in victim.get("/").headers["Location"]


def test_disabling_a_user_is_audited_and_refuses_their_login(client, admin, factory, db_session):
    teacher = factory.head_teacher()
    login(client, "root1")
    r = post(
        client,
        f"/admin/users/{teacher.id}/access",
        {"role": "head_teacher", "classes": [str(c.id) for c in teacher.classes]},
    )
    db_session.expire_all()
    assert r.status_code == 302 and teacher.active is False
    assert "user.disabled" in _actions(db_session, teacher.username)


def test_an_admin_cannot_disable_themselves(client, admin, db_session):
    login(client, "root1")
    r = post(client, f"/admin/users/{admin.id}/access", {"role": "admin"})
    db_session.expire_all()
    assert r.status_code == 200 and admin.active is True


def test_role_changes_need_a_recent_login(client, admin, factory):
    counselor = factory.counselor()
    login(client, "root1")
    with client.session_transaction() as sess:
        sess["auth_at"] = 0
    r = client.get(f"/admin/users/{counselor.id}/access")
    assert r.status_code == 302 and "/reauth" in r.headers["Location"]


def test_admin_resets_a_password_and_the_profile_can_be_edited(client, app, admin, factory, db_session):
    teacher = factory.head_teacher(username="ht9")
    login(client, "root1")
    r = post(client, f"/admin/users/{teacher.id}/password", {"password": "brand-new-pass", "confirm": "brand-new-pass"})
    assert r.status_code == 302
    login(app.test_client(), "ht9", "brand-new-pass")
    r = post(client, f"/admin/users/{teacher.id}/edit", {"display_name": "王老师", "email": "w@example.edu.cn"})
    db_session.expire_all()
    assert r.status_code == 302 and teacher.display_name == "王老师" and teacher.email == "w@example.edu.cn"
    assert "user.password_reset" in _actions(db_session, "ht9")


def test_users_list_filters_by_role(client, admin, factory):
    factory.counselor(display_name="甲老师")
    factory.head_teacher(display_name="乙老师")
    login(client, "root1")
    page = client.get("/admin/users?role=counselor").get_data(as_text=True)
    assert "甲老师" in page and "乙老师" not in page


@pytest.mark.parametrize("role", ["district", "counselor", "head_teacher"])
def test_other_roles_are_refused_the_admin_pages(client, factory, role):
    user = factory.user(role, schools=[factory.school()] if role == "counselor" else (),
                        classes=[factory.klass()] if role == "head_teacher" else ())
    login(client, user.username)
    for url in ("/admin/", "/admin/schools", "/admin/users", "/admin/schools/new"):
        assert client.get(url).status_code == 403, url


def test_a_missing_school_or_user_is_404(client, admin):
    login(client, "root1")
    assert client.get("/admin/schools/999999/edit").status_code == 404
    assert client.get("/admin/users/999999/edit").status_code == 404


def test_admin_posts_without_csrf_are_refused(client, admin, factory):
    login(client, "root1")
    r = client.post("/admin/schools/new", data={"code": "X1", "name": "x", "type": "urban", "stage": "junior"})
    assert r.status_code == 400


def test_admin_pages_show_no_student_names(client, admin, factory):
    school = factory.school()
    factory.student(school=school, name="保密学生")
    login(client, "root1")
    for url in ("/admin/", "/admin/schools", f"/admin/schools/{school.id}/classes"):
        assert "保密学生" not in client.get(url).get_data(as_text=True)
