"""Settings, read from environment variables.

`load_config()` picks a class by ``XINMIAO_ENV`` (development | testing | production; default development).
Production refuses to start without its secrets: see :meth:`ProductionConfig.validate`.
Policy data files (warning levels, recheck intervals, suppression threshold) live beside this module.
"""
from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import overload

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
    REDIS_URL: str | None = _env("REDIS_URL")
    # Key ring: XINMIAO_KEY_FILE, or XINMIAO_MASTER_KEYS + XINMIAO_INDEX_KEY (see docs/security.md).
    KEY_FILE: str | None = _env("XINMIAO_KEY_FILE")
    DEV_KEY_FILE: str = str(INSTANCE_DIR / "keys.json")
    GENERATE_DEV_KEYS = False

    TIMEZONE = _env("XINMIAO_TIMEZONE", "Asia/Shanghai")
    BABEL_DEFAULT_LOCALE = "zh"
    BABEL_DEFAULT_TIMEZONE = _env("XINMIAO_TIMEZONE", "Asia/Shanghai")
    BABEL_TRANSLATION_DIRECTORIES = str(ROOT / "translations")
    LANGUAGES = ("zh", "en")

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
    INSTRUMENT_DIRS: tuple[str, ...] = tuple(
        p.strip() for p in (_env("XINMIAO_INSTRUMENT_DIRS") or "").split(os.pathsep) if p.strip()
    )

    SUPPRESSION_K = _int("XINMIAO_SUPPRESSION_K", 5)
    # District statistics rollups (app/district/service.py): how long a rollup is trusted for a term whose
    # campaigns are all closed / for a term with a campaign still running (older: recomputed in the request; the
    # page shows the figures' time either way), how often the scheduler refreshes them, and when the nightly
    # full refresh runs (HH:MM, school time zone).
    DISTRICT_ROLLUP_MAX_AGE_MINUTES = _int("XINMIAO_DISTRICT_ROLLUP_MAX_AGE_MINUTES", 60)
    DISTRICT_OPEN_ROLLUP_MAX_AGE_MINUTES = _int("XINMIAO_DISTRICT_OPEN_ROLLUP_MAX_AGE_MINUTES", 5)
    DISTRICT_ROLLUP_REFRESH_MINUTES = _int("XINMIAO_DISTRICT_ROLLUP_REFRESH_MINUTES", 3)
    DISTRICT_NIGHTLY_REFRESH_AT = _env("XINMIAO_DISTRICT_NIGHTLY_REFRESH_AT", "02:30")
    DEMO_PASSWORD = _env("DEMO_PASSWORD", "xinmiao-demo")
    ALLOW_DEMO_SEED = True
    RUN_SCHEDULER_IN_PROCESS = False

    def validate(self) -> None:
        """Raise RuntimeError when the configuration is unsafe to start with."""


class DevelopmentConfig(BaseConfig):
    ENV_NAME = "development"
    SECRET_KEY = _env("SECRET_KEY", "dev-only-not-secret")
    GENERATE_DEV_KEYS = True


class TestingConfig(BaseConfig):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret"
    DATABASE_URL = "sqlite://"
    GENERATE_DEV_KEYS = False
    LOGIN_LOCK_SECONDS = 60
    SERVER_NAME = None


class ProductionConfig(BaseConfig):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True
    ALLOW_DEMO_SEED = False

    def validate(self) -> None:
        missing = []
        if not self.SECRET_KEY:
            missing.append("SECRET_KEY")
        if not (self.KEY_FILE or _env("XINMIAO_MASTER_KEYS")):
            missing.append("XINMIAO_KEY_FILE or XINMIAO_MASTER_KEYS")
        if missing:
            raise RuntimeError("production configuration refuses to start without: " + ", ".join(missing))


CONFIGS = {"development": DevelopmentConfig, "testing": TestingConfig, "production": ProductionConfig}


def load_config(name: str | None = None) -> BaseConfig:
    name = name or _env("XINMIAO_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise RuntimeError(f"unknown XINMIAO_ENV {name!r}; use one of {', '.join(CONFIGS)}") from None
