"""Transfers are requests (issue 15): the file moves only when the sending school approves; the receiving side
learns nothing of the student (not even which school holds the number) before that."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from models import AuditEvent, SchoolClass, TransferRequest
from tests.conftest import login, post
from tests.roster_import_corpus import csv_bytes, row

NUMBER = "G310151201401010001"
MESSAGE_ZH = "此学号属于其他学校的学生——请申请转学"


@pytest.fixture
def upload_dir(app, tmp_path):
    app.config["ROSTER_IMPORT_DIR"] = str(tmp_path / "uploads")
    return tmp_path / "uploads"


@pytest.fixture
def world(app, factory):
    here, there = factory.school(name="转入学校"), factory.school(name="秘密原学校")
    moving = factory.student(school=there, number=NUMBER, grade=7, name="秘密学生甲",
                             guardians=[{"name": "秘密家长", "relation": "母亲", "phone": "13900000042"}])
    receiver, sender = factory.counselor(here), factory.counselor(there)
    return {"here": here, "there": there, "student": moving, "receiver": receiver, "sender": sender}


def _client(app, user):
    c = app.test_client()
    login(c, user.username)
    return c


def _upload(client, school, data):
    return post(client, "/roster/import", {"school_id": str(school.id), "file": (io.BytesIO(data), "r.csv")},
                content_type="multipart/form-data")


def _actions(db_session, public_id):
    return [a for a in db_session.scalars(select(AuditEvent.action).where(
        AuditEvent.student_public_id == public_id).order_by(AuditEvent.seq))]


def _requests(db_session, student):
    return list(db_session.scalars(select(TransferRequest).where(TransferRequest.student_id == student.id)))


def test_the_import_preview_says_another_school_never_which_nor_anything_of_the_student(app, world, upload_dir):
    c = _client(app, world["receiver"])
    html = _upload(c, world["here"], csv_bytes([row(number=NUMBER)])).get_data(as_text=True)
    assert 'data-testid="count-transfers">1<' in html
    table = html[html.index('data-testid="import-transfers"'):]
    table = table[:table.index("</table>")]
    assert MESSAGE_ZH in table
    for secret in ("秘密原学校", world["there"].code, "秘密学生甲", "秘密家长", "13900000042"):
        assert secret not in html, secret


def test_confirming_an_import_requests_the_transfer_and_moves_nothing(app, world, db_session, upload_dir):
    student = world["student"]
    c = _client(app, world["receiver"])
    _upload(c, world["here"], csv_bytes([row(number=NUMBER)]))
    assert post(c, "/roster/import/confirm", {"apply_transfers": "y"}).status_code == 302
    db_session.refresh(student)
    assert student.school_id == world["there"].id
    [req] = _requests(db_session, student)
    assert (req.status, req.source, req.requested_by_id, req.to_school_id) == (
        "pending", "import", world["receiver"].id, world["here"].id)
    assert "transfer.requested" in _actions(db_session, student.public_id)
    assert c.get(f"/students/{student.public_id}").status_code == 404
    # the same file confirmed again asks once
    _upload(c, world["here"], csv_bytes([row(number=NUMBER)]))
    post(c, "/roster/import/confirm", {"apply_transfers": "y"})
    assert len(_requests(db_session, student)) == 1
    # the requesting side sees its request, but not the school asked nor the student
    page = c.get("/care/transfers").get_data(as_text=True)
    assert f'data-testid="asked-{req.uid}"' in page
    for secret in ("秘密原学校", "秘密学生甲"):
        assert secret not in page


def test_the_sending_counselor_approves_and_the_file_moves(app, world, db_session, upload_dir):
    student = world["student"]
    receiver = _client(app, world["receiver"])
    _upload(receiver, world["here"], csv_bytes([row(number=NUMBER)]))
    post(receiver, "/roster/import/confirm", {"apply_transfers": "y"})
    [req] = _requests(db_session, student)
    # the receiving side cannot approve its own request
    assert post(receiver, f"/care/transfers/{req.uid}/approve", {}).status_code == 403
    sender = _client(app, world["sender"])
    page = sender.get("/care/transfers").get_data(as_text=True)
    assert f'data-testid="to-decide-{req.uid}"' in page and "秘密学生甲" in page
    assert sender.post(f"/care/transfers/{req.uid}/approve", data={}).status_code == 400  # no CSRF token
    assert post(sender, f"/care/transfers/{req.uid}/approve", {"reason": "家长申请"}).status_code == 302
    db_session.refresh(student)
    db_session.refresh(req)
    assert student.school_id == world["here"].id and student.school_class.name == "七年级(3)班"
    assert (req.status, req.decided_by_id, req.reason) == ("approved", world["sender"].id, "家长申请")
    assert req.decided_at is not None
    actions = _actions(db_session, student.public_id)
    assert actions.index("transfer.requested") < actions.index("transfer.approved") < actions.index("transfer.in")
    assert receiver.get(f"/students/{student.public_id}").status_code == 200
    assert sender.get(f"/students/{student.public_id}").status_code == 404


def test_the_sending_counselor_refuses_with_a_reason_and_nothing_moves(app, world, db_session):
    student = world["student"]
    receiver = _client(app, world["receiver"])
    assert post(receiver, "/care/transfers/new", {"student_number": NUMBER.lower(),
                                                  "to_class": _class(world, db_session)}).status_code == 302
    [req] = _requests(db_session, student)
    assert req.source == "form"
    sender = _client(app, world["sender"])
    response = post(sender, f"/care/transfers/{req.uid}/refuse", {"reason": ""})
    db_session.refresh(req)
    assert response.status_code == 302 and req.status == "pending"  # a refusal needs a reason
    post(sender, f"/care/transfers/{req.uid}/refuse", {"reason": "学籍号有误"})
    db_session.refresh(req)
    db_session.refresh(student)
    assert req.status == "refused" and req.reason == "学籍号有误" and student.school_id == world["there"].id
    assert "transfer.refused" in _actions(db_session, student.public_id)
    page = receiver.get("/care/transfers").get_data(as_text=True)
    assert "学籍号有误" in page and "秘密原学校" not in page
    # decided: no second decision
    assert post(sender, f"/care/transfers/{req.uid}/approve", {}).status_code == 403


def _class(world, db_session):
    klass = SchoolClass(school_id=world["here"].id, grade=7, name="七年级(5)班", school_year="2026-2027")
    db_session.add(klass)
    db_session.flush()
    return klass.id


def test_the_request_form_refuses_unknown_and_own_numbers_and_names_no_school(app, world, factory, db_session):
    c = _client(app, world["receiver"])
    klass = _class(world, db_session)
    page = post(c, "/care/transfers/new", {"student_number": "G999999999999", "to_class": klass})
    assert page.status_code == 200 and "此学号不属于本区任何学生" in page.get_data(as_text=True)
    factory.student(school=world["here"], number="G310151201401018888")
    page = post(c, "/care/transfers/new", {"student_number": "G310151201401018888", "to_class": klass})
    assert page.status_code == 200 and "该学生已在本校" in page.get_data(as_text=True)
    other = db_session.scalar(select(SchoolClass.id).where(SchoolClass.school_id == world["there"].id))
    response = post(c, "/care/transfers/new", {"student_number": NUMBER, "to_class": other})
    assert response.status_code == 200 and _requests(db_session, world["student"]) == []  # only own classes
    response = post(c, "/care/transfers/new", {"student_number": NUMBER, "to_class": klass})
    assert response.status_code == 302
    assert "秘密原学校" not in c.get("/care/transfers").get_data(as_text=True)


def test_the_requester_cancels_and_outsiders_see_nothing(app, world, factory, db_session):
    c = _client(app, world["receiver"])
    post(c, "/care/transfers/new", {"student_number": NUMBER, "to_class": _class(world, db_session)})
    [req] = _requests(db_session, world["student"])
    stranger = _client(app, factory.counselor(factory.school()))
    for action in ("approve", "refuse", "cancel"):
        assert post(stranger, f"/care/transfers/{req.uid}/{action}", {"reason": "x"}).status_code == 404
    assert f"to-decide-{req.uid}" not in stranger.get("/care/transfers").get_data(as_text=True)
    sender = _client(app, world["sender"])
    assert post(sender, f"/care/transfers/{req.uid}/cancel", {}).status_code == 403
    assert post(c, f"/care/transfers/{req.uid}/cancel", {}).status_code == 302
    db_session.refresh(req)
    assert req.status == "cancelled" and "transfer.cancelled" in _actions(db_session, world["student"].public_id)


def test_without_a_counselor_at_the_sending_school_the_district_decides_without_names(app, world, factory,
                                                                                       db_session):
    lonely = factory.school(name="无心理老师学校")
    student = factory.student(school=lonely, number="G310151201401019999", name="秘密学生乙")
    c = _client(app, world["receiver"])
    post(c, "/care/transfers/new", {"student_number": "G310151201401019999", "to_class": _class(world, db_session)})
    [req] = _requests(db_session, student)
    officer = factory.user("district")
    d = _client(app, officer)
    page = d.get("/care/transfers").get_data(as_text=True)
    assert f"to-decide-{req.uid}" in page and "秘密学生乙" not in page
    # the sending school of another request (with a counselor) is not the district's to decide
    assert post(d, f"/care/transfers/{req.uid}/approve", {}).status_code == 302
    db_session.refresh(student)
    assert student.school_id == world["here"].id


def test_an_admins_transfer_form_sends_a_request_the_sending_counselor_decides(app, world, factory, db_session):
    student = world["student"]
    klass = _class(world, db_session)
    admin = _client(app, factory.user("admin"))
    assert post(admin, f"/care/students/{student.public_id}/transfer", {"to_class": klass}).status_code == 302
    db_session.refresh(student)
    assert student.school_id == world["there"].id
    [req] = _requests(db_session, student)
    assert req.requested_by_id is not None and req.status == "pending"
    # an admin never decides a school's request that has a counselor, nor their own
    assert post(admin, f"/care/transfers/{req.uid}/approve", {}).status_code == 403
    sender = _client(app, world["sender"])
    post(sender, f"/care/transfers/{req.uid}/approve", {})
    db_session.refresh(student)
    assert student.school_id == world["here"].id
