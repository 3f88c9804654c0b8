"""Issue 21, emergency access (break the glass): a counselor of another school of the district finds a student by
exact name or number (seeing only school, grade and file number), states a reason, proves themself again (the
TOTP code, or the password without a second factor) and reads that ONE student's file for EMERGENCY_ACCESS_HOURS;
the school's counselors, the admins and the district's reviewers are told; every page read is an
`emergency.read` event; a reviewer records a verdict. Wrong roles are refused on every route."""
from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from models import AuditEvent, EmergencyAccess, Notification
from tests.conftest import advance_clock, enrol, login, post, reread, totp_code

REASON = {"reason": "counselor_absent", "reason_text": "本校心理老师出差，学生情绪激动需立即处理"}


def _events(db_session, action: str) -> list[AuditEvent]:
    return list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def _grants(db_session) -> list[EmergencyAccess]:
    return list(db_session.scalars(select(EmergencyAccess).order_by(EmergencyAccess.id)))


class World:
    def __init__(self, factory):
        self.school_a = factory.school(name="甲小学")
        self.school_b = factory.school(name="乙中学")
        self.student = factory.student(self.school_a, name="陈小雨", number="G2026000001", grade=5)
        self.classmate = factory.student(self.school_a, name="陈小雪", grade=5)
        self.own_student = factory.student(self.school_b, name="陈小雨", grade=8)  # same name, requester's school
        self.home_counselor = factory.counselor(self.school_a)
        self.requester = factory.counselor(self.school_b)
        self.admin = factory.user("admin")
        self.reviewer = factory.user("district")


@pytest.fixture
def world(factory):
    return World(factory)


def _grant_by_password(client, world) -> object:
    return post(client, f"/emergency/students/{world.student.public_id}", {**REASON, "answer": "correct horse 1"})


def test_the_search_shows_school_grade_and_file_number_only_and_never_puts_the_name_in_a_url(app, world,
                                                                                              db_session):
    client = app.test_client()
    login(client, world.requester.username)
    response = post(client, "/emergency/search", {"q": "陈小雨"})
    assert response.status_code == 302
    location = response.headers["Location"]
    assert "陈" not in location and "%E9%99%88" not in location.upper() and "r=" in location
    page = client.get(location).get_data(as_text=True)
    assert f'data-testid="match-{world.student.public_id}"' in page
    assert "甲小学" in page and world.student.public_id[:8] in page
    assert "陈小雨" not in page.split('data-testid="emergency-matches"')[1]  # no name before access
    assert world.own_student.public_id not in page  # their own school's student: not an emergency
    assert world.classmate.public_id not in page  # not an exact match
    searched = _events(db_session, "emergency.search")
    assert [json.loads(e.detail) for e in searched] == [{"matches": 1}]
    assert "陈小雨" not in searched[0].detail


def test_access_needs_a_reason_and_the_second_factor_and_opens_only_that_student(two_factor_app, world,
                                                                                 db_session, moved_clock):
    client = two_factor_app.test_client()
    secret, _codes = enrol(client, world.requester.username)
    url = f"/emergency/students/{world.student.public_id}"
    assert client.get(f"/students/{world.student.public_id}").status_code == 404  # not theirs before
    page = client.get(url).get_data(as_text=True)
    assert 'name="answer"' in page and "陈小雨" not in page
    advance_clock(moved_clock)
    assert post(client, url, {**REASON, "answer": "000000"}).status_code == 200  # a wrong code
    assert post(client, url, {"reason": "", "reason_text": "", "answer": totp_code(secret)}).status_code == 200
    assert _grants(db_session) == []  # nothing granted
    failed = [json.loads(e.detail) for e in _events(db_session, "auth.reauth_failed")]
    assert failed[0]["purpose"] == "emergency_access" and failed[0]["factor"] == "totp"
    assert client.get(f"/students/{world.student.public_id}").status_code == 404

    response = post(client, url, {**REASON, "answer": totp_code(secret)})
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == f"/students/{world.student.public_id}"
    (grant,) = _grants(db_session)
    assert (grant.user_id, grant.student_id, grant.reason, grant.factor) == (
        world.requester.id, world.student.id, "counselor_absent", "totp")
    assert grant.expires_at - grant.granted_at == timedelta(hours=24)
    granted = _events(db_session, "emergency.granted")
    assert len(granted) == 1 and granted[0].target == f"emergency:{grant.uid}"

    file_page = client.get(f"/students/{world.student.public_id}")
    assert file_page.status_code == 200 and "陈小雨" in file_page.get_data(as_text=True)
    assert 'data-testid="emergency-banner"' in file_page.get_data(as_text=True)
    client.get(f"/students/{world.student.public_id}")
    reads = _events(db_session, "emergency.read")
    assert len(reads) == 2  # each page read its own event
    assert all(e.target == f"emergency:{grant.uid}" and e.student_public_id == world.student.public_id
               and json.loads(e.detail)["read"] == "student.view" and e.actor_id == world.requester.id
               for e in reads)
    assert not [e for e in _events(db_session, "student.view") if e.actor_id == world.requester.id]
    # only that student: a classmate of the same school stays out of reach
    assert client.get(f"/students/{world.classmate.public_id}").status_code == 404


def test_without_a_second_factor_the_password_confirms_it(app, world, db_session):
    client = app.test_client()
    login(client, world.requester.username)
    url = f"/emergency/students/{world.student.public_id}"
    page = client.get(url).get_data(as_text=True)
    assert "您的密码" in page and 'type="password"' in page.split('id="answer"')[1].split(">", 1)[0]
    assert post(client, url, {**REASON, "answer": "wrong password"}).status_code == 200
    assert _grants(db_session) == []
    assert _grant_by_password(client, world).status_code == 302
    assert [g.factor for g in _grants(db_session)] == ["password"]


def test_the_school_counselor_reads_as_usual_not_as_emergency(app, world, db_session):
    client = app.test_client()
    login(client, world.home_counselor.username)
    page = client.get(f"/students/{world.student.public_id}").get_data(as_text=True)
    assert 'data-testid="emergency-section"' not in page  # nothing to show yet
    requester = app.test_client()
    login(requester, world.requester.username)
    assert _grant_by_password(requester, world).status_code == 302
    page = client.get(f"/students/{world.student.public_id}").get_data(as_text=True)
    section = page.split('data-testid="emergency-section"')[1].split("</section>")[0]
    assert world.requester.display_name in section and 'data-testid="emergency-banner"' not in page
    assert _events(db_session, "emergency.read") == []
    assert client.get(f"/emergency/students/{world.student.public_id}").status_code == 404  # theirs already


def test_access_expires_on_time(app, world, db_session, moved_clock):
    client = app.test_client()
    login(client, world.requester.username)
    assert _grant_by_password(client, world).status_code == 302
    (grant,) = _grants(db_session)
    file_url = f"/students/{world.student.public_id}"
    moved_clock(grant.expires_at - timedelta(minutes=1))
    client = app.test_client()  # a new sign-in: the idle limit follows the moved clock too
    login(client, world.requester.username)
    assert client.get(file_url).status_code == 200
    moved_clock(grant.expires_at + timedelta(seconds=1))
    client = app.test_client()
    login(client, world.requester.username)
    assert client.get(file_url).status_code == 404
    page = client.get("/emergency/").get_data(as_text=True)
    assert f'href="{file_url}"' not in page  # listed as expired, with no link


def test_the_hours_come_from_the_setting(engine, keyring, connection, world, db_session):
    from tests.conftest import _session_on, make_test_app

    app = make_test_app(engine, keyring, lambda: _session_on(connection), EMERGENCY_ACCESS_HOURS=2)
    client = app.test_client()
    login(client, world.requester.username)
    assert _grant_by_password(client, world).status_code == 302
    (grant,) = _grants(db_session)
    assert grant.expires_at - grant.granted_at == timedelta(hours=2)


def test_the_school_counselor_the_admin_and_the_reviewer_are_told_without_the_name(app, world, db_session):
    client = app.test_client()
    login(client, world.requester.username)
    assert _grant_by_password(client, world).status_code == 302
    notes = {n.user_id: n for n in db_session.scalars(
        select(Notification).where(Notification.kind == "emergency_access"))}
    assert set(notes) == {world.home_counselor.id, world.admin.id, world.reviewer.id}
    assert notes[world.home_counselor.id].student_id == world.student.id  # theirs: linked to the file
    assert notes[world.admin.id].student_id is None and notes[world.reviewer.id].student_id is None
    for note in notes.values():
        assert "陈小雨" not in note.params and "学生情绪" not in note.params  # no name, no free text
    from app.notifications.mail import MAILED_KINDS, compose

    assert "emergency_access" in MAILED_KINDS  # mailed at once; the mail says only "N items"
    assert "陈小雨" not in compose("x@example.org", 1, {}).as_string()
    for user in (world.admin, world.reviewer):
        other = app.test_client()
        login(other, user.username)
        page = other.get("/notifications").get_data(as_text=True)
        assert "甲小学" in page and "/emergency/review" in page and "陈小雨" not in page
    home = app.test_client()
    login(home, world.home_counselor.username)
    page = home.get("/notifications").get_data(as_text=True)
    assert world.requester.display_name in page and f"/students/{world.student.public_id}" in page


def test_the_review_lists_what_was_read_and_records_a_verdict(app, world, db_session, factory):
    client = app.test_client()
    login(client, world.requester.username)
    assert _grant_by_password(client, world).status_code == 302
    client.get(f"/students/{world.student.public_id}")
    (grant,) = _grants(db_session)

    reviewer = app.test_client()
    login(reviewer, world.reviewer.username)
    page = reviewer.get("/emergency/review").get_data(as_text=True)
    card = page.split(f'data-testid="review-{grant.uid}"')[1].split("</section>")[0]
    assert world.requester.display_name in card and "本校心理老师出差" in card
    reads = card.split('data-testid="reads"')[1]
    assert reads.count("<li>") == 1 and ("学生档案" in reads or "Student file viewed" in reads)
    assert "陈小雨" not in page  # the reviewer sees no name
    url = f"/emergency/review/{grant.uid}"
    assert post(reviewer, url, {"verdict": "not_justified"}).status_code == 302  # a note is needed for "no"
    assert reread(db_session, grant).verdict is None
    assert post(reviewer, url, {"verdict": "justified", "note": "电话核实"}).status_code == 302
    grant = reread(db_session, grant)
    assert (grant.verdict, grant.verdict_note, grant.reviewed_by_id) == ("justified", "电话核实", world.reviewer.id)
    (event,) = _events(db_session, "emergency.reviewed")
    assert event.target == f"emergency:{grant.uid}" and json.loads(event.detail)["verdict"] == "justified"
    assert reviewer.post(url, data={"verdict": "justified"}).status_code == 400  # no CSRF token

    admin = app.test_client()
    login(admin, world.admin.username)
    assert f'data-testid="review-{grant.uid}"' in admin.get("/emergency/review").get_data(as_text=True)
    # a district officer of another district sees nothing of it
    from models import District

    elsewhere = District(code="D-other", name="别区")
    db_session.add(elsewhere)
    db_session.flush()
    stranger = factory.user("district")
    stranger.district_id = elsewhere.id
    db_session.flush()
    outsider = app.test_client()
    login(outsider, stranger.username)
    assert grant.uid not in outsider.get("/emergency/review").get_data(as_text=True)
    assert post(outsider, url, {"verdict": "not_justified", "note": "x"}).status_code == 404


def test_a_crisis_team_member_without_a_school_may_ask_once_an_admin_sets_the_flag(app, world, db_session, factory):
    member = factory.user("counselor")  # no school of their own
    client = app.test_client()
    login(client, member.username)
    assert 'data-testid="emergency-not-allowed"' in client.get("/emergency/").get_data(as_text=True)
    assert client.get(f"/emergency/students/{world.student.public_id}").status_code == 404
    admin = app.test_client()
    login(admin, world.admin.username)
    assert 'data-testid="crisis-team"' in admin.get(f"/admin/users/{member.id}/edit").get_data(as_text=True)
    assert post(admin, f"/emergency/crisis-team/{member.id}", {"on": "y"}).status_code == 302
    assert reread(db_session, member).crisis_team is True
    assert len(_events(db_session, "user.crisis_team_changed")) == 1
    login(client, member.username)
    assert client.get(f"/emergency/students/{world.student.public_id}").status_code == 200
    assert post(client, f"/emergency/students/{world.student.public_id}",
                {**REASON, "answer": "correct horse 1"}).status_code == 302
    assert client.get(f"/students/{world.student.public_id}").status_code == 200


@pytest.mark.parametrize("role", ["admin", "district", "head_teacher"])
def test_only_counselors_ask_for_emergency_access(app, world, factory, role):
    user = factory.head_teacher() if role == "head_teacher" else factory.user(role)
    client = app.test_client()
    login(client, user.username)
    pid = world.student.public_id
    assert client.get("/emergency/").status_code == 403
    assert post(client, "/emergency/search", {"q": "陈小雨"}).status_code == 403
    assert client.get(f"/emergency/students/{pid}").status_code == 403
    assert post(client, f"/emergency/students/{pid}", {**REASON, "answer": "correct horse 1"}).status_code == 403


@pytest.mark.parametrize("role", ["counselor", "head_teacher"])
def test_only_admins_and_district_officers_review(app, world, factory, db_session, role):
    requester = app.test_client()
    login(requester, world.requester.username)
    assert _grant_by_password(requester, world).status_code == 302
    (grant,) = _grants(db_session)
    user = factory.head_teacher() if role == "head_teacher" else world.home_counselor
    client = app.test_client()
    login(client, user.username)
    assert client.get("/emergency/review").status_code == 403
    assert post(client, f"/emergency/review/{grant.uid}", {"verdict": "justified"}).status_code == 403
    assert post(client, f"/emergency/crisis-team/{world.requester.id}", {"on": "y"}).status_code == 403
    assert reread(db_session, grant).verdict is None



def test_every_record_page_of_that_student_is_an_emergency_read_and_a_classmates_stays_closed(app, world,
                                                                                              db_session):
    from tests.integration.care_support import make_warning

    mine = make_warning(db_session, world.student, "L1")
    theirs = make_warning(db_session, world.classmate, "L1")
    client = app.test_client()
    login(client, world.requester.username)
    assert client.get(f"/warnings/{mine.uid}/confirm").status_code == 404  # before the grant
    assert _grant_by_password(client, world).status_code == 302
    (grant,) = _grants(db_session)
    assert client.get(f"/warnings/{mine.uid}/confirm").status_code == 200
    assert client.get(f"/warnings/{theirs.uid}/confirm").status_code == 404
    (read,) = _events(db_session, "emergency.read")
    assert read.target == f"emergency:{grant.uid}"
    assert json.loads(read.detail) == {"read": "warning.view", "target": f"warning:{mine.uid}"}


def test_wrong_codes_count_toward_the_lockout_and_end_the_session(two_factor_app, world, db_session, moved_clock):
    client = two_factor_app.test_client()
    enrol(client, world.requester.username)
    url = f"/emergency/students/{world.student.public_id}"
    for n in range(5):
        response = post(client, url, {**REASON, "answer": f"00000{n}"})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert _grants(db_session) == []
    assert len(_events(db_session, "auth.reauth_failed")) == 5
    assert len(_events(db_session, "auth.account_locked")) == 1
    assert client.get("/emergency/").status_code == 302  # signed out


def test_the_requester_ends_the_access_early_and_nobody_else_can(app, world, db_session, factory):
    client = app.test_client()
    login(client, world.requester.username)
    assert _grant_by_password(client, world).status_code == 302
    (grant,) = _grants(db_session)
    planned = grant.expires_at
    stranger = app.test_client()
    login(stranger, factory.counselor(world.school_b).username)
    assert post(stranger, f"/emergency/grants/{grant.uid}/end").status_code == 404  # not theirs
    assert reread(db_session, grant).expires_at == planned
    assert post(client, f"/emergency/grants/{grant.uid}/end").status_code == 302
    assert client.get(f"/students/{world.student.public_id}").status_code == 404
    (ended,) = _events(db_session, "emergency.ended")
    assert ended.target == f"emergency:{grant.uid}"
    assert json.loads(ended.detail)["planned_until"] == planned.isoformat()
    assert post(client, f"/emergency/grants/{grant.uid}/end").status_code == 302
    assert len(_events(db_session, "emergency.ended")) == 1  # once


def test_emergency_access_never_moves_the_file(app, world, db_session):
    client = app.test_client()
    login(client, world.requester.username)
    assert _grant_by_password(client, world).status_code == 302
    url = f"/care/students/{world.student.public_id}/transfer"
    assert client.get(url).status_code == 404
    to_class = world.own_student.school_class
    assert post(client, url, {"to_class": to_class.id}).status_code == 404
    assert reread(db_session, world.student).school_id == world.school_a.id
