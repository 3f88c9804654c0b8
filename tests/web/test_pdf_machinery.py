"""The PDF machinery (app/reports/pdf.py): A4, page N of M, generated-at from the clock, Chinese fonts embedded,
the pages' SVG charts drawn, and nothing fetched but the app's own static files."""
from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from jinja2 import ChoiceLoader, DictLoader

from app.charts import bar_chart
from app.reports import ResourceRefused, StaticOnlyFetcher, css_string, pdf_response, render_pdf
from tests.pdf_tools import pdf_fonts, pdf_info, pdf_text, squeeze

LONG = """{% extends "reports/base.html" %}
{% block content %}<h2>覆盖率与阳性率</h2><figure>{{ chart }}</figure>
{% for i in range(rows) %}<p>第{{ i }}行：在籍学生数 应测 已测</p>{% endfor %}{% endblock %}"""
OUTSIDE = """{% extends "reports/base.html" %}{% block content %}<img src="{{ src }}" alt="x">{% endblock %}"""
OUTSIDE_CSS = """{% extends "reports/base.html" %}
{% block head %}<link rel="stylesheet" href="{{ src }}">{% endblock %}"""


@pytest.fixture
def report_app(app):  # type: ignore[no-untyped-def]
    app.jinja_loader = ChoiceLoader([DictLoader({"t/long.html": LONG, "t/outside.html": OUTSIDE,
                                                 "t/outside_css.html": OUTSIDE_CSS}), app.jinja_loader])
    return app


def _render(app, template, **context):  # type: ignore[no-untyped-def]
    with app.test_request_context("/"):
        fetcher = StaticOnlyFetcher.for_app(app)
        return render_pdf(template, title="测试报告", fetcher=fetcher, **context), fetcher


def test_a_report_is_a4_numbered_dated_by_the_clock_and_embeds_the_cjk_font(report_app):
    chart = bar_chart(["城区学校", "农村小规模学校"], [("覆盖率", [90.0, 75.0])], title="筛查覆盖率",
                      x_label="学校类型", y_label="百分比", percent=True)
    now = datetime(2026, 12, 3, 8, 45, tzinfo=UTC)  # 16:45 in Shanghai
    pdf, fetcher = _render(report_app, "t/long.html", rows=120, chart=chart, now=now)
    assert pdf.startswith(b"%PDF-")
    info = pdf_info(pdf)
    pages = int(info["Pages"])
    assert pages >= 3
    assert info["Title"] == "测试报告"
    width, height = (float(x) for x in info["Page size"].split()[0:3:2])
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    text = squeeze(pdf_text(pdf))
    for n in range(1, pages + 1):
        assert f"第{n}页/共{pages}页" in text
    assert text.count("生成时间：2026-12-0316:45") == pages + 1  # every footer and the heading of page 1
    assert "筛查覆盖率" in text and "农村小规模学校" in text  # the SVG chart's own text, drawn
    assert "第119行：在籍学生数应测已测" in text
    fonts = pdf_fonts(pdf)
    assert fonts and all(f["emb"] == "yes" for f in fonts), fonts
    assert any("NotoSansCJK" in f["name"].replace("-", "") for f in fonts), fonts
    assert fetcher.refused == []
    assert [u.rsplit("/", 2)[-2:] for u in fetcher.fetched] == [["css", "report.css"]]


def test_the_generated_at_time_follows_the_moved_clock(report_app, moved_clock):
    moved_clock(datetime(2027, 3, 1, 1, 5, tzinfo=UTC))
    pdf, _ = _render(report_app, "t/long.html", rows=1, chart="")
    assert "生成时间：2027-03-0109:05" in squeeze(pdf_text(pdf))


@pytest.mark.parametrize("src", [
    "https://example.com/logo.png", "http://127.0.0.1:5000/static/css/app.css", "file:///etc/passwd",
    "data:image/png;base64,iVBORw0KGgo=", "/static/../../config/__init__.py", "/static/css/missing.css",
    "/etc/hostname",
])
def test_nothing_outside_the_static_folder_is_fetched(report_app, src):
    for template in ("t/outside.html", "t/outside_css.html"):
        with report_app.test_request_context("/"):
            fetcher = StaticOnlyFetcher.for_app(report_app)
            with pytest.raises(ResourceRefused):
                render_pdf(template, title="x", fetcher=fetcher, src=src)
        assert fetcher.refused, (template, src)


def test_the_fetcher_serves_only_files_inside_the_static_folder(report_app):
    with report_app.test_request_context("/"):
        fetcher = StaticOnlyFetcher.for_app(report_app)
    base = "https://report.xinmiao.invalid/static/"
    assert fetcher.path_of(base + "css/report.css") is not None
    for bad in ("css/../../app/__init__.py", "%2e%2e/%2e%2e/app/__init__.py", "css", "", "css/report.css\x00",
                "..\\..\\app\\__init__.py"):
        assert fetcher.path_of(base + bad) is None, bad
    assert fetcher.path_of("https://report.xinmiao.invalid:8443/static/css/report.css") is None
    assert fetcher.path_of("https://other.invalid/static/css/report.css") is None


def test_css_strings_cannot_break_out_of_their_rule():
    value = css_string('a"b\\c</style>\n{x}')
    assert value.startswith('"') and value.endswith('"')
    inner = value[1:-1]
    assert '"' not in inner.replace('\\22 ', "") and "<" not in inner and "\n" not in inner


def test_the_pdf_response_is_an_uncached_attachment():
    response = pdf_response(b"%PDF-1.7", "区报告 2026.pdf")
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"] == 'attachment; filename="2026.pdf"'


def test_a_chart_keeps_its_aspect_ratio_in_the_report(report_app):
    """The pages' charts carry style="height:auto" for browsers; in WeasyPrint that made a square box."""
    from weasyprint import HTML

    from app.reports import render_html

    chart = bar_chart(["甲", "乙"], [("覆盖率", [90.0, 75.0])], title="筛查覆盖率", x_label="学校类型",
                      y_label="百分比", percent=True)
    width, height = (float(v) for v in re.search(r'viewBox="0 0 (\d+) (\d+)"', str(chart)).groups())
    with report_app.test_request_context("/"):
        html = render_html("t/long.html", title="x", rows=0, chart=chart)
        fetcher = StaticOnlyFetcher.for_app(report_app)
        page = HTML(string=html, base_url="https://report.xinmiao.invalid/", url_fetcher=fetcher).render().pages[0]

    def boxes(box):  # type: ignore[no-untyped-def]
        yield box
        for child in getattr(box, "children", []):
            yield from boxes(child)

    [figure] = [b for b in boxes(page._page_box) if getattr(b, "element_tag", "") == "figure"
                and type(b).__name__ == "BlockBox"]
    assert figure.height == pytest.approx(figure.width * height / width, rel=0.05)


def test_the_garbage_collector_is_paused_only_while_rendering(report_app):
    import gc

    from app.reports import collector_paused

    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested (another thread's render): the outer one re-enables
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with report_app.test_request_context("/"), pytest.raises(ResourceRefused):
        render_pdf("t/outside.html", title="x", src="https://example.com/x.png")
    assert gc.isenabled()  # undone when a render fails
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()  # a collector that was off stays off
    finally:
        gc.enable()
