"""The care groups (关爱对象类别) of the app, as its warning policy defines them (app/policies.py).

One definition: the `care_groups` of the warning policy file (config/warning_policy.yaml): each group's key (what
the database stores), its zh and en labels, whether it raises a warning level (`triggers`), in the order shown in
forms and lists. Shared by every area that shows or filters care groups (roster, import, care lists, demo,
district statistics): use `care_groups()` / `care_group_label(key)` / `triggering_groups()` from here rather than
naming groups in code.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from screening import DefinitionError, Policy, load_policy

from .policies import CareGroupConfigError, check_care_group_keys, warning_policy
from .texts import pick


@dataclass(frozen=True)
class CareGroup:
    key: str
    zh: str
    en: str
    triggers: bool  # a member's screening is raised (positive_in_care_group / care_group rules)

    def label(self, locale: str | None = None) -> str:
        return pick({"zh": self.zh, "en": self.en}, locale)


def groups_of(policy: Policy) -> tuple[CareGroup, ...]:
    return tuple(CareGroup(g.code, g.label["zh"], g.label["en"], g.triggers) for g in policy.care_groups.values())


def load_care_groups(path: Path | str) -> tuple[CareGroup, ...]:
    """Parse and check a policy file's care groups (refused: a bad key, a missing label or `triggers`)."""
    try:
        policy = load_policy(path)
    except DefinitionError as exc:
        raise CareGroupConfigError(str(exc)) from exc
    check_care_group_keys(policy)
    return groups_of(policy)


__all__ = ["CareGroup", "CareGroupConfigError", "care_group_keys", "care_group_label", "care_groups", "groups_of",
           "in_config_order", "load_care_groups", "triggering_groups"]


def care_groups() -> tuple[CareGroup, ...]:
    return groups_of(warning_policy())


def care_group_keys() -> tuple[str, ...]:
    return tuple(warning_policy().care_groups)


def triggering_groups() -> tuple[str, ...]:
    """Keys of the groups that raise a level, in file order."""
    return tuple(g.key for g in care_groups() if g.triggers)


def in_config_order(keys: Iterable[str]) -> list[str]:
    """Keys in the order of the file (unknown keys last, alphabetically), for stable display."""
    order = {k: i for i, k in enumerate(care_group_keys())}
    return sorted(keys, key=lambda k: (order.get(k, len(order)), k))


def care_group_label(key: str, locale: str | None = None) -> str:
    """The label in `locale` (default: the request's; zh outside a request); an unknown key (removed from the
    policy) shows as itself."""
    group = warning_policy().care_groups.get(key)
    return key if group is None else pick(group.label, locale)
