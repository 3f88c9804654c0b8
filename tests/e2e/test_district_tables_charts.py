"""Browser, 1366×768: the district pages' tables and charts are for people (issue 17).

- Every table either fits its box, or sits in a scroll container that says so (the shadow cue of app.css) and can be
  scrolled by keyboard (role=region, tabindex=0, a name); the page itself never scrolls sideways.
- Every chart's text renders at 11 px or more (the computed font size times the SVG's scale on screen, rotation
  included), each chart has a title, a y-axis label with its unit, `role="img"` named by its title, and a table
  of the same figures next to it.
Screenshots: tests/artifacts/district-people-*.png (looked at).
"""
from __future__ import annotations

import pytest

from tests.e2e.conftest import login_as, shot

PAGES = [
    ("dashboard-type", "/district"),
    ("dashboard-school", "/district?group=school"),
    ("dashboard-grade", "/district?group=grade"),
    ("trends", "/district/trends"),
    ("staffing", "/district/staffing"),
]
MIN_PX = 11.0

TABLES_JS = """() => Array.from(document.querySelectorAll('main table')).map((table, i) => {
  let scroller = null;
  for (let el = table.parentElement; el && el !== document.body; el = el.parentElement) {
    const ox = getComputedStyle(el).overflowX;
    if (ox === 'auto' || ox === 'scroll') { scroller = el; break; }
  }
  const box = table.parentElement;
  const style = scroller ? getComputedStyle(scroller) : null;
  const name = scroller ? (scroller.getAttribute('aria-label') || '').trim() : '';
  return {
    i, caption: (table.closest('section, .chart-card') || table).querySelector('h2, caption, title')?.textContent || '',
    fits: table.getBoundingClientRect().width <= box.clientWidth + 1,
    scrolls: scroller ? scroller.scrollWidth > scroller.clientWidth + 1 : false,
    scrollerFits: scroller ? scroller.getBoundingClientRect().right <= document.documentElement.clientWidth : true,
    region: scroller ? scroller.getAttribute('role') === 'region' : false,
    tabindex: scroller ? scroller.getAttribute('tabindex') : null,
    named: name.length > 0,
    cue: style ? (style.backgroundImage.includes('linear-gradient') && style.backgroundAttachment.includes('local'))
               : false,
    tableBackground: getComputedStyle(table).backgroundColor,
  };
})"""

CHARTS_JS = """() => Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const texts = Array.from(svg.querySelectorAll('text')).map(t => {
    const m = t.getScreenCTM();
    return {text: t.textContent, px: parseFloat(getComputedStyle(t).fontSize) * Math.hypot(m.a, m.b)};
  });
  const ids = (svg.getAttribute('aria-labelledby') || '').split(/\\s+/).filter(Boolean);
  const described = (svg.getAttribute('aria-describedby') || '').split(/\\s+/).filter(Boolean);
  const figure = svg.closest('.chart-figure');
  return {
    role: svg.getAttribute('role'),
    name: ids.map(id => document.getElementById(id)?.textContent || '').join(' ').trim(),
    description: described.map(id => document.getElementById(id)?.textContent || '').join(' ').trim(),
    title: svg.querySelector('title')?.textContent || '',
    texts,
    table: figure ? figure.querySelectorAll('details table tbody tr').length : 0,
    tableInDetails: figure ? !!figure.querySelector('details > summary') : false,
  };
})"""


OPEN_DETAILS_JS = """async () => {
  const closed = Array.from(document.querySelectorAll('details:not([open])'));
  await Promise.all(closed.map(d => new Promise(done => {
    d.addEventListener('toggle', done, {once: true});  // after the page's own toggle handler (capture, document)
    d.open = true;
  })));
}"""


def table_problems(page) -> list[str]:
    """Each table of the page (those in <details> opened first) that is wider than its box without a named,
    focusable scroll region showing the shadow cue; or whose scroll box is wider than the page."""
    page.evaluate(OPEN_DETAILS_JS)
    problems = []
    for t in page.evaluate(TABLES_JS):
        where = f"table {t['i']} ({t['caption'].strip()[:30]})"
        if not t["scrollerFits"]:
            problems.append(f"{where}: its scroll box is wider than the page")
        if t["fits"] and not t["scrolls"]:
            continue
        if not t["scrolls"]:
            problems.append(f"{where}: wider than its box and not in a scroll container")
            continue
        if not (t["region"] and t["tabindex"] == "0" and t["named"]):
            problems.append(f"{where}: scrolls but is not a named, focusable region ({t})")
        if not t["cue"]:
            problems.append(f"{where}: scrolls without the shadow cue")
        if t["tableBackground"] not in ("rgba(0, 0, 0, 0)", "transparent"):
            problems.append(f"{where}: its own background hides the cue ({t['tableBackground']})")
    return problems


@pytest.fixture
def district_page(page, live_server):
    login_as(page, live_server, "district")
    return page


def test_every_district_table_fits_or_scrolls_with_a_cue(district_page, live_server):
    page = district_page
    found: dict[str, list[str]] = {}
    checked = 0
    for name, path in PAGES:
        page.goto(live_server.url + path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), f"{path} scrolls sideways"
        shot(page, f"district-people-{name}")
        checked += page.locator("main table").count()
        problems = table_problems(page)
        if problems:
            found[path] = problems
    assert checked >= 15
    assert not found, "\n".join(f"{p}: {v}" for p, vs in found.items() for v in vs)


def test_a_wide_table_is_scrolled_by_keyboard_and_shows_its_cue(district_page, live_server):
    """At 1366 px the demo's tables fit; at 760 px the instruments table cannot: it scrolls in its region, and
    the arrow keys scroll it once it has the focus."""
    page = district_page
    page.set_viewport_size({"width": 760, "height": 768})
    page.goto(live_server.url + "/district")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    region = page.locator("#table-positives .table-wrap")
    assert region.evaluate("el => el.scrollWidth > el.clientWidth"), "expected the positives table to scroll here"
    assert not table_problems(page)
    region.scroll_into_view_if_needed()
    shot(page, "district-people-760-scroll-cue", full_page=False)
    region.focus()
    assert region.evaluate("el => el.scrollLeft") == 0
    for _ in range(4):
        page.keyboard.press("ArrowRight")  # about 40 px a press (scrolled smoothly: wait for where it arrives)
    page.wait_for_function("el => el.scrollLeft >= 100", arg=region.element_handle())
    shot(page, "district-people-760-scrolled", full_page=False)


@pytest.mark.parametrize("name,path", [p for p in PAGES if p[0] != "staffing"])
def test_chart_text_is_11px_or_more_and_each_chart_has_title_units_and_a_table(district_page, live_server, name,
                                                                               path):
    page = district_page
    page.goto(live_server.url + path)
    page.wait_for_selector("svg.chart")
    charts = page.evaluate(CHARTS_JS)
    assert len(charts) >= 2
    small: list[str] = []
    for c in charts:
        assert c["role"] == "img"
        assert c["title"] and c["name"] == c["title"], c["name"]  # named by its title, described by its figures
        assert c["description"] and c["description"] != c["title"]
        texts = [t["text"] for t in c["texts"]]
        assert c["title"] in texts, f"{c['title']}: the title is drawn"
        assert any(("%" in t or "人" in t) and ("（" in t or "(" in t) for t in texts), \
            f"{c['title']}: no y-axis unit among {texts[:8]}"
        assert c["tableInDetails"] and c["table"] >= 1, f"{c['title']}: no table equivalent"
        small += [f"{c['title']}: {t['text']!r} {t['px']:.1f}px" for t in c["texts"] if t["px"] < MIN_PX]
    assert not small, "\n".join(small)
    page.evaluate("document.querySelectorAll('.chart-data').forEach(d => { d.open = true; })")
    page.locator(".district-charts").first.scroll_into_view_if_needed()
    shot(page, f"district-people-charts-{name}")


def test_the_english_ui_keeps_chart_text_at_11px_and_the_legends_inside_the_chart(browser, live_server):
    """English labels are longer: bar labels rotate (the chart grows rather than its bars shrink), legends wrap."""
    context = browser.new_context(viewport={"width": 1366, "height": 768}, locale="en-US")
    try:
        page = context.new_page()
        login_as(page, live_server, "district")
        with page.expect_navigation():
            page.click("text=English")  # the language switch (a POST form in the header)
        for name, path in (("dashboard", "/district"), ("trends", "/district/trends")):
            page.goto(live_server.url + path)
            assert page.locator("h1").inner_text().startswith(("District", "Trends")), page.locator("h1").inner_text()
            for c in page.evaluate(CHARTS_JS):
                assert all(t["px"] >= MIN_PX for t in c["texts"]), c["title"]
            outside = page.evaluate("""() => Array.from(document.querySelectorAll('svg.chart text')).filter(t => {
                const box = t.getBoundingClientRect(), svg = t.ownerSVGElement.getBoundingClientRect();
                return box.left < svg.left - 1 || box.right > svg.right + 1 || box.top < svg.top - 1
                       || box.bottom > svg.bottom + 1;
              }).map(t => t.textContent)""")
            assert not outside, f"{path}: chart text drawn outside its chart: {outside}"
            page.locator(".district-charts").first.scroll_into_view_if_needed()
            shot(page, f"district-people-en-{name}", full_page=False)
    finally:
        context.close()
