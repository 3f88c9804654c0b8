"""Finding a student the way Chinese staff search (issue 16): any part of the name, full pinyin, initials, the
start of the student number; within the user's scope only; audited without the query."""
from __future__ import annotations

import re

from sqlalchemy import select

from app.roster import service
from app.roster.search import char_tokens, pinyin_matches, rank
from models import Actor, AuditEvent
from models.vault import Vault
from tests.conftest import login, post


def _search(client, q):  # type: ignore[no-untyped-def]
    response = post(client, "/students", {"q": q})
    assert response.status_code == 302 and "q=" not in response.headers["Location"]
    return client.get(response.headers["Location"]).get_data(as_text=True)


def _names(html):  # type: ignore[no-untyped-def]
    return re.findall(r'<a href="/students/[0-9a-f-]{36}">([^<]*)</a>', html)


def _world(client, factory):  # type: ignore[no-untyped-def]
    mine, theirs = factory.school(), factory.school()
    factory.student(school=mine, name="黄晨曦", number="G3101110001")
    factory.student(school=mine, name="王小明", number="G3102220002")
    factory.student(school=mine, name="曾单", number="G3103330003")
    factory.student(school=theirs, name="黄晨", number="G3101110009")  # another school's 黄晨: never found
    counselor = factory.counselor(mine)
    login(client, counselor.username, factory.PASSWORD)
    return mine, theirs


def test_partial_name_finds_any_part(client, factory):
    _world(client, factory)
    assert _names(_search(client, "黄晨")) == ["黄晨曦"]
    assert _names(_search(client, "晨曦")) == ["黄晨曦"]
    assert _names(_search(client, "小")) == ["王小明"]


def test_full_pinyin_initials_and_a_mix(client, factory):
    _world(client, factory)
    for q in ("huangchen", "HuangChen", "huang chen", "hc", "hcx", "huangc", "chenxi", "ｈｃ"):
        assert _names(_search(client, q)) == ["黄晨曦"], q
    assert _names(_search(client, "wxm")) == ["王小明"]


def test_polyphonic_surnames_match_every_reading(client, factory):
    _world(client, factory)
    for q in ("zengshan", "cengdan", "zs", "zengchan"):
        assert _names(_search(client, q)) == ["曾单"], q


def test_student_number_prefix(client, factory):
    _world(client, factory)
    assert _names(_search(client, "G310111")) == ["黄晨曦"]
    assert _names(_search(client, "ｇ３１０２")) == ["王小明"]
    assert sorted(_names(_search(client, "G310"))) == ["曾单", "王小明", "黄晨曦"]
    assert _names(_search(client, "3101110001")) == []  # a prefix, not any part of the number


def test_nothing_out_of_scope(client, factory):
    _world(client, factory)
    html = _search(client, "G3101110009")
    assert _names(html) == [] and "没有找到与该姓名、拼音或学籍号相符的学生" in html
    assert "黄晨" not in _names(_search(client, "huangchen"))


def test_exact_match_ranks_first(client, factory):
    school = factory.school()
    factory.student(school=school, name="张小红红")
    factory.student(school=school, name="李张小红")
    factory.student(school=school, name="张小红")
    counselor = factory.counselor(school)
    login(client, counselor.username, factory.PASSWORD)
    assert _names(_search(client, "张小红")) == ["张小红", "张小红红", "李张小红"]


def test_the_head_teachers_scope_is_their_class(factory, db_session, keyring):
    school = factory.school()
    theirs, other = factory.klass(school), factory.klass(school)
    factory.student(klass=theirs, name="黄晨曦")
    factory.student(klass=other, name="黄晨阳")
    teacher = factory.head_teacher(theirs)
    vault = Vault(db_session, keyring, Actor.for_user(teacher))
    page = service.list_students(db_session, vault, teacher, service.StudentFilters(q="hc"))
    assert [r.identity.name for r in page.rows] == ["黄晨曦"]


def test_a_search_is_audited_with_counts_never_the_query(client, factory, db_session):
    _world(client, factory)
    _search(client, "huangchen")
    event = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "roster.search").order_by(AuditEvent.seq.desc())
    ).first()
    assert event is not None
    assert '"matches": 1' in event.detail and '"scanned": 3' in event.detail and '"count": 1' in event.detail
    details = " ".join(db_session.scalars(select(AuditEvent.detail)))
    assert "huangchen" not in details and "黄晨" not in details


def test_erased_students_are_skipped(client, factory, db_session):
    from models.vault import destroy_data_key

    school = factory.school()
    gone = factory.student(school=school, name="黄晨曦")
    factory.student(school=school, name="黄晨阳")
    destroy_data_key(db_session, gone)
    db_session.flush()
    counselor = factory.counselor(school)
    login(client, counselor.username, factory.PASSWORD)
    assert _names(_search(client, "hc")) == ["黄晨阳"]


def test_paper_entry_search_is_partial_and_pinyin_too(client, factory):
    _world(client, factory)
    response = post(client, "/screenings/enter", {"q": "hcx"})
    html = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "黄晨曦" in html and "黄晨<" not in html


# -- the matcher alone --------------------------------------------------------------------------------------------
def test_char_tokens_give_every_reading_and_initials():
    readings, initials, _f = char_tokens("曾")
    assert set(readings) >= {"zeng", "ceng"} and {"z", "c"} <= initials
    readings, initials, _f = char_tokens("张")
    assert "zhang" in readings and {"z", "zh"} <= initials
    assert "lv" in char_tokens("绿")[0] and "lu" in char_tokens("绿")[0]
    assert char_tokens("A")[:2] == (("A",), frozenset({"A"}))


def test_pinyin_matches_runs_of_consecutive_characters():
    assert pinyin_matches("黄晨曦", "chenxi")
    assert pinyin_matches("张伟", "zhw")
    assert not pinyin_matches("黄晨曦", "huangxi")  # not consecutive
    assert not pinyin_matches("黄晨曦", "chenxi", at_start=True)
    assert rank("黄晨曦", "G1", "huangchenxi") == 1 and rank("黄晨曦", "G1", "xi") == 2
    assert rank("黄晨曦", "G1", "q") is None


def test_a_search_reads_the_scope_and_its_keys_in_one_statement_whatever_its_size(app, factory):
    from sqlalchemy import event

    def statements_for(n):  # type: ignore[no-untyped-def]
        school = factory.school()
        for i in range(n):
            factory.student(school=school, name=f"黄晨{i:02d}" if i % 2 else f"王明{i:02d}")
        client = app.test_client()
        login(client, factory.counselor(school).username, factory.PASSWORD)
        location = post(client, "/students", {"q": "hc"}).headers["Location"]
        engine = app.extensions["xinmiao_engine"]
        seen: list[str] = []

        def listener(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
            seen.append(statement)

        event.listen(engine, "before_cursor_execute", listener)
        try:
            html = client.get(location).get_data(as_text=True)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        assert len(_names(html)) == n // 2
        return seen

    few, many = statements_for(4), statements_for(40)
    assert len(few) == len(many)
    # the scope's sealed names come with their wrapped keys (one join); no separate query of the keys
    assert sum("FROM data_keys" in s for s in many) == 0
    assert sum("JOIN data_keys" in s for s in many) == 1
