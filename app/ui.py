"""Template helpers shared by every area: navigation per role, dates, level badges, notification badge.

The navigation items and badge counts are the app's wiring (app/areas.py), declared by each area."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape

from app.areas import NavItem, wiring
from models import clock
from screening import get_instrument

LEVEL_STYLE = {
    "L1": ("level-l1", _l("Level 1 warning")),
    "L2": ("level-l2", _l("Level 2 warning")),
    "L3": ("level-l3", _l("Level 3 warning")),
    "care": ("level-care", _l("Care")),
    "none": ("level-none", _l("No warning")),
}


ROLE_LABELS = {
    "admin": _l("Administrator"),
    "district": _l("District education office"),
    "counselor": _l("School counselor"),
    "head_teacher": _l("Head teacher"),
    "city": _l("City education commission"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def level_badge(level: str | None) -> Markup:
    """Colour plus a word, never colour alone."""
    css, label = LEVEL_STYLE.get(level or "none", LEVEL_STYLE["none"])
    return Markup(f'<span class="badge {css}">{escape(str(label))}</span>')


def colon(label: Any) -> Markup:
    """A label and the colon of the interface language: 时间： in Chinese, "Time: " in English. Templates write
    `{{ _('Time')|colon }}`, never a half-width colon after a translated label (a test checks every template)."""
    zh = str(get_locale()).startswith("zh")
    return Markup(f"{escape(str(label))}{'：' if zh else ': '}")


def instrument_name(instrument_id: str | None) -> str:
    """An instrument as people name it (PHQ-A, GAD-7), never its id (phqa, gad7): the one place that says so
    (tests/unit/test_one_set_of_names.py fails on a template printing an id)."""
    if not instrument_id:
        return "—"
    try:
        inst = get_instrument(instrument_id)
    except KeyError:
        return instrument_id
    return inst.short_name or instrument_id


def _tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def format_date(value: date | datetime | None, long: bool = False) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(_tz()).date()
    if long and str(get_locale()).startswith("zh"):
        return f"{value.year}年{value.month}月{value.day}日"
    return value.isoformat()


def format_datetime(value: datetime | None) -> str:
    if value is None:
        return "—"
    return value.astimezone(_tz()).strftime("%Y-%m-%d %H:%M")


def local_today() -> date:
    return clock.today(_tz())


def form_token_field(token: str | None = None) -> Markup:
    """The hidden one-time token of a form acted on once (app/form_tokens.py); a new one per rendering."""
    from app import form_tokens

    value = token or form_tokens.issue()
    return Markup(f'<input type="hidden" name="{form_tokens.FIELD}" value="{escape(value)}">')


def init_app(app: Flask) -> None:
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.globals["level_badge"] = level_badge
    app.jinja_env.filters["role_label"] = role_label
    app.jinja_env.filters["colon"] = colon
    app.jinja_env.filters["instrument_name"] = instrument_name
    app.jinja_env.globals["instrument_name"] = instrument_name
    app.jinja_env.globals["form_token_field"] = form_token_field

    @app.context_processor
    def _inject() -> dict[str, Any]:
        items: list[NavItem] = []
        badge = 0
        if current_user and current_user.is_authenticated:
            wired = wiring(app)
            items = wired.nav_for(current_user.role)
            badge = sum(provider(current_user) for provider in wired.badges)
        return {
            "nav_items": [(i.endpoint, i.label) for i in items if i.endpoint in app.view_functions],
            "notification_badge": badge,
            "has_notifications": "notifications.index" in app.view_functions,
            "current_locale": str(get_locale()),
            "two_factor_off": app.config.get("TWO_FACTOR") != "on",  # the banner on every staff page
        }
