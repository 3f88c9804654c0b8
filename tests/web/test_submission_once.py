"""A questionnaire page that reaches the server twice is stored once (its one-time token is the idempotency key),
and the database's unique constraint on spent tokens is what decides (app/form_tokens.py)."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app import form_tokens
from models import Screening, SpentFormToken, Warning
from tests.conftest import post
from tests.screenings_fixtures import PHQA_CALM, PHQA_CRISIS, answers_form, build


def _enter(client, setup, i=0):
    r = post(client, "/s", {"code": setup.session.code, "student_number": setup.numbers[i],
                            "entry_code": setup.code(i)})
    assert r.status_code == 302


def _token(html: str) -> str:
    match = re.search(r'name="form_token" value="([^"]+)"', html)
    assert match, "the questionnaire page carries its one-time token"
    return match.group(1)


def _count(db_session, student, instrument="phqa") -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(Screening).where(
        Screening.student_id == student.id, Screening.instrument_id == instrument))


def test_the_same_page_submitted_twice_is_stored_once_and_the_copy_is_answered_as_the_first(
    client, factory, db_session
):
    setup = build(factory, db_session)
    _enter(client, setup)
    token = _token(client.get("/s/q").get_data(as_text=True))
    form = {**answers_form(PHQA_CRISIS, "phqa"), "form_token": token}
    first = post(client, "/s/q", form)
    again = post(client, "/s/q", form)  # the retry of a request whose answer was lost on the way back
    assert first.status_code == 302 and again.status_code == 302
    assert first.headers["Location"] == again.headers["Location"]
    student = setup.students[0]
    assert _count(db_session, student) == 1
    assert db_session.scalar(select(func.count()).select_from(Warning).where(Warning.student_id == student.id)) == 1
    spent = db_session.scalars(select(SpentFormToken).where(SpentFormToken.token == token)).one()
    assert spent.purpose == "student-submit" and str(student.id) in spent.scope
    # the next page has a new token
    assert _token(client.get("/s/q").get_data(as_text=True)) != token


def test_a_page_shown_again_for_a_missing_answer_keeps_its_token(client, factory, db_session):
    setup = build(factory, db_session)
    _enter(client, setup)
    token = _token(client.get("/s/q").get_data(as_text=True))
    partial = answers_form(PHQA_CALM[:-1] + [None], "phqa")
    r = post(client, "/s/q", {**partial, "form_token": token})
    assert r.status_code == 200 and _token(r.get_data(as_text=True)) == token
    assert db_session.scalar(select(func.count()).select_from(SpentFormToken)) == 0  # nothing done, nothing spent
    assert post(client, "/s/q", {**answers_form(PHQA_CALM, "phqa"), "form_token": token}).status_code == 302
    assert _count(db_session, setup.students[0]) == 1


def test_a_page_without_a_token_still_works_as_before(client, factory, db_session):
    setup = build(factory, db_session)
    _enter(client, setup)
    assert post(client, "/s/q", answers_form(PHQA_CALM, "phqa")).status_code == 302
    assert _count(db_session, setup.students[0]) == 1


def test_another_students_token_is_not_an_answer_for_this_one(client, app, factory, db_session):
    setup = build(factory, db_session)
    _enter(client, setup, 0)
    token = _token(client.get("/s/q").get_data(as_text=True))
    assert post(client, "/s/q", {**answers_form(PHQA_CALM, "phqa"), "form_token": token}).status_code == 302
    other = app.test_client()
    _enter(other, setup, 1)
    r = post(other, "/s/q", {**answers_form(PHQA_CALM, "phqa"), "form_token": token})
    assert r.status_code == 302
    assert _count(db_session, setup.students[1]) == 0  # refused: the token was spent for someone else


def test_spend_answers_fresh_replay_foreign_and_missing(db_session):
    token = form_tokens.issue()
    assert form_tokens.spend(db_session, token, "roster-import", "user:1") is form_tokens.Spend.FRESH
    assert form_tokens.spend(db_session, token, "roster-import", "user:1") is form_tokens.Spend.REPLAY
    assert form_tokens.spend(db_session, token, "roster-import", "user:2") is form_tokens.Spend.FOREIGN
    assert form_tokens.spend(db_session, "<script>", "roster-import", "user:1") is form_tokens.Spend.FOREIGN
    assert form_tokens.spend(db_session, None, "roster-import", "user:1") is form_tokens.Spend.MISSING


def test_the_database_refuses_a_token_spent_twice(db_session):
    token = form_tokens.issue()
    db_session.add(SpentFormToken(token=token, purpose="student-submit", scope="a"))
    db_session.flush()
    with pytest.raises(IntegrityError), db_session.begin_nested():
        db_session.add(SpentFormToken(token=token, purpose="student-submit", scope="a"))
        db_session.flush()
    assert db_session.scalar(select(func.count()).select_from(SpentFormToken)) == 1
