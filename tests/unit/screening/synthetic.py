"""Synthetic instrument definitions with the shapes of instruments the product does not ship (licence or copyright):
SDQ-like, MHT-like and SCL-90-like. Item texts are placeholders; the structure and the scoring rules are real."""
from __future__ import annotations


def _items(n: int, answers: str | None = None, reverse: tuple[int, ...] = ()) -> list[dict]:
    items = []
    for i in range(1, n + 1):
        item = {"number": i, "zh": f"第{i}题", "en": f"Item {i}"}
        if answers:
            item["answers"] = answers
        if i in reverse:
            item["reverse"] = True
        items.append(item)
    return items


def _base(inst_id: str, short: str) -> dict:
    return {
        "id": inst_id,
        "version": "test",
        "name": {"zh": f"{short}（测试）", "en": f"{short} (test)"},
        "short_name": short,
        "student_title": {"zh": "小问卷", "en": "A short questionnaire"},
        "audience": "student",
        "age": {"min": 8, "max": 18},
        "source": "synthetic test definition",
        "licence": "test only",
        "instructions": {"zh": "请作答", "en": "Please answer"},
    }


SDQ_REVERSE = (7, 11, 14, 21, 25)
SDQ_SUBSCALES = {
    "emotional": [3, 8, 13, 16, 24],
    "conduct": [5, 7, 12, 18, 22],
    "hyperactivity": [2, 10, 15, 21, 25],
    "peer": [6, 11, 14, 19, 23],
    "prosocial": [1, 4, 9, 17, 20],
}


def sdq_like() -> dict:
    """25 items 0–2; five subscales of five; reverse items 7, 11, 14, 21, 25; a subscale with ≥3 of 5 answered is
    prorated (× 5 / answered, rounded); total = four subscales (not prosocial), missing if any is; prosocial is
    "positive" when LOW."""
    d = _base("sdq_like", "SDQ-like")
    d["answer_sets"] = {"truth": [{"value": 0, "zh": "不符合", "en": "Not true"},
                                  {"value": 1, "zh": "有点符合", "en": "Somewhat true"},
                                  {"value": 2, "zh": "完全符合", "en": "Certainly true"}]}
    d["default_answer_set"] = "truth"
    d["items"] = _items(25, reverse=SDQ_REVERSE)
    d["subscales"] = [
        {"name": name, "zh": name, "en": name, "items": items, "missing": {"rule": "prorate", "max_missing": 2},
         "required": False}
        for name, items in SDQ_SUBSCALES.items()
    ]
    d["subscales"][-1]["positive"] = {"op": "<=", "value": 4}
    d["subscales"][-1]["bands"] = [
        {"name": "abnormal", "min": 0, "max": 4, "zh": "异常", "en": "abnormal", "severe": True},
        {"name": "borderline", "min": 5, "max": 5, "zh": "边缘", "en": "borderline"},
        {"name": "normal", "min": 6, "max": 10, "zh": "正常", "en": "normal"},
    ]
    d["total"] = {"subscales": ["emotional", "conduct", "hyperactivity", "peer"], "required": False,
                  "positive": {"op": ">=", "value": 17}}
    return d


MHT_SCALES = {  # eight content scales of the MHT shape (items 1–90), lie scale on 10 of items 81–100
    "learning_anxiety": list(range(1, 16)),
    "social_anxiety": list(range(16, 26)),
    "loneliness": list(range(26, 36)),
    "self_blame": list(range(36, 46)),
    "oversensitivity": list(range(46, 56)),
    "somatic": list(range(56, 71)),
    "phobia": list(range(71, 81)),
    "impulsivity": [81, 83, 85, 87, 89, 91, 93, 95, 97, 99],
}
MHT_LIE = [82, 84, 86, 88, 90, 92, 94, 96, 98, 100]


def mht_like() -> dict:
    """100 yes/no items, a 10-item lie scale (82, 84, …, 100): lie ≥7 voids the form; eight content scales."""
    d = _base("mht_like", "MHT-like")
    d["answer_sets"] = {"yesno": [{"value": 1, "zh": "是", "en": "Yes"}, {"value": 0, "zh": "否", "en": "No"}]}
    d["default_answer_set"] = "yesno"
    d["items"] = _items(100)
    d["subscales"] = [{"name": n, "zh": n, "en": n, "items": items, "positive": {"op": ">=", "value": 8}}
                      for n, items in MHT_SCALES.items()]
    d["total"] = {"subscales": list(MHT_SCALES), "positive": {"op": ">=", "value": 65}}
    d["validity"] = [{"name": "lie", "zh": "效度量表（测谎）", "en": "lie scale", "items": MHT_LIE,
                      "void_if": {"op": ">=", "value": 7}}]
    return d


SCL_FACTORS = {  # ten factors covering the 90 items (shape only)
    f"f{k}": list(range(k * 9 + 1, k * 9 + 10)) for k in range(10)
}


def scl90_like() -> dict:
    """90 items 1–5; positive if total >160, or >43 items ≥2, or any factor mean ≥2."""
    d = _base("scl90_like", "SCL-90-like")
    d["age"] = {"min": 13, "max": None}
    d["answer_sets"] = {"severity": [{"value": v, "zh": f"{v}级", "en": f"level {v}"} for v in range(1, 6)]}
    d["default_answer_set"] = "severity"
    d["items"] = _items(90)
    d["settings"] = {"total_cutoff": {"default": 160, "zh": "总分界值", "en": "total cut-off"}}
    d["subscales"] = [{"name": n, "zh": n, "en": n, "items": items,
                       "positive": {"stat": "mean", "op": ">=", "value": 2}}
                      for n, items in SCL_FACTORS.items()]
    d["total"] = {"positive": {"any": [
        {"op": ">", "setting": "total_cutoff"},
        {"stat": "items_at_least", "item_value": 2, "op": ">", "value": 43},
        {"stat": "subscales_positive"},
    ]}}
    return d
