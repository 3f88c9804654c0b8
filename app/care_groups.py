"""The configurable set of care groups (关爱对象类别), read from config/care_groups.yaml.

Shared by every area that shows or filters care groups (roster, care list, demo, statistics): import
`care_groups()` / `care_group_label(key)` from here rather than hard-coding the four groups.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import yaml

from config import CONFIG_DIR

DEFAULT_PATH = CONFIG_DIR / "care_groups.yaml"


@dataclass(frozen=True)
class CareGroup:
    key: str
    zh: str
    en: str

    def label(self, locale: str = "zh") -> str:
        return self.en if str(locale).startswith("en") else self.zh


class CareGroupConfigError(ValueError):
    pass


def load_care_groups(path: Path | str = DEFAULT_PATH) -> tuple[CareGroup, ...]:
    """Parse and check the file: each group has a unique short key and both labels."""
    with open(path, encoding="utf-8") as fh:
        data = yaml.safe_load(fh) or {}
    rows = data.get("groups")
    if not isinstance(rows, list) or not rows:
        raise CareGroupConfigError(f"{path}: 'groups' must be a non-empty list")
    out: list[CareGroup] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or set(row) != {"key", "zh", "en"}:
            raise CareGroupConfigError(f"{path}: groups[{i}] needs exactly key, zh, en")
        key = str(row["key"])
        if not key.isidentifier() or len(key) > 30:
            raise CareGroupConfigError(f"{path}: groups[{i}].key {key!r} must be a short identifier (<= 30)")
        if any(g.key == key for g in out):
            raise CareGroupConfigError(f"{path}: duplicate care group {key!r}")
        out.append(CareGroup(key, str(row["zh"]), str(row["en"])))
    return tuple(out)


@lru_cache(maxsize=1)
def care_groups() -> tuple[CareGroup, ...]:
    return load_care_groups()


def care_group_keys() -> tuple[str, ...]:
    return tuple(g.key for g in care_groups())


def in_config_order(keys: Iterable[str]) -> list[str]:
    """Keys in the order of the file (unknown keys last, alphabetically), for stable display."""
    order = {k: i for i, k in enumerate(care_group_keys())}
    return sorted(keys, key=lambda k: (order.get(k, len(order)), k))


def care_group_label(key: str, locale: str | None = None) -> str:
    """The label in the request's locale (zh by default); an unknown key (removed from config) shows as itself."""
    if locale is None:
        locale = _current_locale()
    for g in care_groups():
        if g.key == key:
            return g.label(locale)
    return key


def _current_locale() -> str:
    try:
        from flask import has_request_context
        from flask_babel import get_locale

        if has_request_context():
            return str(get_locale() or "zh")
    except ImportError:  # pragma: no cover - Flask is always installed with the app
        pass
    return "zh"
