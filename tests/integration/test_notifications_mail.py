"""E-mail for notifications against a real local SMTP server (aiosmtpd): count and link only, mailed once."""
from __future__ import annotations

import email
import email.policy
import socket
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.notifications.mail import send_pending
from app.notifications.service import notify
from models import Notification

from .rechecks_support import at


def body_of(envelope) -> str:  # type: ignore[no-untyped-def]
    message = email.message_from_bytes(envelope.content, policy=email.policy.default)
    return message["Subject"] + "\n" + message.get_content()


class Inbox:
    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": port, "MAIL_FROM": "xinmiao@school.test",
                  "BASE_URL": "https://xinmiao.school.test"}
    controller.stop()


NOW = at(date(2026, 11, 30), 9)


def test_a_crisis_notification_is_mailed_once_with_only_a_count_and_a_link(db_session, factory, smtp):
    inbox, config = smtp
    student = factory.student(name="王小明")
    counselor = factory.counselor(student.school, email="counselor@school.test")
    note = notify(db_session, counselor, "crisis", "crisis:1", student_id=student.id, requires_ack=True)
    note.created_at = NOW - timedelta(minutes=1)
    notify(db_session, counselor, "recheck_due", "recheck_due:1", student_id=student.id)
    db_session.flush()

    assert send_pending(db_session, NOW, config) == {"emails_sent": 1, "notifications_mailed": 1}
    [mail] = inbox.messages
    assert mail.rcpt_tos == ["counselor@school.test"]
    body = body_of(mail)
    assert "您有 2 项待处理" in body
    assert "https://xinmiao.school.test/notifications" in body
    assert "2 items to review" in body
    for clinical in ("王小明", "crisis", "warning", "预警", "危机", "PHQ", student.public_id):
        assert clinical not in body
    db_session.refresh(note)
    assert note.emailed_at == NOW

    assert send_pending(db_session, NOW + timedelta(minutes=1), config)["emails_sent"] == 0
    assert len(inbox.messages) == 1


def test_routine_notifications_wait_for_the_digest_and_the_digest_is_mailed(db_session, factory, smtp):
    inbox, config = smtp
    counselor = factory.counselor(email="c@school.test")
    notify(db_session, counselor, "recheck_overdue", "recheck_overdue:9")
    for n in db_session.scalars(select(Notification)):
        n.created_at = NOW
    db_session.flush()
    assert send_pending(db_session, NOW, config)["emails_sent"] == 0
    digest = notify(db_session, counselor, "digest", "digest:2026-W49", params={"overdue": 1})
    digest.created_at = NOW
    db_session.flush()
    assert send_pending(db_session, NOW, config)["emails_sent"] == 1
    assert "1 items to review" in body_of(inbox.messages[0])


def test_nothing_is_sent_without_smtp_or_without_an_address(db_session, factory, smtp):
    inbox, config = smtp
    no_address = factory.counselor()
    note = notify(db_session, no_address, "crisis", "crisis:2", requires_ack=True)
    note.created_at = NOW
    with_address = factory.counselor(email="x@school.test")
    other = notify(db_session, with_address, "crisis", "crisis:3", requires_ack=True)
    other.created_at = NOW
    db_session.flush()
    assert send_pending(db_session, NOW, {})["emails_sent"] == 0  # SMTP not configured
    assert send_pending(db_session, NOW, config)["emails_sent"] == 1
    assert [m.rcpt_tos for m in inbox.messages] == [["x@school.test"]]
    db_session.refresh(note)
    assert note.emailed_at is None


def test_old_notifications_are_not_mailed_when_smtp_is_switched_on_later(db_session, factory, smtp):
    inbox, config = smtp
    counselor = factory.counselor(email="c@school.test")
    note = notify(db_session, counselor, "crisis", "crisis:4", requires_ack=True)
    note.created_at = NOW - timedelta(days=10)
    db_session.flush()
    assert send_pending(db_session, NOW, config)["emails_sent"] == 0
    assert inbox.messages == []
