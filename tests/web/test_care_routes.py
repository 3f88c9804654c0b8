"""Every care route: wrong roles get 403, records outside the user's scope 404, POSTs without CSRF 400."""
from __future__ import annotations

from datetime import date

import pytest

from app.care import service, warning_lifecycle
from tests.conftest import login, post
from tests.integration.care_support import actor_vault, make_warning


@pytest.fixture
def world(factory, db_session, keyring):  # type: ignore[no-untyped-def]
    school = factory.school()
    klass = factory.klass(school)
    counselor = factory.counselor(school)
    student = factory.student(klass=klass, groups=["left_behind"])
    actor, vault = actor_vault(db_session, keyring, counselor)
    case = warning_lifecycle.confirm_level(
        db_session, actor, vault, make_warning(db_session, student, "L2"), "L2", "确认"
    )
    referral = service.add_entry(db_session, actor, vault, student, "referral", date(2026, 11, 1), "原因", case=case,
                                 destination="中心")
    return {"school": school, "klass": klass, "counselor": counselor, "student": student, "case": case,
            "referral": referral, "teacher": factory.head_teacher(klass)}


def _routes(w):  # type: ignore[no-untyped-def]
    pid, case, ref = w["student"].public_id, w["case"].uid, w["referral"].uid
    return [
        # (method, url, roles allowed)
        ("GET", "/care/worklist", {"counselor"}),
        ("GET", "/care/class", {"head_teacher"}),
        ("GET", f"/care/class/students/{pid}", {"head_teacher"}),
        ("POST", "/care/class/observations", {"head_teacher"}),
        ("GET", f"/cases/{case}", {"counselor"}),
        ("POST", f"/entries/{ref}/referral", {"counselor"}),
        ("POST", f"/care/students/{pid}/observations-seen", {"counselor"}),
        ("GET", f"/care/referrals/{ref}/print", {"counselor"}),
        ("GET", f"/care/referrals/{ref}", {"counselor"}),
        ("POST", f"/care/referrals/{ref}/consent", {"counselor"}),
        ("GET", f"/care/referrals/{ref}/packet.pdf", {"counselor"}),
        ("POST", f"/care/referrals/{ref}/feedback", {"counselor"}),
        ("GET", "/care/groups", {"counselor", "head_teacher"}),
        ("GET", f"/care/groups/{pid}/checkin", {"counselor", "head_teacher"}),
        ("POST", f"/care/groups/{pid}/checkin", {"counselor", "head_teacher"}),
        ("GET", f"/care/students/{pid}/transfer", {"counselor", "admin"}),
        ("POST", f"/care/students/{pid}/transfer", {"counselor", "admin"}),
        ("GET", "/care/transfers", {"counselor", "district", "admin"}),
        ("GET", "/care/transfers/new", {"counselor"}),
        ("POST", "/care/transfers/new", {"counselor"}),
        ("POST", "/care/transfers/00000000-0000-4000-8000-000000000000/approve", {"counselor", "district", "admin"}),
        ("POST", "/care/transfers/00000000-0000-4000-8000-000000000000/refuse", {"counselor", "district", "admin"}),
        ("POST", "/care/transfers/00000000-0000-4000-8000-000000000000/cancel", {"counselor", "admin"}),
    ]


DATA = {"status": "feedback", "feedback": "x", "occurred_on": "2026-11-02", "note": "x", "kind": "observation",
        "to_class": "0"}


def test_wrong_roles_are_refused_every_care_route(app, factory, world):
    clients = {}
    for role in ("admin", "district", "counselor", "head_teacher"):
        clients[role] = app.test_client()
        login(clients[role], factory.user(role).username)
    for method, url, allowed in _routes(world):
        for role, c in clients.items():
            if role in allowed:
                continue
            response = c.get(url) if method == "GET" else post(c, url, dict(DATA, student=world["student"].public_id))
            assert response.status_code == 403, (method, url, role, response.status_code)


def test_records_of_another_school_answer_404(app, factory, world):
    stranger, other_teacher = app.test_client(), app.test_client()
    login(stranger, factory.counselor(factory.school()).username)
    login(other_teacher, factory.head_teacher(factory.klass(world["school"])).username)
    for method, url, allowed in _routes(world):
        if url in ("/care/worklist", "/care/class", "/care/groups", "/care/class/observations", "/care/transfers",
                   "/care/transfers/new"):
            continue
        c = stranger if "counselor" in allowed else other_teacher
        response = c.get(url) if method == "GET" else post(c, url, DATA)
        assert response.status_code == 404, (method, url, response.status_code)


def test_an_admin_transfers_by_id_without_seeing_the_name_and_only_in_their_district(app, factory, world, db_session):
    from models import District, User

    name = "管理员看不到的名字"
    from tests.factories import password_hash

    student = factory.student(klass=world["klass"], name=name)
    c = app.test_client()
    login(c, factory.user("admin").username)
    page = c.get(f"/care/students/{student.public_id}/transfer")
    assert page.status_code == 200 and name not in page.get_data(as_text=True)
    elsewhere = District(code="ELSEWHERE", name="外区")
    db_session.add(elsewhere)
    db_session.flush()
    outsider = User(
        username="admin-elsewhere",
        display_name="外区管理员",
        password_hash=password_hash(factory.PASSWORD),
        role="admin",
        active=True,
        district_id=elsewhere.id,
    )
    db_session.add(outsider)
    db_session.flush()
    o = app.test_client()
    login(o, outsider.username)
    assert o.get(f"/care/students/{student.public_id}/transfer").status_code == 404


def test_every_care_post_refuses_a_missing_csrf_token(app, world):
    for method, url, allowed in _routes(world):
        if method != "POST":
            continue
        user = world["counselor"] if "counselor" in allowed else world["teacher"]
        c = app.test_client()
        login(c, user.username)
        response = c.post(url, data=dict(DATA, student=world["student"].public_id))
        assert response.status_code == 400, (url, response.status_code)
