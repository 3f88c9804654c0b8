"""Every page of every role passes axe-core's WCAG 2.1 A/AA rules; the head teacher's and the student's pages fit a
phone (390×844) without sideways scrolling.

The pages are found as a person finds them: each role signs in and follows the links of its pages (breadth first,
same site, GET only; downloads and sign-out left out; at most PER_PATTERN pages per URL shape, so a list of 300
students is not 300 visits). axe-core is the copy bundled in the test-only package axe-playwright-python: it is
injected into the page under test, never served by the app. Screenshots: tests/artifacts/phone-*.png."""
from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import login_as, shot

AXE_RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PER_PATTERN = 2
MAX_PAGES = 60
SKIP = re.compile(r"(\.xlsx|\.csv|\.pdf|/export|/logout|/static/|/download|/language)", re.I)
ROLES = ["admin", "district", "counselor", "teacher", "leader"]


def _axe_source() -> str:
    import axe_playwright_python

    return (Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")


def violations(page) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations of the page as it stands: 'rule (impact): target, …'."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=_axe_source())
    result = page.evaluate(
        "rules => axe.run(document, {runOnly: {type: 'tag', values: rules}, resultTypes: ['violations']})",
        AXE_RULES,
    )
    return [f"{v['id']} ({v['impact']}): " + ", ".join(str(n["target"]) for n in v["nodes"][:5])
            for v in result["violations"]]


def overflow(page) -> int:
    """How far the page scrolls sideways (0: it fits)."""
    return page.evaluate("document.documentElement.scrollWidth - window.innerWidth")


def _shape(path: str) -> str:
    return re.sub(r"/[0-9a-f-]{8,}|/\d+", "/#", path)


def crawl(page, base: str, start: str = "/"):
    """Visit the role's pages from `start`, yielding each path once the page has loaded."""
    seen_shapes: dict[str, int] = {}
    seen: set[str] = set()
    queue = deque([start])
    while queue and len(seen) < MAX_PAGES:
        path = queue.popleft()
        if path in seen:
            continue
        shape = _shape(path.split("?")[0])
        if seen_shapes.get(shape, 0) >= PER_PATTERN:
            continue
        seen.add(path)
        seen_shapes[shape] = seen_shapes.get(shape, 0) + 1
        response = page.goto(base + path)
        if response is None or response.status >= 400 or "text/html" not in (response.headers.get("content-type")
                                                                               or ""):
            continue
        yield path
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not href.startswith("/") or SKIP.search(href):
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen:
                queue.append(target)


@pytest.mark.parametrize("username", ROLES)
def test_every_page_of_each_role_has_no_wcag_violation(page, live_server, username):
    """...and no table is wider than its box without a scroll region and its cue (issue 17), at 1366×768."""
    from tests.e2e.test_district_tables_charts import table_problems

    login_as(page, live_server, username)
    found: dict[str, list[str]] = {}
    visited = []
    for path in crawl(page, live_server.url):
        visited.append(path)
        problems = violations(page)
        problems += table_problems(page)
        if problems:
            found[path] = problems
    assert len(visited) >= 3, visited
    assert not found, "\n".join(f"{p}: {v}" for p, vs in found.items() for v in vs)


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True,
                                  has_touch=True, device_scale_factor=2)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    yield pg
    context.close()


def test_every_head_teacher_page_fits_a_phone_and_passes_axe(phone, live_server):
    login_as(phone, live_server, "teacher")
    wide: dict[str, int] = {}
    found: dict[str, list[str]] = {}
    visited = []
    for path in crawl(phone, live_server.url):
        visited.append(path)
        name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-") or "home"
        shot(phone, f"phone-teacher-{name}")
        if overflow(phone) > 0:
            wide[path] = overflow(phone)
        problems = violations(phone)
        if problems:
            found[path] = problems
    assert len(visited) >= 3, visited
    assert not wide, f"pages that scroll sideways at 390 px: {wide}"
    assert not found, "\n".join(f"{p}: {v}" for p, vs in found.items() for v in vs)


def test_the_student_pages_fit_a_phone_and_pass_axe(phone, page, live_server):
    """The entrance (empty, then refused with its errors linked to the fields), each questionnaire page and the
    thank-you page, on a phone."""
    from tests.e2e.test_offline_answers import _class_with_a_student

    campaign_id, class_id, _student_id = _class_with_a_student(live_server, number="E2EA11Y20130801",
                                                               name="无障碍学生")
    login_as(page, live_server, "counselor")
    page.goto(f"{live_server.url}/campaigns/{campaign_id}")
    with page.expect_navigation():
        page.click(f"[data-testid=open-session-{class_id}]")
    code = page.locator("[data-testid=session-code]").inner_text().strip()
    entry_code = page.locator("tr[data-name='无障碍学生'] [data-testid=entry-code]").inner_text().strip()

    checked: dict[str, list[str]] = {}
    wide: dict[str, int] = {}

    def check(name: str) -> None:
        shot(phone, f"phone-student-{name}")
        if overflow(phone) > 0:
            wide[name] = overflow(phone)
        problems = violations(phone)
        if problems:
            checked[name] = problems

    phone.goto(f"{live_server.url}/s?code={code}")
    check("start")
    phone.fill("#student_number", "E2EA11Y20130801")
    phone.fill("#entry_code", "ZZZZZ9" if entry_code != "ZZZZZ9" else "ZZZZZ8")
    with phone.expect_navigation():
        phone.click("main button[type=submit]")
    assert phone.locator("[data-testid=identity-error]").is_visible()
    check("start-refused")
    phone.fill("#entry_code", entry_code)
    with phone.expect_navigation():
        phone.click("main button[type=submit]")
    pages = 0
    while phone.locator("#answers").count():
        pages += 1
        check(f"questionnaire-{pages}")
        for name in sorted(set(phone.eval_on_selector_all("#answers input[type=radio]",
                                                          "els => els.map(e => e.name)"))):
            phone.locator(f"input[name={name}]").first.check()
        with phone.expect_navigation():
            phone.click("[data-testid=submit]")
        assert pages < 5
    phone.wait_for_selector("[data-testid=thanks]")
    check("thanks")
    assert pages >= 2
    assert not wide, f"student pages that scroll sideways at 390 px: {wide}"
    assert not checked, "\n".join(f"{p}: {v}" for p, vs in checked.items() for v in vs)


@pytest.mark.parametrize("width,height", [(1366, 768), (1024, 768)])
def test_the_session_display_view_and_console_pass_axe(page, live_server, width, height):
    """The projected screen (/sessions/<id>/display) is opened from the console's 投屏 link in a new window, so
    the crawl above never reaches it: checked here, at a classroom PC's and a projector's size, with the console."""
    from tests.e2e.test_crisis_session import _class_with_a_student

    campaign_id, class_id = _class_with_a_student(live_server, f"八年级(无障碍{width})班", f"E2EAXED{width}0501",
                                                  f"投屏无障碍{width}")
    page.set_viewport_size({"width": width, "height": height})
    login_as(page, live_server, "counselor")
    page.goto(f"{live_server.url}/campaigns/{campaign_id}")
    with page.expect_navigation():
        page.click(f"[data-testid=open-session-{class_id}]")
    found = {"console": violations(page)}
    href = page.locator("[data-testid=open-display]").get_attribute("href")
    assert href and href.endswith("/display")
    page.goto(live_server.url + href)
    page.wait_for_selector("[data-testid=display-code]")
    found["display"] = violations(page)
    assert overflow(page) <= 0, "the projected screen scrolls sideways"
    shot(page, f"session-display-axe-{width}")
    assert not any(found.values()), "\n".join(f"{p}: {v}" for p, vs in found.items() for v in vs)
