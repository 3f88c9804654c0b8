"""The one zh/en picker: texts stored or shipped in both languages ({"zh": ..., "en": ...}: the engine's level
reasons, the policy's level and care-group names) shown in the interface language.

Chinese is the default: a request in an English session gets the English side, everything else (a Chinese
session, a CLI command, a scheduled job) the Chinese one; a missing side falls back to Chinese.
"""
from __future__ import annotations

import json
from typing import Any


def language(locale: Any = None) -> str:
    """"zh" or "en": of `locale` if given, else of the current request (zh outside a request)."""
    if locale is None:
        from flask import has_request_context
        from flask_babel import get_locale

        locale = get_locale() if has_request_context() else None
    return "en" if str(locale or "zh").startswith("en") else "zh"


def pick(text: Any, locale: Any = None) -> str:
    """The side of a {"zh", "en"} text for `locale` (default: the current one); other values as a string."""
    if isinstance(text, dict):
        return str(text.get(language(locale)) or text.get("zh") or "")
    return "" if text is None else str(text)


def pick_list(texts_json: str | None, locale: Any = None) -> list[str]:
    """A stored JSON list of {"zh", "en"} texts (a warning's reasons), each in `locale`; [] when unreadable."""
    try:
        items = json.loads(texts_json or "[]")
    except ValueError:
        return []
    return [pick(item, locale) for item in items]
