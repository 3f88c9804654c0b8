"""Every action inside its scope (issue 15): an action on a record that reaches beyond the user's schools is refused
with nothing changed. Closing a campaign touches every school it covers (its sessions included); the screening
import's campaign may only take the screenings of students of the schools it covers."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.screenings.campaigns import InstrumentRule, create_campaign
from app.screenings.sessions import open_session
from models import Actor, AuditEvent, Campaign, ClassSession, Screening, clock
from tests.conftest import login, post


def _campaign(db_session, creator, schools):
    return create_campaign(
        db_session, Actor.for_user(creator), name="联合筛查", term="2026-2027-1",
        starts_on=clock.today() - timedelta(days=1), ends_on=clock.today() + timedelta(days=30),
        schools=schools, rules=[InstrumentRule("phqa", 7, 9)], created_by=creator,
    )


def _world(factory, db_session):
    a, b = factory.school(), factory.school()
    ka, kb = factory.klass(a, grade=7), factory.klass(b, grade=7)
    both = factory.counselor(a, b)
    only_a, only_b = factory.counselor(a), factory.counselor(b)
    campaign = _campaign(db_session, both, [a, b])
    sa = open_session(db_session, Actor.for_user(only_a), campaign, ka, user=only_a)
    sb = open_session(db_session, Actor.for_user(only_b), campaign, kb, user=only_b)
    db_session.flush()
    return {"a": a, "b": b, "ka": ka, "kb": kb, "both": both, "only_a": only_a, "only_b": only_b,
            "campaign": campaign, "sa": sa, "sb": sb}


def _client(app, user):
    c = app.test_client()
    login(c, user.username)
    return c


def test_a_counselor_of_one_school_cannot_close_a_campaign_that_covers_another(app, factory, db_session):
    w = _world(factory, db_session)
    c = _client(app, w["only_a"])
    assert c.get(f"/campaigns/{w['campaign'].id}").status_code == 200  # they see it (it covers their school)
    page = c.get(f"/campaigns/{w['campaign'].id}").get_data(as_text=True)
    assert f"/campaigns/{w['campaign'].id}/close" not in page
    assert post(c, f"/campaigns/{w['campaign'].id}/close").status_code == 403
    campaign = db_session.scalars(select(Campaign).where(Campaign.id == w["campaign"].id)).one()
    db_session.refresh(campaign)
    assert campaign.status == "open" and campaign.closed_at is None
    for cs in (w["sa"], w["sb"]):
        db_session.refresh(cs)
        assert cs.closed_at is None
    assert db_session.scalar(select(AuditEvent.seq).where(AuditEvent.action == "campaign.closed")) is None


def test_the_counselor_of_every_school_it_covers_closes_the_campaign_and_its_sessions(app, factory, db_session):
    w = _world(factory, db_session)
    c = _client(app, w["both"])
    assert f"/campaigns/{w['campaign'].id}/close" in c.get(f"/campaigns/{w['campaign'].id}").get_data(as_text=True)
    assert post(c, f"/campaigns/{w['campaign'].id}/close").status_code == 302
    db_session.refresh(w["campaign"])
    assert w["campaign"].status == "closed"
    for cs in (w["sa"], w["sb"]):
        db_session.refresh(cs)
        assert cs.closed_at is not None


def test_a_counselor_closes_only_the_sessions_of_their_own_classes(app, factory, db_session):
    w = _world(factory, db_session)
    c = _client(app, w["only_a"])
    assert post(c, f"/sessions/{w['sb'].id}/close").status_code == 404
    assert db_session.scalars(select(ClassSession).where(ClassSession.id == w["sb"].id)).one().closed_at is None
    assert post(c, f"/sessions/{w['sa'].id}/close").status_code == 302


def test_the_screening_import_does_not_attach_a_student_to_a_campaign_that_does_not_cover_their_school(
    app, factory, db_session, keyring
):
    from app.screenings import importer
    from models import Student
    from models.vault import Vault

    a, c_school = factory.school(), factory.school()
    counselor = factory.counselor(a, c_school)
    student = factory.student(school=c_school, number="G77000000001", grade=7)
    campaign = _campaign(db_session, counselor, [a])  # covers school a only
    data = ("学籍号,instrument,date," + ",".join(f"q{i}" for i in range(1, 8)) + "\n"
            + f"G77000000001,gad7,{clock.today().isoformat()}," + ",".join("0" * 7) + "\n").encode()
    vault = Vault(db_session, keyring, Actor.for_user(counselor))
    with app.test_request_context():
        report = importer.run_import(db_session, Actor.for_user(counselor), vault, data,
                                     school_filter=Student.school_id.in_([a.id, c_school.id]), campaign=campaign)
        messages = [str(e.message) for e in report.errors]
    assert report.written == 0 and any("campaign" in m or "测评计划" in m for m in messages), messages
    assert db_session.scalar(select(Screening.id).where(Screening.student_id == student.id)) is None
