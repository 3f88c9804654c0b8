"""The counselor's student file page: scope, one audit event, identity, sections, escaping."""
from __future__ import annotations

from sqlalchemy import func, select

from models import AuditEvent
from tests.conftest import login


def _events(db_session, action=None):
    stmt = select(func.count()).select_from(AuditEvent)
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    return db_session.scalar(stmt)


def test_counselor_sees_identity_care_groups_and_guardians(client, factory):
    school = factory.school(name="东风小学")
    klass = factory.klass(school, grade=5, name="五年级(2)班")
    student = factory.student(
        klass=klass, name="王小明", number="G3101010101", gender="M", birth_ym="2015-03",
        groups=["left_behind"], guardians=[{"name": "王大山", "relation": "祖父", "phone": "13900001111"}],
    )
    counselor = factory.counselor(school)
    login(client, counselor.username, factory.PASSWORD)
    html = client.get(f"/students/{student.public_id}").get_data(as_text=True)
    for text in (
        "王小明",
        "G3101010101",
        "男",
        "2015-03",
        "五年级(2)班",
        "东风小学",
        "在读",
        "留守儿童",
        "王大山",
        "祖父",
        "13900001111",
    ):
        assert text in html


def test_opening_a_student_page_writes_exactly_one_audit_event(client, factory, db_session):
    school = factory.school()
    student = factory.student(school=school)
    counselor = factory.counselor(school)
    login(client, counselor.username, factory.PASSWORD)
    before = _events(db_session)
    assert client.get(f"/students/{student.public_id}").status_code == 200
    assert _events(db_session) == before + 1
    event = db_session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert (event.action, event.student_public_id, event.actor) == (
        "student.view",
        student.public_id,
        counselor.username,
    )


def test_counselor_of_another_school_gets_404_by_url(client, factory, db_session):
    student = factory.student(school=factory.school())
    other = factory.counselor(factory.school())
    login(client, other.username, factory.PASSWORD)
    before = _events(db_session, "student.view")
    assert client.get(f"/students/{student.public_id}").status_code == 404
    assert client.get(f"/students/{student.public_id}/edit").status_code == 404
    assert _events(db_session, "student.view") == before


def test_head_teacher_of_the_class_gets_404_on_the_student_page(client, factory):
    student = factory.student()
    teacher = factory.head_teacher(student.school_class)
    login(client, teacher.username, factory.PASSWORD)
    assert client.get(f"/students/{student.public_id}").status_code == 404
    assert client.get(f"/students/{student.public_id}/edit").status_code == 403


def test_district_officer_and_admin_are_refused_the_student_page(app, factory):
    student = factory.student()
    for role in ("district", "admin"):
        client = app.test_client()
        login(client, factory.user(role).username, factory.PASSWORD)
        assert client.get(f"/students/{student.public_id}").status_code == 403


def test_unknown_public_id_is_404(client, factory):
    counselor = factory.counselor()
    login(client, counselor.username, factory.PASSWORD)
    assert client.get("/students/00000000-0000-0000-0000-000000000000").status_code == 404


def test_html_in_a_name_is_shown_as_text(client, factory):
    school = factory.school()
    student = factory.student(school=school, name="<script>alert(1)</script>",
                              guardians=[{"name": "<b>x</b>", "relation": "<i>", "phone": "13900001111"}])
    counselor = factory.counselor(school)
    login(client, counselor.username, factory.PASSWORD)
    html = client.get(f"/students/{student.public_id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html


def test_registered_file_sections_render_after_identity_with_the_same_reader(client, factory, db_session):
    from markupsafe import Markup

    from app.areas import WIRING_KEY, Area, FileSection, wiring

    seen = []

    def section(student, reader, user):
        seen.append(reader.name)
        return Markup('<section id="test-section">section for %s</section>') % reader.name

    app = client.application
    wired = wiring(app)
    app.extensions[WIRING_KEY] = wired.plus(Area("tests", file_sections=(FileSection(99, section),)))
    try:
        school = factory.school()
        student = factory.student(school=school, name="李四")
        counselor = factory.counselor(school)
        login(client, counselor.username, factory.PASSWORD)
        before = _events(db_session)
        html = client.get(f"/students/{student.public_id}").get_data(as_text=True)
    finally:
        app.extensions[WIRING_KEY] = wired
    assert seen == ["李四"]
    assert html.index("李四") < html.index('id="test-section"')
    assert _events(db_session) == before + 1


def test_an_erased_student_page_says_so_and_renders_no_sections(client, factory, db_session):
    from markupsafe import Markup

    from app.areas import WIRING_KEY, Area, FileSection, wiring
    from app.keys.service import erase_student
    from models import Actor

    school = factory.school()
    student = factory.student(school=school, name="将被删除")
    erase_student(db_session, Actor.system("tests"), student.public_id)
    calls = []
    app = client.application
    wired = wiring(app)
    app.extensions[WIRING_KEY] = wired.plus(
        Area("tests", file_sections=(FileSection(99, lambda *a: calls.append(a) or Markup("<p>x</p>")),)))
    try:
        login(client, factory.counselor(school).username, factory.PASSWORD)
        response = client.get(f"/students/{student.public_id}")
    finally:
        app.extensions[WIRING_KEY] = wired
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "身份信息已删除" in html and "将被删除" not in html
    assert calls == []
    assert client.get(f"/students/{student.public_id}/edit").status_code == 404
    assert "将被删除" not in client.get("/students").get_data(as_text=True)


def test_the_navigation_badge_is_counted_once_per_page_however_many_sections_it_renders(app, factory, db_session):
    from sqlalchemy import event

    from app.areas import wiring
    from tests.integration.rechecks_support import make_screening, make_warning

    school = factory.school()
    student = factory.student(school=school, name="徽章生")
    counselor = factory.counselor(school)
    make_warning(db_session, student, "L2", screening=make_screening(db_session, student, "phqa"))
    client = app.test_client()
    login(client, counselor.username, factory.PASSWORD)
    engine = app.extensions["xinmiao_engine"]
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        html = client.get(f"/students/{student.public_id}").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert "徽章生" in html
    with app.app_context():
        assert len(wiring(app).file_sections) >= 3  # several templates rendered in this one request
    badge = [s for s in seen if "FROM notifications" in s]
    assert len(badge) == 1, badge


def test_the_badge_on_the_page_counts_what_is_unread(app, factory, db_session):
    from models import Notification

    school = factory.school()
    student = factory.student(school=school)
    counselor = factory.counselor(school)
    for i in range(3):
        db_session.add(Notification(user_id=counselor.id, kind="recheck_due", dedup_key=f"badge:{i}",
                                    student_id=student.id, params="{}"))
    db_session.flush()
    client = app.test_client()
    login(client, counselor.username, factory.PASSWORD)
    html = client.get(f"/students/{student.public_id}").get_data(as_text=True)
    assert '<span class="count">3</span>' in html
