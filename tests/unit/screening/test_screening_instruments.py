"""Table-driven tests of every shipped instrument at and around every cut-off (instruments.md is the source)."""
from __future__ import annotations

import pytest

from screening import AnswerError, get_instrument, list_instruments, score, suggest_level
from tests.unit.screening.shipped import POLICY


def fill(n: int, total: int, top: int, skip: tuple[int, ...] = (), only: tuple[int, ...] | None = None) -> list[int]:
    """n answers summing to ``total``, filling items (1-based) in order with at most ``top`` each."""
    answers = [0] * n
    left = total
    for number in (only or range(1, n + 1)):
        if number in skip:
            continue
        take = min(top, left)
        answers[number - 1] = take
        left -= take
    assert left == 0, "total not reachable"
    return answers


def test_all_nine_instruments_are_shipped_with_their_item_counts():
    counts = {inst.id: len(inst.items) for inst in list_instruments()}
    assert counts == {"asq": 5, "cesdc": 20, "gad7": 7, "k6": 6, "phq9": 9, "phqa": 13, "psc17": 17, "scared41": 41,
                      "scared5": 5}


@pytest.mark.parametrize("inst", list_instruments(), ids=lambda i: i.id)
def test_every_item_has_chinese_and_english_text_and_answer_labels(inst):
    for item in inst.items:
        assert item.text["zh"] and item.text["en"]
        assert any("\u4e00" <= ch <= "\u9fff" for ch in item.text["zh"]), item.number
        for value, label in item.options:
            assert isinstance(value, int) and label["zh"] and label["en"]
    assert inst.source and inst.licence and inst.age_range[0] is not None


# --- PHQ-9 -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("total, band, positive", [
    (0, "minimal", False), (4, "minimal", False), (5, "mild", False), (9, "mild", False),
    (10, "moderate", True), (14, "moderate", True), (15, "moderately_severe", True),
    (19, "moderately_severe", True), (20, "severe", True), (24, "severe", True),
])
def test_phq9_total_band_and_positive_at_every_cut_off(total, band, positive):
    r = score("phq9", fill(9, total, 3, skip=(9,)))
    assert (r.valid, r.total, r.band, r.positive, r.critical) == (True, total, band, positive, False)


def test_phq9_maximum_total_is_severe_and_critical():
    r = score("phq9", [3] * 9)
    assert (r.total, r.band, r.critical, r.severe) == (27, "severe", True, True)


@pytest.mark.parametrize("item9", [1, 2, 3])
def test_phq9_item_9_answered_at_least_1_is_critical_even_with_a_low_total(item9):
    r = score("phq9", [0] * 8 + [item9])
    assert r.critical and r.critical_items == (9,) and r.band == "minimal" and r.positive is False
    assert any("第9题" in e["zh"] and "一级预警" in e["zh"] for e in r.explanation)
    assert suggest_level([r], [], POLICY)[0] == "L1"


def test_phq9_item_9_answered_0_is_not_critical():
    assert score("phq9", [3] * 8 + [0]).critical is False


@pytest.mark.parametrize("answers, total", [
    # one missing: answered sum 4 over 8 items -> 4 * 9 / 8 = 4.5, halves up -> 5 (mild, not minimal)
    ([1, 1, None, 1, 1, 0, 0, 0, 0], 5),
    # two missing: 10 * 9 / 7 = 12.86 -> 13
    ([2, 2, 2, 2, 2, None, None, 0, 0], 13),
    # one missing: 8 * 9 / 8 = 9 exactly
    ([1, 1, 1, 1, 1, 1, 1, None, 1], 9),
])
def test_phq9_one_or_two_missing_items_are_prorated_by_the_answered_mean_halves_up(answers, total):
    r = score("phq9", answers)
    assert r.valid and r.total == total and "prorated" in r.flags


def test_phq9_three_missing_items_make_the_form_incomplete_and_never_none():
    r = score("phq9", [3, 3, None, None, None, 3, 3, 3, 0])
    assert (r.valid, r.reason, r.total, r.band, r.positive) == (False, "incomplete", None, None, None)
    level, reasons = suggest_level([r], [], POLICY)
    assert level == "L3" and "重新施测" in reasons[0]["zh"]


def test_phq9_missing_item_9_is_flagged_and_not_read_as_no():
    r = score("phq9", [0, 0, 0, 0, 0, 0, 0, 0, None])
    assert "critical_unanswered" in r.flags and r.critical is False and r.total == 0
    assert suggest_level([r], [], POLICY)[0] == "L2"


def test_phq9_critical_answer_counts_even_on_an_incomplete_form():
    r = score("phq9", [None, None, None, 0, 0, 0, 0, 0, 2])
    assert r.valid is False and r.critical is True
    assert suggest_level([r], [], POLICY)[0] == "L1"


@pytest.mark.parametrize("i1, i2, positive", [(1, 1, False), (2, 1, True), (3, 0, True), (0, 2, False)])
def test_phq2_is_items_1_and_2_positive_at_3(i1, i2, positive):
    r = score("phq9", [i1, i2, 0, 0, 0, 0, 0, 0, 0])
    assert r.short_forms["phq2"] == {"score": i1 + i2, "positive": positive}


@pytest.mark.parametrize("answers, count, core, met", [
    ([2, 2, 2, 2, 2, 0, 0, 0, 0], 5, 2, True),
    ([0, 0, 2, 2, 2, 2, 2, 2, 0], 6, 0, False),  # no core symptom
    ([2, 0, 2, 2, 1, 1, 1, 1, 1], 4, 1, False),  # item 9 counts at 1, items 5-8 need 2
    ([1, 2, 0, 0, 0, 2, 2, 2, 1], 5, 1, True),
])
def test_phq9_symptom_count_follows_the_dsm_based_rule(answers, count, core, met):
    sc = score("phq9", answers).symptom_count
    assert (sc["count"], sc["core"], sc["met"]) == (count, core, met)


# --- PHQ-A -----------------------------------------------------------------------------------------------------
EXTRAS_CALM = [0, 0, 0, 0]


@pytest.mark.parametrize("total, band, positive", [
    (4, "minimal", False), (5, "mild", False), (9, "mild", False), (10, "moderate", False),
    (11, "moderate", True), (14, "moderate", True), (15, "moderately_severe", True), (20, "severe", True),
])
def test_phqa_is_positive_from_11_the_adolescent_cut_point(total, band, positive):
    r = score("phqa", fill(9, total, 3, skip=(9,)) + EXTRAS_CALM)
    assert (r.total, r.band, r.positive, r.critical) == (total, band, positive, False)


def test_phqa_extra_questions_are_never_added_to_the_total():
    base = fill(9, 6, 3, skip=(9,))
    assert score("phqa", base + [1, 3, 0, 0]).total == score("phqa", base + EXTRAS_CALM).total == 6


@pytest.mark.parametrize("extras, item", [([0, 0, 1, 0], 12), ([0, 0, 0, 1], 13)])
def test_phqa_suicide_questions_answered_yes_are_critical_whatever_the_total(extras, item):
    r = score("phqa", [0] * 9 + extras)
    assert r.critical and r.critical_items == (item,) and r.total == 0
    assert any("回答“是”" in e["zh"] for e in r.explanation)
    assert suggest_level([r], [], POLICY)[0] == "L1"


def test_phqa_item_9_at_least_1_reads_as_in_the_issue():
    r = score("phqa", [0] * 8 + [1] + EXTRAS_CALM)
    assert {"zh": "PHQ-A 第9题 ≥1：自伤/自杀意念，一级预警",
            "en": "PHQ-A item 9 ≥1: thoughts of self-harm or suicide, level 1 warning"} in r.explanation


def test_phqa_unanswered_suicide_question_is_flagged():
    r = score("phqa", [0] * 9 + [0, 0, None, 0])
    assert "critical_unanswered" in r.flags and not r.critical


def test_phqa_swaps_items_1_and_2_relative_to_phq9():
    phq9, phqa = get_instrument("phq9"), get_instrument("phqa")
    assert "depressed" in phqa.item(1).text["en"] and "interest" in phqa.item(2).text["en"]
    assert "interest" in phq9.item(1).text["en"] and "depressed" in phq9.item(2).text["en"]
    assert "低落" in phqa.item(1).text["zh"] and "低落" in phq9.item(2).text["zh"]


def test_phqa_phq2_uses_its_own_items_1_and_2():
    r = score("phqa", [2, 1, 0, 0, 0, 0, 0, 0, 0] + EXTRAS_CALM)
    assert r.short_forms["phq2"] == {"score": 3, "positive": True}


def test_phqa_needs_13_answers_and_names_the_first_missing_item():
    with pytest.raises(AnswerError) as err:
        score("phqa", [0] * 9)
    assert err.value.item == 10 and "item 10" in str(err.value)


def test_phqa_extra_yes_no_answers_accept_only_0_and_1():
    with pytest.raises(AnswerError) as err:
        score("phqa", [0] * 9 + [2, 0, 0, 0])
    assert err.value.item == 10


# --- GAD-7 -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("total, band, positive", [
    (0, "minimal", False), (4, "minimal", False), (5, "mild", False), (9, "mild", False), (10, "moderate", True),
    (14, "moderate", True), (15, "severe", True), (21, "severe", True),
])
def test_gad7_bands_and_positive_at_10(total, band, positive):
    r = score("gad7", fill(7, total, 3))
    assert (r.total, r.band, r.positive) == (total, band, positive)


def test_gad7_positive_cut_off_is_a_setting():
    r = score("gad7", fill(7, 7, 3), settings={"positive_cutoff": 7})
    assert r.positive is True and score("gad7", fill(7, 7, 3)).positive is False


def test_gad7_one_missing_item_is_prorated_two_make_it_incomplete():
    one = score("gad7", [1, 1, 1, 1, 1, 2, None])  # 7 * 7 / 6 = 8.17 -> 8
    assert one.valid and one.total == 8 and "prorated" in one.flags
    two = score("gad7", [1, 1, 1, 1, 1, None, None])
    assert two.valid is False and two.reason == "incomplete"


def test_gad2_is_items_1_and_2_positive_at_3():
    assert score("gad7", [2, 1, 0, 0, 0, 0, 0]).short_forms["gad2"] == {"score": 3, "positive": True}
    assert score("gad7", [1, 1, 3, 3, 0, 0, 0]).short_forms["gad2"] == {"score": 2, "positive": False}


# --- PSC-17 ----------------------------------------------------------------------------------------------------
PSC_SUBSCALES = {"internalizing": (2, 6, 9, 11, 15), "attention": (1, 3, 7, 13, 17),
                 "externalizing": (4, 5, 8, 10, 12, 14, 16)}


def test_psc17_is_a_parent_report_with_three_subscales():
    inst = get_instrument("psc17")
    assert inst.audience == "parent"
    assert {s.name: s.items for s in inst.subscales} == PSC_SUBSCALES


@pytest.mark.parametrize("name, cut", [("internalizing", 5), ("attention", 7), ("externalizing", 7)])
def test_psc17_subscales_turn_positive_at_their_cut_off(name, cut):
    below = score("psc17", fill(17, cut - 1, 2, only=PSC_SUBSCALES[name]))
    at = score("psc17", fill(17, cut, 2, only=PSC_SUBSCALES[name]))
    assert below.subscales[name].score == cut - 1 and below.subscales[name].positive is False
    assert at.subscales[name].score == cut and at.subscales[name].positive is True
    assert at.band is None  # PSC-17 has no bands


@pytest.mark.parametrize("total, positive", [(14, False), (15, True)])
def test_psc17_total_positive_at_15(total, positive):
    assert score("psc17", fill(17, total, 1)).positive is positive


def test_psc17_blanks_count_as_zero_up_to_three():
    answers = [2] * 17
    answers[0] = answers[1] = answers[2] = None
    r = score("psc17", answers)
    assert r.valid and r.total == 28 and "blank_as_zero" in r.flags
    assert r.subscales["internalizing"].score == 8 and r.subscales["attention"].score == 6


def test_psc17_four_blanks_make_the_form_invalid():
    answers = [1] * 17
    for i in (0, 5, 9, 16):
        answers[i] = None
    r = score("psc17", answers)
    assert (r.valid, r.reason, r.total, r.subscales) == (False, "incomplete", None, {})


# --- SCARED ----------------------------------------------------------------------------------------------------
SCARED_SUBSCALES = {
    "panic_somatic": ((1, 6, 9, 12, 15, 18, 19, 22, 24, 27, 30, 34, 38), 7),
    "generalized_anxiety": ((5, 7, 14, 21, 23, 28, 33, 35, 37), 9),
    "separation_anxiety": ((4, 8, 13, 16, 20, 25, 29, 31), 5),
    "social_anxiety": ((3, 10, 26, 32, 39, 40, 41), 8),
    "school_avoidance": ((2, 11, 17, 36), 3),
}


def test_scared41_subscales_have_the_published_items():
    inst = get_instrument("scared41")
    assert {s.name: s.items for s in inst.subscales} == {k: v[0] for k, v in SCARED_SUBSCALES.items()}


@pytest.mark.parametrize("name", list(SCARED_SUBSCALES))
def test_scared41_each_subscale_turns_positive_at_its_cut_off(name):
    items, cut = SCARED_SUBSCALES[name]
    below = score("scared41", fill(41, cut - 1, 2, only=items)).subscales[name]
    at = score("scared41", fill(41, cut, 2, only=items)).subscales[name]
    assert (below.score, below.positive, at.score, at.positive) == (cut - 1, False, cut, True)


@pytest.mark.parametrize("total, positive", [(24, False), (25, True), (82, True)])
def test_scared41_total_positive_at_25(total, positive):
    r = score("scared41", fill(41, total, 2))
    assert (r.total, r.positive, r.band) == (total, positive, None)


def test_scared41_total_cut_off_is_a_setting_a_chinese_study_used_23():
    assert score("scared41", fill(41, 23, 2), settings={"positive_cutoff": 23}).positive is True


def test_scared41_one_blank_in_a_subscale_is_prorated_and_flagged_not_discarding_the_form():
    answers = [1] * 41
    answers[40] = None  # item 41: social anxiety (7 items)
    r = score("scared41", answers)
    assert r.valid and r.total == 41  # 6 answered ones, prorated to 7 in the subscale
    assert "prorated" in r.flags and "subscale_incomplete" in r.flags
    assert r.subscales["social_anxiety"].score == 7 and r.subscales["social_anxiety"].incomplete
    assert not r.subscales["panic_somatic"].incomplete
    assert any("social anxiety subscale: 1 item(s) blank (item(s) 41, prorated)" in e["en"] for e in r.explanation)
    assert any("社交恐怖分量表有1题未作答" in e["zh"] for e in r.explanation)


def test_scared41_two_blanks_in_one_subscale_leave_the_form_not_scored():
    answers = [1] * 41
    answers[39] = answers[40] = None  # items 40 and 41: both social anxiety
    r = score("scared41", answers)
    assert (r.valid, r.reason, r.total) == (False, "incomplete", None)


def test_scared41_one_blank_in_each_of_two_subscales_is_still_scored():
    answers = [0] * 41
    answers[0] = answers[1] = None  # item 1 panic/somatic, item 2 school avoidance
    r = score("scared41", answers)
    assert r.valid and r.total == 0


@pytest.mark.parametrize("blank, sub", [(2, "internalizing"), (1, "attention"), (4, "externalizing")])
def test_psc17_a_subscale_with_blanks_inside_is_flagged_incomplete_and_explained(blank, sub):
    answers = [0] * 17
    answers[blank - 1] = None
    r = score("psc17", answers)
    assert r.valid and r.subscales[sub].incomplete and r.subscales[sub].missing == 1
    assert r.to_dict()["subscales"][sub]["incomplete"] is True
    assert "subscale_incomplete" in r.flags
    others = [n for n in r.subscales if n != sub]
    assert not any(r.subscales[n].incomplete for n in others)
    assert any(f"item(s) {blank}, counted as 0): the subscale is incomplete" in e["en"] for e in r.explanation)
    assert any("分量表不完整，阴性结果可能低估" in e["zh"] for e in r.explanation)


def test_scared5_uses_full_form_items_24_25_28_36_41():
    full, short = get_instrument("scared41"), get_instrument("scared5")
    assert [i.text for i in short.items] == [full.item(n).text for n in (24, 25, 28, 36, 41)]


@pytest.mark.parametrize("total, positive", [(2, False), (3, True), (10, True)])
def test_scared5_positive_at_3(total, positive):
    assert score("scared5", fill(5, total, 2)).positive is positive


def test_scared5_missing_item_makes_the_form_incomplete():
    assert score("scared5", [2, 2, 2, 2, None]).valid is False


# --- CES-DC ----------------------------------------------------------------------------------------------------
def test_cesdc_items_4_8_12_16_are_reverse_scored():
    assert get_instrument("cesdc").reverse_items == (4, 8, 12, 16)
    all_zero = score("cesdc", [0] * 20)
    assert all_zero.total == 12  # each positively worded item answered "not at all" scores 3
    happy = [0] * 20
    for n in (4, 8, 12, 16):
        happy[n - 1] = 3
    assert score("cesdc", happy).total == 0


def cesdc_answers(total: int) -> list[int]:
    """Reverse items answered 'a lot' (scoring 0), the rest filled in order to reach ``total``."""
    answers = fill(20, total, 3, skip=(4, 8, 12, 16))
    for n in (4, 8, 12, 16):
        answers[n - 1] = 3
    return answers


@pytest.mark.parametrize("total, positive", [(0, False), (15, False), (16, True), (48, True)])
def test_cesdc_over_15_is_positive_so_15_is_negative(total, positive):
    r = score("cesdc", cesdc_answers(total))
    assert (r.total, r.positive) == (total, positive)


def test_cesdc_missing_item_makes_the_form_incomplete():
    answers = cesdc_answers(20)
    answers[3] = None
    assert score("cesdc", answers).reason == "incomplete"


# --- K6 --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("total, band, positive", [
    # moderate 5-12 (Prochaska et al. 2012), serious 13+ (Kessler et al. 2003)
    (0, "low", False), (4, "low", False), (5, "moderate", False), (12, "moderate", False),
    (13, "serious", True), (24, "serious", True),
])
def test_k6_bands_low_moderate_serious(total, band, positive):
    r = score("k6", fill(6, total, 4))
    assert (r.total, r.band, r.positive, r.severe) == (total, band, positive, band == "serious")


def test_k6_answers_run_0_to_4_and_a_missing_item_is_incomplete():
    with pytest.raises(AnswerError):
        score("k6", [5, 0, 0, 0, 0, 0])
    assert score("k6", [4, 4, 4, 4, 4, None]).valid is False


# --- bad input -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("answers, item", [
    ([0, 0, 0, 4, 0, 0, 0, 0, 0], 4),
    ([0, 0, 0, 0, 0, 0, 0, 0, -1], 9),
    ([0, "1", 0, 0, 0, 0, 0, 0, 0], 2),
    ([0, 0, 1.5, 0, 0, 0, 0, 0, 0], 3),
    ([0] * 8, 9),
    ([0] * 10, 10),
])
def test_wrong_count_or_out_of_range_value_raises_answer_error_naming_the_item(answers, item):
    with pytest.raises(AnswerError) as err:
        score("phq9", answers)
    assert err.value.item == item and f"item {item}" in str(err.value)
    assert isinstance(err.value, ValueError)


def test_instrument_validates_a_single_answer():
    inst = get_instrument("phq9")
    assert inst.validate_answer(3, 2) == 2 and inst.validate_answer(3, None) is None
    with pytest.raises(AnswerError):
        inst.validate_answer(3, 7)


def test_result_is_a_frozen_dataclass_with_every_field_set():
    import dataclasses

    from screening import Result

    r = score("psc17", [1] * 17)
    names = [f.name for f in dataclasses.fields(Result)]
    assert list(vars(r)) == names and r == Result(**{n: getattr(r, n) for n in names})
    assert dataclasses.fields(r.subscales["attention"])[0].name == "score"
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.total = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.subscales["attention"].score = 0  # type: ignore[misc]


def test_phqa_proration_names_only_missing_scored_items():
    r = score("phqa", [1, 1, None, 1, 1, 0, 0, 0, 0, None, None, 0, 0])
    assert r.total == 5 and "prorated" in r.flags
    assert r.explanation[0]["zh"] == "PHQ-A 有1题未作答（第3题）：按已答题目的平均分补足，四舍五入"


def test_every_student_instrument_has_a_neutral_student_title_and_a_bad_one_is_refused():
    """A student instrument's definition carries a {zh, en} title for the student pages (issue 22); missing, or
    containing the instrument's name, it is refused with the field named."""
    import pytest

    from screening import list_instruments
    from screening.definition import DefinitionError, load_definition
    from tests.unit.screening.synthetic import _base

    for inst in list_instruments():
        if inst.audience == "student":
            assert inst.student_title and inst.student_title["zh"] and inst.student_title["en"], inst.id
            assert inst.short_name not in inst.student_title["zh"] + inst.student_title["en"]
    data = _base("titled", "TT") | {"items": [{"number": 1, "zh": "一", "en": "one"}],
                                     "answer_sets": {"a": [{"value": 0, "zh": "否", "en": "No"}]},
                                     "default_answer_set": "a", "total": {"items": [1]}}
    del data["student_title"]
    with pytest.raises(DefinitionError, match="student_title"):
        load_definition(data)
    data["student_title"] = {"zh": "TT 小问卷", "en": "quiz"}
    with pytest.raises(DefinitionError, match=r"student_title\.zh"):
        load_definition(data)
    data["student_title"] = {"zh": "小问卷", "en": "quiz"}
    assert load_definition(data).student_title == {"zh": "小问卷", "en": "quiz"}
