"""Authentication: password hashing, login with lockout, session invalidation."""
from __future__ import annotations

from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, session
from flask_login import login_user, logout_user
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models import Actor, User, append_event, clock, utcnow

_hasher = PasswordHasher()  # argon2id, library defaults (memory-hard)
_DUMMY_HASH = _hasher.hash("timing-equaliser")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass
class LoginOutcome:
    user: User | None
    locked: bool = False


def authenticate(db: Session, username: str, password: str, client_addr: str | None) -> LoginOutcome:
    """Check credentials, counting failures (shared across workers) and auditing every attempt."""
    throttle = current_app.extensions["xinmiao_throttle"]
    key = username.strip().lower()
    user = db.scalars(select(User).where(func.lower(User.username) == key)).first()
    anonymous = Actor(None, username[:64], "anonymous", client_addr)
    if throttle.is_locked(key):
        append_event(db, anonymous, "auth.login_locked", target=f"user:{key}")
        return LoginOutcome(None, locked=True)
    ok = check_password(user, password) if user else (_hasher.verify(_DUMMY_HASH, password) and False)
    if not ok or user is None or not user.active:
        count = throttle.failure(key)
        append_event(db, anonymous, "auth.login_failed", target=f"user:{key}", detail={"failures": count})
        if throttle.is_locked(key):
            append_event(db, anonymous, "auth.account_locked", target=f"user:{key}")
        return LoginOutcome(None)
    throttle.reset(key)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    append_event(db, Actor.for_user(user, client_addr), "auth.login", target=f"user:{user.username}")
    return LoginOutcome(user)


def session_now() -> float:
    """The clock of the login session (sign-in time, last activity), as a UNIX timestamp."""
    return clock.timestamp()


def start_session(user: User) -> None:
    session.clear()  # new session for a new login (no fixation)
    login_user(user)
    session["auth_at"] = session_now()
    session["last_seen"] = session_now()


def mark_reauthenticated() -> None:
    session["auth_at"] = session_now()


def end_session(user: User, actor: Actor, reason: str = "logout") -> None:
    """Log out and invalidate every session of this user: the version in old cookies no longer matches."""
    from app.db import db

    user.session_version = (user.session_version or 1) + 1
    append_event(db.session, actor, f"auth.{reason}", target=f"user:{user.username}")
    logout_user()
    session.clear()


def change_password(db: Session, actor: Actor, user: User, new_password: str) -> None:
    user.password_hash = hash_password(new_password)
    user.session_version = (user.session_version or 1) + 1
    append_event(db, actor, "auth.password_changed", target=f"user:{user.username}")


def load_user(user_id: str) -> User | None:
    """Flask-Login loader: the id carries the session version; a stale version means a dead session."""
    from app.db import db

    try:
        uid, version = (int(p) for p in user_id.split(":", 1))
    except ValueError:
        return None
    user = db.session.get(User, uid)
    if user is None or not user.active or user.session_version != version:
        return None
    return user
