"""The city tier (市教委): a city officer sees their districts compared, figures only, protected as at the district.

World: district 1 is tests/integration/district_world.py (three schools, 40 students); district 2 has a school
of 10 students and a tiny rural school of 3 (its cell must never show, and the district-level rural cell is
hidden with a complement); district 3 belongs to another city. Every student has a known name we look for.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date

import pytest
from sqlalchemy import select

from models import AuditEvent, Campaign, City, District, Screening
from models.screenings import CampaignInstrument
from tests.conftest import login
from tests.integration.district_world import TERM, build

COLUMNS = ("enrolled", "screened", "coverage", "positive", "positive_rate")


class CityWorld:
    def __init__(self, factory):  # type: ignore[no-untyped-def]
        s = factory.session
        self.city = City(code="C1", name="测试市")
        other_city = City(code="C2", name="外市")
        s.add_all([self.city, other_city])
        s.flush()
        self.d1_world = build(factory)
        self.d1 = factory.district()
        self.d1.city_id = self.city.id
        self.names = list(self.d1_world.names)
        # District 2: 城二中学 (10 students, all screened, 2 positive) and 二区村小 (3 students, all screened).
        self.d2 = District(code="D2-CITY", name="二区", city_id=self.city.id)
        s.add(self.d2)
        s.flush()
        factory._district = self.d2
        x = factory.school(name="城二中学", type="urban", stage="junior")
        y = factory.school(name="二区村小", type="rural_small", stage="primary")
        self._campaign(factory, [x, y], [(x, 7, 5, 1), (y, 3, 0, 0)], "城二", extra_tiny=(y, 3))
        self.d2_user = factory.user("district")
        # District 3 in another city.
        self.d3 = District(code="D3-OTHER", name="外市三区", city_id=other_city.id)
        s.add(self.d3)
        s.flush()
        factory._district = self.d3
        z = factory.school(name="外市学校", type="urban", stage="junior")
        self._campaign(factory, [z], [(z, 7, 5, 2)], "外市")
        factory._district = self.d1
        self.city_user = factory.user("city")
        self.city_user.city_id = self.city.id
        self.other_city_user = factory.user("city")
        self.other_city_user.city_id = other_city.id
        s.flush()

    def _campaign(self, factory, schools, groups, prefix, extra_tiny=None):  # type: ignore[no-untyped-def]
        s = factory.session
        campaign = Campaign(name=f"{prefix}测评", term=TERM, starts_on=date(2026, 9, 1), ends_on=date(2026, 9, 30),
                            status="open")
        campaign.schools = schools
        campaign.instruments = [CampaignInstrument(instrument_id="cesdc", grade_from=1, grade_to=9)]
        s.add(campaign)
        s.flush()
        n = 0
        plan = [(school, grade, per_gender, positives) for school, grade, per_gender, positives in groups]
        if extra_tiny is not None:  # the tiny school: 3 students (2 boys, 1 girl), all screened, none positive
            plan = [p for p in plan if p[0] is not extra_tiny[0]]
        students = []
        for school, grade, per_gender, positives in plan:
            klass = factory.klass(school, grade=grade)
            for gender in ("M", "F"):
                for i in range(per_gender):
                    students.append((school, klass, grade, gender, i < positives))
        if extra_tiny is not None:
            school, _count = extra_tiny
            klass = factory.klass(school, grade=3)
            students += [(school, klass, 3, g, False) for g in ("M", "M", "F")]
        for school, klass, grade, gender, positive in students:
            n += 1
            name = f"{prefix}生{n:03d}"
            st = factory.student(school=school, klass=klass, name=name, number=f"{prefix}{n:08d}", gender=gender)
            self.names.append(name)
            s.add(Screening(student_id=st.id, school_id=school.id, class_id=klass.id, grade=grade,
                            campaign_id=campaign.id, instrument_id="cesdc", instrument_version="1.0", mode="paper",
                            administered_on=date(2026, 9, 10), valid=True, total=20 if positive else 5,
                            positive=positive, critical=False, suggested_level="L3" if positive else "none"))
        s.flush()


@pytest.fixture
def world(factory):  # type: ignore[no-untyped-def]
    return CityWorld(factory)


@pytest.fixture
def city_officer(client, world):  # type: ignore[no-untyped-def]
    login(client, world.city_user.username)
    return client


def _table(html: str, table_id: str) -> dict[str, list[str]]:
    """The rows of one figure table: {row label: [cell texts]}."""
    section = html.split(f'id="table-{table_id}"', 1)[1].split("</section>", 1)[0]
    body = section.split("<tbody>", 1)[1]
    rows = {}
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip().replace("&lt;", "<") for c in
                 re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", tr, re.S)]
        rows[cells[0]] = cells[1:]
    return rows


def test_the_city_role_lands_on_the_city_dashboard(city_officer):
    response = city_officer.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/city")


def test_the_city_officer_sees_their_districts_compared_and_no_name(city_officer, world):
    for query in ("", "&type=urban", "&type=rural_small", "&stage=junior", "&stage=primary"):
        html = city_officer.get(f"/city?term={TERM}{query}").get_data(as_text=True)
        coverage = _table(html, "coverage")
        assert set(coverage) == {world.d1.name, "二区", "全市合计"}, query
        for name in world.names:
            assert name not in html
        for school in ("城区中学", "农村小学", "寄宿制中学", "城二中学", "二区村小", "外市学校"):
            assert school not in html, (query, school)
        assert "外市三区" not in html and "外市" not in html
        for table in ("warnings", "care", "followup", "crisis_response", "cases", "positives", "care_groups"):
            assert set(_table(html, table)) == set(coverage), table
    html = city_officer.get(f"/city?term={TERM}").get_data(as_text=True)
    coverage = _table(html, "coverage")
    assert coverage[world.d1.name][:4] == ["40", "40", "36", "90.0%"]  # 在籍, 应测, 已测, 覆盖率
    assert 'data-testid="suppression-footnote"' in html and 'data-testid="city-glossary"' in html
    assert "市教委" in html and "全市看板" in html  # the role's name in the header, the page's title


def test_another_citys_officer_sees_only_their_district(client, world):
    login(client, world.other_city_user.username)
    html = client.get(f"/city?term={TERM}").get_data(as_text=True)
    assert set(_table(html, "coverage")) == {"外市三区", "全市合计"}
    assert "二区" not in html and world.d1.name not in html


def test_small_cells_are_hidden_with_their_complement_and_the_tiny_school_never_shows(city_officer, world):
    rural = _table(city_officer.get(f"/city?term={TERM}&type=rural_small").get_data(as_text=True), "coverage")
    assert rural["二区"][0] == "<5"  # the rural schools of district 2: 3 students, hidden
    assert rural["全市合计"][0] == "*"  # a city total over a hidden district cell is hidden too
    urban = _table(city_officer.get(f"/city?term={TERM}&type=urban").get_data(as_text=True), "coverage")
    overall = _table(city_officer.get(f"/city?term={TERM}").get_data(as_text=True), "coverage")
    # The complement: the district's total or its urban schools are hidden, so 13 - 10 cannot give the 3 away.
    assert "*" in (urban["二区"][0], overall["二区"][0])
    assert not (urban["二区"][0].isdigit() and overall["二区"][0].isdigit())
    for query in ("", "&type=urban", "&type=rural_small", "&stage=primary", "&stage=junior",
                  "&type=rural_small&stage=primary"):
        html = city_officer.get(f"/city?term={TERM}{query}").get_data(as_text=True)
        for table in ("coverage", "warnings", "care", "followup"):
            assert "3" not in _table(html, table)["二区"], (query, table)
    staffing = _table(city_officer.get(f"/city?term={TERM}").get_data(as_text=True), "staffing")
    assert staffing["二区"][3] == "*" and staffing["全市合计"][3] == "*"
    assert staffing[world.d1.name][:3] == ["2", "2", "0"]  # B and C, both gaps, no full-time counselor


@pytest.mark.parametrize("query", ["", "&type=urban", "&stage=junior", "&type=rural_small"])
def test_each_district_row_equals_that_district_officers_dashboard_totals(app, city_officer, world, query):
    city_html = city_officer.get(f"/city?term={TERM}{query}").get_data(as_text=True)
    for user, label in ((world.d1_world.district_user, world.d1.name), (world.d2_user, "二区")):
        client = app.test_client()
        login(client, user.username)
        html = client.get(f"/district?term={TERM}&group=type{query}").get_data(as_text=True)
        for table in ("coverage", "warnings", "care", "followup", "cases"):
            district_rows = _table(html, table)
            assert _table(city_html, table)[label] == district_rows["合计"], (label, table)


def test_a_district_officer_still_sees_only_their_district(client, world):
    login(client, world.d2_user.username)
    html = client.get(f"/district?term={TERM}&group=school").get_data(as_text=True)
    assert "城二中学" in html
    assert "城区中学" not in html and "外市学校" not in html
    assert client.get("/city").status_code == 403


@pytest.mark.parametrize("role", ["admin", "district", "counselor", "head_teacher"])
def test_other_roles_are_refused_the_city_pages(client, factory, world, role):  # type: ignore[no-untyped-def]
    kwargs = {"schools": [world.d1_world.schools["A"]]} if role == "counselor" else {}
    if role == "head_teacher":
        kwargs = {"classes": [factory.klass(world.d1_world.schools["A"])]}
    login(client, factory.user(role, **kwargs).username)
    for url in ("/city", "/city/export/coverage.csv", "/city/export/staffing.xlsx"):
        assert client.get(url).status_code == 403, url


def test_the_city_officer_is_refused_district_and_school_pages(city_officer):
    for url in ("/district", "/district/export/coverage.csv", "/admin/users"):
        assert city_officer.get(url).status_code == 403, url


def test_city_exports_carry_the_same_figures_and_are_audited(city_officer, db_session):
    before = db_session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
    response = city_officer.get(f"/city/export/coverage.csv?term={TERM}&type=rural_small")
    assert response.status_code == 200 and response.data.startswith(b"\xef\xbb\xbf")
    rows = {r[0]: r[1:] for r in csv.reader(io.StringIO(response.data.decode("utf-8-sig"))) if r}
    assert rows["二区"][0] == "<5" and rows["全市合计"][0] == "*"
    assert city_officer.get(f"/city/export/staffing.xlsx?term={TERM}").status_code == 200
    assert city_officer.get("/city/export/students.csv").status_code == 404
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.seq > before, AuditEvent.action == "city.export")).all()
    assert [e.target for e in events] == ["city:coverage", "city:staffing"]


def test_the_city_tables_headers_carry_the_glossary_s_definitions(city_officer):
    """One definition per figure: the city tables are drawn by the district's table macro, so each figure column's
    tooltip is the glossary's text, as on the district pages."""
    from app.district import glossary
    from tests.web.figure_surfaces import parse_page

    page = parse_page(city_officer.get(f"/city?term={TERM}").get_data(as_text=True))
    keys = {key for key, _ in page.headers}
    assert {"on_roll", "eligible", "screened", "coverage", "warn_L1", "crisis"} <= keys
    for key, title in page.headers:
        assert title == glossary.get(key).explain("zh"), key


def test_the_city_coverage_chart_draws_the_coverage_table_s_rates(city_officer, world):
    """The chart finds its cells by glossary key: a count (在籍, 应测) is never drawn as a per cent."""
    html = city_officer.get(f"/city?term={TERM}").get_data(as_text=True)
    chart = html[html.index("<svg"):html.index("</svg>")]
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", chart, re.S)
    assert desc is not None
    coverage = desc.group(1).split("；")[0]
    shown = [float(p) for p in re.findall(r"(\d+(?:\.\d+)?)%", coverage)]
    assert 90.0 in shown  # district 1: 36 screened of 40 to screen (the coverage table's 90.0%)
    assert max(shown) <= 100
