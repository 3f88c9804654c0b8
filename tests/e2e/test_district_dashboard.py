"""Browser: the district officer's dashboard renders with its SVG charts, Chinese labels, the "<5" footnote and
export buttons; regrouping by school works without JavaScript; no demo student's name or number is on any page."""
from __future__ import annotations

from sqlalchemy import select

from tests.e2e.conftest import login_as, shot


def _demo_identities(live_server):  # type: ignore[no-untyped-def]
    from models import Actor, Student
    from models.vault import Vault

    with live_server.session() as s:
        students = s.scalars(select(Student)).all()
        vault = Vault(s, live_server.app.extensions["xinmiao_keyring"], Actor.system("e2e"))
        identities = vault.reveal_many(students, "e2e.district_scan")
        secrets = set()
        for ident in identities.values():
            secrets.update(x for x in (ident.name, ident.student_number) if x)
        secrets.update(st.public_id for st in students)
    return secrets


def test_the_district_dashboard_renders_its_charts_and_never_a_child(live_server, page):  # type: ignore[no-untyped-def]
    secrets = _demo_identities(live_server)
    assert len(secrets) > 1000
    login_as(page, live_server, "district")
    assert page.url.rstrip("/").endswith("/district")
    page.wait_for_selector("svg.chart")
    assert page.locator("h1").inner_text().startswith("全区心理健康统计")
    charts = page.locator("svg.chart")
    assert charts.count() >= 2
    box = charts.first.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 150
    assert "测评覆盖率" in charts.first.inner_html()
    assert page.get_by_test_id("suppression-footnote").is_visible()
    assert page.get_by_test_id("export-coverage-xlsx").is_visible()
    shot(page, "district-dashboard")
    pages = [page.content()]

    page.select_option("#group", "school")
    with page.expect_navigation():
        page.click("form[data-testid=district-filters] button[type=submit]")
    assert "group=school" in page.url
    assert page.locator("table.figures tbody tr").count() > 10
    assert "崇明区城桥中学" in page.content()  # schools are named; children never are
    shot(page, "district-dashboard-by-school")
    pages.append(page.content())

    page.goto(f"{live_server.url}/district/trends")
    page.wait_for_selector("svg.chart")
    assert page.locator("svg.chart").count() >= 5
    assert "学期" in page.locator("svg.chart").first.inner_html()
    # the demo has a history: each trend is a line over four terms and more, not a single dot
    lines = page.locator("svg.chart path.series")
    assert lines.count() >= 5
    assert (lines.first.get_attribute("d") or "").count("L") >= 3
    shot(page, "district-trends")
    pages.append(page.content())

    page.goto(f"{live_server.url}/district/staffing")
    gaps = page.get_by_test_id("staffing-gaps").inner_text()
    assert "崇明区三星镇小学" in gaps and "崇明区建设镇中学" in gaps
    shot(page, "district-staffing")
    pages.append(page.content())

    for html in pages:
        for secret in secrets:
            assert secret not in html, secret
