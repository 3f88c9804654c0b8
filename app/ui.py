"""Template helpers shared by every area: navigation per role, dates, level badges, notification badge."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_babel import get_locale, lazy_gettext as _l
from flask_login import current_user
from markupsafe import Markup, escape


@dataclass(frozen=True)
class NavItem:
    endpoint: str
    label: Any
    roles: frozenset[str]
    order: int = 50


NAV: list[NavItem] = []
# Callables returning a count for the badge beside "Notifications"; registered by the notifications area.
BADGE_PROVIDERS: list[Callable[[Any], int]] = []


def register_nav(endpoint: str, label: Any, roles: tuple[str, ...], order: int = 50) -> None:
    if not any(item.endpoint == endpoint for item in NAV):
        NAV.append(NavItem(endpoint, label, frozenset(roles), order))


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
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def level_badge(level: str | None) -> Markup:
    """Colour plus a word, never colour alone."""
    css, label = LEVEL_STYLE.get(level or "none", LEVEL_STYLE["none"])
    return Markup(f'<span class="badge {css}">{escape(str(label))}</span>')


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
    return datetime.now(_tz()).date()


def init_app(app: Flask) -> None:
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["datetime"] = format_datetime
    app.jinja_env.globals["level_badge"] = level_badge
    app.jinja_env.filters["role_label"] = role_label

    @app.context_processor
    def _inject() -> dict[str, Any]:
        items: list[NavItem] = []
        badge = 0
        if current_user and current_user.is_authenticated:
            items = sorted((i for i in NAV if current_user.role in i.roles), key=lambda i: i.order)
            for provider in BADGE_PROVIDERS:
                badge += provider(current_user)
        return {
            "nav_items": [(i.endpoint, i.label) for i in items if i.endpoint in app.view_functions],
            "notification_badge": badge,
            "has_notifications": "notifications.index" in app.view_functions,
            "current_locale": str(get_locale()),
        }
