"""The school leader (校领导 / 分管德育): their school's figures, counts only, never a name, nothing of another
school; small cells hidden as at the district. Built on the hand-counted district of the district tests."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from models import AccessGrant, CareCase, Screening, User, Warning
from tests.conftest import csrf_token, login
from tests.integration.district_world import TERM, build, utc


@pytest.fixture
def world(factory):  # type: ignore[no-untyped-def]
    return build(factory)


def _leader(factory, school, client):  # type: ignore[no-untyped-def]
    user = factory.school_leader(school, display_name="赵副校长")
    login(client, user.username)
    return user


def _stat(html: str, figure: str) -> str:
    m = re.search(rf'data-figure="{figure}"><div class="value">([^<]*)</div>', html)
    assert m, figure
    return m.group(1).replace("&lt;", "<")


def _page(client, school) -> str:  # type: ignore[no-untyped-def]
    response = client.get(f"/school/{school.id}?term={TERM}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_school_leader_lands_on_their_school_page(client, factory, world):
    _leader(factory, world.schools["A"], client)
    first = client.get("/")
    assert first.status_code == 302 and first.headers["Location"].endswith("/school")
    second = client.get("/school")
    assert second.status_code == 302 and second.headers["Location"].endswith(f"/school/{world.schools['A'].id}")


def test_a_school_leader_sees_their_school_figures(client, factory, world):
    _leader(factory, world.schools["A"], client)
    html = _page(client, world.schools["A"])
    assert "城区中学" in html
    # A: 20 to be screened in grade 7, 18 screened, 6 positive, 6 level-1 warnings of which 5 contacted the same day
    assert _stat(html, "eligible") == "20"
    assert _stat(html, "screened") == "18"
    assert _stat(html, "coverage") == "90.0%"
    assert _stat(html, "positive_rate") == "33.3%"
    assert _stat(html, "warn_L1") == "6"
    assert _stat(html, "crisis_same_day") == "83.3%"
    assert "<svg" in html and 'role="img"' in html
    assert 'data-testid="suppression-footnote"' in html
    for table in ("coverage", "warnings", "care", "followup", "cases_status", "workload", "staffing", "trend"):
        assert f'data-testid="table-{table}"' in html, table


def test_the_page_holds_no_name_nor_number_of_any_student(client, factory, world):
    _leader(factory, world.schools["A"], client)
    html = _page(client, world.schools["A"])
    leaked = [n for n in world.names + world.numbers if n in html]
    assert leaked == []
    assert not [st.public_id for st in world.students if st.public_id in html]


def test_another_school_is_not_found(client, factory, world):
    _leader(factory, world.schools["A"], client)
    assert client.get(f"/school/{world.schools['B'].id}").status_code == 404
    assert client.get("/school/987654321").status_code == 404
    other_district_school = factory.school(name="别的学校")
    assert client.get(f"/school/{other_district_school.id}").status_code == 404


def _rows(html: str, table: str) -> dict[str, list[str]]:
    """Each row of a table: its heading and its cells' texts (marks unescaped)."""
    part = html.split(f'data-testid="table-{table}"', 1)[1].split("</section>", 1)[0]
    out = {}
    for label, cells in re.findall(r'<th scope="row">([^<]*)</th>(.*?)</tr>', part, flags=re.S):
        out[label] = [t.replace("&lt;", "<") for t in re.findall(r'<td class="num[^"]*">([^<]*)</td>', cells)]
    return out


def test_small_cells_are_hidden_and_complemented(client, factory, world):
    """B: 6 screened, 2 positive: "<5". D (two grades): 10 and 3 screened: the 3 reads "<5" and the 10 is hidden
    too ("*"), or the total minus the 10 would give the 3 away."""
    d = factory.school(name="双年级学校", type="urban", stage="junior")
    world.campaign.schools.append(d)
    for grade, n in ((7, 10), (8, 3)):
        klass = factory.klass(d, grade=grade)
        for i in range(n):
            st = factory.student(school=d, klass=klass, name=f"双年级{grade}-{i}", gender="MF"[i % 2])
            factory.session.add(Screening(student_id=st.id, school_id=d.id, class_id=klass.id, grade=grade,
                                          campaign_id=world.campaign.id, instrument_id="cesdc",
                                          instrument_version="1.0", mode="paper", administered_on=date(2026, 9, 10),
                                          valid=True, total=5, positive=False, critical=False,
                                          suggested_level="none"))
    factory.session.flush()

    _leader(factory, world.schools["B"], client)
    rows = _rows(_page(client, world.schools["B"]), "coverage")
    assert list(rows) == [f"{g}年级" for g in range(1, 7)] + ["合计"]  # a primary school's grades, not 1-9
    assert rows["合计"] == ["8", "6", "75.0%", "<5", "—"]  # a rate over a hidden figure: "—"

    client.post("/logout", data={"csrf_token": csrf_token(client)})
    _leader(factory, d, client)
    rows = _rows(_page(client, d), "coverage")
    assert list(rows) == ["7年级", "8年级", "9年级", "合计"]
    assert [rows["7年级"][:2], rows["8年级"][:2], rows["合计"][:2]] == [["*", "*"], ["<5", "<5"], ["13", "13"]]
