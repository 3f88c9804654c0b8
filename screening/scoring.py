"""Scoring: answers in item order -> Result, with the rules that fired written out in zh-CN and English.

Rules that apply to every instrument (each instrument's own numbers live in its definition file):
- an answer outside the item's answer set, or a wrong number of answers, raises AnswerError naming the item;
- a form voided by a validity scale, or whose required total cannot be computed under its missing-item rule, is
  not valid: no total, band, subscale or short form is reported, only the reason;
- critical items are checked even on an invalid form: a crisis answer is never discarded, and an unanswered
  critical item is never read as "no" (flag ``critical_unanswered``).

One module of a little over 400 lines because it is one algorithm: `score` walks an instrument's definition once
(validity, critical items, total, subscales, short forms, symptom counts) and writes the explanation as it goes;
split, its parts would pass the same partial state between them.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from .definition import OP_SIGN, OPS, Band, Condition, Critical, Instrument, Scale, Text, TextCache
from .errors import AnswerError
from .registry import get_instrument

FLAG_CRITICAL_UNANSWERED = "critical_unanswered"
FLAG_PRORATED = "prorated"
FLAG_BLANK_AS_ZERO = "blank_as_zero"
FLAG_INCOMPLETE = "incomplete"
FLAG_VOID = "void"
FLAG_ACUTE = "acute"  # an acute critical answer (ASQ question 5 "yes"): the "now" flag, above every other row
FLAG_SUBSCALE_INCOMPLETE = "subscale_incomplete"  # a subscale with blanks inside it (counted 0 or prorated)
FLAG_NOT_ASKED_IGNORED = "not_asked_ignored"  # a conditional item answered although it was not asked
FLAG_NO_NORM = "no_norm"  # a norm-referenced scale without a norm group for the student's grade and sex

_NOT_SCORED = {"zh": "不计分，请重新施测或约谈", "en": "not scored; re-administer or interview"}


@dataclass(frozen=True)
class SubscaleResult:
    score: int | None
    band: str | None
    positive: bool | None
    incomplete: bool = False  # blanks inside the subscale were counted 0 or prorated: read a negative with care
    missing: int = 0
    standard: int | None = None  # the standard score (norm-referenced scales)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"score": self.score, "band": self.band, "positive": self.positive}
        if self.incomplete:
            out["incomplete"] = True
            out["missing"] = self.missing
        if self.standard is not None:
            out["standard"] = self.standard
        return out


@dataclass(frozen=True)
class Result:
    instrument: str
    version: str
    valid: bool
    reason: str | None  # "incomplete" or "void" when not valid
    total: int | None
    band: str | None
    positive: bool | None
    critical: bool
    flags: tuple[str, ...]
    subscales: dict[str, SubscaleResult]
    short_forms: dict[str, dict[str, Any]]
    explanation: list[dict[str, str]]
    severe: bool = False  # the band is marked severe in the definition
    missing_items: tuple[int, ...] = ()
    critical_items: tuple[int, ...] = ()  # critical items whose answer fired
    critical_rules: tuple[int, ...] = ()  # positions in the definition's `critical` list of the rules that fired
    symptom_count: dict[str, Any] | None = None
    acute: bool = False  # an acute critical answer fired (flag "acute"): the "now" flag of the worklist
    not_asked: tuple[int, ...] = ()  # conditional items not asked (their condition unmet); never "missing"
    total_standard: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "version": self.version,
            "valid": self.valid,
            "reason": self.reason,
            "total": self.total,
            "band": self.band,
            "severe": self.severe,
            "positive": self.positive,
            "critical": self.critical,
            "critical_items": list(self.critical_items),
            "critical_rules": list(self.critical_rules),
            "flags": list(self.flags),
            "missing_items": list(self.missing_items),
            "subscales": {name: s.to_dict() for name, s in self.subscales.items()},
            "short_forms": {name: dict(sf) for name, sf in self.short_forms.items()},
            "symptom_count": dict(self.symptom_count) if self.symptom_count is not None else None,
            "acute": self.acute,
            "not_asked": list(self.not_asked),
            "total_standard": self.total_standard,
            "explanation": [dict(e) for e in self.explanation],
        }


def _num(x: float) -> str:
    if type(x) is int:
        return str(x)
    return str(int(x)) if float(x).is_integer() else f"{x:.2f}".rstrip("0")


def _items_zh(numbers: Sequence[int]) -> str:
    return "、".join(str(n) for n in numbers)


def _items_en(numbers: Sequence[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def check_settings(inst: Instrument, overrides: Mapping[str, Any]) -> dict[str, float]:
    """Overrides of an instrument's settings (cut-offs), checked: each names a setting of the definition and is a
    finite number ≥ 0 (a NaN would make every comparison false: a silent "negative"). ValueError naming the
    instrument, the setting and the value otherwise."""
    out: dict[str, float] = {}
    for name, value in overrides.items():
        if name not in inst.setting_defaults:
            known = ", ".join(sorted(inst.setting_defaults)) or "none"
            raise ValueError(f"{inst.id}.{name}: {inst.id} has no setting {name!r} (settings: {known})")
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise ValueError(f"{inst.id}.{name}: {value!r} is not a finite number ≥ 0")
        out[name] = value
    return out


def _resolve_settings(inst: Instrument, overrides: Mapping[str, float] | None) -> Mapping[str, float]:
    if not overrides:
        return inst.setting_defaults
    return {**inst.setting_defaults, **check_settings(inst, overrides)}


def _normalise(inst: Instrument, answers: Sequence[Any]) -> list[int | None]:
    maps = inst.value_maps
    if len(answers) != len(maps):
        n, got = len(maps), len(answers)
        item = got + 1 if got < n else n + 1
        raise AnswerError(item, f"{inst.id} expects {n} answers (items 1–{n}), got {got}"
                          + (f"; item {item} and later are missing" if got < n else f"; item {item} is extra"))
    try:
        return [m[a] for m, a in zip(maps, answers, strict=True)]
    except (KeyError, TypeError):
        for it, a in zip(inst.items, answers, strict=True):
            it.validate(a)  # raises AnswerError naming the first bad item
        raise


def _sum_scale(s: Scale, vals: list[int | None]) -> tuple[int | None, int, bool]:
    """(score, missing count, prorated?) under the scale's missing-item rule."""
    xs = vals if s.covers_all else s.getter(vals) if s.getter is not None else [vals[i] for i in s.idx]
    miss = xs.count(None)
    if not miss:
        return sum(xs), 0, False
    if s.missing_rule == "none" or (s.max_missing is not None and miss > s.max_missing):
        return None, miss, False
    present = [x for x in xs if x is not None]
    if s.missing_rule == "zero":
        return sum(present), miss, False
    k = len(present)
    if not k:
        return None, miss, False
    # answered sum + answered mean per missing item = sum * n / k, rounded to nearest with halves up
    n = len(xs)
    return (2 * sum(present) * n + k) // (2 * k), miss, True


def _stat(cond: Condition, s: Scale, score: int, vals: list[int | None], subs_positive: bool,
          standard: int | None = None) -> float:
    stat = cond.stat
    if stat == "score":
        if cond.on == "standard":
            assert standard is not None, "the scorer stops before comparing a scale without its norm group"
            return standard
        return score
    if stat == "mean":
        return score / (len(s.idx) or 1)
    if stat == "items_at_least":
        iv = cond.item_value
        assert iv is not None, "the loader requires item_value for items_at_least"
        return sum(1 for i in s.idx if (v := vals[i]) is not None and v >= iv)
    return 1 if subs_positive else 0  # subscales_positive


def _positive(s: Scale, score: int, vals: list[int | None], settings: Mapping[str, float],
              subs_positive: bool = False, standard: int | None = None) -> tuple[bool, Condition, float]:
    """(positive, the condition that decided, the value compared) — the first condition when none fired."""
    conds = s.positive
    if len(conds) == 1 and conds[0].stat == "score" and conds[0].on == "raw":  # the usual case, on the hot path
        cond = conds[0]
        return OPS[cond.op](score, cond.threshold(settings)), cond, score
    first: tuple[Condition, float] | None = None
    for cond in s.positive:
        x = _stat(cond, s, score, vals, subs_positive, standard)
        if OPS[cond.op](x, cond.threshold(settings)):
            return True, cond, x
        if first is None:
            first = (cond, x)
    assert first is not None, "called only for a scale with at least one condition"
    return False, first[0], first[1]


def _subject(cond: Condition, s: Scale, x: float) -> tuple[str, str]:
    label_zh, label_en = s.label["zh"], s.label["en"]
    if cond.stat == "mean":
        return f"{label_zh}均分 {_num(x)}", f"{label_en} mean {_num(x)}"
    if cond.stat == "items_at_least":
        return (f"{label_zh}中≥{cond.item_value}分的题目数 {_num(x)}",
                f"number of {label_en} items scoring ≥{cond.item_value} {_num(x)}")
    if cond.stat == "subscales_positive":
        return "任一分量表阳性", "any subscale positive"
    if cond.on == "standard":
        return f"{label_zh}标准分 {_num(x)}", f"{label_en} standard score {_num(x)}"
    return f"{label_zh} {_num(x)}", f"{label_en} {_num(x)}"


# Explanation lines depend only on (scale, rule, value, threshold): scores are small integers, so the few distinct
# lines are built once per scale and shared (they are never mutated; to_dict() copies them).
_TEXT_CACHE_MAX = 10_000


def _cached(cache: TextCache, key: tuple[Any, ...], build: Callable[[], dict[str, str]]) -> dict[str, str]:
    text = cache.get(key)
    if text is None:
        if len(cache) >= _TEXT_CACHE_MAX:
            cache.clear()
        text = cache[key] = build()
    return text


def _rule_text(sn: str, cond: Condition, s: Scale, x: float, settings: Mapping[str, float],
               fired: bool) -> dict[str, str]:
    key = (cond, x, cond.threshold(settings), fired)
    text = s.text_cache.get(key)
    if text is None:
        text = _cached(s.text_cache, key, lambda: _build_rule_text(sn, cond, s, x, settings, fired))
    return text


def _build_rule_text(sn: str, cond: Condition, s: Scale, x: float, settings: Mapping[str, float],
                     fired: bool) -> dict[str, str]:
    zh, en = _subject(cond, s, x)
    if cond.stat == "subscales_positive":
        crit_zh = crit_en = ""
    else:
        th = _num(cond.threshold(settings))
        crit_zh = crit_en = f" {OP_SIGN[cond.op]}{th}"
    if fired:
        return {"zh": f"{sn} {zh}{crit_zh}：筛查阳性", "en": f"{sn} {en}{crit_en}: positive screen"}
    return {"zh": f"{sn} {zh}，未达阳性标准（{crit_zh.strip()}）：筛查阴性",
            "en": f"{sn} {en} does not meet the positive criterion ({crit_en.strip()}): negative screen"}


def _total_text(sn: str, t: Scale, total: int, band: Band | None) -> dict[str, str]:
    text = t.text_cache.get((total,))
    if text is None:
        if band is not None:
            built = {"zh": f"{sn} 总分 {total}：{band.label['zh']}（{band.min}–{band.max}分）",
                     "en": f"{sn} total {total}: {band.label['en']} ({band.min}–{band.max})"}
        else:
            built = {"zh": f"{sn} 总分 {total}", "en": f"{sn} total {total}"}
        text = _cached(t.text_cache, (total,), lambda: built)
    return text


def _prorated_text(sn: str, label: Text | None, missed: list[int]) -> dict[str, str]:
    part_zh, part_en = (f" {label['zh']}", f" ({label['en']})") if label else ("", "")
    return {"zh": f"{sn}{part_zh} 有{len(missed)}题未作答（第{_items_zh(missed)}题）：按已答题目的平均分补足，四舍五入",
            "en": f"{sn}{part_en}: {len(missed)} item(s) unanswered (item(s) {_items_en(missed)}): prorated by the "
                  f"mean of the answered items, halves rounded up"}


def _critical_text(inst: Instrument, cr: Critical) -> dict[str, str]:
    zh, en = _answer_text(inst, cr.item, cr.condition)
    sn = inst.short_name
    return {"zh": f"{sn} 第{cr.item}题 {zh}：{cr.label['zh']}，一级预警",
            "en": f"{sn} item {cr.item} {en}: {cr.label['en']}, level 1 warning"}


def _answer_text(inst: Instrument, item_no: int, cond: Condition) -> tuple[str, str]:
    """"≥1" for a rating, “Yes” when the critical rule is an exact answer such as yes/no."""
    value = cond.value
    assert value is not None, "the loader gives a critical rule a literal value"
    if cond.op == "==":
        label = inst.items[item_no - 1].label_for(int(value))
        if label is not None:
            return f"回答“{label['zh']}”", f"answered “{label['en']}”"
    sign = f"{OP_SIGN[cond.op]}{_num(value)}"
    return sign, sign


def _ask_conditions(inst: Instrument, answers: Sequence[int | None], vals: list[int | None], flags: list[str],
                    expl: list[dict[str, str]]) -> tuple[list[int | None], tuple[int, ...]]:
    """Conditional items whose condition is unmet are "not asked": their answer (if any) is ignored, and they are
    neither missing nor read as "no". Returns the answers with those items blanked and the not-asked numbers."""
    raw = list(answers)
    not_asked = []
    for it in inst.items:
        cond = it.ask_if
        if cond is None or cond.met(raw):
            continue
        i = it.number - 1
        not_asked.append(it.number)
        if raw[i] is not None:
            if FLAG_NOT_ASKED_IGNORED not in flags:
                flags.append(FLAG_NOT_ASKED_IGNORED)
            expl.append({"zh": f"{inst.short_name} 第{it.number}题只在第{_items_zh(cond.items)}题有相应回答时才问："
                               f"本次不需回答，所填答案不计",
                         "en": f"{inst.short_name} item {it.number} is asked only after the right answer to item(s) "
                               f"{_items_en(cond.items)}: not asked this time, its answer is ignored"})
        raw[i] = vals[i] = None
    return raw, tuple(not_asked)


def score(instrument: str | Instrument, answers: Sequence[int | None],
          settings: Mapping[str, float] | None = None, *, grade: int | None = None, sex: str | None = None) -> Result:
    """Score one form. ``answers`` are in item order, None for an unanswered item (yes/no as 1/0).

    ``settings`` overrides the definition's setting defaults (e.g. ``{"positive_cutoff": 7}``). ``grade`` and
    ``sex`` choose the norm group of a norm-referenced scale (standard scores); other instruments ignore them.
    """
    inst = instrument if isinstance(instrument, Instrument) else get_instrument(instrument)
    vals = _normalise(inst, answers)
    sett = _resolve_settings(inst, settings) if settings else inst.setting_defaults
    sn = inst.short_name
    flags: list[str] = []
    expl: list[dict[str, str]] = []
    not_asked: tuple[int, ...] = ()
    if inst.conditional:
        answers, not_asked = _ask_conditions(inst, answers, vals, flags, expl)
    missing_items = tuple(i + 1 for i, v in enumerate(vals) if v is None and i + 1 not in not_asked) \
        if None in vals else ()

    # critical answers first: they count whatever else happens to the form
    critical = acute = False
    critical_items: list[int] = []
    seen_blank: set[tuple[int, None]] = set()
    critical_rules: list[int] = []
    for k, cr in enumerate(inst.critical):
        a = answers[cr.item - 1]
        if a is None and cr.item in not_asked:
            continue
        if a is None:
            if (cr.item, None) in seen_blank:
                continue
            seen_blank.add((cr.item, None))
            if FLAG_CRITICAL_UNANSWERED not in flags:
                flags.append(FLAG_CRITICAL_UNANSWERED)
            expl.append({"zh": f"{sn} 第{cr.item}题（{cr.label['zh']}）未作答：不视为“否”，请约谈确认",
                         "en": f"{sn} item {cr.item} ({cr.label['en']}) unanswered: not read as “no”; "
                               f"confirm at interview"})
        elif OPS[cr.condition.op](a, cr.condition.threshold(sett)):
            critical = True
            critical_rules.append(k)
            if cr.item not in critical_items:
                critical_items.append(cr.item)
            if cr.acute:
                acute = True
            expl.append(_cached(inst.text_cache, ("critical", cr.item, a), partial(_critical_text, inst, cr)))
    if critical:
        flags.append("critical")
    if acute:
        flags.append(FLAG_ACUTE)
    if inst.is_screen:
        return _screen_result(inst, flags, expl, critical, acute, critical_items, missing_items, not_asked,
                              critical_rules)

    # validity scales void the whole form
    for v in inst.validity:
        vs = sum(vals[i] or 0 for i in v.scale.idx)  # an unanswered validity item adds nothing
        if OPS[v.void_if.op](vs, v.void_if.threshold(sett)):
            flags.append(FLAG_VOID)
            th = f"{OP_SIGN[v.void_if.op]}{_num(v.void_if.threshold(sett))}"
            expl.append({"zh": f"{sn} {v.label['zh']} {vs} {th}：测验无效，不得显示或使用任何分数，请重新施测",
                         "en": f"{sn} {v.label['en']} {vs} {th}: the form is void; no score may be shown or "
                               f"acted on; re-administer"})
            return _invalid(inst, "void", flags, expl, critical, critical_items, missing_items, critical_rules)

    # subscales
    subscales: dict[str, SubscaleResult] = {}
    sub_scores: dict[str, int | None] = {}
    any_sub_positive = False
    sub_expl: list[dict[str, str]] = []  # listed after the total's lines
    incomplete_parts: list[tuple[Scale, int]] = []
    for s in inst.subscales:
        sc, miss, prorated = _sum_scale(s, vals)
        sub_scores[s.name] = sc
        if sc is None:
            subscales[s.name] = SubscaleResult(None, None, None)
            if s.required:
                incomplete_parts.append((s, miss))
            continue
        if prorated:
            if FLAG_PRORATED not in flags:
                flags.append(FLAG_PRORATED)
            expl.append(_prorated_text(sn, s.label, [n for n in s.items if vals[n - 1] is None]))
        if miss:
            if FLAG_SUBSCALE_INCOMPLETE not in flags:
                flags.append(FLAG_SUBSCALE_INCOMPLETE)
            expl.append(_subscale_incomplete_text(sn, s, [n for n in s.items if vals[n - 1] is None], prorated))
        std = None
        if s.norms is not None:
            std = s.norms.standard(sc, grade, sex)
            if std is None:
                return _no_norm(inst, s, grade, sex, flags, expl, critical, critical_items, missing_items,
                                critical_rules)
        band = s.band_for(sc)
        pos = None
        if s.positive:
            pos, cond, x = _positive(s, sc, vals, sett, standard=std)
            if pos:
                any_sub_positive = True
                sub_expl.append(_rule_text(sn, cond, s, x, sett, True))
        subscales[s.name] = SubscaleResult(score=sc, band=band.name if band else None, positive=pos,
                                           incomplete=bool(miss), missing=miss, standard=std)

    total = band_name = positive = None
    total_standard: int | None = None
    severe = False
    t = inst.total
    if t is not None:
        if t.from_subscales:
            parts = [sub_scores[name] for name in t.from_subscales]
            total = None if None in parts else sum(p or 0 for p in parts)
            miss = 0
        else:
            total, miss, prorated = _sum_scale(t, vals)
            if miss and total is not None:
                missed = [n for n in t.items if vals[n - 1] is None]
                if prorated:
                    if FLAG_PRORATED not in flags:
                        flags.append(FLAG_PRORATED)
                    expl.append(_prorated_text(sn, None, missed))
                else:
                    flags.append(FLAG_BLANK_AS_ZERO)
                    expl.append({"zh": f"{sn} 有{miss}题未作答（第{_items_zh(missed)}题）：空白题按0分计",
                                 "en": f"{sn}: {miss} item(s) blank (item(s) {_items_en(missed)}): counted as 0"})
        if total is None:
            if t.required:
                incomplete_parts.insert(0, (t, miss))
        else:
            if t.norms is not None:
                total_standard = t.norms.standard(total, grade, sex)
                if total_standard is None:
                    return _no_norm(inst, t, grade, sex, flags, expl, critical, critical_items, missing_items,
                                    critical_rules)
            band = t.band_for(total)
            if band is not None:
                band_name, severe = band.name, band.severe
            expl.append(_total_text(sn, t, total, band))
            if t.positive:
                positive, cond, x = _positive(t, total, vals, sett, any_sub_positive, total_standard)
                expl.append(_rule_text(sn, cond, t, x, sett, positive))

    if incomplete_parts:
        flags.append(FLAG_INCOMPLETE)
        s, miss = incomplete_parts[0]
        allowed = s.max_missing if s.missing_rule != "none" else 0
        part_zh = "" if s is t else f" {s.label['zh']}"
        part_en = "" if s is t else f" ({s.label['en']})"
        expl.append({"zh": f"{sn}{part_zh} 有{miss}题未作答（最多允许{allowed}题）：{_NOT_SCORED['zh']}",
                     "en": f"{sn}{part_en}: {miss} item(s) unanswered (at most {allowed} allowed): "
                           f"{_NOT_SCORED['en']}"})
        return _invalid(inst, "incomplete", flags, expl, critical, critical_items, missing_items,
                        critical_rules)
    expl += sub_expl

    if inst.reverse_items:
        expl.append(_cached(inst.text_cache, ("reverse",), lambda: {
            "zh": f"{sn} 第{_items_zh(inst.reverse_items)}题为反向计分",
            "en": f"{sn} items {_items_en(inst.reverse_items)} are reverse-scored"}))

    short_forms: dict[str, dict[str, Any]] = {}
    for sf in inst.short_forms:
        sc, _, _ = _sum_scale(sf, vals)
        pos = None
        if sc is not None and sf.positive:
            pos, cond, x = _positive(sf, sc, vals, sett)
            if pos:
                expl.append(_rule_text(sf.short_name or sf.name, cond, sf, x, sett, True))
        short_forms[sf.name] = {"score": sc, "positive": pos}

    symptoms = None
    sc_rule = inst.symptom_count
    if sc_rule is not None:
        count = core = 0
        for n, minimum in sc_rule.thresholds:
            val = vals[n - 1]
            if val is not None and val >= minimum:
                count += 1
                if n in sc_rule.core:
                    core += 1
        met = core >= sc_rule.core_min and count >= sc_rule.count_min
        symptoms = {"count": count, "core": core, "syndrome": sc_rule.syndrome, "met": met}
        if met:
            expl.append(_cached(inst.text_cache, ("symptoms", count, core), lambda: {
                "zh": f"{sn} 症状数 {count}（核心症状 {core}）：{sc_rule.label['zh']}",
                "en": f"{sn} symptom count {count} (core {core}): {sc_rule.label['en']}"}))

    return Result(
        instrument=inst.id, version=inst.version, valid=True, reason=None, total=total, band=band_name,
        positive=positive, critical=critical, flags=tuple(flags), subscales=subscales, short_forms=short_forms,
        explanation=expl, severe=severe, missing_items=missing_items, critical_items=tuple(critical_items),
        critical_rules=tuple(critical_rules),
        symptom_count=symptoms, acute=acute, not_asked=not_asked, total_standard=total_standard,
    )


def _subscale_incomplete_text(sn: str, s: Scale, missed: list[int], prorated: bool) -> dict[str, str]:
    how_zh, how_en = ("已按平均分补足", "prorated") if prorated else ("空白按0分计", "counted as 0")
    return {"zh": f"{sn} {s.label['zh']}分量表有{len(missed)}题未作答（第{_items_zh(missed)}题，{how_zh}）："
                  f"该分量表不完整，阴性结果可能低估，请约谈核实",
            "en": f"{sn} {s.label['en']} subscale: {len(missed)} item(s) blank (item(s) {_items_en(missed)}, "
                  f"{how_en}): the subscale is incomplete and a negative result may be an underestimate; check at "
                  f"interview"}


def _screen_result(inst: Instrument, flags: list[str], expl: list[dict[str, str]], critical: bool, acute: bool,
                   critical_items: list[int], missing_items: tuple[int, ...], not_asked: tuple[int, ...],
                   critical_rules: list[int]) -> Result:
    """A screen without a score (ASQ): positive is any critical answer (a yes or a refusal on questions 1–4);
    unknown (None) when a question was left blank and nothing else fired; negative otherwise."""
    sn = inst.short_name
    positive: bool | None
    if critical:
        positive = True
        if acute:
            expl.insert(0, {"zh": f"{sn} 急性阳性（此刻有自杀念头）：立即处理——不要让学生独处，"
                                  f"马上进行简短自杀风险评估",
                            "en": f"{sn} acute positive (thoughts of suicide right now): act now — do not leave the "
                                  f"student alone; brief suicide safety assessment at once"})
        else:
            expl.append({"zh": f"{sn} 筛查阳性（非急性）：学生离校前须由受过培训的教师进行简短自杀风险评估",
                         "en": f"{sn} positive screen (non-acute): a brief suicide safety assessment by trained staff "
                               f"before the student leaves school"})
    elif FLAG_CRITICAL_UNANSWERED in flags:
        positive = None
    else:
        positive = False
        expl.append({"zh": f"{sn} 筛查阴性：第1–4题均回答“否”", "en": f"{sn} negative screen: “no” to questions 1–4"})
    return Result(
        instrument=inst.id, version=inst.version, valid=True, reason=None, total=None, band=None, positive=positive,
        critical=critical, flags=tuple(flags), subscales={}, short_forms={}, explanation=expl,
        missing_items=missing_items, critical_items=tuple(critical_items), critical_rules=tuple(critical_rules),
        acute=acute, not_asked=not_asked,
    )


def _no_norm(inst: Instrument, s: Scale, grade: int | None, sex: str | None, flags: list[str],
             expl: list[dict[str, str]], critical: bool, critical_items: list[int],
             missing_items: tuple[int, ...], critical_rules: list[int]) -> Result:
    flags.append(FLAG_NO_NORM)
    g = "?" if grade is None else str(grade)
    expl.append({"zh": f"{inst.short_name} {s.label['zh']}：没有{g}年级、性别“{sex or '?'}”的常模，"
                       f"无法换算标准分：{_NOT_SCORED['zh']}",
                 "en": f"{inst.short_name} {s.label['en']}: no norm group for grade {g} and sex {sex or '?'}, so no "
                       f"standard score: {_NOT_SCORED['en']}"})
    return _invalid(inst, "no_norm", flags, expl, critical, critical_items, missing_items, critical_rules)


def _invalid(inst: Instrument, reason: str, flags: list[str], expl: list[dict[str, str]], critical: bool,
             critical_items: list[int], missing_items: tuple[int, ...], critical_rules: list[int]) -> Result:
    return Result(
        instrument=inst.id, version=inst.version, valid=False, reason=reason, total=None, band=None, positive=None,
        critical=critical, flags=tuple(flags), subscales={}, short_forms={}, explanation=expl,
        missing_items=missing_items, critical_items=tuple(critical_items), critical_rules=tuple(critical_rules),
    )
