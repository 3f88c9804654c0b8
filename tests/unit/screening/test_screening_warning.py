"""Warning levels from results, care groups and the district policy file."""
from __future__ import annotations

import copy

import pytest
import yaml

from screening import LEVELS, DefinitionError, load_policy, policy_from_dict, score, suggest_level
from tests.unit.screening.shipped import POLICY, SHIPPED_POLICY_PATH

RAW = yaml.safe_load(SHIPPED_POLICY_PATH.read_text(encoding="utf-8"))


def phq9(total: int, item9: int = 0):
    answers = [0] * 9
    left = total - item9
    for i in range(8):
        answers[i] = min(3, left)
        left -= answers[i]
    answers[8] = item9
    return score("phq9", answers)


def test_levels_are_ordered_most_urgent_first():
    assert LEVELS == ("L1", "L2", "L3", "care", "none")


def test_default_policy_carries_the_level_metadata_from_the_domain():
    assert [POLICY.levels[lv].colour for lv in LEVELS[:4]] == ["red", "orange", "yellow", "blue"]
    assert [POLICY.recheck_days(lv) for lv in ("L1", "L2", "L3")] == [7, 14, 30]
    assert POLICY.levels["L1"].name["zh"] == "一级预警" and POLICY.levels["care"].name["zh"] == "关爱对象"
    assert POLICY.levels["L2"].interview_window_days == 3
    assert POLICY.triggering_groups == {"left_behind", "migrant", "hardship"}


@pytest.mark.parametrize("results, groups, level", [
    (lambda: [phq9(2, item9=1)], [], "L1"),                  # critical item, low total
    (lambda: [phq9(21, item9=0)], [], "L2"),                 # severe band (21 with item 9 = 0)
    (lambda: [phq9(10)], ["left_behind"], "L2"),             # positive screen in a care group
    (lambda: [phq9(10)], ["migrant", "boarding"], "L2"),
    (lambda: [phq9(10)], [], "L3"),                          # positive screen
    (lambda: [phq9(10)], ["boarding"], "L3"),                # boarding is not a triggering care group
    (lambda: [phq9(9)], ["hardship"], "care"),               # care group, negative screen
    (lambda: [phq9(9)], [], "none"),
    (lambda: [phq9(9)], ["boarding"], "none"),
    (lambda: [], [], "none"),
    (lambda: [score("k6", [3, 3, 3, 2, 2, 0])], [], "L2"),  # K6 13: serious (a severe band)
    (lambda: [score("gad7", [3, 3, 3, 3, 3, 0, 0])], [], "L2"),  # GAD-7 15: severe
    (lambda: [score("scared41", [0] * 41)], ["left_behind"], "care"),
    (lambda: [phq9(4), phq9(2, item9=1)], [], "L1"),         # most urgent of several results wins
])
def test_suggested_level_follows_the_default_policy(results, groups, level):
    got, reasons = suggest_level(results(), groups, POLICY)
    assert got == level
    assert reasons and all(set(r) == {"zh", "en"} for r in reasons)


def test_a_subscale_only_positive_screen_is_level_3():
    answers = [0] * 41
    for n in (2, 11, 17):  # school avoidance 6 (>= 3), total 6 (< 25)
        answers[n - 1] = 2
    r = score("scared41", answers)
    assert r.positive is False and r.subscales["school_avoidance"].positive is True
    level, reasons = suggest_level([r], [], POLICY)
    assert level == "L3" and "学校恐怖" in reasons[0]["zh"]


def test_reasons_are_listed_most_urgent_first_with_the_level_named():
    level, reasons = suggest_level([phq9(21, item9=1)], ["left_behind"], POLICY)
    assert level == "L1"
    assert reasons[0]["zh"].startswith("一级预警：") and "第9题" in reasons[0]["zh"]
    assert reasons[-1]["zh"] == "关爱对象：留守儿童"


def test_an_incomplete_form_never_yields_none():
    r = score("k6", [0, 0, 0, 0, 0, None])
    level, reasons = suggest_level([r], [], POLICY)
    assert level == "L3" and "form invalid or incomplete" in reasons[0]["en"]


def test_moderately_severe_phq_suggests_level_2_by_default_and_a_district_may_change_it():
    assert suggest_level([phq9(16)], [], POLICY)[0] == "L2"  # Kroenke & Spitzer 2002: active treatment at 15-19
    assert suggest_level([phq9(14)], [], POLICY)[0] == "L3"
    phqa = score("phqa", [2, 2, 2, 2, 2, 2, 2, 2, 0, 0, 0, 0, 0])  # total 16
    assert phqa.band == "moderately_severe" and suggest_level([phqa], [], POLICY)[0] == "L2"
    data = copy.deepcopy(RAW)
    data["severe_bands"] = {"phq9": ["severe"]}
    assert suggest_level([phq9(16)], [], policy_from_dict(data))[0] == "L3"


def test_the_level_1_response_names_the_brief_suicide_safety_assessment():
    response = POLICY.levels["L1"].response
    assert "简短自杀风险评估" in response["zh"] and "安全计划" in response["zh"]
    assert "brief suicide safety assessment" in response["en"] and "safety plan" in response["en"]


def test_each_default_of_the_policy_file_says_what_it_is_based_on():
    lines = open(SHIPPED_POLICY_PATH, encoding="utf-8").read().splitlines()  # noqa: SIM115
    for rule in POLICY.rules:
        k = next(n for n, ln in enumerate(lines) if ln.strip().startswith(f"{rule}:"))
        said = lines[k] + lines[k + 1]
        assert "based on" in said or "POLICY" in said, rule
    for code in ("L1", "L2", "L3"):
        k = next(n for n, ln in enumerate(lines) if ln == f"  {code}:")
        block = "\n".join(lines[k:k + 16])
        assert "based on" in block and ("POLICY" in block or code == "L1"), code


def test_a_district_can_lower_positive_in_care_group_to_level_3():
    data = copy.deepcopy(RAW)
    data["rules"]["positive_in_care_group"] = "L3"
    assert suggest_level([phq9(10)], ["left_behind"], policy_from_dict(data))[0] == "L3"


@pytest.mark.parametrize("rule", ["invalid_form", "critical_unanswered", "critical"])
def test_the_policy_may_not_switch_off_a_safety_rule(rule):
    data = copy.deepcopy(RAW)
    data["rules"][rule] = "none"
    with pytest.raises(DefinitionError, match=f"rules.{rule}"):
        policy_from_dict(data, "warning_policy.yaml")


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["levels"].pop("L2"), "levels.L2"),
    (lambda d: d["levels"]["L1"].pop("recheck_days"), "levels.L1.recheck_days"),
    (lambda d: d["rules"].update(positive="L9"), "rules.positive"),
    (lambda d: d["rules"].pop("severe_band"), "rules.severe_band"),
    (lambda d: d["levels"]["L3"]["name"].pop("zh"), "levels.L3.name.zh"),
    (lambda d: d["care_groups"]["migrant"].pop("triggers"), "care_groups.migrant.triggers"),
])
def test_an_incomplete_policy_file_is_refused_with_the_field_named(tmp_path, mutate, field):
    data = copy.deepcopy(RAW)
    mutate(data)
    path = tmp_path / "warning_policy.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        load_policy(path)
    assert str(err.value).startswith("warning_policy.yaml: ") and field in str(err.value)


def test_head_teachers_see_plain_tiers_not_levels():
    tiers = {lv: (POLICY.levels[lv].head_teacher_tier or {}).get("zh") for lv in LEVELS}
    assert tiers == {"L1": "重点关注", "L2": "重点关注", "L3": "一般关注", "care": "关爱对象", "none": None}
    assert "心理老师" in POLICY.levels["L3"].head_teacher_guidance["zh"]
