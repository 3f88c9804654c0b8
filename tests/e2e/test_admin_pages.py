"""The administrator sets up the district in the browser: schools, a new class, a user's scope."""
from __future__ import annotations

from tests.e2e.conftest import login_as, shot


def test_admin_sees_every_demo_school_and_the_staffing_gap(page, live_server):
    login_as(page, live_server, "admin")
    page.click("nav.mainnav a:has-text('学校与班级')")
    rows = page.locator("main table tbody tr")
    assert rows.count() >= 12
    text = page.locator("main").inner_text()
    assert "崇明区城桥中学" in text and "农村小规模学校" in text and "兼职" in text and "无" in text
    shot(page, "admin-schools")


def test_admin_adds_a_class_to_a_school(page, live_server):
    login_as(page, live_server, "admin")
    page.goto(f"{live_server.url}/admin/schools")
    page.click("a:has-text('崇明区竖新镇小学')")
    page.click("a:has-text('新增班级')")
    page.fill("input[name=grade]", "6")
    page.fill("input[name=name]", "六年级(2)班")
    with page.expect_navigation():
        page.click("main form button[type=submit]")
    assert "已创建班级：六年级(2)班" in page.locator("main").inner_text()
    shot(page, "admin-classes")


def test_admin_opens_a_counselors_scope_page(page, live_server):
    login_as(page, live_server, "admin")
    page.goto(f"{live_server.url}/admin/users?role=counselor")
    page.click("tr:has-text('李心怡') a:has-text('编辑')")
    page.click("a:has-text('角色、范围与账号状态')")
    assert page.locator("input[name=schools]:checked").count() == 2
    shot(page, "admin-user-access")


def test_a_school_added_directly_to_the_database_appears_in_the_list(page, live_server):
    from models import District, School

    with live_server.session() as s:
        district = s.query(District).first()
        s.add(School(district=district, code="E2E0001", name="崇明区绿华镇小学", type="rural_small", stage="primary"))
    login_as(page, live_server, "admin")
    page.goto(f"{live_server.url}/admin/schools")
    assert "崇明区绿华镇小学" in page.locator("main").inner_text()
