"""The district supervision report (app/district/report.py): the PDF read back with pdftotext carries the same
figures as the dashboard, staffing and trends pages (their HTML parsed), the same suppression marks, no student's
name, number or id; the district role only, behind a recent login, audited as an export."""
from __future__ import annotations

import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from sqlalchemy import select

from models import AuditEvent
from tests.conftest import login
from tests.integration.district_world import TERM, build
from tests.pdf_tools import first_page_png, pdf_fonts, pdf_info, pdf_text, squeeze

REPORT = f"/district/report.pdf?term={TERM}"


class Tables(HTMLParser):
    """Every <table> of a page: its rows as lists of cell texts (th and td), grouped by the nearest section id."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._section = ""
        self._rows: list[list[str]] | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):  # type: ignore[no-untyped-def]
        a = dict(attrs)
        if tag == "section" and a.get("id"):
            self._section = a["id"] or ""
        elif tag == "table":
            self._rows = []
        elif tag == "tr" and self._rows is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):  # type: ignore[no-untyped-def]
        if tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None and self._rows is not None:
            self._rows.append(self._row)
            self._row = None
        elif tag == "table" and self._rows is not None:
            self.tables.append((self._section, self._rows))
            self._rows = None

    def handle_data(self, data):  # type: ignore[no-untyped-def]
        if self._cell is not None:
            self._cell.append(data)


def page_tables(html: str) -> list[tuple[str, list[list[str]]]]:
    parser = Tables()
    parser.feed(html)
    return parser.tables


def row_pattern(cells: list[str]) -> re.Pattern[str]:
    """A table row as pdftotext -layout prints it: the cells in order on one line, separated by spaces."""
    return re.compile(r"(?m)^\s*" + r"\s+".join(re.escape(c) for c in cells) + r"\s*$")


@pytest.fixture
def world(factory):  # type: ignore[no-untyped-def]
    return build(factory)


@pytest.fixture
def officer(client, world):  # type: ignore[no-untyped-def]
    login(client, world.district_user.username)
    return client


@pytest.fixture
def report(officer):  # type: ignore[no-untyped-def]
    response = officer.get(REPORT)
    assert response.status_code == 200
    return response


def test_the_report_is_an_uncached_pdf_attachment_with_the_cjk_font_embedded(report):
    assert report.mimetype == "application/pdf"
    assert report.headers["Content-Disposition"] == f'attachment; filename="district-report-{TERM}.pdf"'
    assert report.headers["Cache-Control"] == "no-store"
    info = pdf_info(report.data)
    assert info["Title"] == "区心理健康筛查督导报告"
    pages = int(info["Pages"])
    text = squeeze(pdf_text(report.data))
    assert f"第{pages}页/共{pages}页" in text and "生成时间：" in text
    assert f"学期：{TERM}" in text
    fonts = pdf_fonts(report.data)
    assert all(f["emb"] == "yes" for f in fonts) and any("NotoSansCJK" in f["name"].replace("-", "") for f in fonts)


@pytest.mark.parametrize("group", ["type", "stage"])
def test_every_dashboard_table_reads_back_equal_in_the_report(officer, report, group):
    html = officer.get(f"/district?term={TERM}&group={group}").get_data(as_text=True)
    tables = [(section, rows) for section, rows in page_tables(html) if section.startswith("table-")]
    assert len(tables) >= 8
    text = pdf_text(report.data)
    checked = 0
    for section, rows in tables:
        for cells in rows[1:]:  # the header row may wrap in the PDF's narrow columns
            assert row_pattern(cells).search(text), (section, cells)
            checked += 1
    assert checked >= 8 * 3


def test_the_headline_figures_equal_the_dashboards(officer, report):
    html = officer.get(f"/district?term={TERM}").get_data(as_text=True)
    values = re.findall(r'<div class="value">([^<]*)</div><div class="label">([^<]*)</div>', html)
    assert len(values) == 6
    assert values[0] == ("40", "在籍学生数") and values[2][0] == "90.0%"
    # One row of boxes: pdftotext reads the six values, then the six labels.
    in_order = "".join(v for v, _ in values) + "".join(label for _, label in values)
    assert squeeze(in_order) in squeeze(pdf_text(report.data, layout=False))


def test_the_staffing_and_trend_tables_equal_their_pages(officer, report):
    text = pdf_text(report.data)
    for url in ("/district/staffing", "/district/trends"):
        [(_, rows)] = page_tables(officer.get(url).get_data(as_text=True))
        assert len(rows) >= 2
        for cells in rows[1:]:
            cells = [c for c in cells if c]  # an empty gap cell prints nothing
            assert row_pattern(cells).search(text), (url, cells)
    page = officer.get("/district/staffing").get_data(as_text=True)
    gaps = re.findall(r"<li>(.*?)</li>", page.split('data-testid="staffing-gaps"', 1)[1].split("</section>", 1)[0])
    assert len(gaps) == 2  # B (none) and C (part-time only)
    for gap in gaps:
        assert squeeze(gap) in squeeze(text), gap
    assert "城区中学（" not in squeeze(text)  # A has a full-time counselor: not in the list


def test_a_small_cell_shows_the_suppression_mark_in_both(officer, report):
    """School B (the only rural small school) has 2 positive students: "<5" on the page and in the report."""
    html = officer.get(f"/district?term={TERM}&group=type").get_data(as_text=True)
    [coverage] = [rows for section, rows in page_tables(html) if section == "table-coverage"]
    [rural] = [cells for cells in coverage if cells[0] == "农村小规模学校"]
    assert rural[4] == "<5"
    text = pdf_text(report.data)
    assert row_pattern(rural).search(text)
    note = re.search(r'data-testid="suppression-footnote">([^<]*)</p>', html)
    assert note is not None and squeeze(note.group(1).replace("&lt;", "<")) in squeeze(text)  # the same footnote


def test_no_student_name_number_or_id_is_in_the_report(world, report):
    secrets = set(world.names) | set(world.numbers) | {st.public_id for st in world.students}
    assert len(secrets) == 3 * len(world.students)
    text = pdf_text(report.data)
    flat = squeeze(text)
    for secret in secrets:
        assert secret not in text and secret not in flat, secret
    assert "城区中学" in flat  # schools are named (staffing), children never


def test_the_check_would_notice_a_name(world):
    """The scan is not vacuous: a PDF that does print a name is caught by the same reading."""
    from weasyprint import HTML

    pdf = HTML(string=f"<p>{world.names[0]}</p>").write_pdf()
    assert world.names[0] in squeeze(pdf_text(pdf))


@pytest.mark.parametrize("role", ["counselor", "head_teacher", "admin"])
def test_other_roles_are_refused_the_report(client, factory, world, role):  # type: ignore[no-untyped-def]
    kwargs = {"schools": [world.schools["A"]]} if role == "counselor" else {}
    login(client, factory.user(role, **kwargs).username)
    assert client.get(REPORT).status_code == 403


def test_anonymous_users_are_sent_to_sign_in(client, world):
    response = client.get(REPORT)
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_report_needs_a_recent_login_and_is_audited_as_an_export(officer, db_session):
    before = db_session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
    assert officer.get(REPORT).status_code == 200
    [event] = db_session.scalars(
        select(AuditEvent).where(AuditEvent.seq > before, AuditEvent.action == "district.export")).all()
    assert event.target == "district:report" and event.student_public_id is None
    assert json.loads(event.detail) == {"format": "pdf", "term": TERM}
    with officer.session_transaction() as sess:
        sess["auth_at"] = 0
    response = officer.get(REPORT)
    assert response.status_code == 302 and "reauth" in response.headers["Location"]


def test_the_dashboard_links_the_report_of_its_term(officer):
    html = officer.get(f"/district?term={TERM}&group=school").get_data(as_text=True)
    assert f'href="/district/report.pdf?term={TERM}"' in html
    assert 'data-testid="district-report-pdf"' in html


def test_the_first_page_as_a_picture(report, tmp_path):
    """pdftoppm's picture of page 1; XINMIAO_ARTEFACTS_DIR keeps a copy (docs/reports/district-report-p1.png)."""
    png = first_page_png(report.data, tmp_path / "district-report-p1.png")
    data = png.read_bytes()
    assert data.startswith(b"\x89PNG")
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert abs(width - 496) <= 1 and abs(height - 702) <= 1  # A4 (210 x 297 mm) at 60 dpi
    keep = os.environ.get("XINMIAO_ARTEFACTS_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)


def test_the_report_follows_the_interface_language(officer):
    with officer.session_transaction() as sess:
        sess["lang"] = "en"
    response = officer.get(REPORT)
    assert response.status_code == 200
    text = pdf_text(response.data)
    pages = int(pdf_info(response.data)["Pages"])
    assert pdf_info(response.data)["Title"] == "District mental-health screening supervision report"
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert "Generated at " in text and "Rural small-scale school" in text


def test_a_campaign_selection_links_the_report_of_its_term(officer, world):
    html = officer.get(f"/district?campaign={world.campaign.id}").get_data(as_text=True)
    assert f'href="/district/report.pdf?term={TERM}"' in html
