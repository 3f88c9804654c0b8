"""The figure-agreement test: every shared figure reads the same on every surface that shows it.

One fixture district (tests/integration/district_world.py, plus students outside the screened grades, a student
with two warnings of different levels and crisis warnings that are not one per student, so that 在籍 ≠ 应测 and
students ≠ warnings). Each SURFACE fetches what a district officer gets (a page, a CSV, an XLSX) and reads it back
into {(figure key, scope): text} (tests/web/figure_surfaces.py); the test checks that each (key, scope) has one
text across all surfaces, that the figures the issue names appear where they must, and the hand counts.

The district supervision report is read back from its PDF text. To add a surface: append a Surface
whose `read(client, world)` returns the same mapping, e.g.
from `pdftotext` output, and list it in EXPECTED for the figures it must show.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from app.district import glossary
from models import Screening, Warning
from models.screenings import CampaignInstrument
from tests.conftest import login
from tests.integration.district_world import TERM, build, utc
from tests.pdf_tools import pdf_text
from tests.web.figure_surfaces import (
    Extracted,
    csv_rows,
    html_figures,
    parse_page,
    pdf_table_totals,
    table_figures,
    table_keys,
    xlsx_rows,
)

SCHOOLS = {"城区中学": "A", "农村小学": "B", "寄宿制中学": "C"}


@dataclass
class Fixture:
    world: Any
    codes: dict[str, str]  # school name -> code


@pytest.fixture
def district(factory, db_session):  # type: ignore[no-untyped-def]
    """district_world, with: the campaign screening grades 3-8 only, and 7 grade-9 students at A and 6 grade-1
    students at C on the roll (在籍 53, 应测 40); one level-3 boy of C with a second, level-2 warning (students by
    highest level: L2 1, L3 5, while there are 6 level-3 warnings); at A a second crisis warning of a level-1
    student and a crisis still waiting for confirmation (crisis warnings 8, students at level 1 still 6)."""
    world = build(factory)
    s = db_session
    campaign = world.campaign
    for ci in s.query(CampaignInstrument).filter_by(campaign_id=campaign.id):
        ci.grade_from, ci.grade_to = 3, 8
    a, c = world.schools["A"], world.schools["C"]
    for school, grade, boys, girls in ((a, 9, 4, 3), (c, 1, 3, 3)):
        klass = factory.klass(school, grade=grade)
        for gender, n in (("M", boys), ("F", girls)):
            for _ in range(n):
                world.students.append(factory.student(school=school, klass=klass, gender=gender))
    s.flush()

    def second_screening(student: Any, school: Any, level: str) -> Screening:
        first = s.query(Screening).filter_by(student_id=student.id).first()
        scr = Screening(student_id=student.id, school_id=school.id, class_id=first.class_id, grade=first.grade,
                        campaign_id=campaign.id, instrument_id="phqa", instrument_version="1.0", mode="paper",
                        administered_on=date(2026, 9, 11), valid=True, total=22, positive=True,
                        critical=level == "L1", suggested_level=level)
        s.add(scr)
        s.flush()
        return scr

    l3_boy = next(w.student_id for w in s.query(Warning).filter_by(school_id=c.id, confirmed_level="L3"))
    boy = s.get(type(world.students[0]), l3_boy)
    scr = second_screening(boy, c, "L2")
    s.add(Warning(student_id=boy.id, school_id=c.id, screening_id=scr.id, suggested_level="L2", confirmed_level="L2",
                  status="confirmed", created_at=utc(2026, 9, 11, 2, 0), confirmed_at=utc(2026, 9, 12, 2, 0),
                  interview_due_on=date(2026, 9, 16)))
    l1 = [w for w in s.query(Warning).filter_by(school_id=a.id, confirmed_level="L1").order_by(Warning.id)]
    again = s.get(type(boy), l1[0].student_id)
    scr = second_screening(again, a, "L1")
    s.add(Warning(student_id=again.id, school_id=a.id, screening_id=scr.id, suggested_level="L1",
                  confirmed_level="L1", status="confirmed", created_at=utc(2026, 9, 11, 2, 0),
                  first_contact_at=utc(2026, 9, 11, 3, 0), confirmed_at=utc(2026, 9, 11, 3, 0),
                  acknowledged_at=utc(2026, 9, 11, 3, 0)))
    warned = {w.student_id for w in l1}
    waiting = next(st for st in world.students if st.school_id == a.id and st.id not in warned
                   and s.query(Screening).filter_by(student_id=st.id).first() is not None)
    scr = second_screening(waiting, a, "L1")
    s.add(Warning(student_id=waiting.id, school_id=a.id, screening_id=scr.id, suggested_level="L1",
                  status="suggested", created_at=utc(2026, 9, 11, 2, 0)))
    s.flush()
    return Fixture(world, {name: world.schools[k].code for name, k in SCHOOLS.items()})


@pytest.fixture
def officer(client, district):  # type: ignore[no-untyped-def]
    login(client, district.world.district_user.username)
    return client


# -- the surfaces ---------------------------------------------------------------------------------------------
def _get(client: Any, url: str) -> bytes:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.data


def _dashboard_scope(fx: Fixture) -> Callable[[list[str]], str | None]:
    def scope(row: list[str]) -> str | None:
        if row[0] == "合计":
            return "total"
        return f"school:{fx.codes[row[0]]}" if row[0] in fx.codes else None
    return scope


def _term_scope(row: list[str]) -> str | None:
    return "total" if row[0] == TERM else None


def _staffing_scope(row: list[str]) -> str | None:
    return f"school:{row[0]}"  # the first column is the school code


def _dashboard_export(table: str, reader: Callable[[bytes], list[list[str]]], fmt: str):  # type: ignore[no-untyped-def]
    def read(client: Any, fx: Fixture) -> Extracted:
        return table_figures(reader(_get(client, f"/district/export/{table}.{fmt}?term={TERM}&group=school")),
                             _dashboard_scope(fx))
    return read


def _export(table: str, reader: Callable[[bytes], list[list[str]]], fmt: str, scope: Callable[[list[str]], str | None]):  # type: ignore[no-untyped-def]  # noqa: E501
    def read(client: Any, fx: Fixture) -> Extracted:
        return table_figures(reader(_get(client, f"/district/export/{table}.{fmt}")), scope)
    return read


def _filtered_dashboard(school_type: str):  # type: ignore[no-untyped-def]
    """The dashboard filtered to one school type: its "total" cells are that type's cells."""
    def read(client: Any, fx: Fixture) -> Extracted:
        found = html_figures(_get(client, f"/district?term={TERM}&type={school_type}&group=school").decode())
        return {(key, f"type:{school_type}" if scope == "total" else scope): text
                for (key, scope), text in found.items()}
    return read


def _district_report(client: Any, fx: Fixture) -> Extracted:
    """The supervision report read back from the PDF's text (pdftotext -layout): each figure table of the dashboard
    grouped by type is found in the PDF by its title, and its 合计 row (one line) names the whole district's cells
    in the page's column order (the keys are read from the page's headers)."""
    page = _get(client, f"/district?term={TERM}&group=type").decode()
    text = pdf_text(_get(client, f"/district/report.pdf?term={TERM}"))
    out: Extracted = {}
    for title, keys in table_keys(page):
        cells = pdf_table_totals(text, title, len(keys))
        assert cells is not None, f"the report has no table {title!r} with a 合计 row of {len(keys)} cells"
        out.update({(key, "total"): cell for key, cell in zip(keys, cells, strict=True) if key})
    return out


@dataclass(frozen=True)
class Surface:
    name: str
    read: Callable[[Any, Fixture], Extracted]


SURFACES: list[Surface] = [
    Surface("dashboard", lambda c, fx: html_figures(_get(c, f"/district?term={TERM}&group=school").decode())),
    Surface("dashboard by type", lambda c, fx: html_figures(_get(c, f"/district?term={TERM}&group=type").decode())),
    Surface("dashboard urban only", _filtered_dashboard("urban")),
    Surface("trends", lambda c, fx: html_figures(_get(c, "/district/trends").decode(), term=TERM)),
    Surface("staffing", lambda c, fx: html_figures(_get(c, "/district/staffing").decode())),
    *[Surface(f"{table}.{fmt}", _dashboard_export(table, reader, fmt))
      for table in ("coverage", "warnings", "followup", "crisis_response")
      for fmt, reader in (("csv", csv_rows), ("xlsx", xlsx_rows))],
    *[Surface(f"trends.{fmt}", _export("trends", reader, fmt, _term_scope))
      for fmt, reader in (("csv", csv_rows), ("xlsx", xlsx_rows))],
    *[Surface(f"staffing.{fmt}", _export("staffing", reader, fmt, _staffing_scope))
      for fmt, reader in (("csv", csv_rows), ("xlsx", xlsx_rows))],
    Surface("report.pdf", _district_report),
]

# Where each figure of the whole district must be found (a reader that finds nothing fails here, not silently).
DASHBOARD_TOTALS = {"dashboard", "coverage.csv", "coverage.xlsx", "report.pdf"}
TRENDS = {"trends", "trends.csv", "trends.xlsx"}
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("on_roll", "total"): DASHBOARD_TOTALS | TRENDS,
    ("eligible", "total"): DASHBOARD_TOTALS | TRENDS,
    ("screened", "total"): DASHBOARD_TOTALS | TRENDS,
    ("coverage", "total"): DASHBOARD_TOTALS | TRENDS,
    ("positive_rate", "total"): DASHBOARD_TOTALS | TRENDS,
    ("warn_L1", "total"): {"dashboard", "warnings.csv", "warnings.xlsx", "report.pdf"} | TRENDS,
    ("warn_L3", "total"): {"dashboard", "warnings.csv", "warnings.xlsx", "report.pdf"} | TRENDS,
    ("crisis", "total"): {"dashboard", "followup.csv", "followup.xlsx", "crisis_response.csv",
                          "crisis_response.xlsx", "report.pdf"} | TRENDS,
    ("crisis_same_day_rate", "total"): {"dashboard", "followup.csv", "followup.xlsx", "report.pdf"} | TRENDS,
    ("interview_rate", "total"): {"dashboard", "followup.csv", "followup.xlsx", "report.pdf"},
    # A filter selects cells of the same family: the urban type's cells read the same filtered or grouped.
    ("screened", "type:urban"): {"dashboard by type", "dashboard urban only"},
    ("warn_L1", "type:urban"): {"dashboard by type", "dashboard urban only"},
    ("on_roll", "school:S-A"): {"dashboard", "dashboard urban only", "staffing"},
}
# Hand counts of the fixture (see `district`): what the agreed value must be.
HAND = {
    ("on_roll", "total"): "53", ("eligible", "total"): "40", ("screened", "total"): "36",
    ("coverage", "total"): "90.0%", ("warn_L1", "total"): "6", ("warn_L3", "total"): "5",
    ("crisis", "total"): "8",
}


def read_all(client: Any, fx: Fixture) -> dict[tuple[str, str], dict[str, str]]:
    seen: dict[tuple[str, str], dict[str, str]] = defaultdict(dict)
    for surface in SURFACES:
        found = surface.read(client, fx)
        assert found, f"{surface.name}: no figure read back"
        for cell, text in found.items():
            seen[cell][surface.name] = text
    return seen


def disagreements(seen: dict[tuple[str, str], dict[str, str]]) -> dict[str, dict[str, str]]:
    """Each (figure, scope) whose surfaces do not all read the same text."""
    return {f"{key}@{scope}": by for (key, scope), by in seen.items() if len(set(by.values())) > 1}


def test_every_shared_figure_agrees_on_every_surface(officer, district):
    seen = read_all(officer, district)
    assert not disagreements(seen), disagreements(seen)
    for (key, scope), surfaces in EXPECTED.items():
        cell = (key, scope.replace("S-A", district.codes["城区中学"]))
        assert surfaces <= set(seen.get(cell, {})), f"{cell}: missing on {surfaces - set(seen.get(cell, {}))}"
    for cell, text in HAND.items():
        assert set(seen[cell].values()) == {text}, (cell, seen[cell])
    shared = [cell for cell, by in seen.items() if len(by) > 1]
    assert len(shared) >= 40, len(shared)  # the school rows too: staffing and the dashboard's per-school 在籍


def test_each_school_s_roll_agrees_between_the_dashboard_and_staffing(officer, district):
    seen = read_all(officer, district)
    for code in district.codes.values():
        by = seen[("on_roll", f"school:{code}")]
        assert {"dashboard", "staffing", "staffing.csv", "staffing.xlsx", "coverage.csv"} <= set(by), by
        assert len(set(by.values())) == 1, by


def test_a_surface_that_reads_otherwise_is_a_disagreement(officer, district):
    """The check can fail: the fixture's figures read back, with one export changed, are reported."""
    seen = read_all(officer, district)
    seen[("eligible", "total")]["trends.csv"] = "41"
    assert list(disagreements(seen)) == ["eligible@total"]


@pytest.mark.parametrize("url", ["/district?term=" + TERM, "/district/trends", "/district/staffing"])
def test_each_header_s_tooltip_and_the_footnote_say_the_glossary_s_definition(officer, url):
    page = parse_page(officer.get(url).get_data(as_text=True), term=TERM)
    assert page.headers, url
    for key, title in page.headers:
        assert title == glossary.get(key).explain("zh"), key
    shown = {key for key, _ in page.found} | {key for key, _ in page.headers}
    for key in shown:
        assert page.notes.get(key) == glossary.get(key).explain("zh"), f"{url}: no footnote for {key}"


def test_a_tiny_school_hides_the_same_cells_on_staffing_as_on_the_dashboard(officer, district, factory):
    """A rural school of 3 students reads "<5"; beside it, the dashboard hides another cell so that the type's total
    minus the shown schools does not give the 3 away. Staffing, which shows each school's roll too, must hide the
    same cells, or the two pages together disclose what each alone protects."""
    tiny = factory.school(name="微型小学", type="rural_small", stage="primary")
    klass = factory.klass(tiny, grade=4)
    for gender in ("M", "M", "F"):
        factory.student(school=tiny, klass=klass, gender=gender)
    district.world.campaign.schools.append(tiny)
    factory.session.flush()
    district.codes["微型小学"] = tiny.code
    seen = read_all(officer, district)
    assert seen[("on_roll", f"school:{tiny.code}")]["staffing"] == "<5"
    assert not disagreements(seen), disagreements(seen)
