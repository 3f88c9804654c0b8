"""submit_screening / submit_screenings: one service for every entrance (duplicate refused by the database inside a
savepoint, drafts dropped, audit event written; a batch is all or nothing)."""
from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.screenings import drafts
from app.screenings.submission import DuplicateScreening, Submission, Summary, submit_screening, submit_screenings
from models import Actor, AuditEvent, Notification, ResponseDraft, Screening, Warning
from models.vault import Vault
from tests.screenings_fixtures import GAD7_CALM, PHQA_CALM, PHQA_CRISIS, build

# create_app connects the care area's warning receiver and the notifications' crisis alerts
pytestmark = pytest.mark.usefixtures("app")
DAY = date(2026, 10, 12)


def _vault(db_session, factory):
    return Vault(db_session, factory.keyring, Actor.system("tests"))


def _count(db_session, model, *where):
    return db_session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_self_completed_screening_drops_the_drafts_and_is_audited_with_its_session(db_session, factory):
    setup = build(factory, db_session)
    vault = _vault(db_session, factory)
    student = setup.students[0]
    drafts.save_draft(db_session, vault, setup.session, student, "phqa", {"1": 1})
    screening = submit_screening(
        db_session,
        Actor.system("tests"),
        vault,
        Submission(student, "phqa", PHQA_CALM, DAY, campaign=setup.campaign, session=setup.session),
        mode="self",
    )
    assert screening.id is not None and screening.session_id == setup.session.id
    assert _count(db_session, ResponseDraft, ResponseDraft.student_id == student.id) == 0
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "screening.recorded")
                               .order_by(AuditEvent.seq.desc())).first()
    assert event is not None and event.target == f"screening:{screening.uid}"
    assert f'"session": {setup.session.id}' in event.detail and '"mode": "self"' in event.detail


def test_a_second_copy_of_a_campaign_instrument_is_refused_and_leaves_nothing(db_session, factory):
    setup = build(factory, db_session)
    vault = _vault(db_session, factory)
    student = setup.students[0]
    first = Submission(student, "phqa", PHQA_CALM, DAY, campaign=setup.campaign)
    submit_screening(db_session, Actor.system("tests"), vault, first, mode="paper")
    crisis_copy = Submission(student, "phqa", PHQA_CRISIS, DAY, campaign=setup.campaign)
    with pytest.raises(DuplicateScreening) as refused:
        submit_screening(db_session, Actor.system("tests"), vault, crisis_copy, mode="paper")
    assert refused.value.rows == [0]
    # the refused copy's warning and crisis alerts were rolled back with it
    assert _count(db_session, Screening, Screening.student_id == student.id) == 1
    assert _count(db_session, Warning, Warning.student_id == student.id) == 0
    assert _count(db_session, Notification, Notification.student_id == student.id) == 0


def test_a_batch_is_all_or_nothing_and_names_every_refused_row(db_session, factory):
    setup = build(factory, db_session)
    vault = _vault(db_session, factory)
    a, b, c = setup.students
    submit_screening(db_session, Actor.system("tests"), vault,
                     Submission(b, "gad7", GAD7_CALM, DAY, campaign=setup.campaign), mode="paper")
    rows = [
        Submission(a, "phqa", PHQA_CRISIS, DAY, campaign=setup.campaign),
        Submission(b, "gad7", GAD7_CALM, DAY, campaign=setup.campaign),  # stored already
        Submission(c, "phqa", PHQA_CALM, DAY, campaign=setup.campaign),
        Submission(c, "phqa", PHQA_CALM, DAY, campaign=setup.campaign),  # the same row twice
    ]
    with pytest.raises(DuplicateScreening) as refused:
        submit_screenings(db_session, Actor.system("tests"), vault, rows, mode="paper")
    assert refused.value.rows == [1, 3]
    assert _count(db_session, Screening) == 1
    assert _count(db_session, Warning, Warning.student_id == a.id) == 0


def test_a_batch_audits_each_screening_or_only_its_summary(db_session, factory):
    setup = build(factory, db_session)
    vault = _vault(db_session, factory)
    before = _count(db_session, AuditEvent, AuditEvent.action == "screening.recorded")
    rows = [Submission(s, "phqa", PHQA_CALM, DAY, campaign=setup.campaign) for s in setup.students]
    stored = submit_screenings(db_session, Actor.system("tests"), vault, rows, mode="paper")
    assert [s.student_id for s in stored] == [s.id for s in setup.students] and all(s.id for s in stored)
    assert _count(db_session, AuditEvent, AuditEvent.action == "screening.recorded") == before + 3
    gad = [Submission(s, "gad7", GAD7_CALM, DAY, campaign=setup.campaign) for s in setup.students]
    submit_screenings(db_session, Actor.system("tests"), vault, gad, mode="import",
                      summary=Summary("screening.imported", None, {"rows": 3}))
    assert _count(db_session, AuditEvent, AuditEvent.action == "screening.recorded") == before + 3
    assert _count(db_session, AuditEvent, AuditEvent.action == "screening.imported") == 1


def test_the_import_reports_rows_recorded_since_they_were_checked_and_writes_nothing(
    app, db_session, factory, monkeypatch
):
    from app.screenings import importer
    from models import Student

    setup = build(factory, db_session)
    vault = _vault(db_session, factory)
    header = "学籍号,instrument,date," + ",".join(f"q{i}" for i in range(1, 8))
    data = "\n".join([header] + [f"{n},gad7,2026-10-12," + ",".join("0" * 7) for n in setup.numbers]) + "\n"
    real_validate = importer.validate

    def checked_then_raced(db, vault, rows, school_filter, campaign=None):  # type: ignore[no-untyped-def]
        real_validate(db, vault, rows, school_filter, campaign)
        # another counselor enters the second student's form between the check and the write
        submit_screening(db, Actor.system("tests"), vault,
                         Submission(setup.students[1], "gad7", GAD7_CALM, DAY, campaign=campaign), mode="paper")

    monkeypatch.setattr(importer, "validate", checked_then_raced)
    with app.test_request_context():
        report = importer.run_import(db_session, Actor.system("tests"), vault, data.encode(),
                                     school_filter=Student.id.isnot(None), campaign=setup.campaign)
    assert report.written == 0
    assert [(e.row, e.field) for e in report.errors] == [(3, "instrument")]
    assert _count(db_session, Screening) == 1  # only the other counselor's
