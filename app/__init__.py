"""The Flask application factory."""
from __future__ import annotations

import os
from typing import Any

from flask import Flask, render_template, session
from flask_login import current_user

from config import ROOT, BaseConfig, load_config
from models.crypto import KeyRing

from .db import db
from .extensions import babel, csrf, login_manager

# Areas: (module with `bp`, url prefix). Each area owns app/<area>/ and templates/<area>/.
AREAS: list[tuple[str, str | None]] = [
    ("app.auth.views", None),
    ("app.main.views", None),
    ("app.roster.views", None),
    ("app.admin.views", "/admin"),
    ("app.audit.views", "/admin/audit"),
    ("app.care.views", None),
    ("app.rechecks.views", "/rechecks"),
    ("app.notifications.views", "/notifications"),
    ("app.screenings.views", None),
    ("app.student_entry.views", "/s"),
    ("app.roster_import.views", None),
    ("app.district.views", "/district"),
]


def create_app(config: BaseConfig | str | None = None, overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app from a config object or name (default: XINMIAO_ENV), plus optional overrides."""
    app = Flask(
        __name__,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "app" / "static"),
        instance_path=str(ROOT / "instance"),
    )
    base = config if isinstance(config, BaseConfig) else load_config(config if isinstance(config, str) else None)
    app.config.from_object(base)
    app.config.update(overrides or {})
    base.validate()
    if app.config.get("ENV_NAME") == "production" and not app.config.get("SECRET_KEY"):
        raise RuntimeError("SECRET_KEY is required in production")

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

    from .security import init_security

    init_security(app)
    _register_areas(app)
    _register_template_helpers(app)
    _register_errors(app)

    from .cli import register_cli

    register_cli(app)
    return app


def _load_keyring(app: Flask) -> KeyRing:
    if app.config.get("KEY_FILE"):
        return KeyRing.from_file(app.config["KEY_FILE"])
    ring = KeyRing.from_environ(os.environ)
    if ring is not None:
        return ring
    if app.config.get("GENERATE_DEV_KEYS"):
        path = app.config["DEV_KEY_FILE"]
        if os.path.exists(path):
            return KeyRing.from_file(path)
        ring = KeyRing.generate_file(path)
        print(f"[xinmiao] development master key generated at {path} (mode 0600). Back it up: without it the data cannot be read.")
        return ring
    raise RuntimeError("no master key: set XINMIAO_KEY_FILE or XINMIAO_MASTER_KEYS and XINMIAO_INDEX_KEY")


def _select_locale() -> str:
    from flask import current_app, has_request_context

    if not has_request_context():  # CLI commands and scheduled jobs: the default interface language
        return current_app.config["BABEL_DEFAULT_LOCALE"]
    lang = session.get("lang")
    if lang in current_app.config["LANGUAGES"]:
        return lang
    if current_user and current_user.is_authenticated and current_user.locale in current_app.config["LANGUAGES"]:
        return current_user.locale
    return current_app.config["BABEL_DEFAULT_LOCALE"]


def _register_areas(app: Flask) -> None:
    import importlib

    for module_name, prefix in AREAS:
        module = importlib.import_module(module_name)
        app.register_blueprint(module.bp, url_prefix=prefix)
        init = getattr(module, "init_area", None)
        if init is not None:
            init(app)


def _register_template_helpers(app: Flask) -> None:
    from . import ui

    ui.init_app(app)


def _register_errors(app: Flask) -> None:
    for code in (400, 403, 404, 405, 413, 429, 500):
        def handler(exc, code=code):  # type: ignore[no-untyped-def]
            return render_template("errors/error.html", code=code), code

        app.register_error_handler(code, handler)
    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def _csrf(exc):  # type: ignore[no-untyped-def]
        return render_template("errors/error.html", code=400, csrf=True), 400
