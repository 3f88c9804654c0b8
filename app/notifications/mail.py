"""E-mail for notifications, only when SMTP is configured (SMTP_HOST).

Privacy rule: an e-mail never carries clinical content, a student's name or the kind of alert. The body says only
"you have N items to review" and a link to the notification list; everything else is behind the login. Sent
promptly for crisis notifications and re-alerts (the mail job runs every minute) and with the weekly digest.
`emailed_at` records delivery, so a notification is mailed once.
"""
from __future__ import annotations

import logging
import smtplib
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from models import Notification, User

log = logging.getLogger("xinmiao.mail")
MAILED_KINDS = ("crisis", "crisis_realert", "crisis_unassigned", "digest", "emergency_access")
MAX_AGE = timedelta(days=2)  # switching SMTP on later does not mail old notifications


def _config() -> Mapping[str, Any]:
    from flask import current_app, has_app_context

    return current_app.config if has_app_context() else {}


def compose(to: str, items: int, config: Mapping[str, Any], locale: str | None = None) -> EmailMessage:
    link = config.get("BASE_URL", "http://127.0.0.1:5000").rstrip("/") + "/notifications"
    msg = EmailMessage()
    msg["From"] = config.get("MAIL_FROM") or "xinmiao@localhost"
    msg["To"] = to
    if (locale or "zh").startswith("en"):
        msg["Subject"] = f"Xinmiao: you have {items} items to review"
        body = f"You have {items} items to review.\n\n{link}\n"
    else:
        msg["Subject"] = f"心苗：您有 {items} 项待处理"
        body = f"您有 {items} 项待处理事项，请登录查看。\nYou have {items} items to review.\n\n{link}\n"
    msg.set_content(body)
    return msg


def _smtp(config: Mapping[str, Any]) -> smtplib.SMTP:
    server = smtplib.SMTP(config["SMTP_HOST"], int(config.get("SMTP_PORT") or 25), timeout=20)
    if config.get("SMTP_STARTTLS"):
        server.starttls()
    if config.get("SMTP_USER"):
        server.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
    return server


def send_pending(db: Session, now: datetime, config: Mapping[str, Any] | None = None) -> dict[str, int]:
    """Mail every user who has crisis/re-alert/digest notifications not yet mailed; one e-mail per user."""
    config = config if config is not None else _config()
    if not config.get("SMTP_HOST"):
        return {"emails_sent": 0, "notifications_mailed": 0}
    pending = db.execute(
        select(Notification.id, User.id, User.email, User.locale)
        .join(User, User.id == Notification.user_id)
        .where(
            Notification.emailed_at.is_(None),
            Notification.kind.in_(MAILED_KINDS),
            Notification.created_at >= now - MAX_AGE,
            User.active.is_(True),
            User.email.is_not(None),
            User.email != "",
        )
        .order_by(User.id, Notification.id)
    ).all()
    if not pending:
        return {"emails_sent": 0, "notifications_mailed": 0}
    by_user: dict[int, list[int]] = defaultdict(list)
    address: dict[int, tuple[str, str | None]] = {}
    for note_id, user_id, email, locale in pending:
        by_user[user_id].append(note_id)
        address[user_id] = (email, locale)
    unread = dict(
        db.execute(
            select(Notification.user_id, func.count())
            .where(
                Notification.user_id.in_(list(by_user)), Notification.read_at.is_(None), Notification.kind != "digest"
            )
            .group_by(Notification.user_id)
        )
        .tuples()
        .all()
    )
    sent = mailed = 0
    server = _smtp(config)
    try:
        for user_id, note_ids in by_user.items():
            email, locale = address[user_id]
            items = max(unread.get(user_id, 0), 1)
            try:
                server.send_message(compose(email, items, config, locale))
            except smtplib.SMTPException as exc:  # one bad address must not stop the others
                log.warning("mail to user %s failed: %s", user_id, type(exc).__name__)
                continue
            db.execute(
                update(Notification).where(Notification.id.in_(note_ids)).values(emailed_at=now)
                .execution_options(synchronize_session=False)
            )
            sent += 1
            mailed += len(note_ids)
    finally:
        try:
            server.quit()
        except smtplib.SMTPException:
            pass
    return {"emails_sent": sent, "notifications_mailed": mailed}
