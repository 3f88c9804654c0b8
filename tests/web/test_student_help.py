"""Issue 22 (ux22a): the name-free display data, the same finish page for every student, the counselor's contact,
and the help channel (我想找老师聊聊): identity, limits per student and per school, scope, escaping, the head
teacher's path, the worklist tier, the alert and its re-alert, audit."""
from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import func, select

from app.care import help_requests
from models import AuditEvent, HelpRequest, Notification, Student, utcnow
from tests.conftest import login, post
from tests.screenings_fixtures import GAD7_CALM, PHQA_CALM, PHQA_CRISIS, answers_form, build

CSRF = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+(")|(data-csrf=")[^"]+(")')


def _normalised(page: str) -> str:
    return CSRF.sub(lambda m: "".join(g for g in m.groups() if g), page)


def _finish(client, setup, i, phqa):
    post(client, "/s", {"code": setup.session.code, "student_number": setup.numbers[i], "entry_code": setup.code(i)})
    post(client, "/s/q", answers_form(phqa, "phqa"))
    post(client, "/s/q", answers_form(GAD7_CALM, "gad7"))
    r = client.get("/s/done")
    assert r.status_code == 200
    return r.get_data(as_text=True)


def test_the_display_data_has_counts_and_time_only(client, factory, db_session):
    setup = build(factory, db_session)
    login(client, setup.counselor.username)
    data = client.get(f"/sessions/{setup.session.id}/display.json").get_json()
    assert set(data) == {"open", "polling", "seconds_left", "counts"}
    assert set(data["counts"]) == {"completed", "in_progress", "not_started"} and data["counts"]["not_started"] == 3
    page = client.get(f"/sessions/{setup.session.id}/display").get_data(as_text=True)
    assert setup.session.code in page and "学生" not in page.replace("学生入口", "")


def test_the_finish_page_is_the_same_after_a_crisis_answer_and_a_calm_one(app, factory, db_session):
    setup = build(factory, db_session)
    counselor = app.test_client()
    login(counselor, setup.counselor.username)
    r = post(counselor, f"/care/schools/{setup.school.id}/contact",
             {"name": "王老师", "room": "心理辅导室（三楼 305）", "hours": "周一至周五 12:00–13:00"})
    assert r.status_code == 302
    db_session.refresh(setup.school)
    assert setup.school.counselor_room == "心理辅导室（三楼 305）"
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "school.counselor_contact_changed")) == 1
    crisis_page = _finish(app.test_client(), setup, 0, PHQA_CRISIS)
    calm_page = _finish(app.test_client(), setup, 1, PHQA_CALM)
    assert _normalised(crisis_page) == _normalised(calm_page)
    for text in ("王老师", "三楼 305", "12:00–13:00", "12356", "12355", "962525", "110", "120"):
        assert text in calm_page, text
    assert 'data-testid="ask-to-talk"' in calm_page


def test_another_schools_counselor_cannot_edit_the_contact(client, factory, db_session):
    setup = build(factory, db_session)
    other = factory.counselor(factory.school())
    login(client, other.username)
    assert client.get(f"/care/schools/{setup.school.id}/contact").status_code == 404
    assert post(client, f"/care/schools/{setup.school.id}/contact", {"name": "x"}).status_code == 404


def _ask(client, setup, i=0, urgency="urgent", message="", birth=None, number=None):
    return post(client, "/s/help", {"school": setup.school.code, "student_number": number or setup.numbers[i],
                                    "birth_month": birth or f"2013-0{i + 1}", "urgency": urgency,
                                    "message": message})


def test_an_urgent_request_reaches_the_worklist_as_a_crisis_with_an_alert_sealed_and_escaped(
    app, client, factory, db_session
):
    setup = build(factory, db_session)
    r = _ask(client, setup, message="<script>alert(1)</script>我很难受")
    assert r.status_code == 302 and r.headers["Location"].endswith("/s/help/sent")
    sent = client.get("/s/help/sent").get_data(as_text=True)
    assert 'data-testid="help-sent"' in sent and "12356" in sent
    req = db_session.scalars(select(HelpRequest)).one()
    assert req.urgency == "urgent" and req.raised_by == "student" and req.student_id == setup.students[0].id
    assert b"script" not in (req.message_enc or b"") and "难受".encode() not in (req.message_enc or b"")
    note = db_session.scalars(select(Notification).where(Notification.user_id == setup.counselor.id)).one()
    assert note.kind == "help_urgent" and note.requires_ack and note.dedup_key == f"help:{req.uid}"
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "help.requested")).one()
    assert "难受" not in (event.detail or "")
    counselor = app.test_client()
    login(counselor, setup.counselor.username)
    work = counselor.get("/care/worklist").get_data(as_text=True)
    crisis = work[work.index('data-testid="worklist-crisis"'):]
    assert 'data-testid="help-urgent"' in crisis[:crisis.index("</section>")]
    file_page = counselor.get(f"/students/{setup.students[0].public_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;我很难受" in file_page and "<script>alert(1)" not in file_page
    r = post(counselor, f"/care/help/{req.uid}/acknowledge")
    assert r.status_code == 302
    db_session.refresh(req)
    assert req.acknowledged_at is not None and req.acknowledged_by_id == setup.counselor.id
    assert 'data-testid="help-urgent"' not in counselor.get("/care/worklist").get_data(as_text=True)


def test_the_confirmation_is_the_same_whatever_the_urgency(app, factory, db_session):
    setup = build(factory, db_session)
    pages = []
    for i, urgency in enumerate(("urgent", "whenever")):
        c = app.test_client()
        _ask(c, setup, i, urgency)
        pages.append(_normalised(c.get("/s/help/sent").get_data(as_text=True)))
    assert pages[0] == pages[1]
    tiers = dict(db_session.execute(select(HelpRequest.urgency, HelpRequest.student_id)).tuples().all())
    assert set(tiers) == {"urgent", "whenever"}


def test_a_calm_request_is_on_the_worklist_not_as_a_crisis(app, client, factory, db_session):
    setup = build(factory, db_session)
    _ask(client, setup, urgency="soon")
    counselor = app.test_client()
    login(counselor, setup.counselor.username)
    work = counselor.get("/care/worklist").get_data(as_text=True)
    assert 'data-testid="help-request"' in work and 'data-testid="help-urgent"' not in work
    assert db_session.scalars(select(Notification.kind)).one() == "help_request"


def test_wrong_birth_months_lock_that_student_number_not_the_client_address(app, factory, db_session):
    setup = build(factory, db_session)
    client = app.test_client()
    for _ in range(5):
        r = _ask(client, setup, birth="2001-01")
        assert r.status_code == 200 and 'data-testid="help-identity-error"' in r.get_data(as_text=True)
    assert _ask(client, setup).status_code == 429  # the right month now waits too: that number is locked
    assert _ask(client, setup, 1).status_code == 302  # another student from the same address is not
    assert db_session.scalar(select(func.count()).select_from(HelpRequest)) == 1


def test_the_school_limit_stops_a_sweep_of_numbers(app, factory, db_session):
    app.extensions["xinmiao_help_school_failures"].max_failures = 3
    setup = build(factory, db_session)
    client = app.test_client()
    for n in range(3):
        _ask(client, setup, number=f"NOPE{n}")
    assert _ask(client, setup).status_code == 429


def test_requests_are_limited_per_student_and_the_student_sees_the_same_confirmation(app, factory, db_session):
    setup = build(factory, db_session)
    for _ in range(5):
        c = app.test_client()
        assert _ask(c, setup, urgency="soon").headers["Location"].endswith("/s/help/sent")
    assert db_session.scalar(select(func.count()).select_from(HelpRequest)) == 3


def test_another_schools_counselor_never_sees_the_request(app, client, factory, db_session):
    setup = build(factory, db_session)
    _ask(client, setup)
    req = db_session.scalars(select(HelpRequest)).one()
    other = factory.counselor(factory.school())
    c = app.test_client()
    login(c, other.username)
    assert 'data-testid="help-' not in c.get("/care/worklist").get_data(as_text=True)
    assert post(c, f"/care/help/{req.uid}/acknowledge").status_code == 404
    assert db_session.scalar(select(func.count()).select_from(Notification)
                             .where(Notification.user_id == other.id)) == 0


def test_a_head_teacher_raises_a_request_for_a_student_of_their_class(app, factory, db_session):
    setup = build(factory, db_session)
    teacher = factory.head_teacher(setup.klass)
    c = app.test_client()
    login(c, teacher.username)
    page = c.get("/care/class").get_data(as_text=True)
    assert 'data-testid="help-request-form"' in page
    r = post(c, "/care/class/help-requests", {"student": setup.students[2].public_id, "urgency": "urgent",
                                               "message": "课间一直哭"})
    assert r.status_code == 302
    req = db_session.scalars(select(HelpRequest)).one()
    assert req.raised_by == "head_teacher" and req.raised_by_id == teacher.id
    assert db_session.scalars(select(Notification.kind).where(Notification.user_id == setup.counselor.id)).one() \
        == "help_urgent"
    outsider = factory.student(school=setup.school)  # another class of the school
    assert post(c, "/care/class/help-requests", {"student": outsider.public_id, "urgency": "soon"}).status_code == 404
    assert db_session.scalar(select(func.count()).select_from(HelpRequest)) == 1


def test_an_unacknowledged_urgent_request_is_re_alerted_once_per_window(factory, db_session, keyring):
    from models import Actor
    from models.vault import Vault

    setup = build(factory, db_session)
    student = db_session.get(Student, setup.students[0].id)
    req = help_requests.raise_request(db_session, Actor.system("test"), Vault(db_session, keyring,
                                      Actor.system("test")), student, "urgent", None)
    req.created_at = utcnow() - timedelta(hours=3)
    db_session.flush()
    assert help_requests.realert_help(db_session, utcnow(), 2)["help_realerts"] == 1
    assert help_requests.realert_help(db_session, utcnow(), 2)["help_realerts"] == 0
    kinds = db_session.scalars(select(Notification.kind).where(Notification.user_id == setup.counselor.id)).all()
    assert sorted(kinds) == ["help_realert", "help_urgent"]
