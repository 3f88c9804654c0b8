"""The recheck and reminder policy (config/recheck_policy.yaml), checked when loaded.

A broken file raises PolicyError naming the field, so a typo stops the sweep instead of silently skipping
rechecks. `load_recheck_policy()` re-reads the file when it changed on disk: a district edits the YAML and the
next sweep uses it, no restart and no code change.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

from config import CONFIG_DIR

ENV_POLICY = "XINMIAO_RECHECK_POLICY"
DEFAULT_PATH = CONFIG_DIR / "recheck_policy.yaml"
RECHECK_LEVELS = ("L1", "L2", "L3")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
TOP_KEYS = {
    "version", "interval_days", "instrument", "due_notice_days_before", "escalate_after_days_overdue",
    "crisis_realert_hours", "digest_weekday", "care_checkins", "schedule",
}
SCHEDULE_KEYS = ("rechecks_minutes", "crisis_minutes", "reminders_minutes", "mail_minutes")


class PolicyError(ValueError):
    pass


@dataclass(frozen=True)
class Term:
    n: int
    starts: tuple[int, int]  # (month, day)
    ends: tuple[int, int]

    def span_containing(self, day: date) -> tuple[str, date, date] | None:
        """(term code, first day, last day) of this term's occurrence that contains `day`, if any."""
        for start_year in (day.year - 1, day.year):
            first = _md(start_year, self.starts)
            end_year = start_year + 1 if self.ends < self.starts else start_year
            last = _md(end_year, self.ends)
            if first <= day <= last:
                year = start_year if self.n == 1 else start_year - 1  # the school year starts in autumn
                return f"{year}-{year + 1}-{self.n}", first, last
        return None


def _md(year: int, md: tuple[int, int]) -> date:
    month, day = md
    if (month, day) == (2, 29):
        day = 28
    return date(year, month, day)


@dataclass(frozen=True)
class RecheckPolicy:
    interval_days: dict[str, int]
    instrument_choice: str
    default_instruments: dict[str, str]
    due_notice_days_before: int
    escalate_after_days_overdue: int
    crisis_realert_hours: float
    digest_weekday: int  # 0 = Monday
    checkin_groups: tuple[str, ...]
    terms: tuple[Term, ...]
    remind_days_before_term_end: tuple[int, ...]
    schedule: dict[str, int]
    source: str = "<policy>"

    def interval_for(self, level: str | None) -> int | None:
        return self.interval_days.get(level or "")

    def instrument_for(self, level: str, triggering: str | None) -> str:
        if self.instrument_choice == "triggering" and triggering:
            return triggering
        return self.default_instruments.get(level) or triggering or ""

    def term_for(self, day: date) -> tuple[str, date, date] | None:
        for term in self.terms:
            span = term.span_containing(day)
            if span:
                return span
        return None

    def due_notice(self) -> timedelta:
        return timedelta(days=self.due_notice_days_before)


class _Check:
    def __init__(self, name: str):
        self.name = name

    def fail(self, where: str, msg: str) -> PolicyError:
        return PolicyError(f"{self.name}: {where}: {msg}")

    def get(
        self, data: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...], required: bool = True
    ) -> Any:
        if key not in data or data[key] is None:
            if required:
                raise self.fail(f"{where}.{key}".lstrip("."), "is required")
            return None
        value = data[key]
        if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
            raise self.fail(f"{where}.{key}".lstrip("."), "must not be true/false")
        if not isinstance(value, kind):
            raise self.fail(f"{where}.{key}".lstrip("."), f"has the wrong type ({type(value).__name__})")
        return value

    def days(self, data: Mapping[str, Any], key: str, where: str, minimum: int = 0) -> int:
        value = self.get(data, key, where, int)
        if value < minimum or value > 3650:
            raise self.fail(f"{where}.{key}".lstrip("."), f"must be between {minimum} and 3650")
        return value

    def month_day(self, value: Any, where: str) -> tuple[int, int]:
        try:
            month, day = (int(p) for p in str(value).split("-"))
            _md(2025, (month, day))
        except (ValueError, TypeError):
            raise self.fail(where, f"{value!r} is not a month-day like 09-01") from None
        return month, day


def policy_from_dict(data: Any, name: str = "<policy>", known_instruments: set[str] | None = None) -> RecheckPolicy:
    c = _Check(name)
    if not isinstance(data, Mapping):
        raise c.fail("(top)", "must be a mapping")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise c.fail("(top)", f"unknown keys {sorted(unknown)}")
    if data.get("version") != 1:
        raise c.fail("version", "must be 1")

    intervals_raw = c.get(data, "interval_days", "", Mapping)
    intervals: dict[str, int] = {}
    for level in intervals_raw:
        if level not in RECHECK_LEVELS:
            raise c.fail(f"interval_days.{level}", f"unknown level; use {', '.join(RECHECK_LEVELS)}")
        intervals[level] = c.days(intervals_raw, level, "interval_days", minimum=1)
    if "L1" not in intervals:
        raise c.fail("interval_days.L1", "is required: a crisis is always rechecked")

    inst = c.get(data, "instrument", "", Mapping)
    choice = c.get(inst, "choice", "instrument", str)
    if choice not in ("triggering", "default"):
        raise c.fail("instrument.choice", "must be 'triggering' or 'default'")
    defaults_raw = c.get(inst, "defaults", "instrument", Mapping)
    defaults: dict[str, str] = {}
    for level in intervals:
        value = c.get(defaults_raw, level, "instrument.defaults", str)
        if known_instruments is not None and value not in known_instruments:
            raise c.fail(f"instrument.defaults.{level}", f"unknown instrument {value!r}")
        defaults[level] = value

    weekday = c.get(data, "digest_weekday", "", str).lower()
    if weekday not in WEEKDAYS:
        raise c.fail("digest_weekday", f"must be one of {', '.join(WEEKDAYS)}")
    hours = c.get(data, "crisis_realert_hours", "", (int, float))
    if not 0 < hours <= 72:
        raise c.fail("crisis_realert_hours", "must be more than 0 and at most 72")

    care = c.get(data, "care_checkins", "", Mapping)
    groups = c.get(care, "groups", "care_checkins", list)
    if not all(isinstance(g, str) for g in groups):
        raise c.fail("care_checkins.groups", "must be a list of group names")
    terms_raw = c.get(care, "terms", "care_checkins", list)
    terms: list[Term] = []
    for i, t in enumerate(terms_raw):
        where = f"care_checkins.terms[{i}]"
        if not isinstance(t, Mapping):
            raise c.fail(where, "must be a mapping with n, starts, ends")
        n = c.get(t, "n", where, int)
        if n not in (1, 2):
            raise c.fail(f"{where}.n", "must be 1 (autumn) or 2 (spring)")
        terms.append(
            Term(n, c.month_day(t.get("starts"), f"{where}.starts"), c.month_day(t.get("ends"), f"{where}.ends"))
        )
    points = c.get(care, "remind_days_before_term_end", "care_checkins", list)
    if not all(isinstance(p, int) and not isinstance(p, bool) and 0 <= p <= 365 for p in points):
        raise c.fail("care_checkins.remind_days_before_term_end", "must be a list of whole days (0-365)")

    sched = c.get(data, "schedule", "", Mapping)
    schedule = {}
    for key in SCHEDULE_KEYS:
        value = c.get(sched, key, "schedule", int)
        if not 1 <= value <= 24 * 60:
            raise c.fail(f"schedule.{key}", "must be between 1 and 1440 minutes")
        schedule[key] = value

    return RecheckPolicy(
        interval_days=intervals,
        instrument_choice=choice,
        default_instruments=defaults,
        due_notice_days_before=c.days(data, "due_notice_days_before", ""),
        escalate_after_days_overdue=c.days(data, "escalate_after_days_overdue", "", minimum=1),
        crisis_realert_hours=float(hours),
        digest_weekday=WEEKDAYS.index(weekday),
        checkin_groups=tuple(groups),
        terms=tuple(terms),
        remind_days_before_term_end=tuple(sorted(set(points), reverse=True)),
        schedule=schedule,
        source=name,
    )


_cache: dict[str, tuple[float, RecheckPolicy]] = {}


def policy_path() -> Path:
    return Path(os.environ.get(ENV_POLICY) or DEFAULT_PATH)


def load_recheck_policy(path: str | Path | None = None) -> RecheckPolicy:
    """Read and check the policy; cached until the file's modification time changes."""
    p = Path(path) if path else policy_path()
    try:
        mtime = p.stat().st_mtime
        cached = _cache.get(str(p))
        if cached and cached[0] == mtime:
            return cached[1]
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PolicyError(f"{p.name}: cannot be read: {exc}") from exc
    from screening import list_instruments

    known = {i.id for i in list_instruments()}
    policy = policy_from_dict(data, p.name, known)
    _cache[str(p)] = (mtime, policy)
    return policy
