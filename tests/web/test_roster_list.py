"""The counselor's student list: scope, filters, paging, search (tests/web/test_student_search.py for partial and
pinyin), audit, queries."""
from __future__ import annotations

import re

from sqlalchemy import event, func, select

from models import AuditEvent
from tests.conftest import login, post


def _search(client, q, **filters):  # type: ignore[no-untyped-def]
    """A search as the page makes it: a POST, then the result page its redirect names (no name in the URL)."""
    response = post(client, "/students", {"q": q, **filters})
    assert response.status_code == 302 and "q=" not in response.headers["Location"]
    return client.get(response.headers["Location"])


def _events(db_session, action):
    return db_session.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def _names(html):
    return re.findall(r'<a href="/students/[0-9a-f-]{36}">([^<]*)</a>', html)


def _as_counselor(client, factory, *schools):
    counselor = factory.counselor(*schools)
    login(client, counselor.username, factory.PASSWORD)
    return counselor


def test_counselor_lists_only_students_of_their_schools(client, factory):
    mine, theirs = factory.school(), factory.school()
    factory.student(school=mine, name="本校学生")
    factory.student(school=theirs, name="外校学生")
    _as_counselor(client, factory, mine)
    html = client.get("/students").get_data(as_text=True)
    assert _names(html) == ["本校学生"]


def test_district_officer_and_admin_get_403_on_the_list(app, factory):
    for role in ("district", "admin", "head_teacher"):
        client = app.test_client()
        login(client, factory.user(role).username, factory.PASSWORD)
        assert client.get("/students").status_code == 403
        assert client.get("/students/new").status_code == 403


def test_anonymous_visitor_is_sent_to_login(client):
    response = client.get("/students")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_filters_by_grade_class_care_group_and_status(client, factory):
    school = factory.school()
    g7 = factory.klass(school, grade=7)
    g8 = factory.klass(school, grade=8)
    factory.student(klass=g7, name="七年级留守", groups=["left_behind"])
    factory.student(klass=g7, name="七年级随迁", groups=["migrant"])
    factory.student(klass=g8, name="八年级学生")
    factory.student(klass=g8, name="已毕业学生", status="graduated")
    _as_counselor(client, factory, school)
    get = lambda qs: sorted(_names(client.get(f"/students?{qs}").get_data(as_text=True)))  # noqa: E731
    assert get("grade=7") == ["七年级留守", "七年级随迁"]
    assert get(f"class={g8.id}") == ["八年级学生"]  # enrolled students unless asked otherwise
    assert get(f"class={g8.id}&status=all") == ["八年级学生", "已毕业学生"]
    assert get("group=left_behind") == ["七年级留守"]
    assert get("status=graduated") == ["已毕业学生"]
    assert get("grade=7&group=migrant") == ["七年级随迁"]


def test_filters_outside_the_users_scope_are_ignored(client, factory):
    mine, theirs = factory.school(), factory.school()
    factory.student(school=mine, name="本校学生")
    other_class = factory.klass(theirs)
    factory.student(klass=other_class, name="外校学生")
    _as_counselor(client, factory, mine)
    html = client.get(f"/students?school={theirs.id}&class={other_class.id}").get_data(as_text=True)
    assert _names(html) == ["本校学生"]


def test_list_pages_by_fifty(client, factory):
    school = factory.school()
    klass = factory.klass(school)
    for i in range(53):
        factory.student(klass=klass, name=f"学生{i:02d}号")
    _as_counselor(client, factory, school)
    first = client.get("/students").get_data(as_text=True)
    second = client.get("/students?page=2").get_data(as_text=True)
    assert len(_names(first)) == 50 and len(_names(second)) == 3
    assert not set(_names(first)) & set(_names(second))
    assert "共 53 名学生" in first


def test_one_audit_event_per_list_page_and_it_names_no_student(client, factory, db_session):
    school = factory.school()
    for _ in range(4):
        factory.student(school=school, name="保密姓名")
    _as_counselor(client, factory, school)
    before = _events(db_session, "roster.list")
    _search(client, "")
    assert _events(db_session, "roster.list") == before + 1
    event_ = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "roster.list").order_by(AuditEvent.seq.desc())
    ).first()
    assert '"count": 4' in event_.detail and "保密姓名" not in event_.detail


def test_list_page_query_count_does_not_grow_with_the_number_of_students(app, factory, engine):
    def queries_for(n_students):
        school = factory.school()
        klass = factory.klass(school)
        for _ in range(n_students):
            factory.student(school=school, klass=klass, groups=["left_behind", "boarding"])
        client = app.test_client()
        _as_counselor(client, factory, school)
        statements = []

        def count(conn, cursor, statement, *args):
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            assert client.get("/students").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return statements

    few, many = queries_for(2), queries_for(30)
    # (16: the page's reads, then its access-audit event written in its own short transaction)
    assert len(few) == len(many) <= 16
    # The students themselves come from one query (plus one count for the pager); keys and care groups in one each.
    assert sum("FROM students" in s and "count(*)" not in s for s in many) == 1
    assert sum("FROM data_keys" in s for s in many) == 1
    assert sum("FROM student_care_groups" in s for s in many) == 1


def test_empty_list_says_what_to_do(client, factory):
    _as_counselor(client, factory, factory.school())
    html = client.get("/students").get_data(as_text=True)
    assert "还没有在读学生" in html and "/students/new" in html and "status=all" in html


# -- exact search ------------------------------------------------------------------------------------------------
def test_search_by_name_finds_the_exact_name_first_then_partial_matches(client, factory):
    school = factory.school()
    factory.student(school=school, name="张小红红")
    factory.student(school=school, name="张小红")
    _as_counselor(client, factory, school)
    assert _names(_search(client, "张小红").get_data(as_text=True)) == ["张小红", "张小红红"]
    html = _search(client, "李小")
    assert _names(html.get_data(as_text=True)) == []
    assert "没有找到与该姓名、拼音或学籍号相符的学生" in html.get_data(as_text=True)


def test_search_by_student_number_with_full_width_digits_and_spaces(client, factory):
    school = factory.school()
    factory.student(school=school, name="赵六", number="G3101234567")
    _as_counselor(client, factory, school)
    for q in ("G3101234567", "g3101234567", " G310 123 4567 ", "Ｇ３１０１２３４５６７", "Ｇ３１０　１２３４５６７"):
        assert _names(_search(client, q).get_data(as_text=True)) == ["赵六"], q


def test_search_by_name_with_spaces_inside(client, factory):
    school = factory.school()
    factory.student(school=school, name="欧阳明")
    _as_counselor(client, factory, school)
    assert _names(_search(client, "欧阳 明").get_data(as_text=True)) == ["欧阳明"]


def test_search_drops_blind_index_false_positives(client, factory, db_session):
    school = factory.school()
    real = factory.student(school=school, name="孙悟空")
    impostor = factory.student(school=school, name="猪八戒")
    impostor.name_bidx = real.name_bidx  # a forced collision of the truncated digest
    db_session.flush()
    _as_counselor(client, factory, school)
    assert _names(_search(client, "孙悟空").get_data(as_text=True)) == ["孙悟空"]


def test_search_finds_students_of_every_status(client, factory):
    school = factory.school()
    factory.student(school=school, name="毕业生甲", status="graduated")
    _as_counselor(client, factory, school)
    assert _names(client.get("/students").get_data(as_text=True)) == []
    assert _names(_search(client, "毕业生甲").get_data(as_text=True)) == ["毕业生甲"]


def test_search_does_not_reach_other_schools(client, factory):
    mine, theirs = factory.school(), factory.school()
    factory.student(school=theirs, name="同名同姓")
    _as_counselor(client, factory, mine)
    assert _names(_search(client, "同名同姓").get_data(as_text=True)) == []


def test_a_search_writes_one_audit_event_without_the_query(client, factory, db_session):
    school = factory.school()
    factory.student(school=school, name="周杰")
    _as_counselor(client, factory, school)
    before = _events(db_session, "roster.search")
    _search(client, "周杰")
    assert _events(db_session, "roster.search") == before + 1
    details = list(db_session.scalars(select(AuditEvent.detail)))
    assert not any("周杰" in d for d in details)


def test_search_by_number_drops_blind_index_false_positives(client, factory, db_session):
    school = factory.school()
    real = factory.student(school=school, name="真学生", number="G3108880001")
    impostor = factory.student(school=school, name="撞码学生", number="G3108880002")
    impostor.student_number_bidx = real.student_number_bidx
    db_session.flush()
    _as_counselor(client, factory, school)
    assert _names(_search(client, "G3108880001").get_data(as_text=True)) == ["真学生"]


def test_counselor_of_two_schools_filters_by_school_and_sees_the_school_column(client, factory):
    first, second = factory.school(name="第一学校"), factory.school(name="第二学校")
    factory.student(school=first, name="一校学生")
    factory.student(school=second, name="二校学生")
    _as_counselor(client, factory, first, second)
    html = client.get("/students").get_data(as_text=True)
    assert sorted(_names(html)) == ["一校学生", "二校学生"] and 'data-sort="school"' in html
    assert html.count('data-testid="school-cell"') == 2
    assert _names(client.get(f"/students?school={second.id}").get_data(as_text=True)) == ["二校学生"]


# -- sorting (app/listing.py, as on every other list) -------------------------------------------------------------
def _numbers(html):
    return re.findall(r'</a></td>\s*<td>([^<]*)</td>', html)


def test_sorts_by_name_both_ways_although_names_are_sealed(client, factory):
    school = factory.school()
    klass = factory.klass(school)
    for name in ("王五", "张三", "曾六", "李四"):  # created out of order: the roster order is not the name order
        factory.student(klass=klass, name=name)
    _as_counselor(client, factory, school)
    # pinyin order (li, wang, zeng, zhang), the surname 曾 read zeng; not the characters' code points
    assert _names(client.get("/students?sort=name").get_data(as_text=True)) == ["李四", "王五", "曾六", "张三"]
    assert _names(client.get("/students?sort=-name").get_data(as_text=True)) == ["张三", "曾六", "王五", "李四"]


def test_sorted_by_number_page_two_holds_the_rest_in_order(client, factory):
    school = factory.school()
    klass = factory.klass(school)
    numbers = [f"G31{(i * 37) % 100:08d}" for i in range(53)]  # distinct, created out of order
    for i, number in enumerate(numbers):
        factory.student(klass=klass, name=f"学生{i:02d}号", number=number)
    _as_counselor(client, factory, school)
    first = client.get("/students?sort=number").get_data(as_text=True)
    second = client.get("/students?sort=number&page=2").get_data(as_text=True)
    assert _numbers(first) + _numbers(second) == sorted(numbers)
    assert len(_numbers(second)) == 3
    back = client.get("/students?sort=-number&page=2").get_data(as_text=True)
    assert _numbers(back) == sorted(numbers)[:3][::-1]
    # the pager keeps the sort, the sort headers start again at page 1
    assert 'href="/students?sort=number&amp;page=2"' in first
    assert 'href="/students?sort=-number"' in first


def test_sorts_by_class_and_status_in_the_database(client, factory):
    school = factory.school()
    b, a = factory.klass(school, grade=8, name="八年级(2)班"), factory.klass(school, grade=7, name="七年级(1)班")
    c = factory.klass(school, grade=8, name="八年级(1)班")
    factory.student(klass=b, name="八二学生")
    factory.student(klass=a, name="七一学生")
    factory.student(klass=c, name="八一学生", status="graduated")
    _as_counselor(client, factory, school)
    get = lambda qs: _names(client.get(f"/students?status=all&{qs}").get_data(as_text=True))  # noqa: E731
    assert get("sort=class") == ["七一学生", "八一学生", "八二学生"]
    assert get("sort=-class") == ["八二学生", "八一学生", "七一学生"]
    assert get("sort=status")[-1] == "八一学生" and get("sort=-status")[0] == "八一学生"
    assert get("sort=bogus") == get("sort=class")  # an unknown key is the default, never an error


def test_sort_and_filters_together(client, factory):
    school = factory.school()
    g7, g8 = factory.klass(school, grade=7), factory.klass(school, grade=8)
    for name in ("乙七", "甲七"):
        factory.student(klass=g7, name=name)
    factory.student(klass=g8, name="丙八")
    _as_counselor(client, factory, school)
    assert _names(client.get("/students?grade=7&sort=-name").get_data(as_text=True)) == ["乙七", "甲七"]  # yi, jia
    assert _names(client.get(f"/students?class={g8.id}&sort=name").get_data(as_text=True)) == ["丙八"]
    html = client.get("/students?grade=7&sort=name").get_data(as_text=True)
    assert 'href="/students?grade=7&amp;sort=-name"' in html  # a header keeps the filters


def test_one_school_shows_no_school_column(client, factory):
    school = factory.school()
    factory.student(school=school, name="一校学生")
    _as_counselor(client, factory, school)
    html = client.get("/students").get_data(as_text=True)
    assert 'data-sort="school"' not in html and 'data-testid="school-cell"' not in html


def test_two_schools_sort_by_school(client, factory):
    first, second = factory.school(name="乙校"), factory.school(name="甲校")
    factory.student(school=second, name="甲校学生")
    factory.student(school=first, name="乙校学生")
    _as_counselor(client, factory, first, second)
    by_code = [n for _c, n in sorted([(first.code, "乙校学生"), (second.code, "甲校学生")])]
    assert _names(client.get("/students?sort=school").get_data(as_text=True)) == by_code
    assert _names(client.get("/students?sort=-school").get_data(as_text=True)) == by_code[::-1]


def test_sorting_by_name_opens_the_scope_to_sort_and_reveals_the_page_under_one_event(client, factory, db_session):
    school = factory.school()
    klass = factory.klass(school)
    for i in range(53):
        factory.student(klass=klass, name=f"学生{i:02d}号")
    _as_counselor(client, factory, school)

    def last_event():
        return db_session.scalars(
            select(AuditEvent).where(AuditEvent.action == "roster.list").order_by(AuditEvent.seq.desc())).first()

    before = _events(db_session, "roster.list")
    client.get("/students?sort=name&page=2")
    assert _events(db_session, "roster.list") == before + 1
    # the 53 names are opened in memory to sort them (as a search compares them), the page's 3 are revealed
    detail = last_event().detail
    assert '"count": 3' in detail and '"scanned": 53' in detail and '"to_sort": true' in detail
    client.get("/students?sort=-class&page=2")
    assert '"count": 3' in last_event().detail and "to_sort" not in last_event().detail


def test_search_results_come_best_first_and_can_be_sorted(client, factory):
    school = factory.school()
    factory.student(school=school, name="张小红红")
    factory.student(school=school, name="张小红")
    _as_counselor(client, factory, school)
    result = _search(client, "张小红")
    assert _names(result.get_data(as_text=True)) == ["张小红", "张小红红"]
    location = result.request.path + "?" + result.request.query_string.decode()
    assert _names(client.get(location + "&sort=-name").get_data(as_text=True)) == ["张小红红", "张小红"]
    # a search keeps the sort chosen before it
    response = post(client, "/students", {"q": "张小红", "sort": "-name"})
    assert "sort=-name" in response.headers["Location"]
    assert _names(client.get(response.headers["Location"]).get_data(as_text=True)) == ["张小红红", "张小红"]


def test_a_name_sort_runs_as_many_statements_for_30_students_as_for_3(app, factory, engine):
    def statements(n_students):
        school = factory.school()
        klass = factory.klass(school)
        for i in range(n_students):
            factory.student(school=school, klass=klass, name=f"学生{(i * 7) % 30:02d}")
        client = app.test_client()
        _as_counselor(client, factory, school)
        seen = []

        def count(conn, cursor, statement, *args):
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", count)
        try:
            html = client.get("/students?sort=-name").get_data(as_text=True)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert _names(html) == sorted(_names(html), reverse=True) and len(_names(html)) == n_students
        return seen

    few, many = statements(3), statements(30)
    assert len(few) == len(many)
    # the scope's sealed names with their keys in one join, then the page's students
    assert sum("JOIN data_keys" in s for s in many) == 1
    assert sum("FROM data_keys" in s for s in many) == 0
