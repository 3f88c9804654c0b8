"""District pages: figures for the district role only, exports audited, suppressed and behind a recent login."""
import csv
import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from models import AuditEvent
from tests.conftest import login
from tests.integration.district_world import TERM, build

EXPORT_TABLES = ("coverage", "positives", "warnings", "care", "care_groups", "followup", "cases", "staffing", "trends")


@pytest.fixture
def world(factory):  # type: ignore[no-untyped-def]
    return build(factory)


@pytest.fixture
def officer(client, world):  # type: ignore[no-untyped-def]
    login(client, world.district_user.username)
    return client


def test_the_district_role_lands_on_the_dashboard(officer):
    response = officer.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/district")


def test_the_dashboard_shows_district_figures_charts_and_the_footnote(officer):
    html = officer.get(f"/district?term={TERM}&group=school").get_data(as_text=True)
    assert "城区中学" in html and "农村小学" in html
    assert "<svg" in html and 'role="img"' in html
    assert "90.0%" in html  # coverage 36 / 40
    assert "&lt;5" in html
    assert 'data-testid="suppression-footnote"' in html


def test_the_coverage_chart_draws_the_coverage_table_s_rates(officer):
    import re

    html = officer.get(f"/district?term={TERM}&group=school").get_data(as_text=True)
    chart = html[html.index("<svg"):html.index("</svg>")]
    assert "测评覆盖率" in chart
    # The chart's figures as it states them to a screen reader (its <desc>, what the bars are drawn from): the
    # bars only carry a value label where it fits.
    desc = re.search(r"<desc[^>]*>(.*?)</desc>", chart, re.S)
    assert desc is not None
    coverage = desc.group(1).split("；")[0]
    shown = {round(float(p)) for p in re.findall(r"(\d+(?:\.\d+)?)%", coverage)}
    assert {90, 75, 100} <= shown  # A, B and C's coverage (18/20, 6/8, 12/12), not a count drawn as a per cent
    assert max(shown) <= 100


@pytest.mark.parametrize("role", ["counselor", "head_teacher", "admin"])
def test_other_roles_are_refused_every_district_page(client, factory, world, role):  # type: ignore[no-untyped-def]
    kwargs = {"schools": [world.schools["A"]]} if role == "counselor" else {}
    user = factory.user(role, **kwargs)
    login(client, user.username)
    for url in ("/district", "/district/trends", "/district/staffing", "/district/export/coverage.csv",
                "/district/export/staffing.xlsx"):
        assert client.get(url).status_code == 403, url


def test_district_pages_take_no_posts(officer):
    for url in ("/district", "/district/trends", "/district/staffing", "/district/export/coverage.csv"):
        assert officer.post(url, data={}).status_code in (400, 405), url


def test_an_unknown_table_or_format_is_not_found(officer):
    assert officer.get("/district/export/students.csv").status_code == 404
    assert officer.get("/district/export/coverage.pdf").status_code == 404


def test_the_csv_export_has_a_bom_and_the_same_suppressed_figures(officer):
    response = officer.get(f"/district/export/coverage.csv?term={TERM}&group=school")
    assert response.status_code == 200
    body = response.data
    assert body.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    header = rows[0]
    assert header[:3] == ["学校", "在籍学生（人）", "应测学生（人）"]  # row 1 is the header: nothing above it
    positive = header.index("阳性学生（人）")
    by_school = {row[0]: row for row in rows if row and row[0] in ("城区中学", "农村小学", "寄宿制中学")}
    assert by_school["城区中学"][1] == "20"  # on the roll
    assert by_school["农村小学"][positive] == "<5"  # positive students
    assert by_school["寄宿制中学"][positive] == "<5"
    html = officer.get(f"/district?term={TERM}&group=school").get_data(as_text=True)
    for row in by_school.values():
        for text in row[1:]:
            assert text.replace("<", "&lt;") in html


def test_the_xlsx_export_opens_and_matches_the_csv(officer):
    xlsx = officer.get(f"/district/export/coverage.xlsx?term={TERM}&group=type")
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.data))
    sheet = book.worksheets[0]
    cells = [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    text = officer.get(f"/district/export/coverage.csv?term={TERM}&group=type").data.decode("utf-8-sig")
    csv_rows = [row for row in csv.reader(io.StringIO(text))]
    assert cells == csv_rows  # the same table, the header in row 1 of both


def test_the_xlsx_export_says_what_it_is_about_on_its_second_sheet(officer):
    xlsx = officer.get(f"/district/export/coverage.xlsx?term={TERM}&group=school&type=urban")
    book = load_workbook(io.BytesIO(xlsx.data))
    assert len(book.worksheets) == 2 and book.sheetnames[1] == "说明"
    about = {row[0]: row[1] for row in book.worksheets[1].iter_rows(values_only=True)}
    assert about["统计范围"] == TERM
    assert about["学校类型"] == "城区学校" and about["学段"] == "全部" and about["分组方式"] == "学校"
    assert "少于 5" in about["小数隐去规则"] or "<5" in about["小数隐去规则"]
    assert about["生成时间"][:4].isdigit()
    assert about["覆盖率（%）"].startswith("已测学生 ÷ 应测学生")  # the glossary's definition of each column


def test_a_csv_export_is_named_for_its_table_term_filters_and_time(officer):
    from urllib.parse import unquote

    from models import clock

    response = officer.get(f"/district/export/coverage.csv?term={TERM}&type=rural_small")
    disposition = response.headers["Content-Disposition"]
    stamp = clock.local_now("Asia/Shanghai").strftime("%Y%m%d-")
    assert f'filename="district_coverage_{TERM}_rural_small_{stamp}' in disposition
    name = unquote(disposition.split("filename*=UTF-8''", 1)[1])
    assert name.startswith(f"在籍人数与测评覆盖率_{TERM}_农村小规模学校_{stamp}") and name.endswith(".csv")
    first = response.data.decode("utf-8-sig").splitlines()[0]
    assert first.startswith("学校类型,在籍学生（人）")


def test_every_export_is_audited(officer, db_session):
    before = db_session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1)) or 0
    officer.get(f"/district/export/warnings.csv?term={TERM}")
    officer.get("/district/export/staffing.xlsx")
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.seq > before, AuditEvent.action == "district.export")
    ).all()
    assert [e.target for e in events] == ["district:warnings", "district:staffing"]
    assert all(e.student_public_id is None for e in events)


def test_exports_need_a_recent_login(officer):
    with officer.session_transaction() as sess:
        sess["auth_at"] = 0
    response = officer.get(f"/district/export/coverage.csv?term={TERM}")
    assert response.status_code == 302
    assert "/reauth" in response.headers["Location"] or "reauth" in response.headers["Location"]


def test_the_staffing_page_lists_the_gaps(officer):
    html = officer.get("/district/staffing").get_data(as_text=True)
    gaps = html.split('data-testid="staffing-gaps"', 1)[1].split("</section>", 1)[0]
    assert "农村小学" in gaps and "寄宿制中学" in gaps
    assert "城区中学" not in gaps


def test_the_trends_page_draws_charts_with_chinese_labels(officer):
    html = officer.get("/district/trends").get_data(as_text=True)
    assert html.count("<svg") >= 5
    assert "学期" in html
    assert TERM in html


def test_an_empty_district_says_what_happens_next(client, factory):
    user = factory.user("district")
    login(client, user.username)
    html = client.get("/district").get_data(as_text=True)
    assert 'class="empty"' in html


@pytest.mark.parametrize("table", EXPORT_TABLES)
@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_every_table_exports_in_both_formats(officer, table, fmt):
    response = officer.get(f"/district/export/{table}.{fmt}?term={TERM}&group=school")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    if fmt == "csv":
        assert response.data.startswith(b"\xef\xbb\xbf")
    else:
        load_workbook(io.BytesIO(response.data))


def test_another_districts_campaign_is_neither_listed_nor_selectable(officer, factory, db_session, world):
    from datetime import date

    from models import Campaign, District, School

    other_district = District(code="OTHER9", name="外区")
    db_session.add(other_district)
    db_session.flush()
    other_school = School(district_id=other_district.id, code="OX001", name="外区学校", type="urban", stage="junior")
    db_session.add(other_school)
    campaign = Campaign(name="外区测评", term="2030-2031-1", starts_on=date(2030, 9, 1), ends_on=date(2030, 9, 30))
    campaign.schools = [other_school]
    db_session.add(campaign)
    db_session.flush()
    html = officer.get("/district").get_data(as_text=True)
    assert "外区测评" not in html and "2030-2031-1" not in html
    html = officer.get(f"/district?campaign={campaign.id}").get_data(as_text=True)
    assert "外区测评" not in html


def test_the_dashboard_and_trends_say_when_their_figures_were_computed(officer):
    for url in ("/district", "/district/trends"):
        html = officer.get(url).get_data(as_text=True)
        assert 'data-testid="figures-as-of"' in html
        assert "数据更新于 " in html
        stamp = html.split("数据更新于 ", 1)[1][:5]
        assert stamp[2] == ":" and stamp.replace(":", "").isdigit()


def test_in_english_the_headers_and_the_about_sheet_are_the_glossary_s_english(officer):
    from app.district import glossary

    with officer.session_transaction() as sess:
        sess["lang"] = "en"
    html = officer.get(f"/district?term={TERM}").get_data(as_text=True)
    for key in ("on_roll", "eligible", "coverage", "warn_L1", "crisis"):
        assert glossary.get(key).header("en") in html, key
    from markupsafe import escape

    assert str(escape(glossary.get("on_roll").explain("en"))) in html  # the tooltip and the footnote
    book = load_workbook(io.BytesIO(officer.get(f"/district/export/coverage.xlsx?term={TERM}").data))
    assert book.sheetnames[1] == "About this table"
    assert list(book.worksheets[0].iter_rows(values_only=True))[0][1] == "Students on the roll"
def _statements_during(fn):  # type: ignore[no-untyped-def]
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    event.listen(Engine, "before_cursor_execute", listener)
    try:
        result = fn()
    finally:
        event.remove(Engine, "before_cursor_execute", listener)
    return result, seen


def _cells(html: str) -> list[str]:
    import re

    main = html.split('data-testid="figures-as-of"', 1)[1]  # after the as-of line: the figures and tables
    return re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", main, re.S)


@pytest.mark.parametrize("group", ["type", "school", "grade", "gender"])
def test_the_dashboard_from_its_rollup_shows_the_figures_computed_live(officer, app, group):  # type: ignore[no-untyped-def]
    url = f"/district?term={TERM}&group={group}"
    officer.get(url)  # computes the figures and writes the rollup
    response, statements = _statements_during(lambda: officer.get(url))
    from_rollup = response.get_data(as_text=True)
    assert not [s for s in statements if " FROM students" in s], "served from the rollup: no query over students"
    app.config["DISTRICT_ROLLUP_MAX_AGE_MINUTES"] = 0  # no rollup is young enough: computed in the request
    live, statements = _statements_during(lambda: officer.get(url).get_data(as_text=True))
    assert [s for s in statements if " FROM students" in s], "computed live: enrolment read from the roll"
    assert len(_cells(from_rollup)) > 20
    assert _cells(from_rollup) == _cells(live)
