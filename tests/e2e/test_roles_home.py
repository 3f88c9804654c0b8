"""Each demo user signs in through the browser and lands on a Chinese home page made for their role."""
from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import login_as, shot

CJK = re.compile(r"[\u4e00-\u9fff]")

ROLES = [
    # username, role label shown in the header, text the home page must show
    ("admin", "系统管理员", "系统管理"),
    ("district", "区教育局", None),
    ("counselor", "专职心理教师", None),
    ("teacher", "班主任", None),
    ("leader", "校领导（分管德育）", "应测学生数"),
]


def test_login_page_is_chinese(page, live_server):
    page.goto(f"{live_server.url}/login")
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "登录" in page.locator("h1").inner_text()
    shot(page, "login")


@pytest.mark.parametrize("username, role_label, home_text", ROLES)
def test_each_demo_user_sees_a_chinese_home_page_for_their_role(page, live_server, username, role_label, home_text):
    login_as(page, live_server, username)
    shot(page, f"home-{username}")
    shot(page, f"home-{username}-top", full_page=False)
    header = page.locator("header.topbar").inner_text()
    assert role_label in header, header
    heading = page.locator("main h1").first.inner_text()
    assert CJK.search(heading), f"{username}'s home heading is not Chinese: {heading!r}"
    assert not re.fullmatch(r"\d{3}", heading.strip()), f"{username}'s home is an error page: {heading}"
    body = page.locator("main").inner_text()
    if home_text:
        assert home_text in body


def test_admin_home_shows_the_district_figures_but_no_student_names(page, live_server):
    login_as(page, live_server, "admin")
    stats = page.locator("main").inner_text()
    assert "所学校" in stats and "名在籍学生" in stats


def test_a_head_teacher_is_refused_the_admin_pages_in_chinese(page, live_server):
    login_as(page, live_server, "teacher")
    response = page.goto(f"{live_server.url}/admin/")
    assert response.status == 403
    assert CJK.search(page.locator("main").inner_text())
    shot(page, "forbidden-teacher")


def test_signing_out_returns_to_the_login_page(page, live_server):
    login_as(page, live_server, "counselor")
    with page.expect_navigation():
        page.click("header form.inline button:has-text('退出登录')")
    assert "/login" in page.url
    assert "已退出" in page.locator("main").inner_text() or "登录" in page.locator("h1").inner_text()
