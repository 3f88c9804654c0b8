"""Reads are audited in a short transaction of their own at the end of the request (models.audit docstring)."""
from __future__ import annotations

from sqlalchemy import select

from models import AuditEvent
from tests.conftest import login


def test_a_page_view_writes_its_audit_event_before_the_response_leaves(client, factory, db_session):
    school = factory.school()
    student = factory.student(school=school, name="林晓雨")
    login(client, factory.counselor(school).username, factory.PASSWORD)
    response = client.get(f"/students/{student.public_id}")
    assert response.status_code == 200 and "林晓雨" in response.get_data(as_text=True)
    views = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "student.view")).all()
    assert [e.student_public_id for e in views] == [student.public_id]


def test_a_page_is_not_shown_when_its_access_cannot_be_recorded(app, client, factory, monkeypatch):
    import importlib

    db_module = importlib.import_module("app.db")  # the module (the package attribute `app.db` is the Database)
    school = factory.school()
    student = factory.student(school=school, name="林晓雨")
    login(client, factory.counselor(school).username, factory.PASSWORD)

    def broken(session, queued):  # type: ignore[no-untyped-def]
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(db_module, "write_deferred", broken)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as production does: a 500 page
    response = client.get(f"/students/{student.public_id}")
    assert response.status_code == 500
    assert "林晓雨" not in response.get_data(as_text=True)


def test_a_failed_read_records_nothing(client, factory, db_session):
    school = factory.school()
    login(client, factory.counselor(school).username, factory.PASSWORD)
    before = len(db_session.scalars(select(AuditEvent.seq)).all())
    assert client.get("/students/00000000-0000-0000-0000-000000000000").status_code == 404
    assert len(db_session.scalars(select(AuditEvent.seq)).all()) == before
