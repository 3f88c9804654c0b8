"""Retention that erases on time (issue 21): a left student's file is listed when its period has run out (not
before), held (reason and end date required; listed again after the end date), confirmed, erased (the file page
shows the erased state, nothing of theirs decrypts), with the district figures equal before and after; the PIPL
export holds the student's data and is audited; wrong roles are refused."""
from __future__ import annotations

import json
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.district import service as district
from app.retention.policy import load_retention_policy
from app.retention.tasks import review_sweep
from app.roster.service import StudentData, update_student
from app.scheduler.spec import SweepContext
from models import AuditEvent, DataKey, Notification, RetentionReview, Screening, Student
from models.vault import ErasedStudentError, Vault
from tests.conftest import login, post
from tests.integration.care_support import actor_vault
from tests.integration.district_world import TERM, build

SH = ZoneInfo("Asia/Shanghai")
LEFT_AT = datetime(2027, 7, 1, 10, 0, tzinfo=SH)  # the roster records the leaving on this day
DUE = date(2029, 7, 1)  # 24 months later (config/retention.yaml)


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=SH)


def _sweep(app, db_session, day: date) -> dict[str, int]:  # type: ignore[no-untyped-def]
    from app.rechecks.policy import load_recheck_policy

    with app.app_context():
        return review_sweep(db_session, _at(day), SweepContext(load_recheck_policy(), SH))


def _cubes(app, db_session, district_id):  # type: ignore[no-untyped-def]
    with app.app_context():
        ctx = district.load_context(db_session, district_id, district.Selection(TERM, None))
        return district.query_cubes(db_session, ctx, DUE, "Asia/Shanghai")


def _shown(figures) -> dict[str, list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    """What the pages print: every cell's text after disclosure control ("<5" for a suppressed cell)."""
    return {m: sorted((repr(key), p.text(key)) for key in set(p.values) | set(p.status))
            for m, p in figures.protected.items()}


def _pages(app, db_session, district_id):  # type: ignore[no-untyped-def]
    """The dashboard's figures of the term and the trends' points, computed live (no rollup)."""
    with app.app_context():
        _ctx, dashboard = district.compute_figures(db_session, district_id, district.Selection(TERM, None), 5, DUE,
                                                   rollup_max_age=None, open_max_age=None)
        points = district.trends(db_session, district_id, 5, DUE, rollup_max_age=None, open_max_age=None)
        return _shown(dashboard), [(p.term, _shown(p.figures)) for p in points]


@pytest.fixture
def left(app, factory, db_session, keyring, moved_clock):  # type: ignore[no-untyped-def]
    world = build(factory)
    school = world.schools["A"]
    student = world.students[0]  # a left-behind boy of school A, screened positive
    counselor = factory.counselor(school)
    actor, vault = actor_vault(db_session, keyring, counselor)
    screening = db_session.scalars(select(Screening).where(Screening.student_id == student.id)).one()
    vault.seal_into(screening, "answers", [3, 2, 1], student=student)
    moved_clock(LEFT_AT)
    with app.test_request_context("/"):
        update_student(db_session, actor, vault, counselor, student, StudentData(
            name=world.names[0], student_number=world.numbers[0], school_id=school.id, grade=student.grade,
            gender=student.gender, birth_ym=student.birth_ym, class_id=student.class_id, status="graduated",
            care_groups=student.care_groups, guardians=[{"name": "家长", "relation": "母亲", "phone": "13900000000"}]))
    db_session.flush()
    assert student.left_on == LEFT_AT.date()
    return {"world": world, "student": student, "counselor": counselor, "school": school, "screening": screening,
            "district_user": world.district_user}


def _review(db_session, student) -> RetentionReview | None:  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return db_session.scalars(select(RetentionReview).where(RetentionReview.student_id == student.id)
                              .order_by(RetentionReview.id.desc())).first()


def test_a_left_file_is_listed_when_due_held_returned_confirmed_and_erased(app, factory, db_session, keyring,
                                                                         moved_clock, left):  # type: ignore[no-untyped-def]
    student, name = left["student"], left["world"].names[0]
    assert load_retention_policy.__name__  # the period is the file's: 24 months
    # not before: the day before the period ends nothing is listed
    assert _sweep(app, db_session, date(2029, 6, 30))["listed"] == 0
    assert _review(db_session, student) is None
    assert _sweep(app, db_session, DUE)["listed"] == 1
    assert _sweep(app, db_session, DUE)["listed"] == 0  # idempotent: listed once
    review = _review(db_session, student)
    assert review is not None and (review.status, review.due_on, review.left_on) == ("due", DUE, LEFT_AT.date())

    # the school's counselor is told how many files came onto the list (no name in the notification)
    notes = db_session.scalars(select(Notification).where(Notification.user_id == left["counselor"].id,
                                                          Notification.kind == "retention_due")).all()
    assert len(notes) == 1 and json.loads(notes[0].params) == {"count": 1} and notes[0].student_id is None

    moved_clock(_at(date(2029, 7, 2)))
    c = app.test_client()
    login(c, left["counselor"].username)
    assert "1 份已离校学生的档案保存期满" in c.get("/notifications").get_data(as_text=True)
    page = c.get("/retention").get_data(as_text=True)
    assert f'data-testid="review-{review.uid}"' in page and name in page
    d = app.test_client()
    login(d, left["district_user"].username)
    page = d.get("/retention").get_data(as_text=True)
    assert f'data-testid="review-{review.uid}"' in page and name not in page  # the district sees no names

    # a hold needs a reason and an end date after today
    for form in ({"until": "2029-09-01"}, {"reason": "open_referral"},
                 {"reason": "open_referral", "until": "2029-07-01"}, {"reason": "nonsense", "until": "2029-09-01"},
                 {"reason": "open_referral", "until": "2040-01-01"}):
        assert post(c, f"/retention/{review.uid}/hold", form).status_code == 302
        assert _review(db_session, student).status == "due", form
    hold = {"reason": "open_referral", "until": "2029-09-01"}
    assert post(c, f"/retention/{review.uid}/hold", hold).status_code == 302
    review = _review(db_session, student)
    assert (review.status, review.hold_reason, review.held_until) == ("held", "open_referral", date(2029, 9, 1))
    held = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "retention.held")).one()
    assert held.student_public_id == student.public_id and json.loads(held.detail)["until"] == "2029-09-01"
    # a held file is not erased
    post(d, f"/retention/{review.uid}/confirm", {"confirm": "erase"})
    assert db_session.get(Student, student.id).status == "graduated"
    # back on the list after the hold's end date, not on it
    assert _sweep(app, db_session, date(2029, 9, 1))["returned_after_hold"] == 0
    assert _sweep(app, db_session, date(2029, 9, 2))["returned_after_hold"] == 1
    assert _review(db_session, student).status == "due"

    district_id = left["school"].district_id
    before = _cubes(app, db_session, district_id)
    assert before["screened_care"] and before["screened"]
    pages_before = _pages(app, db_session, district_id)
    moved_clock(_at(date(2029, 9, 3)))
    d = app.test_client()
    login(d, left["district_user"].username)
    # the box must be ticked
    post(d, f"/retention/{review.uid}/confirm", {})
    assert db_session.get(Student, student.id).status == "graduated"
    assert post(d, f"/retention/{review.uid}/confirm", {"confirm": "erase"}).status_code == 302
    db_session.expire_all()
    tomb = db_session.get(Student, student.id)
    assert tomb.status == "erased" and tomb.name_enc is None
    key = db_session.get(DataKey, tomb.data_key_id)
    assert key.wrapped is None and key.destroyed_at is not None
    vault = Vault(db_session, keyring, actor_vault(db_session, keyring, left["counselor"])[0])
    with pytest.raises(ErasedStudentError):
        vault.reveal(tomb, "student.view").get(db_session.get(Screening, left["screening"].id), "answers")
    review = _review(db_session, student)
    assert review.status == "erased" and review.decided_by_id == left["district_user"].id
    actions = [e.action for e in db_session.scalars(select(AuditEvent).where(
        AuditEvent.student_public_id == student.public_id).order_by(AuditEvent.seq))]
    assert actions.index("retention.confirmed") < actions.index("student.erased")
    # the district figures count the erased student's screening as before
    assert _cubes(app, db_session, district_id) == before
    assert _pages(app, db_session, district_id) == pages_before
    for url in ("/district", "/district/trends"):
        assert d.get(url).status_code == 200
    # opening the file shows the erased state
    c = app.test_client()
    login(c, left["counselor"].username)
    html = c.get(f"/students/{student.public_id}").get_data(as_text=True)
    assert 'data-testid="erased-notice"' in html and name not in html
    assert c.get(f"/students/{student.public_id}/export").status_code == 404
    # erased files leave the list
    assert f'data-testid="review-{review.uid}"' not in c.get("/retention").get_data(as_text=True)


def test_the_roster_keeps_the_leaving_day_with_the_status(app, factory, db_session, keyring, moved_clock, left):  # type: ignore[no-untyped-def]
    student, world = left["student"], left["world"]
    c = app.test_client()
    login(c, left["counselor"].username)
    html = c.get(f"/students/{student.public_id}").get_data(as_text=True)
    assert 'data-testid="left-on"' in html and "2027" in html
    actor, vault = actor_vault(db_session, keyring, left["counselor"])
    moved_clock(_at(date(2027, 9, 1)))

    def change(status: str) -> None:
        with app.test_request_context("/"):
            update_student(db_session, actor, vault, left["counselor"], student, StudentData(
                name=world.names[0], student_number=world.numbers[0], school_id=student.school_id,
                grade=student.grade, gender=student.gender, birth_ym=student.birth_ym, class_id=student.class_id,
                status=status, care_groups=student.care_groups))

    change("left")  # still gone: the day they first left stays the basis
    assert student.left_on == LEFT_AT.date()
    change("enrolled")  # back in school: no period runs
    assert student.left_on is None
    change("transferred_out")
    assert student.left_on == date(2027, 9, 1)


def test_an_open_case_blocks_the_erasure_and_reenrolment_cancels_the_review(app, factory, db_session, keyring,
                                                                          moved_clock, left):  # type: ignore[no-untyped-def]
    from models import CareCase

    student = left["student"]
    db_session.add(CareCase(student_id=student.id, school_id=student.school_id, level="L3", status="open"))
    db_session.flush()
    _sweep(app, db_session, DUE)
    review = _review(db_session, student)
    moved_clock(_at(date(2029, 7, 2)))
    c = app.test_client()
    login(c, left["counselor"].username)
    post(c, f"/retention/{review.uid}/confirm", {"confirm": "erase"})
    assert db_session.get(Student, student.id).status == "graduated"
    student = db_session.get(Student, student.id)
    student.status = "enrolled"
    db_session.flush()
    assert _sweep(app, db_session, date(2029, 7, 3))["cancelled"] == 1
    assert _review(db_session, student).status == "cancelled"


def test_the_pipl_export_holds_the_students_data_and_is_audited(app, factory, db_session, left):  # type: ignore[no-untyped-def]
    student, name = left["student"], left["world"].names[0]
    c = app.test_client()
    login(c, left["counselor"].username)
    c.get(f"/students/{student.public_id}")  # a read of the file, which the export's audit part lists
    response = c.get(f"/students/{student.public_id}/export")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["student"]["name"] == name and data["student"]["student_number"] == left["world"].numbers[0]
    assert data["student"]["guardians"][0]["phone"] == "13900000000"
    assert data["student"]["care_groups"] == ["left_behind"]
    assert data["records"]["screenings"][0]["answers"] == [3, 2, 1]
    assert data["records"]["screenings"][0]["instrument_id"] == "cesdc"
    assert "student.view" in {e["action"] for e in data["audit"]}
    db_session.expire_all()
    exported = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "student.exported")).one()
    assert exported.student_public_id == student.public_id and exported.actor == left["counselor"].username
    # the same content as a page to print for the family, audited as its own export
    page = c.get(f"/students/{student.public_id}/export?format=html")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and name in html and "13900000000" in html
    assert 'data-testid="export-screenings"' in html and "查看学生档案" in html  # the audit part, labelled
    db_session.expire_all()
    formats = [json.loads(e.detail)["format"] for e in db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "student.exported").order_by(AuditEvent.seq))]
    assert formats == ["json", "html"]


def test_wrong_roles_are_refused(app, factory, db_session, left):  # type: ignore[no-untyped-def]
    student = left["student"]
    _sweep(app, db_session, DUE)
    review = _review(db_session, student)
    for role in ("admin", "head_teacher"):
        user = factory.user(role) if role == "admin" else factory.head_teacher(left["world"].students[1].school_class)
        c = app.test_client()
        login(c, user.username)
        assert c.get("/retention").status_code == 403
        hold = {"reason": "legal_hold", "until": "2030-01-01"}
        assert post(c, f"/retention/{review.uid}/hold", hold).status_code == 403
        assert post(c, f"/retention/{review.uid}/confirm", {"confirm": "erase"}).status_code == 403
        assert c.get(f"/students/{student.public_id}/export").status_code == 403
    stranger = app.test_client()
    login(stranger, factory.counselor(factory.school()).username)  # another school's counselor
    assert review.uid not in stranger.get("/retention").get_data(as_text=True)
    assert post(stranger, f"/retention/{review.uid}/confirm", {"confirm": "erase"}).status_code == 404
    assert stranger.get(f"/students/{student.public_id}/export").status_code == 404
    d = app.test_client()
    login(d, left["district_user"].username)
    assert d.get(f"/students/{student.public_id}/export").status_code == 403  # never a single student's data
    assert _review(db_session, student).status == "due"
