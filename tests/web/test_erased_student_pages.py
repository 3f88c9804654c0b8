"""Erasure keeps the app working (issue 15): after `flask students erase`, every page of that student answers 404
(never 500), and the lists and district figures that counted them still answer, without them where they named
people."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.care import referrals, service, warning_lifecycle
from app.care.transfer_requests import request_transfer
from app.screenings.submission import Submission, submit_screening
from models import Actor, CareCase, Recheck, Screening, TransferRequest, Warning, clock
from tests.conftest import _session_on, login, make_test_app, post
from tests.integration.care_support import actor_vault, make_warning
from tests.integration.keys_support import key_file_for
from tests.screenings_fixtures import PHQA_CRISIS

NAME = "将被删除的学生"


@pytest.fixture
def cli_app(engine, connection, keyring, tmp_path):  # type: ignore[no-untyped-def]
    return make_test_app(
        engine, keyring, lambda: _session_on(connection), KEYRING=None, KEY_FILE=str(key_file_for(keyring, tmp_path))
    )


@pytest.fixture
def world(factory, db_session, keyring):  # type: ignore[no-untyped-def]
    school = factory.school()
    klass = factory.klass(school)
    counselor = factory.counselor(school)
    teacher = factory.head_teacher(klass)
    student = factory.student(klass=klass, name=NAME, groups=["left_behind"])
    kept = factory.student(klass=klass, name="留下的学生", groups=["left_behind"])
    actor, vault = actor_vault(db_session, keyring, counselor)
    answered = Submission(student, "phqa", PHQA_CRISIS, clock.today() - timedelta(days=1))
    screening = submit_screening(db_session, actor, vault, answered, mode="paper")
    case = warning_lifecycle.confirm_level(db_session, actor, vault, make_warning(db_session, student, "L2"), "L2",
                                           "确认")
    referral = service.add_entry(db_session, actor, vault, student, "referral", clock.today(), "原因", case=case,
                                 destination="中心")
    referrals.record_consent(db_session, actor, vault, referral, student, how="phone", by="母亲", on=clock.today())
    observation = service.add_entry(db_session, Actor.for_user(teacher), vault, student, "observation",
                                    clock.today(), "课堂观察", visibility="shared")
    warning_lifecycle.confirm_level(db_session, actor, vault, make_warning(db_session, kept, "L3"), "L3", "确认")
    other_school = factory.school()
    request = request_transfer(db_session, Actor.for_user(factory.counselor(other_school)), student,
                               factory.klass(other_school))
    db_session.flush()
    return {"school": school, "klass": klass, "counselor": counselor, "teacher": teacher, "student": student,
            "kept": kept, "screening": screening, "case": case, "referral": referral, "observation": observation,
            "warning": db_session.scalars(select(Warning).where(Warning.student_id == student.id)).first(),
            "request": request}


def _erase(cli_app, public_id):
    result = cli_app.test_cli_runner().invoke(args=["students", "erase", public_id, "--yes"])
    assert result.exit_code == 0, result.output


def _pages(w):
    pid = w["student"].public_id
    return {
        "counselor": [
            f"/students/{pid}/edit", f"/cases/{w['case'].uid}",
            f"/warnings/{w['warning'].uid}/confirm", f"/screenings/{w['screening'].uid}",
            f"/care/referrals/{w['referral'].uid}/print", f"/care/referrals/{w['referral'].uid}",
            f"/care/referrals/{w['referral'].uid}/packet.pdf?section=reason",
            f"/screenings/enter/{pid}", f"/care/groups/{pid}/checkin",
            f"/care/students/{pid}/transfer",
        ],
        "head_teacher": [f"/care/class/students/{pid}", f"/care/groups/{pid}/checkin"],
    }


def test_every_page_of_an_erased_student_answers_404(app, cli_app, world, db_session, factory):
    clients = {}
    for role, user in (("counselor", world["counselor"]), ("head_teacher", world["teacher"])):
        clients[role] = app.test_client()
        login(clients[role], user.username)
    for role, urls in _pages(world).items():  # before: every page opens
        for url in urls:
            assert clients[role].get(url).status_code == 200, (role, url)
    _erase(cli_app, world["student"].public_id)
    db_session.expire_all()
    answers = {(role, url): clients[role].get(url).status_code for role, urls in _pages(world).items() for url in urls}
    assert {k: v for k, v in answers.items() if v != 404} == {}
    c = clients["counselor"]
    # the file's own page says it was erased, to the school's counselors only, and opens nothing
    page = c.get(f"/students/{world['student'].public_id}")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "此学生档案已依法删除" in html and NAME not in html
    assert 'data-testid="erased-notice"' in html and "课堂观察" not in html
    assert clients["head_teacher"].get(f"/students/{world['student'].public_id}").status_code == 404
    stranger = app.test_client()
    login(stranger, factory.counselor(factory.school()).username)
    assert stranger.get(f"/students/{world['student'].public_id}").status_code == 404
    for url in (f"/cases/{world['case'].uid}/entries", f"/entries/{world['referral'].uid}/referral",
                f"/care/referrals/{world['referral'].uid}/consent", f"/care/referrals/{world['referral'].uid}/feedback",
                f"/care/students/{world['student'].public_id}/observations-seen"):
        assert post(c, url, {"kind": "note", "occurred_on": clock.today().isoformat(), "note": "x",
                             "status": "sent"}).status_code == 404, url


def test_lists_and_figures_still_answer_without_the_erased_student(app, cli_app, world, db_session, factory):
    _erase(cli_app, world["student"].public_id)
    db_session.expire_all()
    c = app.test_client()
    login(c, world["counselor"].username)
    for url in ("/care/worklist", "/rechecks", "/notifications", "/students", "/care/groups", "/campaigns",
                "/care/transfers", "/roster/import"):
        response = c.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert NAME not in response.get_data(as_text=True), url
    page = c.get("/care/worklist").get_data(as_text=True)
    assert "留下的学生" in page  # the list still works for the others
    t = app.test_client()
    login(t, world["teacher"].username)
    for url in ("/care/class", "/care/groups"):
        response = t.get(url)
        assert response.status_code == 200, (url, response.status_code)
        assert NAME not in response.get_data(as_text=True), url
    d = app.test_client()
    login(d, factory.user("district").username)
    for url in ("/district", "/district/trends", "/district/staffing"):
        assert d.get(url).status_code == 200, url


def test_erasure_ends_the_students_open_work(cli_app, world, db_session):
    _erase(cli_app, world["student"].public_id)
    db_session.expire_all()
    sid = world["student"].id
    # warnings keep their levels (the district's figures count them as they were)
    assert db_session.scalars(select(Warning.status).where(Warning.student_id == sid)).all()
    assert db_session.scalars(select(CareCase.status).where(CareCase.student_id == sid,
                                                            CareCase.status != "closed")).all() == []
    assert db_session.scalars(select(Recheck.status).where(Recheck.student_id == sid,
                                                           Recheck.status.in_(("planned", "due")))).all() == []
    assert db_session.get(TransferRequest, world["request"].id).status == "cancelled"
    # the categorical screening result stays, for the district's figures
    assert db_session.scalar(select(Screening.band).where(Screening.student_id == sid)) is not None
