"""The school leader (校领导 / 分管德育): their school's figures, counts only, never a name, nothing of another
school; small cells hidden as at the district. Built on the hand-counted district of the district tests."""
from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import select

from models import AccessGrant, CareCase, Screening, User, Warning
from tests.conftest import csrf_token, login, post
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
    assert _stat(html, "crisis_same_day_rate") == "83.3%"
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
    part = html.split(f'id="table-{table}"', 1)[1].split("</section>", 1)[0]
    out = {}
    for label, cells in re.findall(r'<th scope="row">([^<]*)</th>(.*?)</tr>', part, flags=re.S):
        out[label] = [t.replace("&lt;", "<") for t in re.findall(r'<td class="num[^"]*"[^>]*>([^<]*)</td>', cells)]
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


# -- who may see the school page ------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["district", "admin", "head_teacher"])
def test_other_roles_are_refused_the_school_pages(client, factory, world, role):
    user = factory.head_teacher() if role == "head_teacher" else factory.user(role)
    login(client, user.username)
    a = world.schools["A"].id
    for url in ("/school", f"/school/{a}", f"/school/{a}/report.pdf"):
        assert client.get(url).status_code == 403, url


def test_a_counselor_sees_their_school_page_and_not_another(client, factory, world):
    counselor = factory.counselor(world.schools["A"])
    login(client, counselor.username)
    html = _page(client, world.schools["A"])
    assert _stat(html, "screened") == "18"
    assert client.get(f"/school/{world.schools['C'].id}").status_code == 404


def test_the_school_leader_is_refused_every_other_page(client, factory, world):
    _leader(factory, world.schools["A"], client)
    student = world.students[0]
    for url in ("/district", "/district/trends", "/district/export/coverage.csv", "/students",
                f"/students/{student.public_id}", "/my-class", "/admin/", "/admin/users", "/rechecks"):
        assert client.get(url).status_code == 403, url


def test_the_navigation_shows_only_the_school_leaders_pages(client, factory, world):
    _leader(factory, world.schools["A"], client)
    html = _page(client, world.schools["A"])
    nav = html.split('class="mainnav"', 1)[1].split("</nav>", 1)[0]
    assert re.findall(r'href="([^"]+)"', nav) == ["/school"]
    assert "本校数据" in nav
    assert "赵副校长 · 校领导（分管德育）" in html


# -- cases and workload ------------------------------------------------------------------------------------
def _cases(factory, world, owner_by_status):  # type: ignore[no-untyped-def]
    """Cases on the level-1 warnings of school A: one per (status, owner) given, in order."""
    s = factory.session
    warnings = s.scalars(select(Warning).where(Warning.school_id == world.schools["A"].id)
                         .order_by(Warning.id)).all()
    for w, (status, owner) in zip(warnings, owner_by_status, strict=False):
        s.add(CareCase(student_id=w.student_id, school_id=w.school_id, warning_id=w.id, level="L1", status=status,
                       owner_id=owner.id if owner else None, opened_at=utc(2026, 9, 11, 2, 0)))
    s.flush()


def test_open_cases_by_status_and_per_counselor_are_counts_with_staff_names(client, factory, world):
    li = factory.counselor(world.schools["A"], display_name="李心怡")
    wang = factory.counselor(world.schools["A"], display_name="王老师")
    _cases(factory, world, [("open", li), ("following", li), ("following", li), ("referred", li), ("open", li),
                            ("closed", wang)])
    _leader(factory, world.schools["A"], client)
    html = _page(client, world.schools["A"])
    status = _rows(html, "cases_status")
    # 5 open cases, 2 new + 2 following + 1 referred: each status under 5 is hidden, so is the grade row's total
    assert status["合计"][0] == "5"
    assert all(t in ("<5", "*") for t in status["合计"][1:])
    work = _rows(html, "workload")
    assert work["李心怡"] == ["5"] and work["合计"] == ["5"]
    assert "王老师" not in work  # their only case is closed
    assert not [n for n in world.names if n in html]


def test_a_small_open_case_total_hides_every_counselor_row(client, factory, world):
    li = factory.counselor(world.schools["A"], display_name="李心怡")
    _cases(factory, world, [("open", li), ("following", None)])
    _leader(factory, world.schools["A"], client)
    work = _rows(_page(client, world.schools["A"]), "workload")
    assert work["合计"] == ["<5"]
    assert work["李心怡"] == ["*"] and work["尚未指定负责人"] == ["*"]


# -- admin creates school leaders ---------------------------------------------------------------------------
@pytest.fixture
def admin(factory):  # type: ignore[no-untyped-def]
    return factory.user("admin", username="root1")


def _new_leader(client, schools):  # type: ignore[no-untyped-def]
    return post(client, "/admin/users/new", {
        "username": "xiaozhang", "display_name": "张校长", "email": "", "password": "long-enough-1",
        "role": "school_leader", "schools": [str(s.id) for s in schools], "active": "y", "full_time": "y",
    })


def test_admin_creates_a_school_leader_of_one_school_at_once(client, admin, factory, db_session):
    school = factory.school(name="崇明区城桥中学")
    login(client, "root1")
    assert _new_leader(client, [school]).status_code == 302
    user = db_session.scalars(select(User).where(User.username == "xiaozhang")).one()
    assert user.role == "school_leader" and [s.id for s in user.schools] == [school.id]
    # figures of one school are not clinical access: no grant to approve
    assert db_session.scalars(select(AccessGrant).where(AccessGrant.user_id == user.id)).all() == []
    listing = client.get("/admin/users?role=school_leader").get_data(as_text=True)
    assert "xiaozhang" in listing and "崇明区城桥中学" in listing


@pytest.mark.parametrize("count", [0, 2])
def test_a_school_leader_needs_exactly_one_school(client, admin, factory, db_session, count):
    schools = [factory.school() for _ in range(count)]
    login(client, "root1")
    r = _new_leader(client, schools)
    assert r.status_code == 200 and "校领导必须且只能属于一所学校" in r.get_data(as_text=True)
    assert db_session.scalars(select(User).where(User.username == "xiaozhang")).first() is None


def test_a_school_leader_made_counselor_gets_no_clinical_access_without_a_second_person(client, admin, factory,
                                                                                        db_session):
    school = factory.school()
    leader = factory.school_leader(school)
    login(client, "root1")
    r = post(client, f"/admin/users/{leader.id}/access",
             {"role": "counselor", "schools": [str(school.id)], "active": "y"})
    assert r.status_code == 302
    db_session.expire_all()
    assert leader.role == "counselor" and leader.schools == []  # the school waits for a second person
    pending = db_session.scalars(select(AccessGrant).where(AccessGrant.user_id == leader.id,
                                                           AccessGrant.status == "pending")).all()
    assert [g.school_id for g in pending] == [school.id]


def test_a_counselor_made_school_leader_keeps_only_the_figures_of_one_school(client, admin, factory, db_session):
    a, b = factory.school(), factory.school()
    counselor = factory.counselor(a, b)
    login(client, "root1")
    r = post(client, f"/admin/users/{counselor.id}/access",
             {"role": "school_leader", "schools": [str(a.id)], "active": "y"})
    assert r.status_code == 302
    db_session.expire_all()
    assert counselor.role == "school_leader" and [s.id for s in counselor.schools] == [a.id]
    revoked = db_session.scalars(select(AccessGrant).where(AccessGrant.user_id == counselor.id,
                                                           AccessGrant.status == "revoked")).all()
    assert sorted(g.school_id for g in revoked) == sorted([a.id, b.id])  # the clinical access ended


def test_the_cli_adds_a_school_leader(app, factory, db_session):
    school = factory.school(code="CL01")
    r = app.test_cli_runner().invoke(args=["users", "add", "--username", "cli-leader", "--role", "school_leader",
                                           "--school", "CL01", "--password", "long-enough-1"])
    assert r.exit_code == 0, r.output
    assert "added user cli-leader (school_leader): schools CL01" in r.output
    user = db_session.scalars(select(User).where(User.username == "cli-leader")).one()
    assert [s.id for s in user.schools] == [school.id]
    two = app.test_cli_runner().invoke(args=["users", "add", "--username", "cli-leader2", "--role", "school_leader",
                                             "--password", "long-enough-1"])
    assert two.exit_code != 0 and "exactly one school" in two.output


def test_a_school_leader_needs_a_second_factor_when_two_factors_are_on():
    from app.auth.two_factor import required_for

    assert required_for(User(role="school_leader"), {"TWO_FACTOR": "on"})


def _headers(html: str, table: str) -> list[str]:
    part = html.split(f'id="table-{table}"', 1)[1].split("</thead>", 1)[0]
    cells = re.findall(r'<th scope="col" class="num"[^>]*>(.*?)</th>', part, re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", c).split()) for c in cells]  # the words of a wrapped heading


def test_the_schools_figures_equal_the_districts_where_both_show_them(client, factory, world):
    """The same counts: the district dashboard's row of the school and the school page's total, under the same
    column heading, wherever both show a number (each family hides its own small cells)."""
    login(client, world.district_user.username)
    district = client.get(f"/district?term={TERM}&group=school").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": csrf_token(client)})
    compared = 0
    for key in ("A", "B", "C"):
        school = world.schools[key]
        leader = factory.school_leader(school)
        login(client, leader.username)
        page = _page(client, school)
        client.post("/logout", data={"csrf_token": csrf_token(client)})
        for table in ("coverage", "warnings", "care", "followup"):
            ours = dict(zip(_headers(page, table), _rows(page, table)["合计"], strict=True))
            theirs = dict(zip(_headers(district, table), _rows(district, table)[school.name], strict=True))
            assert len(set(ours) & set(theirs)) >= 3, table
            for header in set(ours) & set(theirs):
                a, b = ours[header], theirs[header]
                if a not in ("<5", "*", "—") and b not in ("<5", "*", "—"):
                    assert a == b, (key, table, header, a, b)
                    compared += 1
    assert compared > 30


def test_a_counselor_of_two_schools_chooses_one(client, factory, world):
    counselor = factory.counselor(world.schools["A"], world.schools["C"])
    login(client, counselor.username)
    html = client.get("/school").get_data(as_text=True)
    links = re.findall(r'href="/school/(\d+)"', html)
    assert sorted(map(int, links)) == sorted([world.schools["A"].id, world.schools["C"].id])
    assert "城区中学" in html and "寄宿制中学" in html and "农村小学" not in html


def test_class_size_bands():
    from app.district.service.school import band_of

    assert [band_of(n) for n in (None, 0, 1, 20, 21, 35, 36, 45, 46, 80)] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_workload_rows_that_do_not_add_up_to_the_total_shown_are_hidden(client, factory, world):
    """The figures of a running term may come from a rollup up to five minutes old; the workload is counted live.
    A case opened in between: the rows would not add up to the total beside them, so they are hidden."""
    li = factory.counselor(world.schools["A"], display_name="李心怡")
    _cases(factory, world, [("open", li)] * 5)
    _leader(factory, world.schools["A"], client)
    assert _rows(_page(client, world.schools["A"]), "workload")["李心怡"] == ["5"]  # the rollup is written now
    last = factory.session.scalars(select(Warning).where(Warning.school_id == world.schools["A"].id)
                                          .order_by(Warning.id.desc())).first()
    factory.session.add(CareCase(student_id=last.student_id, school_id=last.school_id,
                                 warning_id=last.id, level="L1", status="open", owner_id=li.id))
    factory.session.flush()
    work = _rows(_page(client, world.schools["A"]), "workload")
    assert work["合计"] == ["5"] and work["李心怡"] == ["*"]


def test_a_school_no_campaign_screened_says_so(client, factory, world):
    other = factory.school(name="未测学校", stage="junior")
    _leader(factory, other, client)
    html = client.get(f"/school/{other.id}").get_data(as_text=True)
    assert 'data-testid="school-no-data"' in html and "未测学校" in html
    assert client.get(f"/school/{other.id}/report.pdf").status_code == 200
