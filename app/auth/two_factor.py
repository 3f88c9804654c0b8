"""Two-factor sign-in: TOTP (RFC 6238, an authenticator app) with single-use recovery codes.

The mechanics only; counting toward the lockout and auditing are `app.auth.service`'s, which calls these.

- Who: with TWO_FACTOR = "on", every officer role (admin, district, counselor) must use a second factor; a head
  teacher when TWO_FACTOR_HEAD_TEACHERS is set (or once they enrolled of their own accord). "off" is allowed
  only outside production (config.two_factor_refusal).
- The secret: 160 random bits (base32), sealed with AES-256-GCM under `KeyRing.purpose_key("totp-secret")` of
  the current master-key version (the version is kept in `users.totp_key_version`), with the user's id as
  associated data, so a secret copied onto another user's row does not open. It is stored when enrolment begins;
  `users.totp_enrolled_at` is set only once the user confirmed a code from their app.
- The time: models.clock (the tests move it), 30-second steps, one step either side accepted (clock drift).
- Replay: the step of the last accepted code is kept (`users.totp_last_step`), and a code is accepted only for a
  later step, by one conditional UPDATE, so two requests racing with the same code cannot both pass.
- Recovery codes: 10, of 10 characters from an alphabet without look-alikes (0/o, 1/l/i), shown once after
  enrolment; stored as argon2 hashes like passwords; each is spent by a conditional UPDATE (single use).
"""
from __future__ import annotations

import hmac
import os
import secrets
from collections.abc import Mapping
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from models import RecoveryCode, User, clock, utcnow
from models.crypto import CryptoError, KeyRing
from models.db import rowcount

PURPOSE = "totp-secret"
STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
RECOVERY_LENGTH = 10
OFFICER_ROLES = frozenset({"admin", "district", "counselor", "school_leader", "city"})
_NONCE = 12

_hasher = PasswordHasher()


class SecretUnreadable(Exception):
    """The sealed TOTP secret does not open (tampered, another user's, its master-key version removed)."""


# -- who ---------------------------------------------------------------------------------------------------------

def is_on(config: Mapping[str, Any]) -> bool:
    return config.get("TWO_FACTOR") == "on"


def required_for(user: User, config: Mapping[str, Any]) -> bool:
    """Whether `user` must pass a second factor to sign in and to re-authenticate under `config`."""
    if not is_on(config):
        return False
    if user.role in OFFICER_ROLES:
        return True
    return bool(config.get("TWO_FACTOR_HEAD_TEACHERS")) or user.totp_enrolled_at is not None


def is_enrolled(user: User) -> bool:
    return user.totp_secret is not None and user.totp_enrolled_at is not None


# -- the sealed secret -------------------------------------------------------------------------------------------

def _aad(user_id: int, version: int) -> bytes:
    return f"xinmiao/totp-secret/v1|users|{user_id}|{version}".encode()


def seal_secret(ring: KeyRing, user_id: int, secret: str) -> tuple[bytes, int]:
    key, version = ring.purpose_key(PURPOSE)
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key).encrypt(nonce, secret.encode("ascii"), _aad(user_id, version)), version


def open_secret(ring: KeyRing, user: User) -> str:
    if user.totp_secret is None or user.totp_key_version is None:
        raise SecretUnreadable("no secret")
    blob = bytes(user.totp_secret)
    try:
        key, version = ring.purpose_key(PURPOSE, user.totp_key_version)
        plain = AESGCM(key).decrypt(blob[:_NONCE], blob[_NONCE:], _aad(user.id, version))
    except (CryptoError, InvalidTag, ValueError) as exc:
        raise SecretUnreadable(type(exc).__name__) from None
    return plain.decode("ascii")


def secrets_on_master_version(db: Session, version: int) -> int:
    """Users whose TOTP secret is sealed under master-key `version` (`flask keys prune` keeps such a version)."""
    return len(db.scalars(select(User.id).where(User.totp_secret.is_not(None),
                                                User.totp_key_version == version)).all())


def reseal_secrets(db: Session, ring: KeyRing) -> tuple[int, list[int]]:
    """Seal every TOTP secret not on the current master version again under it (`flask keys rotate`).
    Returns (resealed, ids of users whose secret does not open: left as they are, they must be reset)."""
    done, failed = 0, []
    users = db.scalars(select(User).where(User.totp_secret.is_not(None),
                                          User.totp_key_version != ring.current_version)).all()
    for user in users:
        try:
            secret = open_secret(ring, user)
        except SecretUnreadable:
            failed.append(user.id)
            continue
        user.totp_secret, user.totp_key_version = seal_secret(ring, user.id, secret)
        done += 1
    db.flush()
    return done, failed


def begin_enrolment(db: Session, ring: KeyRing, user: User) -> str:
    """The secret the user is to put in their app: the one of an enrolment already begun, else a new one (stored
    sealed, not yet active)."""
    if user.totp_secret is not None and user.totp_enrolled_at is None:
        try:
            return open_secret(ring, user)
        except SecretUnreadable:
            pass  # begin again with a new secret
    secret = pyotp.random_base32(length=32)
    user.totp_secret, user.totp_key_version = seal_secret(ring, user.id, secret)
    user.totp_enrolled_at = None
    user.totp_last_step = None
    db.flush()
    return secret


def provisioning_uri(user: User, secret: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=user.username, issuer_name=issuer)


def current_code(secret: str, at: float | None = None) -> str:
    """The code an authenticator app shows at `at` (default: now on models.clock). For tests and the docs."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).at(clock.timestamp() if at is None else at)


# -- checking a code ---------------------------------------------------------------------------------------------

def _normalise_totp(code: str) -> str | None:
    digits = "".join((code or "").split())
    return digits if len(digits) == DIGITS and digits.isascii() and digits.isdigit() else None


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The 30-second step (within the drift) whose code is `code`, or None. Constant-time comparisons."""
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int(now // STEP_SECONDS)
    found = None
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def check_totp(db: Session, ring: KeyRing, user: User, code: str) -> bool:
    """True for a right code of a step later than the last one accepted (which it then becomes)."""
    digits = _normalise_totp(code)
    if digits is None or user.totp_secret is None:
        return False
    try:
        secret = open_secret(ring, user)
    except SecretUnreadable:
        return False
    step = matching_step(secret, digits, clock.timestamp())
    if step is None:
        return False
    result = db.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
    )
    if rowcount(result) != 1:
        return False  # replayed: this step (or a later one) was already used
    user.totp_last_step = step
    return True


def _normalise_recovery(code: str) -> str | None:
    text = "".join(c for c in (code or "").lower() if c not in " -")
    if len(text) != RECOVERY_LENGTH or any(c not in RECOVERY_ALPHABET for c in text):
        return None
    return text


def check_recovery_code(db: Session, user: User, code: str) -> bool:
    """True for an unused recovery code of `user`, which is then spent."""
    text = _normalise_recovery(code)
    if text is None:
        return False
    unused = db.scalars(select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
                        .order_by(RecoveryCode.id)).all()
    for row in unused:
        try:
            if not _hasher.verify(row.code_hash, text):
                continue
        except (VerificationError, InvalidHashError):
            continue
        spent = db.execute(
            update(RecoveryCode).where(RecoveryCode.id == row.id, RecoveryCode.used_at.is_(None))
            .values(used_at=utcnow()).execution_options(synchronize_session=False)
        )
        return rowcount(spent) == 1
    return False


def check_second_factor(db: Session, ring: KeyRing, user: User, code: str) -> str | None:
    """"totp" or "recovery" for an accepted code, None otherwise."""
    if not is_enrolled(user):
        return None
    if _normalise_totp(code) is not None:
        return "totp" if check_totp(db, ring, user, code) else None
    return "recovery" if check_recovery_code(db, user, code) else None


# -- enrolment, recovery codes, reset ----------------------------------------------------------------------------

def _new_recovery_code() -> str:
    return "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_LENGTH))


def format_recovery_code(code: str) -> str:
    half = RECOVERY_LENGTH // 2
    return f"{code[:half]}-{code[half:]}"


def new_recovery_codes(db: Session, user: User) -> list[str]:
    """Replace the user's recovery codes by RECOVERY_CODES new ones; returns them in clear (shown once)."""
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    db.add_all(RecoveryCode(user_id=user.id, code_hash=_hasher.hash(code)) for code in codes)
    db.flush()
    return [format_recovery_code(code) for code in codes]


def confirm_enrolment(db: Session, ring: KeyRing, user: User, code: str) -> list[str] | None:
    """Activate the secret of an enrolment in progress when `code` is right; returns the new recovery codes."""
    if user.totp_secret is None or user.totp_enrolled_at is not None:
        return None
    if not check_totp(db, ring, user, code):
        return None
    user.totp_enrolled_at = utcnow()
    return new_recovery_codes(db, user)


def unused_recovery_codes(db: Session, user: User) -> int:
    return len(db.scalars(select(RecoveryCode.id).where(RecoveryCode.user_id == user.id,
                                                         RecoveryCode.used_at.is_(None))).all())


def reset(db: Session, user: User) -> None:
    """Forget the user's second factor (secret and recovery codes) and end their sessions: they enrol again at
    their next sign-in."""
    user.totp_secret = None
    user.totp_key_version = None
    user.totp_enrolled_at = None
    user.totp_last_step = None
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.session_version = (user.session_version or 1) + 1
    db.flush()
