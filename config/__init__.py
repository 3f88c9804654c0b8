"""Settings, read from environment variables.

`load_config()` picks a class by ``XINMIAO_ENV`` (development | testing | production; default development).
Production refuses to start without its secrets: see :meth:`ProductionConfig.validate`.
Policy data files (warning levels, recheck intervals, suppression threshold) live beside this module.
"""
from __future__ import annotations

import ipaddress
import os
import secrets
import stat
import tempfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, overload

ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("XINMIAO_INSTANCE_DIR", ROOT / "instance"))


@overload
def _env(name: str, default: str) -> str: ...
@overload
def _env(name: str, default: None = None) -> str | None: ...
def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _int(name: str, default: int) -> int:
    value = _env(name)
    return int(value) if value is not None else default


def _bool(name: str, default: bool) -> bool:
    value = _env(name)
    return default if value is None else value.lower() in {"1", "true", "yes", "on"}


class BaseConfig:
    ENV_NAME = "base"
    SECRET_KEY: str | None = _env("SECRET_KEY")
    DATABASE_URL: str = _env("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'xinmiao.db'}")
    # The statistics (district dashboard, trends, staffing, exports) read from a PostgreSQL hot standby when set
    # (app/db.py: Database.statistics); they fall back to the primary, and say so, when it is unreachable or
    # its replay lags more than REPLICA_MAX_LAG_SECONDS (docs/operations.md, "Statistics replica").
    DATABASE_REPLICA_URL: str | None = _env("DATABASE_REPLICA_URL")
    REPLICA_MAX_LAG_SECONDS = _int("REPLICA_MAX_LAG_SECONDS", 300)
    REPLICA_CONNECT_TIMEOUT = _int("REPLICA_CONNECT_TIMEOUT", 2)
    REDIS_URL: str | None = _env("REDIS_URL")
    # Key ring: XINMIAO_KEY_FILE, or XINMIAO_MASTER_KEYS + XINMIAO_INDEX_KEY (see docs/security.md).
    KEY_FILE: str | None = _env("XINMIAO_KEY_FILE")
    # Reverse proxies whose X-Forwarded-For/-Proto/-Host are believed (addresses or networks; app/proxy.py).
    TRUSTED_PROXIES: str | None = _env("XINMIAO_TRUSTED_PROXIES")
    DEV_KEY_FILE: str = str(INSTANCE_DIR / "keys.json")
    GENERATE_DEV_KEYS = False

    TIMEZONE = _env("XINMIAO_TIMEZONE", "Asia/Shanghai")
    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = _env("XINMIAO_TIMEZONE", "Asia/Shanghai")
    BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "translations")
    LANGUAGES = ("zh", "en")

    # Signed audit-chain checkpoints, outside the database (docs/security.md section 6): a JSON-lines file (put it
    # on another disk than the database), optionally syslog too ("/dev/log" or "host:port", UDP).
    AUDIT_CHECKPOINT_FILE: str = _env("XINMIAO_AUDIT_CHECKPOINT_FILE", str(INSTANCE_DIR / "audit-checkpoints.jsonl"))
    AUDIT_CHECKPOINT_SYSLOG: str = _env("XINMIAO_AUDIT_CHECKPOINT_SYSLOG", "")
    AUDIT_CHECKPOINT_MINUTES = _int("XINMIAO_AUDIT_CHECKPOINT_MINUTES", 10)
    # The audit linker (docs/security.md section 6): the scheduler's `audit_link` job every AUDIT_LINK_SECONDS
    # chains up to AUDIT_LINK_MAX_PER_RUN new events, AUDIT_LINK_BATCH at a time; `flask audit verify` reports an
    # event still unlinked after AUDIT_UNLINKED_MAX_AGE_SECONDS as a fault.
    AUDIT_LINK_SECONDS = _int("XINMIAO_AUDIT_LINK_SECONDS", 1)
    AUDIT_LINK_BATCH = _int("XINMIAO_AUDIT_LINK_BATCH", 500)
    AUDIT_LINK_MAX_PER_RUN = _int("XINMIAO_AUDIT_LINK_MAX_PER_RUN", 5000)
    AUDIT_UNLINKED_MAX_AGE_SECONDS = _int("XINMIAO_AUDIT_UNLINKED_MAX_AGE_SECONDS", 60)

    # Sessions and login.
    PERMANENT_SESSION_LIFETIME = timedelta(hours=12)
    IDLE_TIMEOUT = timedelta(minutes=_int("XINMIAO_IDLE_MINUTES", 30))
    RECENT_LOGIN = timedelta(minutes=_int("XINMIAO_RECENT_LOGIN_MINUTES", 15))
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False
    REMEMBER_COOKIE_HTTPONLY = True
    SESSION_PROTECTION = "strong"
    LOGIN_MAX_FAILURES = _int("XINMIAO_LOGIN_MAX_FAILURES", 5)
    LOGIN_LOCK_SECONDS = _int("XINMIAO_LOGIN_LOCK_SECONDS", 900)
    # Two-factor sign-in (TOTP, app/auth/two_factor.py): "on" asks admins, district officers and counselors (and
    # head teachers when TWO_FACTOR_HEAD_TEACHERS) for a code from an authenticator app after the password, at
    # sign-in and at re-authentication. Production requires "on" (it refuses to start otherwise); development and
    # testing default to "off" (password-only demo accounts; every staff page then shows a banner saying so).
    TWO_FACTOR: str = _env("XINMIAO_TWO_FACTOR", "on")
    TWO_FACTOR_HEAD_TEACHERS = _bool("XINMIAO_TWO_FACTOR_HEAD_TEACHERS", False)
    TWO_FACTOR_PENDING_SECONDS = _int("XINMIAO_TWO_FACTOR_PENDING_SECONDS", 300)  # password done, code awaited
    TWO_FACTOR_ISSUER = _env("XINMIAO_TWO_FACTOR_ISSUER", "Xinmiao")

    WTF_CSRF_TIME_LIMIT = None  # tied to the session instead; idle expiry ends both
    MAX_CONTENT_LENGTH = _int("XINMIAO_MAX_UPLOAD_MB", 20) * 1024 * 1024

    # Outgoing mail: only "you have N items" and a link, never clinical content.
    SMTP_HOST: str | None = _env("SMTP_HOST")
    SMTP_PORT = _int("SMTP_PORT", 25)
    SMTP_USER: str | None = _env("SMTP_USER")
    SMTP_PASSWORD: str | None = _env("SMTP_PASSWORD")
    SMTP_STARTTLS = _bool("SMTP_STARTTLS", False)
    MAIL_FROM = _env("MAIL_FROM", "xinmiao@localhost")
    BASE_URL = _env("XINMIAO_BASE_URL", "http://127.0.0.1:5000")

    # The district's policies (app/policies.py loads them once per app; the engine is passed them).
    WARNING_POLICY_FILE: str = _env("XINMIAO_WARNING_POLICY", str(CONFIG_DIR / "warning_policy.yaml"))
    # Cut-off overrides per instrument, JSON: {"gad7": {"positive_cutoff": 7}} (checked at start: app/policies.py)
    INSTRUMENT_SETTINGS: str = _env("XINMIAO_INSTRUMENT_SETTINGS", "")
    INSTRUMENT_DIRS: tuple[str, ...] = tuple(
        p.strip() for p in (_env("XINMIAO_INSTRUMENT_DIRS") or "").split(os.pathsep) if p.strip()
    )

    SUPPRESSION_K = _int("XINMIAO_SUPPRESSION_K", 5)
    # Emergency access (break the glass, app/emergency): how long one granted access to a student's file lasts.
    EMERGENCY_ACCESS_HOURS = _int("XINMIAO_EMERGENCY_ACCESS_HOURS", 24)
    # District statistics rollups (app/district/service.py): how long a rollup is trusted for a term whose
    # campaigns are all closed / for a term with a campaign still running (older: recomputed in the request; the
    # page shows the figures' time either way), how often the scheduler refreshes them, and when the nightly
    # full refresh runs (HH:MM, school time zone).
    DISTRICT_ROLLUP_MAX_AGE_MINUTES = _int("XINMIAO_DISTRICT_ROLLUP_MAX_AGE_MINUTES", 60)
    DISTRICT_OPEN_ROLLUP_MAX_AGE_MINUTES = _int("XINMIAO_DISTRICT_OPEN_ROLLUP_MAX_AGE_MINUTES", 5)
    DISTRICT_ROLLUP_REFRESH_MINUTES = _int("XINMIAO_DISTRICT_ROLLUP_REFRESH_MINUTES", 3)
    DISTRICT_NIGHTLY_REFRESH_AT = _env("XINMIAO_DISTRICT_NIGHTLY_REFRESH_AT", "02:30")
    # Retention (app/retention): the rule is config/retention.yaml; the review job runs monthly, on this day of the
    # month at this time (school time zone), and lists the files whose period has run out.
    RETENTION_POLICY_FILE: str = _env("XINMIAO_RETENTION_POLICY", str(CONFIG_DIR / "retention.yaml"))
    RETENTION_REVIEW_DAY = _int("XINMIAO_RETENTION_REVIEW_DAY", 1)
    RETENTION_REVIEW_AT = _env("XINMIAO_RETENTION_REVIEW_AT", "03:10")
    DEMO_PASSWORD = _env("DEMO_PASSWORD", "xinmiao-demo")
    ALLOW_DEMO_SEED = True
    RUN_SCHEDULER_IN_PROCESS = False

    def validate(self) -> None:
        """Raise RuntimeError when the configuration is unsafe to start with."""


class DevelopmentConfig(BaseConfig):
    ENV_NAME = "development"
    # No fixed secret in the repository: without SECRET_KEY, create_app reads (or creates) a random one kept in
    # instance/secret_key, mode 0600, so every installation signs its cookies with its own key.
    SECRET_KEY = _env("SECRET_KEY")
    DEV_SECRET_FILE: str = str(INSTANCE_DIR / "secret_key")
    GENERATE_DEV_SECRET = True
    GENERATE_DEV_KEYS = True
    TWO_FACTOR: str = _env("XINMIAO_TWO_FACTOR", "off")  # the demo signs in by password; a banner says so


class TestingConfig(BaseConfig):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret"
    DATABASE_URL = "sqlite://"
    DATABASE_REPLICA_URL = None  # the replica tests (tests/replica) set their own standby
    GENERATE_DEV_KEYS = False
    LOGIN_LOCK_SECONDS = 60
    SERVER_NAME = None
    AUDIT_CHECKPOINT_FILE = ""  # off: a test that checkpoints names its own file (a rolled-back chain shrinks)
    TWO_FACTOR = "off"  # the suite signs in by password; the two-factor tests switch it on (tests/web/two_factor.py)


class ProductionConfig(BaseConfig):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    ALLOW_DEMO_SEED = False

    def validate(self) -> None:
        missing = production_missing({"SECRET_KEY": self.SECRET_KEY, "KEY_FILE": self.KEY_FILE})
        if missing:
            raise RuntimeError("production configuration refuses to start without: " + ", ".join(missing))
        two_factor_refusal(self.ENV_NAME, self.TWO_FACTOR)


def production_missing(settings: Mapping[str, Any]) -> list[str]:
    """The production settings absent from `settings` (an app.config, or the production class's values)."""
    missing = []
    if not settings.get("SECRET_KEY") or settings.get("SECRET_KEY_GENERATED"):
        missing.append("SECRET_KEY")
    if not (settings.get("KEY_FILE") or _env("XINMIAO_MASTER_KEYS")):
        missing.append("XINMIAO_KEY_FILE or XINMIAO_MASTER_KEYS")
    return missing


def two_factor_refusal(env_name: str, setting: object) -> None:
    """Raise RuntimeError for a TWO_FACTOR setting that is not "on"/"off", and for anything but "on" in
    production: there, two-factor sign-in cannot be turned off (admins above all)."""
    if setting not in ("on", "off"):
        raise RuntimeError(f"XINMIAO_TWO_FACTOR={setting!r}: use on or off")
    if env_name == "production" and setting != "on":
        raise RuntimeError("production refuses to start with XINMIAO_TWO_FACTOR=off: two-factor sign-in is "
                           "required for admins, district officers and counselors")


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and "localhost"; anything else (0.0.0.0, ::, a LAN address, another name) is not."""
    host = (host or "").strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serving_refusal(host: str, settings: Mapping[str, Any]) -> str | None:
    """Why a server must not listen on `host` with these settings, or None. Loopback is always allowed (the
    development demo); any other address only with complete production settings."""
    if is_loopback(host):
        return None
    missing = [] if settings.get("ENV_NAME") == "production" else ["XINMIAO_ENV=production"]
    missing += production_missing(settings)
    if not missing:
        return None
    return (f"refusing to listen on {host}: only 127.0.0.1/localhost is allowed without complete production "
            f"settings; missing: {', '.join(missing)}")


def instance_secret(path: str | os.PathLike[str]) -> str:
    """The development SECRET_KEY of this instance: read from `path`, or created there (256 random bits, mode 0600,
    written to a temporary file then linked into place, so two processes starting together agree on one key).
    A file that group or others may read is refused, as the key file is."""
    path = Path(path)
    for _attempt in range(2):
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd_tmp, tmp = tempfile.mkstemp(prefix=".secret-", dir=path.parent)  # mode 0600
            try:
                with os.fdopen(fd_tmp, "w") as fh:
                    fh.write(secrets.token_urlsafe(32) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
                try:
                    os.link(tmp, path)  # atomic, and never replaces a key another process made first
                except FileExistsError:
                    pass
            finally:
                os.unlink(tmp)
            continue
        with os.fdopen(fd, "r") as fh:
            if os.name == "posix" and os.fstat(fh.fileno()).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise RuntimeError(f"{path} is readable by group or others; run: chmod 600 {path}")
            value = fh.read().strip()
        if len(value) < 32:
            raise RuntimeError(f"{path} does not hold a secret key (delete it to generate a new one)")
        return value
    raise RuntimeError(f"cannot create {path}")


CONFIGS = {"development": DevelopmentConfig, "testing": TestingConfig, "production": ProductionConfig}


def load_config(name: str | None = None) -> BaseConfig:
    name = name or _env("XINMIAO_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise RuntimeError(f"unknown XINMIAO_ENV {name!r}; use one of {', '.join(CONFIGS)}") from None
