"""Lists of students at scale (issue 16): each pages at 50 rows, sorts by each column both ways, filters by
school/grade/class with the filters and sort kept in the links, and shows a school column only to a counselor of
more than one school. The mechanism is app/listing.py with templates/_listing.html."""
from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta

import pytest

from app.care.policy import term_of
from models import CareCheckin, clock
from tests.conftest import login

ROW = re.compile(r'<tr data-student="([^"]+)"[^>]*>(.*?)</tr>', re.S)
CELL = re.compile(r"<td[^>]*>(.*?)</td>", re.S)


def rows(page: str) -> list[tuple[str, list[str]]]:
    return [(pid, [htmllib.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in CELL.findall(body)])
            for pid, body in ROW.findall(page)]


def header_index(page: str, table_testid: str) -> list[str]:
    head = page[page.index(f'data-testid="{table_testid}"'):]
    head = head[: head.index("</thead>")]
    return [re.sub(r"<[^>]+>|[▲▼]", "", h).strip() for h in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)]


@pytest.fixture
def two_schools(factory, db_session):
    """120 care-group students: 80 at school A (two classes of grade 7 and 8), 40 at school B; check-ins at
    various days for a third of them, this term for some (due next term), last term for others."""
    a, b = factory.school(name="甲校"), factory.school(name="乙校")
    a7, a8 = factory.klass(a, 7, "七年级(1)班"), factory.klass(a, 8, "八年级(1)班")
    b7 = factory.klass(b, 7, "七年级(5)班")
    today = clock.today()
    students = []
    for i in range(120):
        klass = a7 if i < 40 else a8 if i < 80 else b7
        s = factory.student(klass=klass, name=f"学生{(i * 37) % 120:03d}",
                            groups=["left_behind"] if i % 2 else ["migrant"])
        students.append(s)
        if i % 3 == 0:
            this_term = i % 2 == 0
            day = today - timedelta(days=i % 30) if this_term else today - timedelta(days=200 + i)
            db_session.add(CareCheckin(student_id=s.id, school_id=s.school_id, term=term_of(day), occurred_on=day,
                                       by_role="counselor"))
    db_session.flush()
    return a, b, a7, a8, b7, students


def _sorted_check(values, descending):
    present = [v for v in values if v not in ("", "—")]
    assert present == sorted(present, reverse=descending), values
    assert values[: len(present)] == present  # blanks last


def test_the_care_group_list_pages_sorts_filters_and_shows_the_school_column(app, factory, two_schools):
    a, b, a7, a8, b7, students = two_schools
    counselor = factory.counselor(a, b)
    c = app.test_client()
    login(c, counselor.username)
    first = c.get("/care/groups").get_data(as_text=True)
    heads = header_index(first, "care-groups")
    assert heads[:2] == ["学生", "学校"]
    got = rows(first)
    assert len(got) == 50 and 'aria-sort="ascending"' in first
    seen = {pid for pid, _ in got}
    for n in (2, 3):
        more = rows(c.get(f"/care/groups?page={n}").get_data(as_text=True))
        assert len(more) == (50 if n == 2 else 20)
        seen |= {pid for pid, _ in more}
    assert seen == {s.public_id for s in students}

    columns = {"name": 0, "school": 1, "class": 2, "last_checkin": 4, "urgency": 5}
    for key, col in columns.items():
        for desc in (False, True):
            page = c.get(f"/care/groups?sort={'-' if desc else ''}{key}").get_data(as_text=True)
            assert f'aria-sort="{"descending" if desc else "ascending"}"' in page
            values = [cells[col].replace(" 已逾期", "") for _, cells in rows(page)]
            assert len(values) == 50
            if key == "school":
                assert values == sorted(values, key=lambda v: v != "甲校", reverse=desc)
            elif key != "class":
                _sorted_check(values, desc)
    by_group = [cells[3] for _, cells in rows(c.get("/care/groups?sort=group").get_data(as_text=True))]
    assert set(by_group) == {"留守儿童"}  # left_behind < migrant: the 60 left-behind students first
    by_group = [cells[3] for _, cells in rows(c.get("/care/groups?sort=-group").get_data(as_text=True))]
    assert set(by_group) == {"随迁子女"}

    # filters, kept by the pager and the headers
    only_b = c.get(f"/care/groups?school={b.id}&sort=-name").get_data(as_text=True)
    assert {cells[1] for _, cells in rows(only_b)} == {"乙校"} and len(rows(only_b)) == 40
    grade8 = c.get("/care/groups?grade=8&sort=name&group=left_behind").get_data(as_text=True)
    assert {cells[2] for _, cells in rows(grade8)} == {"八年级(1)班"} and len(rows(grade8)) == 20
    klass = c.get(f"/care/groups?class={a7.id}&sort=-last_checkin").get_data(as_text=True)
    assert len(rows(klass)) == 40 and "page=2" not in klass
    paged = c.get(f"/care/groups?school={a.id}&sort=-name").get_data(as_text=True)
    nxt = re.search(r'rel="next" href="([^"]+)"', paged).group(1)
    assert f"school={a.id}" in nxt and "sort=-name" in nxt and "page=2" in nxt
    assert re.search(rf'href="[^"]*school={a.id}[^"]*sort=name"|href="[^"]*sort=name[^"]*school={a.id}', paged)


def test_urgency_puts_overdue_and_never_checked_first(app, factory, db_session):
    school = factory.school()
    klass = factory.klass(school)
    today = clock.today()
    factory.student(klass=klass, name="从未回访", groups=["left_behind"])
    old = factory.student(klass=klass, name="上学期回访", groups=["left_behind"])
    done = factory.student(klass=klass, name="本学期已回访", groups=["left_behind"])
    long_ago = today - timedelta(days=300)
    db_session.add_all([
        CareCheckin(student_id=old.id, school_id=school.id, term=term_of(long_ago), occurred_on=long_ago,
                    by_role="counselor"),
        CareCheckin(student_id=done.id, school_id=school.id, term=term_of(today), occurred_on=today,
                    by_role="counselor"),
    ])
    db_session.flush()
    c = app.test_client()
    login(c, factory.counselor(school).username)
    page = c.get("/care/groups").get_data(as_text=True)
    assert [cells[0] for _, cells in rows(page)] == ["从未回访", "上学期回访", "本学期已回访"]
    assert "学校" not in header_index(page, "care-groups")  # one school: no school column
    reverse = c.get("/care/groups?sort=-urgency").get_data(as_text=True)
    assert [cells[0] for _, cells in rows(reverse)] == ["本学期已回访", "上学期回访", "从未回访"]


def test_the_interview_list_pages_sorts_and_filters(app, factory, db_session, two_schools):
    from tests.integration.care_support import make_warning

    a, b, a7, a8, b7, students = two_schools
    today = clock.today()
    for i, s in enumerate(students):
        make_warning(db_session, s, ("L1", "L2", "L3")[i % 3], due=today + timedelta(days=i % 17 - 8))
    c = app.test_client()
    login(c, factory.counselor(a, b).username)
    first = c.get("/interviews").get_data(as_text=True)
    assert "学校" in header_index(first, "interviews")
    got = rows(first)
    assert len(got) == 50
    assert len(rows(c.get("/interviews?page=3").get_data(as_text=True))) == 20
    for key, col in {"name": 1, "school": 2, "due": 5}.items():
        for desc in (False, True):
            page = c.get(f"/interviews?sort={'-' if desc else ''}{key}").get_data(as_text=True)
            values = [re.sub(r"^\D*", "", cells[col]) if key == "due" else cells[col] for _, cells in rows(page)]
            if key == "school":
                assert values == sorted(values, key=lambda v: v != "甲校", reverse=desc)
            else:
                _sorted_check(values, desc)
    levels = re.findall(r'data-level="(L\d)"', c.get("/interviews?sort=-level").get_data(as_text=True))
    assert levels == sorted(levels, reverse=True)
    only = c.get(f"/interviews?class={b7.id}").get_data(as_text=True)
    assert len(rows(only)) == 40 and {cells[3] for _, cells in rows(only)} == {"七年级(5)班"}
    single = app.test_client()
    login(single, factory.counselor(b).username)
    assert "学校" not in header_index(single.get("/interviews").get_data(as_text=True), "interviews")


def test_the_recheck_lists_page_each_section_sort_and_filter(app, factory, db_session, two_schools):
    from tests.integration.care_support import make_recheck

    a, b, a7, a8, b7, students = two_schools
    today = clock.today()
    for i, s in enumerate(students):
        make_recheck(db_session, s, due=today - timedelta(days=1 + i % 20), status="overdue")
    c = app.test_client()
    login(c, factory.counselor(a, b).username)
    first = c.get("/rechecks?sort=-name").get_data(as_text=True)
    names = [cells[0] for _, cells in rows(first)]
    assert len(names) == 50 and names == sorted(names, reverse=True)
    nxt = re.search(r'rel="next" href="([^"]+)"', first).group(1)
    assert "overdue_page=2" in nxt and "sort=-name" in nxt
    third = c.get("/rechecks?sort=-name&overdue_page=3").get_data(as_text=True)
    assert len(rows(third)) == 20
    due = [cells[5] for _, cells in rows(c.get("/rechecks?sort=due").get_data(as_text=True))]
    assert due == sorted(due)
    due = [cells[5] for _, cells in rows(c.get("/rechecks?sort=-due").get_data(as_text=True))]
    assert due == sorted(due, reverse=True)
    only = c.get("/rechecks?grade=8").get_data(as_text=True)
    assert len(rows(only)) == 40 and 'data-testid="count-overdue">40<' in only
