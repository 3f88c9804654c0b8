"""config/retention.yaml, read and checked (the rule itself is written in the file's comments)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import yaml
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

HOLD_REASON_LABELS = {
    "open_referral": _l("Open referral"),
    "open_case": _l("Open case or follow-up"),
    "guardian_request": _l("Guardian's pending request"),
    "legal_hold": _l("Legal hold (complaint, investigation)"),
    "returning_student": _l("Student expected back"),
}
DEFAULT_FILE = Path(__file__).resolve().parents[2] / "config" / "retention.yaml"
KNOWN_LEAVING = ("graduated", "left", "transferred_out")


class RetentionPolicyError(ValueError):
    pass


@dataclass(frozen=True)
class RetentionPolicy:
    leaving_statuses: tuple[str, ...]
    months_after_leaving: int
    max_hold_months: int
    hold_reasons: tuple[str, ...]

    def due_on(self, left_on: date) -> date:
        return add_months(left_on, self.months_after_leaving)

    def cutoff(self, today: date) -> date:
        """Students who left on or before this day are due today."""
        return add_months(today, -self.months_after_leaving)


def add_months(day: date, months: int) -> date:
    """The same day `months` later (or earlier), clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    total = day.year * 12 + day.month - 1 + months
    year, month = divmod(total, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, d))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def policy_from_dict(data: object, name: str = "retention.yaml") -> RetentionPolicy:
    if not isinstance(data, dict):
        raise RetentionPolicyError(f"{name}: expected a mapping")

    def number(key: str, low: int, high: int) -> int:
        value = data.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise RetentionPolicyError(f"{name}: {key} must be a whole number from {low} to {high}")
        return value

    leaving = data.get("leaving_statuses")
    if not isinstance(leaving, list) or not leaving or set(leaving) - set(KNOWN_LEAVING):
        raise RetentionPolicyError(f"{name}: leaving_statuses must list some of {', '.join(KNOWN_LEAVING)}")
    reasons = data.get("hold_reasons")
    if not isinstance(reasons, list) or not reasons or set(reasons) - set(HOLD_REASON_LABELS):
        raise RetentionPolicyError(f"{name}: hold_reasons must list some of {', '.join(HOLD_REASON_LABELS)}")
    return RetentionPolicy(tuple(leaving), number("months_after_leaving", 1, 600), number("max_hold_months", 1, 120),
                           tuple(reasons))


_cache: dict[str, tuple[float, RetentionPolicy]] = {}


def load_retention_policy(path: str | Path | None = None) -> RetentionPolicy:
    if path is None:  # outside an app (a bare service call, a script): the shipped file
        path = current_app.config["RETENTION_POLICY_FILE"] if has_app_context() else DEFAULT_FILE
    p = Path(path)
    try:
        mtime = p.stat().st_mtime
        cached = _cache.get(str(p))
        if cached and cached[0] == mtime:
            return cached[1]
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RetentionPolicyError(f"{p.name}: cannot be read: {exc}") from exc
    policy = policy_from_dict(data, p.name)
    _cache[str(p)] = (mtime, policy)
    return policy
