"""The counselor's worklist: order, one line of why, scope, and a query count that does not grow."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from app.care import service, warning_lifecycle
from tests.conftest import login
from tests.integration.care_support import actor_vault, make_recheck, make_warning


def _today(app):  # type: ignore[no-untyped-def]
    with app.app_context():
        from app.ui import local_today

        return local_today()


def test_counselor_home_is_the_worklist_most_urgent_first(app, client, factory, db_session, keyring):
    today = _today(app)
    school = factory.school()
    klass = factory.klass(school, name="八年级(2)班")
    counselor = factory.counselor(school)
    crisis = factory.student(klass=klass, name="危机生")
    late = factory.student(klass=klass, name="逾期生")
    soon = factory.student(klass=klass, name="本周生")
    make_warning(db_session, crisis, "L1", reason="PHQ-A 危机项目阳性")
    make_warning(db_session, late, "L2", due=today - timedelta(days=2), reason="筛查阳性，且为关爱对象（留守儿童）")
    make_recheck(db_session, soon, due=today + timedelta(days=3))
    login(client, counselor.username)
    assert client.get("/").headers["Location"].endswith("/care/worklist")
    html = client.get("/care/worklist").get_data(as_text=True)
    positions = [
        html.index(s)
        for s in (
            'data-testid="worklist-crisis"',
            "危机生",
            'data-testid="worklist-overdue"',
            "逾期生",
            'data-testid="worklist-week"',
            "本周生",
        )
    ]
    assert positions == sorted(positions)
    assert "筛查阳性，且为关爱对象（留守儿童）" in html and "八年级(2)班" in html
    assert f"/students/{crisis.public_id}" in html
    assert "（PHQ-A）" in html and "phqa" not in html  # the instrument by its display name


def test_the_worklist_shows_only_the_counselors_schools(client, factory, db_session):
    mine, other = factory.school(), factory.school()
    counselor = factory.counselor(mine)
    make_warning(db_session, factory.student(school=other, name="别校生"), "L1")
    login(client, counselor.username)
    html = client.get("/care/worklist").get_data(as_text=True)
    assert "别校生" not in html and "本周没有待办事项" in html


def test_worklist_refuses_other_roles(app, factory):
    for role in ("head_teacher", "district", "admin"):
        c = app.test_client()
        login(c, factory.user(role).username)
        assert c.get("/care/worklist").status_code == 403


def _populate(factory, db_session, keyring, school, counselor, n, today):  # type: ignore[no-untyped-def]
    actor, vault = actor_vault(db_session, keyring, counselor)
    klass = factory.klass(school)
    for i in range(n):
        s = factory.student(klass=klass, groups=["migrant"] if i % 2 else [])
        make_warning(db_session, s, "L1" if i % 3 == 0 else "L2", due=today - timedelta(days=i % 4))
        make_recheck(db_session, s, due=today + timedelta(days=i % 5))
        case = warning_lifecycle.confirm_level(
            db_session, actor, vault, make_warning(db_session, s, "L3"), "L3", "确认"
        )
        service.update_plan(db_session, actor, vault, case, {"goals": "g"}, today + timedelta(days=i % 3))
        teacher_actor = actor.__class__(None, "ht", "head_teacher")
        service.add_entry(db_session, teacher_actor, vault, s, "observation", today, "观察")


def test_the_worklist_runs_the_same_number_of_queries_for_many_students(app, factory, db_session, keyring):
    today = _today(app)
    school = factory.school()
    counselor = factory.counselor(school)
    login_client = app.test_client()
    login(login_client, counselor.username)
    engine = app.extensions["xinmiao_engine"]

    def count_queries() -> int:
        seen = []

        def listener(*args):  # type: ignore[no-untyped-def]
            seen.append(args[2])

        event.listen(engine, "before_cursor_execute", listener)
        try:
            assert login_client.get("/care/worklist").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    _populate(factory, db_session, keyring, school, counselor, 3, today)
    small = count_queries()
    _populate(factory, db_session, keyring, school, counselor, 30, today)
    large = count_queries()
    assert large == small, f"{small} queries for 3 students, {large} for 33"
    assert small <= 30


def test_the_care_pages_render_in_english_too(app, factory, db_session):
    school = factory.school()
    klass = factory.klass(school)
    student = factory.student(klass=klass, name="English生", groups=["migrant"])
    make_warning(db_session, student, "L1")
    for user, url, text in ((factory.counselor(school), "/care/worklist",
                             "Level 1 warnings and urgent requests to talk, not yet acknowledged"),
                            (factory.head_teacher(klass), "/care/class", "Care-group student")):
        c = app.test_client()
        login(c, user.username)
        from tests.conftest import post

        post(c, "/lang", {"lang": "en", "next": url})
        html = c.get(url).get_data(as_text=True)
        assert text in html and "English生" in html


def test_a_long_section_lists_its_most_urgent_rows_with_a_link_to_show_all_under_one_audit_event(
    app, factory, db_session
):
    from sqlalchemy import func, select

    from app.care.views import WORKLIST_ROWS
    from models.audit import AuditEvent

    today = _today(app)
    school = factory.school()
    klass = factory.klass(school)
    counselor = factory.counselor(school)
    n = WORKLIST_ROWS + 5
    for i in range(n):  # student i is i+1 days late: the most urgent are the latest
        make_warning(
            db_session, factory.student(klass=klass, name=f"逾期{i:02d}"), "L2", due=today - timedelta(days=i + 1)
        )
    login(client := app.test_client(), counselor.username)

    def events() -> int:
        return db_session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "care.worklist")
        )

    before = events()
    html = client.get("/care/worklist").get_data(as_text=True)
    assert events() == before + 1
    listed = [i for i in range(n) if f"逾期{i:02d}" in html]
    assert listed == list(range(n - WORKLIST_ROWS, n))  # the longest overdue (earliest due date) first
    assert f"显示全部 ({n})" in html and "/care/worklist?show=overdue#worklist-overdue" in html
    assert f"({n})" in html  # the heading counts the whole section

    html = client.get("/care/worklist?show=overdue").get_data(as_text=True)
    assert events() == before + 2
    assert all(f"逾期{i:02d}" in html for i in range(n))
    assert "显示全部" not in html and f"只显示最紧急的 {WORKLIST_ROWS} 项" in html
    assert client.get("/care/worklist?show=nonsense").status_code == 200
