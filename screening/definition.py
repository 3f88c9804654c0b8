"""Instrument definitions: data files read, checked against the schema and compiled into a scoring plan.

A definition is a YAML (or JSON) mapping; ``screening/instruments/README.md`` documents every field. Loading
checks the whole file and fails with a DefinitionError naming the file and the field, so a district that adds
its own licensed instrument finds its mistake before any student answers it. Everything the scorer needs per
call (value maps with reverse scoring folded in, index tuples, band lookup tables) is precomputed here once.

Why one module over 400 lines: it is the schema of a definition file — every field's check and its compiled
form side by side, walked in one pass, with one `_Checker` that names the file and the field in each error.
Splitting checks from compilation would make a district's mistake reported by one module and assumed by another.
"""
from __future__ import annotations

import json
import math
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import AnswerError, DefinitionError

OPS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt, "==": operator.eq}
OP_SIGN = {">=": "≥", ">": ">", "<=": "≤", "<": "<", "==": "="}
MISSING_RULES = ("none", "zero", "prorate")
STATS = ("score", "mean", "items_at_least", "subscales_positive")

Text = Mapping[str, str]
TextCache = dict[tuple[Any, ...], dict[str, str]]  # explanation lines by (rule, value, ...), filled by the scorer


@dataclass(frozen=True, slots=True)
class AskIf:
    """An item asked only when any of `items` was answered with one of `answers` (ASQ question 5)."""

    items: tuple[int, ...]
    answers: tuple[int, ...]
    note: Text  # shown beside the item when a page cannot hide it (no JavaScript)

    def met(self, answers: Sequence[Any]) -> bool:
        return any(answers[n - 1] in self.answers for n in self.items)


@dataclass(frozen=True, slots=True)
class Threshold:
    """A number the definition compares a score with, where it stands in the file, and its stated source."""

    where: str
    value: float | None
    source: str | None


@dataclass(frozen=True, slots=True)
class Item:
    number: int
    text: Text
    options: tuple[tuple[int, Text], ...]
    answer_set: str
    reverse: bool = False
    scored: bool = True
    key: str | None = None
    ask_if: AskIf | None = None  # a conditional item: asked only when an earlier answer calls for it
    refusal_values: tuple[int, ...] = ()  # answer values that mean "declined to answer" (ASQ)

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(v for v, _ in self.options)

    def label_for(self, value: int) -> Text | None:
        for v, label in self.options:
            if v == value:
                return label
        return None

    def validate(self, value: Any) -> int | None:
        """Return the answer as an int (None stays None = missing) or raise AnswerError naming this item."""
        if value is None:
            return None
        if isinstance(value, bool):
            value = int(value)
        if isinstance(value, int):
            for v, _ in self.options:
                if v == value:
                    return v
        allowed = ", ".join(f"{v} ({label['en']})" for v, label in self.options)
        raise AnswerError(self.number, f"item {self.number}: {value!r} is not an allowed answer; allowed: {allowed}")


@dataclass(frozen=True, slots=True)
class Condition:
    """``<stat> <op> <threshold>``; the threshold is a literal ``value`` or a named ``setting``."""

    op: str
    value: float | None = None
    setting: str | None = None
    stat: str = "score"
    item_value: int | None = None  # for stat == items_at_least: count items scoring >= item_value
    on: str = "raw"  # "raw" score, or "standard": the score looked up in the scale's norm table

    def threshold(self, settings: Mapping[str, float]) -> float:
        if self.setting is not None:
            return settings[self.setting]
        assert self.value is not None, "the loader requires exactly one of value or setting"
        return self.value


@dataclass(frozen=True, slots=True)
class Band:
    name: str
    min: int
    max: int
    label: Text
    severe: bool = False


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: float
    label: Text
    note: str | None = None
    source: str | None = None


@dataclass(slots=True)
class Scale:
    """A total, a subscale, a validity scale or a short form: a sum over items (or over subscales)."""

    name: str
    label: Text
    items: tuple[int, ...]  # item numbers (empty when from_subscales)
    idx: tuple[int, ...]  # 0-based positions in the answer list
    missing_rule: str = "none"
    max_missing: int | None = 0
    bands: tuple[Band, ...] = ()
    positive: tuple[Condition, ...] = ()  # any one of them makes the scale positive
    from_subscales: tuple[str, ...] = ()
    required: bool = True
    lo: int = 0
    hi: int = 0
    band_by_score: dict[int, Band] = field(default_factory=dict)
    short_name: str | None = None
    covers_all: bool = False  # idx is every item in order: the scorer can use the answer list as it is
    text_cache: TextCache = field(default_factory=dict)  # explanation lines, filled by the scorer
    getter: Any = None  # operator.itemgetter over idx (C speed), set when the scale has two or more items
    norms: NormTable | None = None  # raw -> standard score by grade band and sex (licensed Chinese-norm forms)

    def band_for(self, score: int | None) -> Band | None:
        return None if score is None else self.band_by_score.get(score)


@dataclass(frozen=True, slots=True)
class NormGroup:
    grades: tuple[int, int]
    sex: str  # "male", "female" or "any"
    table: dict[int, int]  # raw score -> standard score


@dataclass(frozen=True, slots=True)
class NormTable:
    """Raw -> standard score by grade band and sex; cut-offs on the standard score say `compare: standard`."""

    name: str
    source: str
    groups: tuple[NormGroup, ...]

    def group_for(self, grade: int | None, sex: str | None) -> NormGroup | None:
        if grade is None:
            return None
        for g in self.groups:
            if g.grades[0] <= grade <= g.grades[1] and g.sex in (sex, "any"):
                return g
        return None

    def standard(self, raw: int, grade: int | None, sex: str | None) -> int | None:
        g = self.group_for(grade, sex)
        return None if g is None else g.table.get(raw)


@dataclass(frozen=True, slots=True)
class Critical:
    item: int
    condition: Condition
    label: Text
    acute: bool = False  # fired: the "now" flag (ASQ question 5): above every other row of the worklist


@dataclass(frozen=True, slots=True)
class Validity:
    scale: Scale
    void_if: Condition
    label: Text


@dataclass(frozen=True, slots=True)
class SymptomCount:
    """DSM-style symptom count (PHQ): an item counts when it reaches its threshold."""

    thresholds: tuple[tuple[int, int], ...]  # (item number, minimum value)
    core: tuple[int, ...]
    core_min: int
    count_min: int
    syndrome: str
    label: Text


@dataclass(slots=True)
class Instrument:
    id: str
    version: str
    name: Text
    short_name: str
    audience: str
    age_min: int | None
    age_max: int | None
    source: str
    licence: str
    instructions: Text
    items: tuple[Item, ...]
    settings: dict[str, Setting]
    total: Scale | None
    subscales: tuple[Scale, ...]
    critical: tuple[Critical, ...]
    validity: tuple[Validity, ...]
    short_forms: tuple[Scale, ...]
    symptom_count: SymptomCount | None
    notes: tuple[Text, ...] = ()
    path: str | None = None
    grade_min: int = 1  # the school grades (1–9) the instrument may be given to: its validated ages, see grades_basis
    grade_max: int = 9
    grades_basis: str = ""
    age_source: str = ""
    thresholds: tuple[Threshold, ...] = ()  # every cut-off of the file with its source (tests require one)
    # the neutral title a student sees instead of the instrument's name (心情小问卷); required when audience is student
    student_title: Text | None = None
    # compiled plan (filled by _compile)
    value_maps: tuple[dict[Any, int | None], ...] = ()
    setting_defaults: dict[str, float] = field(default_factory=dict)
    reverse_items: tuple[int, ...] = ()
    conditional: bool = False  # some item has an ask_if condition
    text_cache: TextCache = field(default_factory=dict)  # explanation lines, filled by the scorer

    @property
    def age_range(self) -> tuple[int | None, int | None]:
        return (self.age_min, self.age_max)

    @property
    def item_count(self) -> int:
        return len(self.items)

    @property
    def is_screen(self) -> bool:
        """A screen without a score (ASQ): positive means a critical answer; there is no total or subscale."""
        return self.total is None and not self.subscales

    @property
    def has_suicide_item(self) -> bool:
        """Whether the form asks about suicide or self-harm: it has critical items (PHQ-9 item 9, ASQ)."""
        return bool(self.critical)

    def grade_allowed(self, grade: int) -> bool:
        return self.grade_min <= grade <= self.grade_max

    def grade_refusal(self, grade: int) -> dict[str, str] | None:
        """None when `grade` is within the validated grades, else the reason in zh and en."""
        if self.grade_allowed(grade):
            return None
        lo, hi = self.grade_min, self.grade_max
        ages = f"{self.age_min}–{self.age_max}" if self.age_max is not None else f"{self.age_min}+"
        return {"zh": f"{self.short_name} 只适用于{lo}–{hi}年级（验证年龄 {ages} 岁），不能用于{grade}年级",
                "en": f"{self.short_name} is validated for grades {lo}–{hi} (ages {ages}), not grade {grade}"}

    def asked(self, answers: Sequence[Any]) -> list[bool]:
        """Per item, whether it is asked given the other answers (conditional items)."""
        return [it.ask_if is None or it.ask_if.met(answers) for it in self.items]

    @property
    def scored_item_count(self) -> int:
        return sum(1 for it in self.items if it.scored)

    def item(self, number: int) -> Item:
        return self.items[number - 1]

    def validate_answer(self, item_number: int, value: Any) -> int | None:
        """Check one answer (1-based item number); returns the int value or None, raises AnswerError."""
        if not 1 <= item_number <= len(self.items):
            raise AnswerError(item_number, f"{self.id} has items 1–{len(self.items)}, not item {item_number}")
        return self.items[item_number - 1].validate(value)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description (for forms and for `python -m screening show`)."""
        return {
            "id": self.id,
            "version": self.version,
            "name": dict(self.name),
            "short_name": self.short_name,
            "student_title": dict(self.student_title) if self.student_title else None,
            "audience": self.audience,
            "age_range": list(self.age_range),
            "source": self.source,
            "licence": self.licence,
            "instructions": dict(self.instructions),
            "items": [
                {
                    "number": it.number,
                    "text": dict(it.text),
                    "options": [[v, dict(lbl)] for v, lbl in it.options],
                    "reverse": it.reverse,
                    "scored": it.scored,
                    "ask_if": ({"items": list(it.ask_if.items), "answers": list(it.ask_if.answers)}
                               if it.ask_if else None),
                    "refusal_values": list(it.refusal_values),
                }
                for it in self.items
            ],
            "settings": {s.name: s.default for s in self.settings.values()},
            "grades": [self.grade_min, self.grade_max],
        }


# ---------------------------------------------------------------------------------------------------------------
# Reading and checking


class _Checker:
    """Small schema helper: every failure names the file and the dotted field path."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, problem: str) -> DefinitionError:
        return DefinitionError(f"{self.source}: {where}: {problem}")

    def get(self, d: Mapping[str, Any], key: str, where: str, types: type | tuple[type, ...], required: bool = True,
            default: Any = None) -> Any:
        path = f"{where}.{key}" if where else key
        if not isinstance(d, Mapping):
            raise self.fail(where or "(top)", "must be a mapping")
        if key not in d or d[key] is None:
            if required:
                raise self.fail(path, "required")
            return default
        value = d[key]
        if types is int and isinstance(value, bool):
            raise self.fail(path, "must be an integer")
        if not isinstance(value, types):
            names = types.__name__ if isinstance(types, type) else " or ".join(t.__name__ for t in types)
            raise self.fail(path, f"must be {names}, got {type(value).__name__}")
        return value

    def text(self, d: Mapping[str, Any], where: str) -> dict[str, str]:
        """A {zh, en} pair; both languages are required."""
        out: dict[str, str] = {}
        for lang in ("zh", "en"):
            value = self.get(d, lang, where, str)
            if not value.strip():
                raise self.fail(f"{where}.{lang}" if where else lang, "must not be empty")
            out[lang] = value
        return out

    def unknown_keys(self, d: Mapping[str, Any], allowed: set[str], where: str) -> None:
        extra = sorted(set(d) - allowed)
        if extra:
            raise self.fail(where or "(top)", f"unknown field(s): {', '.join(map(str, extra))}")


_TOP_KEYS = {
    "id", "version", "name", "short_name", "student_title", "audience", "age", "grades", "source", "licence",
    "instructions", "answer_sets", "default_answer_set", "items", "settings", "total", "subscales", "critical",
    "validity", "short_forms", "symptom_count", "notes", "translation",
}
_SCALE_KEYS = {"name", "zh", "en", "short_name", "items", "subscales", "missing", "bands", "bands_source", "positive",
               "required", "norms"}
SCHOOL_GRADES = (1, 9)
# Chinese school ages: a pupil enters grade 1 at 6 (by 31 August), so grade g pupils turn g + 6 during the year.
GRADE_AGE_OFFSET = 6


def load_definition(source: str | Path | Mapping[str, Any]) -> Instrument:
    """Read one definition (a path to .yaml/.yml/.json, or an already parsed mapping) and compile it."""
    if isinstance(source, Mapping):
        return _build(dict(source), "<definition>", None)
    path = Path(source)
    try:
        raw_text = path.read_text(encoding="utf-8")
        data = json.loads(raw_text) if path.suffix == ".json" else yaml.safe_load(raw_text)
    except (OSError, yaml.YAMLError, json.JSONDecodeError) as exc:
        raise DefinitionError(f"{path.name}: cannot be read: {exc}") from exc
    return _build(data, path.name, str(path))


def _student_title(c: _Checker, data: Mapping[str, Any], audience: str, names: list[str]) -> Text | None:
    """The neutral {zh, en} title shown to students: required for a student instrument, and never the
    instrument's name or short name (a child's page names no instrument)."""
    raw = data.get("student_title")
    if raw is None:
        if audience == "student":
            raise c.fail("student_title", "a student instrument needs a neutral {zh, en} title for the student pages")
        return None
    if not isinstance(raw, Mapping):
        raise c.fail("student_title", f"must be Mapping, got {type(raw).__name__}")
    c.unknown_keys(raw, {"zh", "en"}, "student_title")
    title = c.text(raw, "student_title")
    for lang, text in title.items():
        for n in names:
            if n and n.lower() in text.lower():
                raise c.fail(f"student_title.{lang}", f"must not contain the instrument's name {n!r}")
    return title


def _build(data: Any, name: str, path: str | None) -> Instrument:
    c = _Checker(name)
    if not isinstance(data, Mapping):
        raise c.fail("(top)", "must be a mapping")
    c.unknown_keys(data, _TOP_KEYS, "")
    inst_id = c.get(data, "id", "", str)
    if not inst_id.isidentifier() or inst_id != inst_id.lower():
        raise c.fail("id", "must be a lower-case identifier such as phq9")
    version = str(c.get(data, "version", "", (str, int, float)))
    inst_name = c.text(c.get(data, "name", "", Mapping), "name")
    c.unknown_keys(data["name"], {"zh", "en"}, "name")
    short_name = c.get(data, "short_name", "", str)
    audience = c.get(data, "audience", "", str)
    if audience not in ("student", "parent", "teacher"):
        raise c.fail("audience", "must be student, parent or teacher")
    student_title = _student_title(c, data, audience, [inst_name["zh"], inst_name["en"], short_name])
    age = c.get(data, "age", "", Mapping)
    c.unknown_keys(age, {"min", "max", "source"}, "age")
    age_min = c.get(age, "min", "age", int, required=False)
    age_max = c.get(age, "max", "age", int, required=False)
    age_source = c.get(age, "source", "age", str, False, "")
    grade_min, grade_max, grades_basis = _grades(c, data.get("grades"), age_min, age_max)
    cutoffs: list[Threshold] = []

    def source_of(d: Mapping[str, Any], where: str, key: str = "source") -> str | None:
        value: str | None = c.get(d, key, where, str, False)
        if value is not None and not value.strip():
            raise c.fail(f"{where}.{key}", "must not be empty")
        return value
    source = c.get(data, "source", "", str)
    licence = c.get(data, "licence", "", str)
    c.get(data, "translation", "", str, False)  # e.g. "faithful, not the NIMH published version"
    instructions = c.text(c.get(data, "instructions", "", Mapping), "instructions")
    notes = tuple(c.text(n, f"notes[{i}]") for i, n in enumerate(c.get(data, "notes", "", list, False, [])))

    # answer sets
    answer_sets: dict[str, tuple[tuple[int, Text], ...]] = {}
    refusal_sets: dict[str, tuple[int, ...]] = {}
    for set_name, options in c.get(data, "answer_sets", "", Mapping).items():
        where = f"answer_sets.{set_name}"
        if not isinstance(options, list) or not options:
            raise c.fail(where, "must be a non-empty list of {value, zh, en}")
        opts = []
        refusals = []
        for j, opt in enumerate(options):
            c.unknown_keys(opt, {"value", "zh", "en", "refusal"}, f"{where}[{j}]")
            value = c.get(opt, "value", f"{where}[{j}]", int)
            opts.append((value, c.text(opt, f"{where}[{j}]")))
            if c.get(opt, "refusal", f"{where}[{j}]", bool, False, False):
                refusals.append(value)
        if len({v for v, _ in opts}) != len(opts):
            raise c.fail(where, "values must be distinct")
        answer_sets[set_name] = tuple(opts)
        refusal_sets[set_name] = tuple(refusals)
    default_set = c.get(data, "default_answer_set", "", str, required=False)
    if default_set is not None and default_set not in answer_sets:
        raise c.fail("default_answer_set", f"no answer set named {default_set!r}")

    # items
    items: list[Item] = []
    raw_items = c.get(data, "items", "", list)
    if not raw_items:
        raise c.fail("items", "must not be empty")
    for i, it in enumerate(raw_items):
        where = f"items[{i}]"
        c.unknown_keys(it, {"number", "zh", "en", "answers", "reverse", "scored", "key", "ask_if"}, where)
        number = c.get(it, "number", where, int)
        if number != i + 1:
            raise c.fail(f"{where}.number", f"items must be numbered 1, 2, 3 … in order; expected {i + 1}")
        set_name = c.get(it, "answers", where, str, required=False, default=default_set)
        if set_name is None:
            raise c.fail(f"{where}.answers", "required (no default_answer_set)")
        if set_name not in answer_sets:
            raise c.fail(f"{where}.answers", f"no answer set named {set_name!r}")
        items.append(
            Item(
                number=number,
                text=c.text(it, where),
                options=answer_sets[set_name],
                answer_set=set_name,
                reverse=c.get(it, "reverse", where, bool, False, False),
                scored=c.get(it, "scored", where, bool, False, True),
                key=c.get(it, "key", where, str, False),
                ask_if=_ask_if(c, it.get("ask_if"), f"{where}.ask_if", number, items),
                refusal_values=refusal_sets[set_name],
            )
        )
    n_items = len(items)

    # settings
    settings: dict[str, Setting] = {}
    for s_name, s in c.get(data, "settings", "", Mapping, False, {}).items():
        where = f"settings.{s_name}"
        c.unknown_keys(s, {"default", "zh", "en", "note", "source"}, where)
        settings[s_name] = Setting(
            name=s_name,
            default=c.get(s, "default", where, (int, float)),
            label=c.text(s, where),
            note=c.get(s, "note", where, str, False),
            source=source_of(s, where),
        )
        if not math.isfinite(settings[s_name].default):
            raise c.fail(f"{where}.default", "must be a finite number")
        cutoffs.append(Threshold(where, settings[s_name].default, settings[s_name].source))

    def item_numbers(values: Any, where: str, scored_only: bool = True) -> tuple[int, ...]:
        if not isinstance(values, list) or not values:
            raise c.fail(where, "must be a non-empty list of item numbers")
        for v in values:
            if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= n_items:
                raise c.fail(where, f"{v!r} is not an item number 1–{n_items}")
            if scored_only and not items[v - 1].scored:
                raise c.fail(where, f"item {v} is not scored (scored: false)")
        if len(set(values)) != len(values):
            raise c.fail(where, "item numbers must not repeat")
        return tuple(values)

    def condition(d: Any, where: str) -> Condition:
        c.unknown_keys(d, {"op", "value", "setting", "stat", "item_value", "source", "compare"}, where)
        op = c.get(d, "op", where, str, required=False, default=">=")
        if op not in OPS:
            raise c.fail(f"{where}.op", f"must be one of {', '.join(OPS)}")
        stat = c.get(d, "stat", where, str, False, "score")
        if stat not in STATS:
            raise c.fail(f"{where}.stat", f"must be one of {', '.join(STATS)}")
        value = c.get(d, "value", where, (int, float), False)
        setting = c.get(d, "setting", where, str, False)
        if stat == "subscales_positive":
            return Condition(op="==", value=1, stat=stat)
        if (value is None) == (setting is None):
            raise c.fail(where, "needs exactly one of value or setting")
        if setting is not None and setting not in settings:
            raise c.fail(f"{where}.setting", f"no setting named {setting!r}")
        item_value = c.get(d, "item_value", where, int, stat == "items_at_least")
        on = c.get(d, "compare", where, str, False, "raw")  # not "on": YAML 1.1 reads a bare `on` as true
        if on not in ("raw", "standard"):
            raise c.fail(f"{where}.compare", "must be raw or standard")
        if value is not None:  # a literal number in the file: its source stands beside it (a setting has its own)
            cutoffs.append(Threshold(where, value, source_of(d, where)))
        return Condition(op=op, value=value, setting=setting, stat=stat, item_value=item_value, on=on)

    def conditions(d: Any, where: str) -> tuple[Condition, ...]:
        if d is None:
            return ()
        if isinstance(d, Mapping) and "any" in d:
            c.unknown_keys(d, {"any"}, where)
            if not isinstance(d["any"], list) or not d["any"]:
                raise c.fail(f"{where}.any", "must be a non-empty list of conditions")
            return tuple(condition(x, f"{where}.any[{k}]") for k, x in enumerate(d["any"]))
        return (condition(d, where),)

    def missing(d: Any, where: str, default: tuple[str, int | None]) -> tuple[str, int | None]:
        if d is None:
            return default
        c.unknown_keys(d, {"rule", "max_missing"}, where)
        rule = c.get(d, "rule", where, str)
        if rule not in MISSING_RULES:
            raise c.fail(f"{where}.rule", f"must be one of {', '.join(MISSING_RULES)}")
        max_missing = c.get(d, "max_missing", where, int, False)
        if rule == "none":
            max_missing = 0
        return rule, max_missing

    def scale(d: Any, where: str, default_missing: tuple[str, int | None], subs: Mapping[str, Scale] | None,
              need_name: bool = True) -> Scale:
        c.unknown_keys(d, _SCALE_KEYS, where)
        s_name = c.get(d, "name", where, str, need_name, "total")
        label = c.text(d, where) if ("zh" in d or need_name) else {"zh": "总分", "en": "total"}
        from_subs: tuple[str, ...] = ()
        idx: tuple[int, ...] = ()
        numbers: tuple[int, ...] = ()
        if d.get("subscales") is not None:
            if subs is None:
                raise c.fail(f"{where}.subscales", "only a total may be built from subscales")
            from_subs = tuple(c.get(d, "subscales", where, list))
            for sub in from_subs:
                if sub not in subs:
                    raise c.fail(f"{where}.subscales", f"no subscale named {sub!r}")
            if d.get("items") is not None:
                raise c.fail(where, "give items or subscales, not both")
            rule, max_missing = missing(d.get("missing"), f"{where}.missing", ("none", 0))
            if rule != "none":
                raise c.fail(f"{where}.missing.rule", "a total over subscales is missing when any subscale is")
            lo = sum(subs[s].lo for s in from_subs)
            hi = sum(subs[s].hi for s in from_subs)
        else:
            if d.get("items") is None and subs is not None:  # a total defaults to every scored item
                numbers = tuple(it.number for it in items if it.scored)
            else:
                numbers = item_numbers(d.get("items"), f"{where}.items")
            idx = tuple(n - 1 for n in numbers)
            rule, max_missing = missing(d.get("missing"), f"{where}.missing", default_missing)
            lo = sum(min(_scored(items[i], v) for v, _ in items[i].options) for i in idx)
            hi = sum(max(_scored(items[i], v) for v, _ in items[i].options) for i in idx)
        result = Scale(
            name=s_name, label=label, items=numbers, idx=idx, missing_rule=rule, max_missing=max_missing,
            positive=conditions(d.get("positive"), f"{where}.positive"), from_subscales=from_subs,
            required=c.get(d, "required", where, bool, False, True), lo=lo, hi=hi,
            short_name=c.get(d, "short_name", where, str, False),
        )
        for cond in result.positive:
            if cond.stat == "subscales_positive" and not from_subs and subs is None:
                raise c.fail(f"{where}.positive", "subscales_positive only applies to a total")
        _bands(c, result, d.get("bands"), f"{where}.bands")
        if result.bands:
            cutoffs.append(Threshold(f"{where}.bands", None, source_of(d, where, "bands_source")))
        if d.get("norms") is not None:
            result.norms = _norms(c, d["norms"], f"{where}.norms", result)
            cutoffs.append(Threshold(f"{where}.norms", None, result.norms.source))
        for cond in result.positive:
            if cond.on == "standard" and result.norms is None:
                raise c.fail(f"{where}.positive", "compare: standard needs a norm table (norms)")
        return result

    # subscales first (a total may be built from them)
    form_missing: tuple[str, int | None] = ("none", 0)
    raw_total = c.get(data, "total", "", Mapping, required=False)
    if raw_total is not None and raw_total.get("missing") is not None and raw_total.get("subscales") is None:
        form_missing = missing(raw_total.get("missing"), "total.missing", form_missing)
    subscales: dict[str, Scale] = {}
    for k, sd in enumerate(c.get(data, "subscales", "", list, False, [])):
        sub = scale(sd, f"subscales[{k}]", form_missing, None)
        if sub.name in subscales:
            raise c.fail(f"subscales[{k}].name", f"duplicate subscale {sub.name!r}")
        subscales[sub.name] = sub
    total = scale(raw_total, "total", form_missing, subscales, need_name=False) if raw_total is not None else None
    if total is None and not subscales and not data.get("critical"):
        raise c.fail("total", "an instrument needs a total, at least one subscale, or critical items (a screen)")

    critical = []
    for k, cd in enumerate(c.get(data, "critical", "", list, False, [])):
        where = f"critical[{k}]"
        c.unknown_keys(cd, {"item", "op", "value", "zh", "en", "acute", "source"}, where)
        item_no = c.get(cd, "item", where, int)
        if not 1 <= item_no <= n_items:
            raise c.fail(f"{where}.item", f"{item_no} is not an item number 1–{n_items}")
        cond_d = {"op": cd.get("op", ">="), "value": c.get(cd, "value", where, int)}
        if cd.get("source") is not None:
            cond_d["source"] = cd["source"]
        cond = condition(cond_d, where)
        critical.append(Critical(item=item_no, condition=cond, label=c.text(cd, where),
                                 acute=c.get(cd, "acute", where, bool, False, False)))

    validity = []
    for k, vd in enumerate(c.get(data, "validity", "", list, False, [])):
        where = f"validity[{k}]"
        c.unknown_keys(vd, {"name", "zh", "en", "items", "void_if"}, where)
        numbers = item_numbers(vd.get("items"), f"{where}.items", scored_only=False)
        v_scale = Scale(name=c.get(vd, "name", where, str), label=c.text(vd, where), items=numbers,
                        idx=tuple(n - 1 for n in numbers), missing_rule="zero", max_missing=None)
        validity.append(Validity(scale=v_scale, void_if=condition(c.get(vd, "void_if", where, Mapping),
                                                                  f"{where}.void_if"), label=v_scale.label))

    short_forms = []
    for k, sd in enumerate(c.get(data, "short_forms", "", list, False, [])):
        sf = scale(sd, f"short_forms[{k}]", ("none", 0), None)
        short_forms.append(sf)

    symptom = None
    sc = c.get(data, "symptom_count", "", Mapping, required=False)
    if sc is not None:
        where = "symptom_count"
        c.unknown_keys(sc, {"thresholds", "core", "core_min", "count_min", "syndrome", "zh", "en", "source"}, where)
        cutoffs.append(Threshold(where, None, source_of(sc, where)))
        th = c.get(sc, "thresholds", where, Mapping)
        thresholds = []
        for key, minimum in th.items():
            number = int(key)
            item_numbers([number], f"{where}.thresholds")
            if isinstance(minimum, bool) or not isinstance(minimum, int):
                raise c.fail(f"{where}.thresholds.{key}", "must be an integer")
            thresholds.append((number, minimum))
        symptom = SymptomCount(
            thresholds=tuple(thresholds),
            core=item_numbers(c.get(sc, "core", where, list), f"{where}.core"),
            core_min=c.get(sc, "core_min", where, int),
            count_min=c.get(sc, "count_min", where, int),
            syndrome=c.get(sc, "syndrome", where, str),
            label=c.text(sc, where),
        )

    inst = Instrument(
        id=inst_id, version=version, name=inst_name, short_name=short_name, audience=audience, age_min=age_min,
        age_max=age_max, source=source, licence=licence, instructions=instructions, items=tuple(items),
        settings=settings, total=total, subscales=tuple(subscales.values()), critical=tuple(critical),
        validity=tuple(validity), short_forms=tuple(short_forms), symptom_count=symptom, notes=notes, path=path,
        grade_min=grade_min, grade_max=grade_max, grades_basis=grades_basis, age_source=age_source,
        thresholds=tuple(cutoffs),
        student_title=student_title,
    )
    _compile(inst)
    return inst


def _grades(c: _Checker, raw: Any, age_min: int | None, age_max: int | None) -> tuple[int, int, str]:
    """The school grades an instrument may be given to: `grades: {min, max, basis}` in the file, or by default the
    grades in which pupils reach its validated ages (grade g pupils turn g + 6 during the school year)."""
    lo_all, hi_all = SCHOOL_GRADES
    if raw is None:
        lo = lo_all if age_min is None else max(lo_all, age_min - GRADE_AGE_OFFSET)
        hi = hi_all if age_max is None else min(hi_all, age_max - GRADE_AGE_OFFSET)
        basis = "validated ages; grade g pupils turn g + 6 during the school year"
    else:
        c.unknown_keys(raw, {"min", "max", "basis"}, "grades")
        lo = c.get(raw, "min", "grades", int)
        hi = c.get(raw, "max", "grades", int)
        basis = c.get(raw, "basis", "grades", str)
    if not lo_all <= lo <= hi <= hi_all:
        raise c.fail("grades", f"{lo}–{hi} is not a range within grades {lo_all}–{hi_all}")
    return lo, hi, basis


def _ask_if(c: _Checker, raw: Any, where: str, number: int, earlier: Sequence[Item]) -> AskIf | None:
    if raw is None:
        return None
    c.unknown_keys(raw, {"items", "answers", "zh", "en"}, where)
    items = c.get(raw, "items", where, list)
    answers = c.get(raw, "answers", where, list)
    if not items or not answers:
        raise c.fail(where, "items and answers must not be empty")
    for n in items:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n < number:
            raise c.fail(f"{where}.items", f"{n!r} is not an earlier item (1–{number - 1})")
    for a in answers:
        if isinstance(a, bool) or not isinstance(a, int) or any(a not in earlier[n - 1].values for n in items):
            raise c.fail(f"{where}.answers", f"{a!r} is not an answer of items {items}")
    return AskIf(items=tuple(items), answers=tuple(answers), note=c.text(raw, where))


def _norms(c: _Checker, raw: Any, where: str, s: Scale) -> NormTable:
    """`norms: {name, source, groups: [{grades: [lo, hi], sex: male|female|any, table: {raw: standard}}]}`: each
    group's table covers every possible raw score of the scale."""
    c.unknown_keys(raw, {"name", "source", "groups"}, where)
    groups = []
    for k, g in enumerate(c.get(raw, "groups", where, list)):
        w = f"{where}.groups[{k}]"
        c.unknown_keys(g, {"grades", "sex", "table"}, w)
        grades = c.get(g, "grades", w, list)
        if (len(grades) != 2 or not all(isinstance(x, int) and not isinstance(x, bool) for x in grades)
                or not 1 <= grades[0] <= grades[1] <= 12):
            raise c.fail(f"{w}.grades", "must be [first grade, last grade]")
        sex = c.get(g, "sex", w, str)
        if sex not in ("male", "female", "any"):
            raise c.fail(f"{w}.sex", "must be male, female or any")
        table: dict[int, int] = {}
        for key, value in c.get(g, "table", w, Mapping).items():
            try:
                raw_score = int(key)
            except (TypeError, ValueError):
                raise c.fail(f"{w}.table", f"{key!r} is not a raw score") from None
            if isinstance(value, bool) or not isinstance(value, int):
                raise c.fail(f"{w}.table.{key}", "must be an integer standard score")
            table[raw_score] = value
        gaps = [v for v in range(s.lo, s.hi + 1) if v not in table]
        if gaps:
            raise c.fail(f"{w}.table", f"no standard score for raw {gaps[0]} (possible range {s.lo}–{s.hi})")
        groups.append(NormGroup(grades=(grades[0], grades[1]), sex=sex, table=table))
    if not groups:
        raise c.fail(f"{where}.groups", "must not be empty")
    source = c.get(raw, "source", where, str)
    return NormTable(name=c.get(raw, "name", where, str), source=source, groups=tuple(groups))


def _scored(item: Item, value: int) -> int:
    """The value an answer adds to a sum: reverse items count max+min-value (3 - answer on a 0–3 set)."""
    if not item.reverse:
        return value
    values = [v for v, _ in item.options]
    return max(values) + min(values) - value


def _bands(c: _Checker, s: Scale, raw: Any, where: str) -> None:
    if raw is None:
        return
    if not isinstance(raw, list) or not raw:
        raise c.fail(where, "must be a non-empty list of {name, min, max, zh, en}")
    bands = []
    for k, b in enumerate(raw):
        w = f"{where}[{k}]"
        c.unknown_keys(b, {"name", "min", "max", "zh", "en", "severe"}, w)
        band = Band(name=c.get(b, "name", w, str), min=c.get(b, "min", w, int), max=c.get(b, "max", w, int),
                    label=c.text(b, w), severe=c.get(b, "severe", w, bool, False, False))
        if band.min > band.max:
            raise c.fail(w, "min is above max")
        bands.append(band)
    lookup: dict[int, Band] = {}
    for band in bands:
        for value in range(band.min, band.max + 1):
            if value in lookup:
                raise c.fail(where, f"bands {lookup[value].name!r} and {band.name!r} overlap at {value}")
            lookup[value] = band
    uncovered = [v for v in range(s.lo, s.hi + 1) if v not in lookup]
    if uncovered:
        raise c.fail(where, f"bands leave scores {uncovered[0]}… (possible range {s.lo}–{s.hi}) without a band")
    s.bands = tuple(bands)
    s.band_by_score = lookup


def _compile(inst: Instrument) -> None:
    """Precompute what every scoring call would otherwise redo: one dict per item mapping an accepted answer
    to the value it adds (reverse scoring folded in; None maps to None)."""
    maps = []
    for it in inst.items:
        m: dict[Any, int | None] = {None: None}
        for v, _ in it.options:
            m[v] = _scored(it, v)
        maps.append(m)
    inst.value_maps = tuple(maps)
    inst.setting_defaults = {name: s.default for name, s in inst.settings.items()}
    inst.reverse_items = tuple(it.number for it in inst.items if it.reverse)
    inst.conditional = any(it.ask_if is not None for it in inst.items)
    every = tuple(range(len(inst.items)))
    for s in (inst.total, *inst.subscales, *inst.short_forms, *(v.scale for v in inst.validity)):
        if s is not None:
            s.covers_all = s.idx == every
            s.getter = operator.itemgetter(*s.idx) if len(s.idx) > 1 else None
    # a threshold given as a float that is a whole number reads better as an int in explanations
    for name, value in list(inst.setting_defaults.items()):
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            inst.setting_defaults[name] = int(value)
