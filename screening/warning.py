"""Warning levels: results + care groups + the district policy -> a suggested level.

The policy is data (the app keeps the district's file, config/warning_policy.yaml, and loads it once per app:
app/policies.py); this module reads a file it is given and applies a policy it is passed. It knows no default
path and reads no environment. Each rule that applies adds a reason; the most urgent level wins. The suggested
level is a suggestion: a counselor confirms, raises or lowers it.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .definition import Instrument, _Checker
from .errors import DefinitionError, UnknownCareGroup, UnknownInstrument
from .registry import get_instrument
from .scoring import FLAG_CRITICAL_UNANSWERED, Result

NOW_PREFIX = {"zh": "立即", "en": "NOW"}  # an acute answer: the reason the worklist lists above every other row

LEVELS: tuple[str, ...] = ("L1", "L2", "L3", "care", "none")
RANK = {level: i for i, level in enumerate(LEVELS)}
RULES = ("critical", "critical_unanswered", "invalid_form", "severe_band", "positive_in_care_group", "positive",
         "positive_subscale", "care_group")
# rules that may be tuned but never switched off (see the policy file's header)
SAFETY_RULES = ("critical", "critical_unanswered", "invalid_form")


@dataclass(frozen=True, slots=True)
class LevelInfo:
    code: str
    colour: str
    name: Mapping[str, str]
    meaning: Mapping[str, str]
    response: Mapping[str, str]
    interview_window_days: int | None
    recheck_days: int | None
    head_teacher_tier: Mapping[str, str] | None = None  # 重点关注 / 一般关注 / 关爱对象: no clinical words
    head_teacher_guidance: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class CareGroup:
    code: str
    label: Mapping[str, str]
    triggers: bool


@dataclass(frozen=True, slots=True)
class Policy:
    version: int
    levels: Mapping[str, LevelInfo]
    care_groups: Mapping[str, CareGroup]
    rules: Mapping[str, str]
    severe_bands: Mapping[str, tuple[str, ...]]
    path: str | None = None

    def level(self, code: str) -> LevelInfo:
        return self.levels[code]

    def recheck_days(self, code: str) -> int | None:
        return self.levels[code].recheck_days

    @property
    def triggering_groups(self) -> frozenset[str]:
        return frozenset(code for code, g in self.care_groups.items() if g.triggers)

    def check_care_groups(self, groups: Iterable[str]) -> list[str]:
        """The groups, in order, without repeats; UnknownCareGroup (naming the valid codes) for a code the policy
        does not define, so that a typo such as ``left-behind`` never silently lowers a level."""
        wanted = list(dict.fromkeys(groups))
        unknown = [g for g in wanted if g not in self.care_groups]
        if unknown:
            raise UnknownCareGroup(unknown, tuple(self.care_groups))
        return wanted


def load_policy(path: str | Path) -> Policy:
    """Read and check a policy file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError(f"{path.name}: cannot be read: {exc}") from exc
    return policy_from_dict(data, path.name, str(path))


def policy_from_dict(data: Any, name: str = "<policy>", path: str | None = None) -> Policy:
    c = _Checker(name)
    if not isinstance(data, Mapping):
        raise c.fail("(top)", "must be a mapping")
    c.unknown_keys(data, {"version", "levels", "care_groups", "rules", "severe_bands"}, "")
    raw_levels = c.get(data, "levels", "", Mapping)
    levels = {}
    for code in LEVELS:
        where = f"levels.{code}"
        lv = c.get(raw_levels, code, "levels", Mapping)
        c.unknown_keys(lv, {"colour", "name", "meaning", "response", "interview_window_days", "recheck_days",
                            "head_teacher"}, where)
        ht = c.get(lv, "head_teacher", where, Mapping, required=False)
        if ht is not None:
            c.unknown_keys(ht, {"tier", "guidance"}, f"{where}.head_teacher")
        levels[code] = LevelInfo(
            code=code,
            colour=c.get(lv, "colour", where, str),
            name=c.text(c.get(lv, "name", where, Mapping), f"{where}.name"),
            meaning=c.text(c.get(lv, "meaning", where, Mapping), f"{where}.meaning"),
            response=c.text(c.get(lv, "response", where, Mapping), f"{where}.response"),
            interview_window_days=c.get(lv, "interview_window_days", where, int, False),
            recheck_days=c.get(lv, "recheck_days", where, int, False),
            head_teacher_tier=c.text(c.get(ht, "tier", f"{where}.head_teacher", Mapping),
                                     f"{where}.head_teacher.tier") if ht is not None else None,
            head_teacher_guidance=c.text(c.get(ht, "guidance", f"{where}.head_teacher", Mapping),
                                         f"{where}.head_teacher.guidance") if ht is not None else None,
        )
    c.unknown_keys(raw_levels, set(LEVELS), "levels")
    for code in ("L1", "L2", "L3"):
        days = levels[code].recheck_days
        if days is None or days < 1:
            raise c.fail(f"levels.{code}.recheck_days", "required: a positive number of days")

    groups = {}
    for code, g in c.get(data, "care_groups", "", Mapping).items():
        where = f"care_groups.{code}"
        c.unknown_keys(g, {"zh", "en", "triggers"}, where)
        groups[code] = CareGroup(code=code, label=c.text(g, where), triggers=c.get(g, "triggers", where, bool))

    raw_rules = c.get(data, "rules", "", Mapping)
    c.unknown_keys(raw_rules, set(RULES), "rules")
    rules = {}
    for rule in RULES:
        level = c.get(raw_rules, rule, "rules", str)
        if level not in LEVELS:
            raise c.fail(f"rules.{rule}", f"{level!r} is not a level ({', '.join(LEVELS)})")
        rules[rule] = level
    for rule in SAFETY_RULES:
        if rules[rule] not in ("L1", "L2", "L3"):
            raise c.fail(f"rules.{rule}", "must be L1, L2 or L3: this rule may not be switched off")
    if rules["critical"] != "L1":
        raise c.fail("rules.critical", "must be L1: a critical answer is a level-1 warning whatever the total")

    severe = {}
    for inst_id, bands in (c.get(data, "severe_bands", "", Mapping, False, {}) or {}).items():
        if not isinstance(bands, list) or not all(isinstance(b, str) for b in bands):
            raise c.fail(f"severe_bands.{inst_id}", "must be a list of band names")
        severe[inst_id] = tuple(bands)

    return Policy(version=c.get(data, "version", "", int), levels=levels, care_groups=groups, rules=rules,
                  severe_bands=severe, path=path)


def _names(result: Result) -> tuple[str, Instrument | None]:
    """(short name, instrument or None): results of synthetic instruments still get a readable reason."""
    try:
        inst = get_instrument(result.instrument)
    except UnknownInstrument:
        return result.instrument, None
    return inst.short_name, inst


def suggest_level(results: Sequence[Result], care_groups: Iterable[str],
                  policy: Policy) -> tuple[str, list[dict[str, str]]]:
    """The suggested level and every reason for it (most urgent first), each as {"zh": ..., "en": ...}."""
    rules = policy.rules
    groups = [g for g in policy.check_care_groups(care_groups) if g in policy.triggering_groups]
    groups_zh = "、".join(policy.care_groups[g].label["zh"] for g in groups)
    groups_en = ", ".join(policy.care_groups[g].label["en"] for g in groups)
    fired: list[tuple[str, str, str]] = []  # (level, zh, en)
    now: list[tuple[str, str, str]] = []  # acute answers: listed before every other reason

    for r in results:
        sn, inst = _names(r)
        if r.critical:
            labels = []
            fired_rules = [inst.critical[k] for k in r.critical_rules
                           if k < len(inst.critical)] if inst and r.critical_rules else []
            if fired_rules:
                labels = [(cr.item, cr.label) for cr in fired_rules]
            else:
                for item in r.critical_items:
                    label = next((cr.label for cr in inst.critical if cr.item == item), None) if inst else None
                    labels.append((item, label or {"zh": "危机项目", "en": "critical item"}))
            if r.acute:
                acute = [(i, lb) for (i, lb), cr in zip(labels, fired_rules, strict=False) if cr.acute] or labels
                now.append((rules["critical"],
                            f"{NOW_PREFIX['zh']}——{sn} 急性阳性："
                            + "；".join(f"第{i}题（{lb['zh']}）" for i, lb in acute),
                            f"{NOW_PREFIX['en']} — {sn} acute positive: "
                            + "; ".join(f"item {i} ({lb['en']})" for i, lb in acute)))
            zh = "；".join(f"第{i}题（{lb['zh']}）" for i, lb in labels)
            en = "; ".join(f"item {i} ({lb['en']})" for i, lb in labels)
            fired.append((rules["critical"], f"{sn} 危机项目阳性：{zh}", f"{sn} critical answer: {en}"))
        if FLAG_CRITICAL_UNANSWERED in r.flags:
            fired.append((rules["critical_unanswered"], f"{sn} 危机项目未作答，不视为“否”：请约谈确认",
                          f"{sn} critical item unanswered, not read as “no”: confirm at interview"))
        if not r.valid:
            why = {"void": ("测验无效", "void"), "incomplete": ("未答题目过多", "too many items unanswered")}.get(
                r.reason or "", (r.reason or "无效", r.reason or "invalid"))
            fired.append((rules["invalid_form"], f"{sn} 表单无效或不完整（{why[0]}）——请重新施测或约谈",
                          f"{sn} form invalid or incomplete ({why[1]}) — re-administer or interview"))
            continue
        if inst is not None and inst.is_screen:
            continue  # a screen's positive is its critical answers, already a reason above
        severe = (r.band in policy.severe_bands[r.instrument]) if r.instrument in policy.severe_bands else r.severe
        if severe:
            band = next((b for b in inst.total.bands if b.name == r.band), None) if inst and inst.total else None
            bzh, ben = (band.label["zh"], band.label["en"]) if band else (r.band, r.band)
            fired.append((rules["severe_band"], f"{sn} 总分 {r.total}：{bzh}", f"{sn} total {r.total}: {ben}"))
        if r.positive:
            if groups:
                fired.append((rules["positive_in_care_group"],
                              f"{sn} 筛查阳性（总分 {r.total}），且为关爱对象（{groups_zh}）",
                              f"{sn} positive screen (total {r.total}) in a care-group student ({groups_en})"))
            else:
                fired.append((rules["positive"], f"{sn} 筛查阳性（总分 {r.total}）",
                              f"{sn} positive screen (total {r.total})"))
        else:
            pos_subs = [name for name, s in r.subscales.items() if s.positive]
            if pos_subs:
                subs = {s.name: s.label for s in inst.subscales} if inst else {}
                zh = "、".join(subs.get(n, {"zh": n})["zh"] for n in pos_subs)
                en = ", ".join(subs.get(n, {"en": n})["en"] for n in pos_subs)
                fired.append((rules["positive_subscale"], f"{sn} 分量表阳性：{zh}", f"{sn} positive subscale: {en}"))

    if groups:
        fired.append((rules["care_group"], groups_zh, groups_en))

    fired = now + [f for f in fired if f[0] != "none"]
    if not fired:
        return "none", [{"zh": "未发现需要预警的结果", "en": "no result calls for a warning"}]
    fired.sort(key=lambda f: RANK[f[0]])  # stable: within a level, reasons keep the order of the results
    reasons = []
    for level, zh, en in fired:
        name = policy.levels[level].name
        reasons.append({"zh": f"{name['zh']}：{zh}", "en": f"{name['en']}: {en}"})
    return fired[0][0], reasons
