"""Separation of duties for clinical access (issue 15): an admin proposes a counselor's school or a head teacher's
class; only a second person (a district officer, or a counselor of that school) opens it; until then the user sees
nothing there; the school's counselors are told; every step is audited and on the review list."""
from __future__ import annotations

from sqlalchemy import select

from models import AccessGrant, AuditEvent, Notification, User
from tests.conftest import login, post

NAME = "授权前看不到的学生"


def _client(app, user, password=None):
    c = app.test_client()
    login(c, user.username, *(password,) if password else ())
    return c


def _new_counselor(admin_client, school, username="newcoun"):
    r = post(admin_client, "/admin/users/new", {
        "username": username, "display_name": "新心理老师", "email": "", "password": "long-enough-1",
        "role": "counselor", "schools": [str(school.id)], "active": "y", "full_time": "y",
    })
    assert r.status_code == 302, r.get_data(as_text=True)[-2000:]


def _grants(db_session, username):
    db_session.expire_all()
    return list(db_session.scalars(select(AccessGrant).join(User, User.id == AccessGrant.user_id)
                                   .where(User.username == username).order_by(AccessGrant.id)))


def _actions(db_session, username):
    return list(db_session.scalars(select(AuditEvent.action).where(AuditEvent.target == f"user:{username}")
                                   .order_by(AuditEvent.seq)))


def test_a_counselor_an_admin_creates_sees_nothing_until_a_district_officer_approves(app, factory, db_session):
    school = factory.school(name="授权学校")
    student = factory.student(school=school, name=NAME)
    existing = factory.counselor(school)
    admin = _client(app, factory.user("admin"))
    _new_counselor(admin, school)
    [grant] = _grants(db_session, "newcoun")
    assert grant.status == "pending" and grant.school_id == school.id
    newcomer = _client(app, db_session.scalars(select(User).where(User.username == "newcoun")).one(),
                       "long-enough-1")
    assert newcomer.get(f"/students/{student.public_id}").status_code == 404
    assert NAME not in newcomer.get("/students").get_data(as_text=True)
    # the school's counselor is told (no clinical content: the user and the school)
    note = db_session.scalars(select(Notification).where(Notification.user_id == existing.id,
                                                         Notification.kind == "access_proposed")).one()
    assert note.student_id is None and "新心理老师" in note.params
    # the admin cannot approve their own proposal (nor any: admins propose)
    assert post(admin, f"/admin/access-grants/{grant.uid}/approve").status_code == 403
    officer = _client(app, factory.user("district"))
    page = officer.get("/admin/access-grants").get_data(as_text=True)
    assert f'data-testid="grant-{grant.uid}"' in page and NAME not in page
    assert officer.post(f"/admin/access-grants/{grant.uid}/approve").status_code == 400  # CSRF
    assert post(officer, f"/admin/access-grants/{grant.uid}/approve").status_code == 302
    [grant] = _grants(db_session, "newcoun")
    assert grant.status == "approved" and grant.decided_as == officer_name(db_session)
    assert newcomer.get(f"/students/{student.public_id}").status_code == 200
    assert db_session.scalar(select(Notification.id).where(Notification.user_id == existing.id,
                                                           Notification.kind == "access_granted")) is not None
    actions = _actions(db_session, "newcoun")
    assert actions.index("access.proposed") < actions.index("access.granted")


def officer_name(db_session):
    return db_session.scalars(select(User.username).where(User.role == "district")).first()


def test_the_schools_counselor_may_approve_or_refuse_but_not_another_schools(app, factory, db_session):
    school = factory.school()
    existing = factory.counselor(school)
    admin = _client(app, factory.user("admin"))
    _new_counselor(admin, school, "second")
    [grant] = _grants(db_session, "second")
    stranger = _client(app, factory.counselor(factory.school()))
    assert post(stranger, f"/admin/access-grants/{grant.uid}/approve").status_code == 404
    assert f"grant-{grant.uid}" not in stranger.get("/admin/access-grants").get_data(as_text=True)
    mine = _client(app, existing)
    assert post(mine, f"/admin/access-grants/{grant.uid}/refuse", {"reason": ""}).status_code == 302
    assert _grants(db_session, "second")[0].status == "pending"  # a refusal needs a reason
    assert post(mine, f"/admin/access-grants/{grant.uid}/refuse", {"reason": "不是本校老师"}).status_code == 302
    [grant] = _grants(db_session, "second")
    assert grant.status == "refused" and grant.reason == "不是本校老师"
    assert db_session.scalars(select(User).where(User.username == "second")).one().schools == []
    assert "access.refused" in _actions(db_session, "second")


def test_a_head_teachers_class_takes_a_second_person_too(app, factory, db_session):
    klass = factory.klass()
    teacher = factory.user("head_teacher")
    admin = _client(app, factory.user("admin"))
    r = post(admin, f"/admin/users/{teacher.id}/access", {"role": "head_teacher", "classes": [str(klass.id)],
                                                         "active": "y"})
    assert r.status_code == 302
    [grant] = _grants(db_session, teacher.username)
    assert grant.status == "pending" and grant.class_id == klass.id
    db_session.refresh(teacher)
    assert teacher.classes == []
    officer = _client(app, factory.user("district"))
    post(officer, f"/admin/access-grants/{grant.uid}/approve")
    db_session.refresh(teacher)
    assert [c.id for c in teacher.classes] == [klass.id]


def test_removing_access_is_immediate_audited_listed_and_told(app, factory, db_session):
    school = factory.school()
    colleague = factory.counselor(school)
    leaving = factory.counselor(school, factory.school())
    other = [s for s in leaving.schools if s.id != school.id][0]
    admin = _client(app, factory.user("admin"))
    r = post(admin, f"/admin/users/{leaving.id}/access", {"role": "counselor", "schools": [str(other.id)],
                                                         "active": "y"})
    assert r.status_code == 302
    db_session.refresh(leaving)
    assert [s.id for s in leaving.schools] == [other.id]
    assert "access.revoked" in _actions(db_session, leaving.username)
    revoked = [g for g in _grants(db_session, leaving.username) if g.status == "revoked"]
    assert [g.school_id for g in revoked] == [school.id]
    page = admin.get("/admin/access-grants").get_data(as_text=True)
    assert f"grant-{revoked[0].uid}" in page
    assert db_session.scalar(select(Notification.id).where(Notification.user_id == colleague.id,
                                                           Notification.kind == "access_revoked")) is not None


def test_the_seed_and_the_factories_grant_through_the_mechanism_recorded_as_one_person(factory, db_session):
    school = factory.school()
    counselor = factory.counselor(school)
    [grant] = _grants(db_session, counselor.username)
    assert grant.status == "approved" and grant.proposed_as == grant.decided_as == "tests"
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access.granted",
                                                        AuditEvent.target == f"user:{counselor.username}")).one()
    assert '"same_person": true' in event.detail
