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
    """The password check alone (no counting, no audit): sign-in and re-authentication go through
    `authenticate` / `reauthenticate`, which count failures toward the lockout."""
    return _verify(user.password_hash, password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _throttle_key(username: str) -> str:
    return username.strip().lower()


@dataclass
class LoginOutcome:
    user: User | None
    locked: bool = False


def authenticate(db: Session, username: str, password: str, client_addr: str | None) -> LoginOutcome:
    """Check credentials, counting failures (shared across workers) and auditing every attempt.

    An unknown username costs the same as a known one with a wrong password (one argon2 verification, against a
    dummy hash of the same parameters), gets the same answer, counts toward a lockout of that name and is audited
    as a failed login.
    """
    throttle = current_app.extensions["xinmiao_throttle"]
    key = _throttle_key(username)
    user = db.scalars(select(User).where(func.lower(User.username) == key)).first()
    anonymous = Actor(None, username[:64], "anonymous", client_addr)
    if throttle.is_locked(key):
        append_event(db, anonymous, "auth.login_locked", target=f"user:{key[:64]}")
        return LoginOutcome(None, locked=True)
    ok = _verify(user.password_hash if user else _DUMMY_HASH, password)
    if not ok or user is None or not user.active:
        _count_failure(db, anonymous, key, "auth.login_failed", f"user:{key[:64]}")
        return LoginOutcome(None)
    throttle.reset(key)
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    append_event(db, Actor.for_user(user, client_addr), "auth.login", target=f"user:{user.username}")
    return LoginOutcome(user)


def _count_failure(db: Session, actor: Actor, key: str, action: str, target: str, **detail: str) -> bool:
    """Count one failed password toward the lockout of `key` and audit it; True when it locked the account."""
    throttle = current_app.extensions["xinmiao_throttle"]
    count = throttle.failure(key)
    append_event(db, actor, action, target=target, detail={"failures": count, **detail})
    locked = throttle.is_locked(key)
    if locked:
        append_event(db, actor, "auth.account_locked", target=target)
    return locked


def reauthenticate(db: Session, user: User, password: str, client_addr: str | None,
                   purpose: str = "reauth") -> LoginOutcome:
    """A signed-in user proves their password again (/reauth, the password change).

    Counts toward the same lockout as sign-in (the same key: the username) and is audited: `auth.reauth` or
    `auth.reauth_failed` (with `purpose`), `auth.account_locked` when this failure locks the account, and
    `auth.reauth_locked` for an attempt while locked (the caller then ends the session).
    """
    throttle = current_app.extensions["xinmiao_throttle"]
    key = _throttle_key(user.username)
    actor = Actor.for_user(user, client_addr)
    if throttle.is_locked(key):
        append_event(db, actor, "auth.reauth_locked", target=f"user:{user.username}", detail={"purpose": purpose})
        return LoginOutcome(None, locked=True)
    if not _verify(user.password_hash, password):
        locked = _count_failure(db, actor, key, "auth.reauth_failed", f"user:{user.username}", purpose=purpose)
        return LoginOutcome(None, locked=locked)
    throttle.reset(key)
    append_event(db, actor, "auth.reauth", target=f"user:{user.username}", detail={"purpose": purpose})
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
