"""The school screening report (学校心理健康筛查报告): the school page's figures read back from the PDF, no name,
another school refused, audited like an export, behind a recent login."""
from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from models import AuditEvent
from tests.conftest import login
from tests.integration.district_world import TERM, build
from tests.pdf_tools import first_page_png, pdf_info, pdf_text, squeeze


@pytest.fixture
def world(factory):  # type: ignore[no-untyped-def]
    return build(factory)


@pytest.fixture
def leader(client, factory, world):  # type: ignore[no-untyped-def]
    user = factory.school_leader(world.schools["A"])
    login(client, user.username)
    return user


def _report(client, school) -> bytes:  # type: ignore[no-untyped-def]
    response = client.get(f"/school/{school.id}/report.pdf?term={TERM}")
    assert response.status_code == 200, response.status_code
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    return response.data


def _page_rows(html: str) -> list[str]:
    """Every table row of the page as its heading and cells run together (what pdftotext -layout gives per line,
    white space removed), and every summary figure as its value and label."""
    out = []
    for part in html.split("data-testid=\"table-")[1:]:
        table = part.split("</section>", 1)[0]
        for label, cells in re.findall(r'<th scope="row">([^<]*)</th>(.*?)</tr>', table, flags=re.S):
            texts = re.findall(r'<td class="num[^"]*">([^<]*)</td>', cells)
            out.append((label + "".join(texts)).replace("&lt;", "<"))
    for value, label in re.findall(r'<div class="value">([^<]*)</div><div class="label">([^<]*)</div>', html):
        out.append(value.replace("&lt;", "<"))
        out.append(label)
    return [squeeze(r) for r in out]


def test_the_report_reads_back_the_figures_of_the_page(client, leader, world):
    school = world.schools["A"]
    html = client.get(f"/school/{school.id}?term={TERM}").get_data(as_text=True)
    pdf = _report(client, school)
    text = squeeze(pdf_text(pdf))
    assert "学校心理健康筛查报告" in text and "城区中学" in text
    rows = _page_rows(html)
    assert len(rows) > 30
    missing = [r for r in rows if r not in text]
    assert missing == []
    assert "合计201890.0%633.3%" in text  # the coverage total: 20 to screen, 18 screened, 6 positive
    info = pdf_info(pdf)
    assert info["Title"] == "学校心理健康筛查报告" and int(info["Pages"]) >= 2


def test_the_report_names_no_student(client, leader, world):
    text = pdf_text(_report(client, world.schools["A"]))
    assert [n for n in world.names + world.numbers if n in text or n in squeeze(text)] == []
    assert [st.public_id for st in world.students if st.public_id in text] == []


def test_another_schools_report_is_not_found(client, leader, world):
    assert client.get(f"/school/{world.schools['B'].id}/report.pdf?term={TERM}").status_code == 404


def test_the_schools_counselor_gets_the_report_too(client, factory, world):
    counselor = factory.counselor(world.schools["C"])
    login(client, counselor.username)
    text = squeeze(pdf_text(_report(client, world.schools["C"])))
    assert "寄宿制中学" in text
    assert client.get(f"/school/{world.schools['A'].id}/report.pdf").status_code == 404


def test_the_report_is_audited_as_an_export(client, leader, world, db_session):
    _report(client, world.schools["A"])
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "school.report_exported")
                               .order_by(AuditEvent.seq.desc())).first()
    assert event is not None and event.target == f"school:{world.schools['A'].code}"
    assert event.student_public_id is None and TERM in event.detail


def test_the_report_needs_a_recent_login(client, leader, world):
    with client.session_transaction() as sess:
        sess["auth_at"] = 0
    response = client.get(f"/school/{world.schools['A'].id}/report.pdf")
    assert response.status_code == 302 and "reauth" in response.headers["Location"]


def test_the_first_page_is_a_picture(client, leader, world, tmp_path: Path):
    """pdftoppm's picture of page 1; XINMIAO_ARTEFACTS_DIR keeps a copy (docs/reports/school-report-p1.png)."""
    png = first_page_png(_report(client, world.schools["A"]), tmp_path / "school-report-p1.png")
    assert png.read_bytes().startswith(b"\x89PNG")
    keep = os.environ.get("XINMIAO_ARTEFACTS_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)


def test_the_report_in_english(client, leader, world):
    with client.session_transaction() as sess:
        sess["lang"] = "en"
    page = client.get(f"/school/{world.schools['A'].id}?term={TERM}").get_data(as_text=True)
    assert "Students to be screened" in page and "Coverage by class size" in page
    text = squeeze(pdf_text(_report(client, world.schools["A"])))
    assert "Schoolmental-healthscreeningreport" in text and "Studentstobescreened" in text
