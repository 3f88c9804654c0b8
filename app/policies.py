"""The district's warning policy (levels, rules, care groups), loaded once per app from its config.

`create_app` calls `init_app`: the file named by `WARNING_POLICY_FILE` (default config/warning_policy.yaml; the
setting XINMIAO_WARNING_POLICY) is read and checked at start, so a broken file stops the app with the field named,
and is kept in `app.extensions["xinmiao_warning_policy"]`. Every caller takes it from here and passes it to the
engine (`screening.suggest_level(results, groups, policy)`): two apps in one process may hold different policies.
A test or a tool may hand the app a ready `Policy` as `WARNING_POLICY` instead of a file.

Code that runs outside any app (service tests on a bare session, benchmarks, scripts) gets the policy an app of
the default configuration would load, read once per process (`_without_app`); inside an app it is never used.

The same file is the one definition of the care groups (关爱对象类别: key, zh, en, whether it raises a level);
app/care_groups.py reads them from the policy returned here.
"""
from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from flask import Flask, current_app, has_app_context

from config import BaseConfig
from screening import Policy, UnknownInstrument, get_instrument, load_policy
from screening.scoring import check_settings

POLICY_KEY = "xinmiao_warning_policy"
SETTINGS_KEY = "xinmiao_instrument_settings"


class SettingsError(ValueError):
    """A cut-off override the app refuses to start with (one line naming the setting and the value)."""
CARE_GROUP_KEY_MAX = 30  # student_care_groups.group is VARCHAR(30)


class CareGroupConfigError(ValueError):
    pass


def init_app(app: Flask) -> None:
    policy = app.config.get("WARNING_POLICY") or load_policy(app.config["WARNING_POLICY_FILE"])
    check_care_group_keys(policy)
    app.extensions[POLICY_KEY] = policy
    app.extensions[SETTINGS_KEY] = load_instrument_settings(app.config.get("INSTRUMENT_SETTINGS"))


def load_instrument_settings(raw: str | Mapping[str, Any] | None) -> dict[str, dict[str, float]]:
    """XINMIAO_INSTRUMENT_SETTINGS (JSON, or a mapping given by a test) checked against the definitions: an unknown
    instrument or setting, a NaN, a negative or a non-number cut-off stops the app with one line."""
    if not raw:
        return {}
    where = "XINMIAO_INSTRUMENT_SETTINGS"
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError as exc:
            raise SettingsError(f"{where}: not valid JSON: {exc}") from None
    if not isinstance(raw, Mapping):
        raise SettingsError(f"{where}: must map instrument ids to {{setting: number}}")
    out: dict[str, dict[str, float]] = {}
    for inst_id, overrides in raw.items():
        try:
            inst = get_instrument(inst_id)
        except UnknownInstrument as exc:
            raise SettingsError(f"{where}: {exc}") from None
        if not isinstance(overrides, Mapping):
            raise SettingsError(f"{where}: {inst_id}: must map setting names to numbers")
        try:
            out[inst_id] = check_settings(inst, overrides)
        except ValueError as exc:
            raise SettingsError(f"{where}: {exc}") from None
    return out


def instrument_settings(instrument_id: str, app: Flask | None = None) -> dict[str, float] | None:
    """The district's cut-off overrides of one instrument (None: the definition's defaults)."""
    if app is None and not has_app_context():
        return None
    return (app or current_app).extensions.get(SETTINGS_KEY, {}).get(instrument_id) or None


def warning_policy(app: Flask | None = None) -> Policy:
    """The policy of `app` (default: the current app; outside any app: the default configuration's)."""
    if app is None and not has_app_context():
        return _without_app()
    return (app or current_app).extensions[POLICY_KEY]


@cache
def _without_app() -> Policy:
    policy = load_policy(BaseConfig.WARNING_POLICY_FILE)
    check_care_group_keys(policy)
    return policy


def check_care_group_keys(policy: Policy) -> None:
    """Each care-group key must fit the database column and be a plain identifier (the engine checks the labels
    and `triggers`)."""
    if not policy.care_groups:
        raise CareGroupConfigError(f"{policy.path}: care_groups: must list at least one group")
    for key in policy.care_groups:
        if not key.isidentifier() or len(key) > CARE_GROUP_KEY_MAX:
            raise CareGroupConfigError(
                f"{policy.path}: care_groups.{key}: must be an identifier of at most {CARE_GROUP_KEY_MAX} characters")
