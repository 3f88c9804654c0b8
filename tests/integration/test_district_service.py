"""The district statistics service is aggregate-only: the SQL it emits never names an identity column."""
import re
from datetime import date

from sqlalchemy import event

from app.district import service
from app.district.service import Selection
from tests.integration.district_world import TERM, build

FORBIDDEN = re.compile(r"\b\w*(_enc|_bidx)\b|\bpublic_id\b|\buid\b|\bdisplay_name\b|\busername\b", re.I)


def capture(db_session, fn):  # type: ignore[no-untyped-def]
    statements: list[str] = []
    engine = db_session.get_bind().engine

    def listener(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", listener)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]


def test_the_service_never_names_a_sealed_blind_index_or_public_id_column(db_session, factory):
    world = build(factory)
    db_session.expire_all()
    district_id = world.district_user.district_id

    def run():  # type: ignore[no-untyped-def]
        service.compute_figures(db_session, district_id, Selection(TERM, None), 5, date(2026, 10, 15))
        service.trends(db_session, district_id, 5, date(2026, 10, 15))
        service.staffing(db_session, district_id, 5)
        service.list_campaigns(db_session, district_id)

    statements = capture(db_session, run)
    assert len(statements) >= 8
    for sql in statements:
        assert not FORBIDDEN.search(sql), sql


def test_every_statement_is_an_aggregate_query(db_session, factory):
    world = build(factory)
    db_session.expire_all()
    district_id = world.district_user.district_id
    statements = capture(
        db_session,
        lambda: service.compute_figures(db_session, district_id, Selection(TERM, None), 5, date(2026, 10, 15)),
    )
    for sql in statements:
        upper = sql.upper()
        assert "GROUP BY" in upper or "COUNT(" in upper, sql


def test_student_ids_appear_only_inside_counts(db_session, factory):
    world = build(factory)
    db_session.expire_all()
    district_id = world.district_user.district_id
    statements = capture(
        db_session,
        lambda: service.compute_figures(db_session, district_id, Selection(TERM, None), 5, date(2026, 10, 15)),
    )
    for sql in statements:
        select_list = re.split(r"\bFROM\b", sql, maxsplit=1, flags=re.I)[0]
        # Outside COUNT(...) the select list names no student id column.
        outside = re.sub(r"count\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)", "", select_list, flags=re.I)
        assert "student_id" not in outside.lower(), sql
