"""The Flask application factory."""
from __future__ import annotations

import io
import os
from typing import Any

from flask import Flask, Request, render_template, session
from flask_login import current_user

from config import ROOT, BaseConfig, instance_secret, load_config, two_factor_refusal
from models.crypto import CryptoError, KeyRing
from screening import use_instrument_dirs

from .areas import Area, install
from .db import db
from .extensions import babel, csrf, login_manager


def all_areas() -> tuple[Area, ...]:
    """Every area, in the order they are installed. Each owns app/<area>/ and templates/<area>/, and declares what
    it contributes (blueprint, navigation, file sections, demo steps, jobs...) once, in app/<area>/area.py."""
    from .admin.area import AREA as admin
    from .audit.area import AREA as audit
    from .auth.area import AREA as auth
    from .care.area import AREA as care
    from .city.area import AREA as city
    from .demo.area import AREA as demo
    from .district.area import AREA as district
    from .emergency.area import AREA as emergency
    from .keys.area import AREA as keys
    from .main.area import AREA as main
    from .notifications.area import AREA as notifications
    from .rechecks.area import AREA as rechecks
    from .retention.area import AREA as retention
    from .roster.area import AREA as roster
    from .roster_import.area import AREA as roster_import
    from .scheduler.area import AREA as scheduler
    from .school.area import AREA as school
    from .screenings.area import AREA as screenings
    from .student_entry.area import AREA as student_entry

    return (auth, main, roster, admin, audit, keys, demo, care, rechecks, notifications, screenings, student_entry,
            roster_import, district, city, scheduler, school, emergency, retention)


class XinmiaoRequest(Request):
    """Uploaded files stay in memory (the request is capped by MAX_CONTENT_LENGTH): Werkzeug would spool any
    upload over 500 KB to a temporary file, in clear, on the server's disk."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> io.BytesIO:
        return io.BytesIO()


def create_app(config: BaseConfig | str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app from a config object or name (default: XINMIAO_ENV), plus optional overrides.

    Under the `flask` command a configuration error is one line on stderr and exit 1, not a traceback."""
    try:
        return _create_app(config, overrides)
    except (RuntimeError, ValueError, CryptoError) as exc:
        if _in_cli():
            import click

            raise click.ClickException(f"configuration: {exc}") from None
        raise


def _in_cli() -> bool:
    import click

    return click.get_current_context(silent=True) is not None


class MissingKeyRing:
    """Stands for a key file that does not exist yet, under the `flask` command only (so that `flask keys init`
    and `flask doctor` can run): any use raises CryptoError saying how to create it. Servers refuse to start."""

    def __init__(self, message: str):
        self._message = message

    def __getattr__(self, name: str) -> Any:
        raise CryptoError(self._message)


def _create_app(config: BaseConfig | str | None, overrides: dict[str, Any] | None) -> Flask:
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "app" / "static"),
        instance_path=str(ROOT / "instance"),
    )
    app.request_class = XinmiaoRequest
    base = config if isinstance(config, BaseConfig) else load_config(config if isinstance(config, str) else None)
    app.config.from_object(base)
    app.config.update(overrides or {})
    base.validate()
    two_factor_refusal(app.config.get("ENV_NAME", ""), app.config.get("TWO_FACTOR"))  # overrides included
    if app.config.get("ENV_NAME") == "production" and not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY is required in production")
    if not app.config.get("SECRET_KEY") and app.config.get("GENERATE_DEV_SECRET"):
        app.config["SECRET_KEY"] = instance_secret(app.config["DEV_SECRET_FILE"])
        app.config["SECRET_KEY_GENERATED"] = True
    if not app.config.get("SECRET_KEY"):
        raise RuntimeError("no SECRET_KEY: set it in the environment")

    from . import proxy

    proxy.install(app)  # X-Forwarded-* believed only from XINMIAO_TRUSTED_PROXIES
    app.extensions["xinmiao_keyring"] = app.config.get("KEYRING") or _load_keyring(app)
    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_select_locale, timezone_selector=lambda: app.config["TIMEZONE"])
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = app.config["SESSION_PROTECTION"]
    login_manager.login_message = None

    from .auth.service import load_user
    from .auth.throttle import make_throttle

    login_manager.user_loader(load_user)
    app.extensions["xinmiao_throttle"] = app.config.get("THROTTLE") or make_throttle(app.config)

    from . import policies

    use_instrument_dirs(app.config.get("INSTRUMENT_DIRS") or ())
    policies.init_app(app)  # the warning policy and care groups of this app, read and checked once

    from .security import init_security

    init_security(app)
    install(app, all_areas())
    _register_template_helpers(app)
    _register_errors(app)

    from .cli import register_cli

    register_cli(app)
    return app


def _load_keyring(app: Flask) -> KeyRing | MissingKeyRing:
    if app.config.get("KEY_FILE"):
        if not os.path.exists(app.config["KEY_FILE"]) and _in_cli():
            return MissingKeyRing(f"key file {app.config['KEY_FILE']} does not exist: create it with "
                                  "`flask --app app keys init` (or restore it from the key backup)")
        return KeyRing.from_file(app.config["KEY_FILE"])
    ring = KeyRing.from_environ(os.environ)
    if ring is not None:
        return ring
    if app.config.get("GENERATE_DEV_KEYS"):
        path = app.config["DEV_KEY_FILE"]
        if os.path.exists(path):
            return KeyRing.from_file(path)
        ring = KeyRing.generate_file(path)
        print(
            f"[xinmiao] development master key generated at {path} (mode 0600). "
            "Back it up: without it the data cannot be read."
        )
        return ring
    raise RuntimeError("no master key: set XINMIAO_KEY_FILE or XINMIAO_MASTER_KEYS and XINMIAO_INDEX_KEY")


def _select_locale() -> str:
    from flask import current_app, has_request_context

    if not has_request_context():  # CLI commands and scheduled jobs: the default interface language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    lang = session.get("lang")
    if isinstance(lang, str) and lang in current_app.config["LANGUAGES"]:
        return lang
    if current_user and current_user.is_authenticated and current_user.locale in current_app.config["LANGUAGES"]:
        return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _register_template_helpers(app: Flask) -> None:
    from . import ui

    ui.init_app(app)


def _register_errors(app: Flask) -> None:
    for code in (400, 403, 404, 405, 413, 429, 500):
        def handler(exc, code=code):
            return render_template("errors/error.html", code=code), code

        app.register_error_handler(code, handler)
    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def _csrf(exc):
        return render_template("errors/error.html", code=400, csrf=True), 400

    from redis.exceptions import RedisError

    @app.errorhandler(RedisError)
    def _redis_down(exc):
        # sign-in and the student entrance count attempts in Redis: without it they refuse, clearly, with 503
        app.logger.error("Redis unavailable (%s): sign-in and rate limits cannot work", type(exc).__name__)
        return render_template("errors/error.html", code=503, unavailable=True), 503
