"""One scope check: every student-owned record answers 404 to whoever may not see its student.

The records of one student of school B (screening, warning and its history, case, entries, recheck, check-in,
draft, care group, opt-out) are asked for by a counselor of school A, a head teacher of another class of school B,
the district office and an admin of another district: `get_visible_or_404` refuses each of them for every record
type, and every page that opens one of those records answers 404 (or 403 where the role may not use the page at
all), never the record. The counselor of school B, for contrast, gets each one.
"""
from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select
from werkzeug.exceptions import NotFound

from app.care import referrals
from app.care.service import add_entry, record_checkin
from app.care.warning_lifecycle import confirm_level
from app.screenings.recording import record_screening
from app.security import get_visible_or_404, view_access
from models import (
    Actor,
    Campaign,
    CampaignOptOut,
    CareCheckin,
    CaseEntry,
    ClassSession,
    District,
    Notification,
    Recheck,
    ResponseDraft,
    Screening,
    Student,
    StudentCareGroup,
    Warning,
    WarningChange,
    utcnow,
)
from models.vault import Vault
from tests.conftest import csrf_token, login

PHQA_CRISIS = [1, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]
DAY = date(2026, 10, 12)


@pytest.fixture
def world(app, db_session, factory, keyring):  # app: its areas' signal receivers plan the recheck
    school_a, school_b = factory.school(), factory.school()
    class_b, other_class_b = factory.klass(school_b), factory.klass(school_b)
    student = factory.student(school=school_b, klass=class_b, groups=["left_behind"])
    counselor_b = factory.counselor(school_b)
    actor = Actor.for_user(counselor_b)
    vault = Vault(db_session, keyring, actor)
    screening = record_screening(db_session, actor, vault, student, "phqa", PHQA_CRISIS, mode="paper",
                                 administered_on=DAY)
    db_session.flush()
    warning = db_session.scalars(select(Warning).where(Warning.screening_id == screening.id)).one()
    case = confirm_level(db_session, actor, vault, warning, "L1", "约谈确认")
    entry = add_entry(db_session, actor, vault, student, "referral", DAY, "转介", case=case,
                      destination="区精神卫生中心", referral_status="sent")
    referrals.record_consent(db_session, actor, vault, entry, student, how="written", by="父亲", on=DAY)
    checkin = record_checkin(db_session, actor, vault, student, DAY, "谈心")
    campaign = Campaign(name="秋季筛查", term="2026-2027-1", starts_on=DAY, ends_on=DAY, status="open",
                        created_by_id=counselor_b.id)
    campaign.schools = [school_b]
    db_session.add(campaign)
    db_session.flush()
    session = ClassSession(campaign_id=campaign.id, class_id=class_b.id, code="ABC234", opened_by_id=counselor_b.id,
                           expires_at=utcnow() + timedelta(hours=1))
    db_session.add(session)
    db_session.flush()
    draft = ResponseDraft(session_id=session.id, student_id=student.id, instrument_id="phqa")
    draft.ensure_uid()
    db_session.add_all([draft, CampaignOptOut(campaign_id=campaign.id, student_id=student.id)])
    db_session.flush()
    other_district = District(code="DX", name="他区")
    db_session.add(other_district)
    db_session.flush()
    admin = factory.user("admin")
    admin.district_id = other_district.id
    db_session.flush()
    return {
        "student": student, "screening": screening, "warning": warning, "case": case, "entry": entry,
        "checkin": checkin, "draft": draft, "session": session,
        "recheck": db_session.scalars(select(Recheck).where(Recheck.student_id == student.id)).one(),
        "change": db_session.scalars(select(WarningChange).where(WarningChange.warning_id == warning.id)).first(),
        "note": db_session.scalars(select(Notification).where(Notification.user_id == counselor_b.id)).first(),
        "insider": counselor_b,
        "outsiders": {
            "counselor of school A": factory.counselor(school_a),
            "head teacher of another class": factory.head_teacher(other_class_b),
            "district office": factory.user("district"),
            "admin of another district": admin,
        },
    }


def _records(w):
    """(model, key the URL would carry) of every student-owned record type."""
    student = w["student"]
    return [
        (Student, student.public_id), (Screening, w["screening"].uid), (Warning, w["warning"].uid),
        (WarningChange, w["change"].uid), (type(w["case"]), w["case"].uid), (CaseEntry, w["entry"].uid),
        (Recheck, w["recheck"].id), (CareCheckin, w["checkin"].uid), (ResponseDraft, w["draft"].uid),
    ]


def test_every_student_owned_record_type_is_404_to_every_outsider_and_found_by_its_counselor(db_session, world):
    for model, key in _records(world):
        assert get_visible_or_404(db_session, world["insider"], model, key) is not None, model.__name__
        for who, user in world["outsiders"].items():
            with pytest.raises(NotFound):
                get_visible_or_404(db_session, user, model, key)
            assert db_session.scalars(select(model).where(model.visible_to(user))).first() is None, (model, who)
    # The association rows are scoped by the same rule (lists filter with it).
    for model in (StudentCareGroup, CampaignOptOut):
        assert db_session.scalars(select(model).where(model.visible_to(world["insider"]))).first() is not None
        for user in world["outsiders"].values():
            assert db_session.scalars(select(model).where(model.visible_to(user))).first() is None


def test_a_notification_is_its_recipients_alone(db_session, world):
    note = world["note"]
    assert get_visible_or_404(db_session, world["insider"], Notification, note.id) is note
    for user in world["outsiders"].values():
        with pytest.raises(NotFound):
            get_visible_or_404(db_session, user, Notification, note.id)


def _pages(w):
    pid, case, entry = w["student"].public_id, w["case"].uid, w["entry"].uid
    return [
        ("GET", f"/students/{pid}"), ("GET", f"/students/{pid}/edit"), ("GET", f"/screenings/enter/{pid}"),
        ("GET", f"/screenings/{w['screening'].uid}"), ("POST", f"/interviews/{w['warning'].uid}/acknowledge"),
        ("GET", f"/warnings/{w['warning'].uid}/confirm"), ("GET", f"/cases/{case}"), ("POST", f"/cases/{case}/plan"),
        ("POST", f"/cases/{case}/entries"), ("POST", f"/cases/{case}/close"), ("POST", f"/entries/{entry}/referral"),
        ("GET", f"/care/referrals/{entry}/print"), ("POST", f"/care/students/{pid}/observations-seen"),
        ("GET", f"/care/referrals/{entry}"), ("POST", f"/care/referrals/{entry}/consent"),
        ("GET", f"/care/referrals/{entry}/packet.pdf"), ("POST", f"/care/referrals/{entry}/feedback"),
        ("GET", f"/care/class/students/{pid}"), ("GET", f"/care/groups/{pid}/checkin"),
        ("GET", f"/care/students/{pid}/transfer"), ("POST", f"/notifications/{w['note'].id}/read"),
        ("GET", f"/sessions/{w['session'].id}"),
    ]


def test_every_page_of_a_student_owned_record_answers_404_across_schools(app, db_session, world):
    adapter = app.url_map.bind("localhost")
    for who, user in world["outsiders"].items():
        client = app.test_client()
        login(client, user.username)
        token = csrf_token(client)
        for method, url in _pages(world):
            endpoint, _ = adapter.match(url, method=method)
            _, allowed = view_access(app.view_functions[endpoint])
            response = client.open(url, method=method, data={"csrf_token": token} if method == "POST" else None)
            expected = 404 if user.role in (allowed or ()) else 403
            assert response.status_code == expected, f"{who}: {method} {url} -> {response.status_code}"
    client = app.test_client()
    login(client, world["insider"].username)
    for url in (f"/screenings/{world['screening'].uid}", f"/cases/{world['case'].uid}",
                f"/care/referrals/{world['entry'].uid}/print", f"/students/{world['student'].public_id}"):
        assert client.get(url).status_code == 200, url
