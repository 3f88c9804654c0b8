"""Support lines and emergency numbers (config/support_resources.yaml): the one loader of that list.

The professionals step of a safety plan is prefilled from it (app/care/crisis.py), and the students' finish page
is meant to show the same entries. The file is a plain YAML list so a district can verify and edit it; a broken
file is refused with the entry and field named (`SupportResourcesError`). The setting SUPPORT_RESOURCES_FILE
names another file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from flask import current_app, has_app_context

from config import CONFIG_DIR

DEFAULT_FILE = CONFIG_DIR / "support_resources.yaml"


class SupportResourcesError(ValueError):
    pass


@dataclass(frozen=True)
class SupportResource:
    name: dict[str, str]
    number: str
    hours: dict[str, str]
    source: str
    verified: str | None = None

    def line(self, locale: str = "zh") -> str:
        """One printable line: name, number, hours (full-width punctuation in Chinese)."""
        name = self.name.get(locale) or self.name.get("zh", "")
        hours = self.hours.get(locale) or self.hours.get("zh", "")
        if locale.startswith("zh"):
            return f"{name}：{self.number}（{hours}）"
        return f"{name}: {self.number} ({hours})"


def _bilingual(entry: dict[str, Any], field: str, where: str) -> dict[str, str]:
    value = entry.get(field)
    if not isinstance(value, dict) or not str(value.get("zh") or "").strip():
        raise SupportResourcesError(f"{where}: '{field}' needs at least a 'zh' text")
    return {str(k): str(v) for k, v in value.items()}


def load_support_resources(path: str | Path | None = None) -> list[SupportResource]:
    """Read and check the list. Raises SupportResourcesError naming the entry and field."""
    path = Path(path or DEFAULT_FILE)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SupportResourcesError(f"{path}: {exc}") from exc
    if not isinstance(data, list):
        raise SupportResourcesError(f"{path}: expected a list of entries")
    out = []
    for i, entry in enumerate(data, start=1):
        where = f"{path.name} entry {i}"
        if not isinstance(entry, dict):
            raise SupportResourcesError(f"{where}: expected a mapping")
        number = str(entry.get("number") or "").strip()
        if not number:
            raise SupportResourcesError(f"{where}: 'number' is required")
        source = str(entry.get("source") or "").strip()
        if not source:
            raise SupportResourcesError(f"{where}: 'source' is required (where the number comes from)")
        verified = entry.get("verified")
        out.append(SupportResource(_bilingual(entry, "name", where), number, _bilingual(entry, "hours", where),
                                   source, str(verified) if verified is not None else None))
    return out


def support_resources() -> list[SupportResource]:
    """The list of the current app's file (SUPPORT_RESOURCES_FILE), else the district default file."""
    path = current_app.config.get("SUPPORT_RESOURCES_FILE") if has_app_context() else None
    return load_support_resources(path)


def professionals_text(locale: str = "zh") -> str:
    """The prefill of a safety plan's professionals step: one line per resource."""
    return "\n".join(r.line(locale) for r in support_resources())
