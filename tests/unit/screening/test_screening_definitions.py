"""The definition format: schema errors name the file and field; synthetic SDQ-, MHT- and SCL-90-shaped
instruments score as their published rules say, with no code of their own."""
from __future__ import annotations

import copy
import json

import pytest
import yaml

from screening import (
    DefinitionError,
    get_instrument,
    list_instruments,
    load_definition,
    score,
    suggest_level,
    use_instrument_dirs,
)
from tests.unit.screening.shipped import POLICY

from .synthetic import MHT_LIE, MHT_SCALES, SCL_FACTORS, SDQ_REVERSE, SDQ_SUBSCALES, mht_like, scl90_like, sdq_like

# --- loading and the schema ------------------------------------------------------------------------------------


def write(tmp_path, data, name="bad.yaml"):
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["items"][3].pop("zh"), "items[3].zh"),
    (lambda d: d.pop("licence"), "licence"),
    (lambda d: d["items"][2].update(answers="nope"), "items[2].answers"),
    (lambda d: d["items"][4].update(number=9), "items[4].number"),
    (lambda d: d["subscales"][1].update(items=[1, 99]), "subscales[1].items"),
    (lambda d: d["subscales"][4]["bands"][1].update(min=4), "subscales[4].bands"),
    (lambda d: d["total"].update(missing={"rule": "guess"}), "total.missing.rule"),
    (lambda d: d.update(colour="red"), "(top)"),
    (lambda d: d["subscales"][4].update(positive={"op": "~", "value": 3}), "subscales[4].positive.op"),
])
def test_a_broken_definition_fails_with_the_file_and_field_named(tmp_path, mutate, field):
    data = sdq_like()
    mutate(data)
    with pytest.raises(DefinitionError) as err:
        load_definition(write(tmp_path, data))
    assert str(err.value).startswith("bad.yaml: ") and field in str(err.value)


def test_bands_that_leave_a_possible_score_uncovered_are_rejected(tmp_path):
    data = copy.deepcopy(sdq_like())
    data["subscales"][4]["bands"][2]["max"] = 9  # 10 is a possible prosocial score
    with pytest.raises(DefinitionError, match="without a band"):
        load_definition(write(tmp_path, data))


def test_a_definition_may_be_json(tmp_path):
    path = tmp_path / "sdq_like.json"
    path.write_text(json.dumps(sdq_like()), encoding="utf-8")
    assert load_definition(path).id == "sdq_like"


def test_a_district_adds_an_instrument_by_dropping_a_file_in_its_directory(tmp_path, monkeypatch):
    write(tmp_path, mht_like(), "mht_like.yaml")
    use_instrument_dirs([tmp_path])
    try:
        assert "mht_like" in [i.id for i in list_instruments()]
        assert score("mht_like", [0] * 100).valid
    finally:
        use_instrument_dirs([])
    assert "mht_like" not in [i.id for i in list_instruments()]


def test_a_file_whose_name_differs_from_its_id_is_refused(tmp_path, monkeypatch):
    write(tmp_path, mht_like(), "other.yaml")
    use_instrument_dirs([tmp_path])
    try:
        with pytest.raises(DefinitionError, match="other.yaml: id"):
            list_instruments()
    finally:
        use_instrument_dirs([])


def test_loaded_instruments_are_cached():
    assert get_instrument("phq9") is get_instrument("phq9")


def test_unknown_instrument_names_the_known_ones():
    with pytest.raises(KeyError, match="phq9"):
        get_instrument("phq10")


# --- SDQ-like: per-subscale proration, reverse items, total over chosen subscales, low-is-positive --------------
SDQ = load_definition(sdq_like())


def sdq_answers(per_subscale: dict[str, list[int | None]]) -> list[int | None]:
    answers: list[int | None] = [0] * 25
    for name, values in per_subscale.items():
        for number, value in zip(SDQ_SUBSCALES[name], values, strict=True):
            answers[number - 1] = value
    return answers


def test_sdq_like_reverse_items_score_two_minus_the_answer():
    answers = [0] * 25
    r = score(SDQ, answers)
    # conduct holds item 7, hyperactivity 21 and 25, peer 11 and 14: each reversed 0 scores 2
    assert r.subscales["conduct"].score == 2 and r.subscales["hyperactivity"].score == 4
    assert r.subscales["peer"].score == 4 and r.total == 10
    assert SDQ.reverse_items == SDQ_REVERSE


def test_sdq_like_subscale_with_3_of_5_answered_is_prorated_to_five_items():
    # emotional: 2 + 1 + 0 answered, two missing -> 3 * 5 / 3 = 5
    r = score(SDQ, sdq_answers({"emotional": [2, 1, 0, None, None]}))
    assert r.subscales["emotional"].score == 5 and "prorated" in r.flags
    # 1 + 1 + 1 + 0 answered -> 3 * 5 / 4 = 3.75 -> 4
    r = score(SDQ, sdq_answers({"emotional": [1, 1, 1, 0, None]}))
    assert r.subscales["emotional"].score == 4


def test_sdq_like_subscale_with_fewer_than_3_answered_is_missing_and_so_is_the_total():
    r = score(SDQ, sdq_answers({"emotional": [2, 2, None, None, None]}))
    assert r.subscales["emotional"].score is None and r.total is None
    assert r.valid  # SDQ keeps the other subscales; its total is simply missing
    assert r.subscales["conduct"].score is not None


def test_sdq_like_missing_prosocial_does_not_remove_the_total():
    r = score(SDQ, sdq_answers({"prosocial": [None, None, None, 2, 2]}))
    assert r.subscales["prosocial"].score is None and r.total is not None


@pytest.mark.parametrize("prosocial, band, positive", [
    ([2, 2, 0, 0, 0], "abnormal", True), ([2, 2, 1, 0, 0], "borderline", False), ([2, 2, 2, 0, 0], "normal", False),
])
def test_sdq_like_prosocial_is_positive_when_low(prosocial, band, positive):
    s = score(SDQ, sdq_answers({"prosocial": prosocial})).subscales["prosocial"]
    assert (s.band, s.positive) == (band, positive)


# --- MHT-like: a lie scale that voids the whole form -----------------------------------------------------------
MHT = load_definition(mht_like())


def mht_answers(lie: int, content: int = 0) -> list[int]:
    answers = [0] * 100
    for n in MHT_LIE[:lie]:
        answers[n - 1] = 1
    content_items = [n for items in MHT_SCALES.values() for n in items]
    for n in content_items[:content]:
        answers[n - 1] = 1
    return answers


def test_mht_like_lie_score_6_keeps_the_form_valid():
    r = score(MHT, mht_answers(lie=6, content=70))
    assert r.valid and r.total == 70 and r.positive is True


@pytest.mark.parametrize("lie", [7, 10])
def test_mht_like_lie_score_7_or_more_voids_the_form_and_shows_no_score(lie):
    r = score(MHT, mht_answers(lie=lie, content=70))
    assert (r.valid, r.reason, r.total, r.positive, r.subscales, r.short_forms) == (
        False, "void", None, None, {}, {})
    assert "void" in r.flags and any("重新施测" in e["zh"] for e in r.explanation)
    level, reasons = suggest_level([r], [], POLICY)
    assert level == "L3" and "re-administer" in reasons[0]["en"]


def test_mht_like_total_is_the_sum_of_the_eight_content_scales():
    r = score(MHT, mht_answers(lie=0, content=20))
    assert r.total == sum(s.score for s in r.subscales.values()) == 20
    assert len(r.subscales) == 8


# --- SCL-90-like: any of three positive rules ------------------------------------------------------------------
SCL = load_definition(scl90_like())


def test_scl90_like_all_ones_is_negative():
    r = score(SCL, [1] * 90)
    assert (r.total, r.positive) == (90, False)


def test_scl90_like_total_over_160_is_positive_on_its_own():
    answers = []
    for _ in SCL_FACTORS:  # each factor: 5, 5, then seven 1s = 17 (mean 1.89 < 2); 2 items >= 2 per factor
        answers += [5, 5] + [1] * 7
    r = score(SCL, answers)
    assert r.total == 170 and r.positive is True
    assert not any(s.positive for s in r.subscales.values())


def test_scl90_like_more_than_43_items_at_2_or_above_is_positive_on_its_own():
    answers = [1] * 90
    twos = [k * 9 + j for k in range(10) for j in range(4)] + [k * 9 + 4 for k in range(4)]  # 44 items
    for i in twos:
        answers[i] = 2
    r = score(SCL, answers)
    assert r.total == 134 and r.positive is True
    assert not any(s.positive for s in r.subscales.values())
    answers[twos[-1]] = 1  # 43 items: not more than 43
    assert score(SCL, answers).positive is False


def test_scl90_like_any_factor_mean_of_2_is_positive():
    answers = [1] * 90
    for i in range(9, 18):  # factor f1 all 2s: mean 2
        answers[i] = 2
    r = score(SCL, answers)
    assert r.subscales["f1"].positive is True and r.positive is True and r.total == 99


def test_sdq_like_prorated_subscale_is_explained_with_its_missing_items():
    r = score(SDQ, sdq_answers({"emotional": [2, 1, 0, None, None]}))
    assert any("emotional" in e["en"] and "16, 24" in e["en"] and "prorated" in e["en"] for e in r.explanation)
