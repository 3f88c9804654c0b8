"""The command line: `python -m screening list` and `score`, JSON identical to the API."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from screening import list_instruments, score, suggest_level
from tests.unit.screening.shipped import POLICY

REPO = Path(__file__).resolve().parents[3]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "screening", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=60)


def test_list_prints_each_instrument_id_name_and_item_count():
    out = run("list")
    assert out.returncode == 0
    lines = out.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == [i.id for i in list_instruments()]
    assert any(line.startswith("scared41\t") and "41 items" in line for line in lines)
    assert any(line.startswith("phqa\t") and "13 items" in line for line in lines)


@pytest.mark.parametrize("args, answers, groups", [
    (["phq9", "1", "2", "3", "0", "1", "2", "3", "0", "1"], [1, 2, 3, 0, 1, 2, 3, 0, 1], []),
    (["phq9", "1", "-", "3", "0", "1", "2", "3", "0", "0", "--groups", "left_behind,migrant"],
     [1, None, 3, 0, 1, 2, 3, 0, 0], ["left_behind", "migrant"]),
    (["phqa", "0", "0", "0", "0", "0", "0", "0", "0", "0", "1", "2", "0", "1"], [0] * 9 + [1, 2, 0, 1], []),
    (["psc17"] + ["1"] * 17, [1] * 17, []),
    (["k6", "-", "1", "1", "1", "1", "1"], [None, 1, 1, 1, 1, 1], []),
    (["asq", "0", "2", "0", "0", "1"], [0, 2, 0, 0, 1], []),
])
def test_score_prints_the_api_result_plus_the_suggested_level(args, answers, groups):
    out = run("score", *args)
    # 0 for a scored form, 3 for one that could not be scored (the JSON is printed all the same)
    assert out.returncode == (0 if score(args[0], answers).valid else 3), out.stderr
    printed = json.loads(out.stdout)
    result = score(args[0], answers)
    level, reasons = suggest_level([result], groups, POLICY)
    expected = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    expected["suggested_level"] = level
    expected["level_reasons"] = reasons
    assert printed == expected


def test_score_json_has_the_keys_named_in_the_issue():
    printed = json.loads(run("score", "scared41", *["1"] * 41).stdout)
    for key in ("instrument", "version", "valid", "reason", "total", "band", "positive", "critical", "flags",
                "subscales", "short_forms", "explanation", "suggested_level"):
        assert key in printed
    assert list(printed["subscales"]) == ["panic_somatic", "generalized_anxiety", "separation_anxiety",
                                          "social_anxiety", "school_avoidance"]
    assert printed["band"] is None


@pytest.mark.parametrize("args, item", [
    (["phq9", "0", "0", "0", "4", "0", "0", "0", "0", "0"], "item 4"),
    (["phq9", "0", "0", "0"], "item 4"),
    (["phq9"] + ["0"] * 10, "item 10"),
    (["phq9", "0", "x", "0", "0", "0", "0", "0", "0", "0"], "item 2"),
    (["phqa"] + ["0"] * 9 + ["2", "0", "0", "0"], "item 10"),
])
def test_bad_input_exits_2_naming_the_item(args, item):
    out = run("score", *args)
    assert out.returncode == 2 and item in out.stderr and out.stdout == ""


def test_unknown_instrument_exits_2():
    out = run("score", "phq10", "0")
    assert out.returncode == 2 and "phq10" in out.stderr


def test_show_prints_one_instrument_with_its_items_and_options():
    out = run("show", "psc17")
    data = json.loads(out.stdout)
    assert out.returncode == 0 and data["audience"] == "parent" and len(data["items"]) == 17
    assert data["items"][0]["options"][2] == [2, {"zh": "经常", "en": "Often"}]


def test_a_form_that_could_not_be_scored_exits_3_and_still_prints_its_json_and_warning():
    out = run("score", "phq9", "1", "-", "-", "-", "1", "1", "1", "1", "0")
    assert out.returncode == 3
    printed = json.loads(out.stdout)
    assert printed["valid"] is False and printed["reason"] == "incomplete"
    assert printed["suggested_level"] == "L3"
    assert "could not be scored" in out.stderr


def test_a_scored_form_exits_0():
    assert run("score", "k6", "1", "1", "1", "1", "1", "1").returncode == 0


def test_an_unknown_care_group_exits_2_listing_the_valid_codes():
    out = run("score", "phq9", "1", "1", "1", "1", "1", "1", "1", "1", "0", "--groups", "left-behind")
    assert out.returncode == 2
    assert "left-behind" in out.stderr and "left_behind, migrant, hardship, boarding" in out.stderr
    assert out.stdout == ""
