"""Template helpers shared by every area: navigation per role, dates, level badges, notification badge.

The navigation items and badge counts are the app's wiring (app/areas.py), declared by each area."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_app_context
from flask_babel import get_locale, get_translations
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
    "school_leader": _l("School leader"),
    "city": _l("City education commission"),
}


def role_label(role: str) -> str:
    return str(ROLE_LABELS.get(role, role))


def translations() -> Any:
    """The request's gettext catalogue, looked up once per request and language (Flask-Babel looks up its context,
    domain, locale and catalogue cache at every call: a list page translates a few hundred strings)."""
    if not has_app_context():
        return get_translations()
    ns = g.get("_flask_babel")
    locale = getattr(ns, "babel_locale", None)
    cached = g.get("_xm_translations")
    if cached is not None and locale is not None and cached[0] is locale:
        return cached[1]
    found = get_translations()
    ns = g.get("_flask_babel")
    g._xm_translations = (getattr(ns, "babel_locale", None), found)  # force_locale swaps the Locale object
    return found


def fast_gettext(string: str) -> str:
    return translations().ugettext(string)


def fast_ngettext(singular: str, plural: str, n: int) -> str:
    return translations().ungettext(singular, plural, n)


def label_text(label: Any) -> str:
    """The text of a constant label (a lazy_gettext string of a module's table) in the request's language,
    translated once per request: a list page shows the same few labels on every row."""
    if not has_app_context():
        return str(label)
    catalogue = translations()
    memo = g.get("_xm_labels")
    if memo is None or memo[0] is not catalogue:
        memo = g._xm_labels = (catalogue, {})
    entry = memo[1].get(id(label))
    if entry is None or entry[0] is not label:  # the label is kept in the memo, so its id stays its own
        entry = memo[1][id(label)] = (label, str(label))
    return entry[1]


def level_badge(level: str | None) -> Markup:
    """Colour plus a word, never colour alone."""
    key = level if level in LEVEL_STYLE else "none"
    if not has_app_context():
        return _badge(key)
    memo = g.get("_xm_badges")
    catalogue = translations()
    if memo is None or memo[0] is not catalogue:  # one per request and language: a list shows one per row
        memo = g._xm_badges = (catalogue, {})
    found = memo[1].get(key)
    if found is None:
        found = memo[1][key] = _badge(key)
    return found


def _badge(key: str) -> Markup:
    css, label = LEVEL_STYLE[key]
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
    # Templates' _() and ngettext through the request's catalogue looked up once (Flask-Babel installed its own).
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=fast_gettext, ngettext=fast_ngettext, newstyle=True,
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
    )

    @app.context_processor
    def _inject() -> dict[str, Any]:
        # Once per request: a page assembled from several templates (the student file renders one per section)
        # runs the context processors for each render_template; the navigation and the badge's queries are the
        # same for all of them. Kept on `g` for this user and language (a job rendering mail per recipient in one
        # app context switches both).
        user_id = current_user.get_id() if current_user and current_user.is_authenticated else None
        key = (user_id, str(get_locale()))
        cached = g.get("_ui_context")
        if cached is not None and cached[0] == key:
            return dict(cached[1])
        out = _ui_context(user_id is not None)
        g._ui_context = (key, out)
        return dict(out)

    def _ui_context(signed_in: bool) -> dict[str, Any]:
        items: list[NavItem] = []
        badge = 0
        if signed_in:
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
