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
from models.crypto import KeyRing

from . import two_factor

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
    # After a right password: "verify" (a code from the app is still due) or "enrol" (first sign-in with two
    # factors: set the app up, confirm a code). None: signed in / not applicable.
    second_factor: str | None = None
    factor: str | None = None  # the second factor that passed: "totp", "recovery"
    recovery_codes: list[str] | None = None  # new recovery codes after an enrolment, to be shown once


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
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if two_factor.required_for(user, current_app.config):
        # Half-way: no session exists yet (the caller keeps only a pending mark), and the failure counter is not
        # reset until the second factor passes, so a known password buys no new guesses at the code.
        stage = "verify" if two_factor.is_enrolled(user) else "enrol"
        append_event(db, Actor.for_user(user, client_addr), "auth.password_ok", target=f"user:{user.username}",
                     detail={"second_factor": stage})
        return LoginOutcome(user, second_factor=stage)
    throttle.reset(key)
    user.last_login_at = utcnow()
    append_event(db, Actor.for_user(user, client_addr), "auth.login", target=f"user:{user.username}")
    return LoginOutcome(user)


def _keyring() -> KeyRing:
    ring: KeyRing = current_app.extensions["xinmiao_keyring"]
    return ring


def verify_second_factor(db: Session, user: User, code: str, client_addr: str | None) -> LoginOutcome:
    """The second step of a sign-in: a TOTP code or a recovery code. Failures count toward the same lockout as
    passwords (the username) and are audited (`auth.second_factor_failed`; `auth.second_factor_locked` while
    locked); success is the audited `auth.login` (with the factor used)."""
    throttle = current_app.extensions["xinmiao_throttle"]
    key = _throttle_key(user.username)
    actor = Actor.for_user(user, client_addr)
    target = f"user:{user.username}"
    if throttle.is_locked(key):
        append_event(db, actor, "auth.second_factor_locked", target=target)
        return LoginOutcome(None, locked=True)
    factor = two_factor.check_second_factor(db, _keyring(), user, code)
    if factor is None:
        locked = _count_failure(db, actor, key, "auth.second_factor_failed", target, purpose="login")
        return LoginOutcome(None, locked=locked)
    throttle.reset(key)
    user.last_login_at = utcnow()
    append_event(db, actor, "auth.login", target=target, detail={"second_factor": factor})
    if factor == "recovery":
        append_event(db, actor, "auth.recovery_code_used", target=target,
                     detail={"left": two_factor.unused_recovery_codes(db, user)})
    return LoginOutcome(user, factor=factor)


def confirm_enrolment(db: Session, user: User, code: str, client_addr: str | None) -> LoginOutcome:
    """The first sign-in with two factors: the code from the newly set-up app activates the secret; the new
    recovery codes come back to be shown once. Failures count and are audited like wrong codes at sign-in."""
    throttle = current_app.extensions["xinmiao_throttle"]
    key = _throttle_key(user.username)
    actor = Actor.for_user(user, client_addr)
    target = f"user:{user.username}"
    if throttle.is_locked(key):
        append_event(db, actor, "auth.second_factor_locked", target=target, detail={"purpose": "enrol"})
        return LoginOutcome(None, locked=True)
    codes = two_factor.confirm_enrolment(db, _keyring(), user, code)
    if codes is None:
        locked = _count_failure(db, actor, key, "auth.second_factor_failed", target, purpose="enrol")
        return LoginOutcome(None, locked=locked)
    throttle.reset(key)
    user.last_login_at = utcnow()
    append_event(db, actor, "auth.two_factor_enrolled", target=target)
    append_event(db, actor, "auth.login", target=target, detail={"second_factor": "totp"})
    return LoginOutcome(user, factor="totp", recovery_codes=codes)


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
                   purpose: str = "reauth", code: str | None = None) -> LoginOutcome:
    """A signed-in user proves their password again (/reauth, the password change), and their second factor
    when they must use one (`code`: TOTP or a recovery code; only `purpose="reauth"` asks for it).

    Counts toward the same lockout as sign-in (the same key: the username) and is audited: `auth.reauth` or
    `auth.reauth_failed` (with `purpose`, and `factor`: password or second), `auth.account_locked` when this
    failure locks the account, and `auth.reauth_locked` for an attempt while locked (the caller then ends the
    session).
    """
    throttle = current_app.extensions["xinmiao_throttle"]
    key = _throttle_key(user.username)
    actor = Actor.for_user(user, client_addr)
    target = f"user:{user.username}"
    if throttle.is_locked(key):
        append_event(db, actor, "auth.reauth_locked", target=target, detail={"purpose": purpose})
        return LoginOutcome(None, locked=True)
    if not _verify(user.password_hash, password):
        locked = _count_failure(db, actor, key, "auth.reauth_failed", target, purpose=purpose, factor="password")
        return LoginOutcome(None, locked=locked)
    factor = None
    if purpose == "reauth" and second_factor_due(user):
        factor = two_factor.check_second_factor(db, _keyring(), user, code or "")
        if factor is None:
            locked = _count_failure(db, actor, key, "auth.reauth_failed", target, purpose=purpose, factor="second")
            return LoginOutcome(None, locked=locked)
    throttle.reset(key)
    append_event(db, actor, "auth.reauth", target=target,
                 detail={"purpose": purpose, **({"second_factor": factor} if factor else {})})
    return LoginOutcome(user, factor=factor)


def confirm_presence(db: Session, user: User, answer: str, client_addr: str | None, purpose: str) -> LoginOutcome:
    """A signed-in user proves again that they are at the keyboard, for one sensitive step (emergency access):
    with their second factor when they have one (a TOTP code of a step not used before; no recovery code, which
    is for a lost phone), else with their password.

    The same lockout and the same audit actions as `reauthenticate` (`auth.reauth` / `auth.reauth_failed` with
    `purpose` and `factor`, `auth.account_locked`, `auth.reauth_locked`); `outcome.factor` names what passed.
    """
    throttle = current_app.extensions["xinmiao_throttle"]
    key = _throttle_key(user.username)
    actor = Actor.for_user(user, client_addr)
    target = f"user:{user.username}"
    if throttle.is_locked(key):
        append_event(db, actor, "auth.reauth_locked", target=target, detail={"purpose": purpose})
        return LoginOutcome(None, locked=True)
    if second_factor_due(user) and two_factor.is_enrolled(user):
        factor = "totp"
        ok = two_factor.check_totp(db, _keyring(), user, answer or "")
    else:
        factor = "password"
        ok = bool(answer) and _verify(user.password_hash, answer)
    if not ok:
        locked = _count_failure(db, actor, key, "auth.reauth_failed", target, purpose=purpose, factor=factor)
        return LoginOutcome(None, locked=locked)
    throttle.reset(key)
    append_event(db, actor, "auth.reauth", target=target, detail={"purpose": purpose, "factor": factor})
    return LoginOutcome(user, factor=factor)


def second_factor_due(user: User) -> bool:
    """Whether sign-in and re-authentication ask `user` for a second factor under this app's settings."""
    return two_factor.required_for(user, current_app.config)


def session_now() -> float:
    """The clock of the login session (sign-in time, last activity), as a UNIX timestamp."""
    return clock.timestamp()


def start_session(user: User, second_factor: str | None = None) -> None:
    """Sign `user` in (a new session: no fixation). `second_factor` names the factor that passed ("totp",
    "recovery"); the request guard ends any session of a user who must use one and has none marked."""
    session.clear()
    login_user(user)
    session["auth_at"] = session_now()
    session["last_seen"] = session_now()
    if second_factor:
        session["second_factor"] = second_factor


PENDING = "two_factor_pending"


def begin_pending(user: User, target: str, stage: str) -> None:
    """The password passed; the second factor is due. The session holds only this mark (no Flask-Login user):
    every page but the second-factor step still sees an anonymous visitor."""
    session.clear()
    session[PENDING] = {"uid": user.id, "v": user.session_version, "at": session_now(), "next": target,
                        "stage": stage}


def pending_user(db: Session) -> tuple[User, dict[str, object]] | None:
    """The user whose password passed in this session and whose second factor is awaited, if still valid
    (TWO_FACTOR_PENDING_SECONDS; the user active, their sessions not ended since)."""
    mark = session.get(PENDING)
    if not isinstance(mark, dict):
        return None
    try:
        uid, version, at = int(mark["uid"]), int(mark["v"]), float(mark["at"])
    except (KeyError, TypeError, ValueError):
        session.pop(PENDING, None)
        return None
    if not 0 <= session_now() - at <= current_app.config["TWO_FACTOR_PENDING_SECONDS"]:
        session.pop(PENDING, None)
        return None
    user = db.get(User, uid)
    if user is None or not user.active or user.session_version != version or not second_factor_due(user):
        session.pop(PENDING, None)
        return None
    return user, mark


def end_pending() -> None:
    session.pop(PENDING, None)


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


def reset_second_factor(db: Session, actor: Actor, user: User) -> None:
    """An admin forgets `user`'s second factor (lost phone): secret and recovery codes gone, every session of
    theirs ended; they set up a new app at their next sign-in. Audited (`auth.two_factor_reset`)."""
    had = two_factor.is_enrolled(user)
    two_factor.reset(db, user)
    append_event(db, actor, "auth.two_factor_reset", target=f"user:{user.username}",
                 detail={"was_enrolled": "yes" if had else "no"})
