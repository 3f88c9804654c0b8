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

from functools import cache

from flask import Flask, current_app, has_app_context

from config import BaseConfig
from screening import Policy, load_policy

POLICY_KEY = "xinmiao_warning_policy"
CARE_GROUP_KEY_MAX = 30  # student_care_groups.group is VARCHAR(30)


class CareGroupConfigError(ValueError):
    pass


def init_app(app: Flask) -> None:
    policy = app.config.get("WARNING_POLICY") or load_policy(app.config["WARNING_POLICY_FILE"])
    check_care_group_keys(policy)
    app.extensions[POLICY_KEY] = policy


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
