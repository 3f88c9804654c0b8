"""The interview queue runs the same number of SQL statements for 3 and for 30 warnings (no query per row): the
warnings, their students, schools and classes come in a fixed number of queries, whatever the sort."""
from __future__ import annotations

from sqlalchemy import event

from tests.conftest import login
from tests.integration.care_support import make_warning


def _populate(factory, db_session, school, n):  # type: ignore[no-untyped-def]
    for i in range(n):
        klass = factory.klass(school, grade=7 + i % 3)  # a class each: a per-row class load would show
        make_warning(db_session, factory.student(klass=klass), ("L1", "L2", "L3")[i % 3])
    db_session.flush()
    db_session.expunge_all()  # the page must load what it shows, not find it in this session


def _statements(app, counselor, url):  # type: ignore[no-untyped-def]
    client = app.test_client()
    login(client, counselor.username)
    engine = app.extensions["xinmiao_engine"]
    seen: list[str] = []

    def listener(conn, cursor, statement, *args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert response.status_code == 200
    return seen


def test_the_interview_queue_runs_as_many_statements_for_30_rows_as_for_3(app, factory, db_session):
    first, second = factory.school(), factory.school()
    counselor_few = factory.counselor(first, factory.school())
    counselor_many = factory.counselor(second, factory.school())
    _populate(factory, db_session, first, 3)
    _populate(factory, db_session, second, 30)
    for url in ("/interviews", "/interviews?sort=name", "/interviews?sort=-class", "/interviews?sort=school"):
        few = _statements(app, counselor_few, url)
        many = _statements(app, counselor_many, url)
        assert len(few) == len(many), (url, len(few), len(many))
        assert sum("FROM students" in s for s in many) <= 1, url
