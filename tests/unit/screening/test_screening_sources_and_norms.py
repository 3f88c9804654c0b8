"""Every threshold of every definition carries its source (issue 14), and the definition format expresses norm
tables: raw -> standard score by grade band and sex, cut-offs on the standard score (a synthetic licensed-style
instrument in tests/fixtures, never shipped)."""
from __future__ import annotations

from pathlib import Path

import pytest

from screening import DefinitionError, list_instruments, load_definition, score
from tests.unit.screening.synthetic import mht_like, scl90_like, sdq_like

NORM_FILE = Path(__file__).resolve().parents[2] / "fixtures" / "instruments" / "mht_norm_like.yaml"


@pytest.mark.parametrize("inst", list_instruments(), ids=lambda i: i.id)
def test_every_threshold_of_a_shipped_definition_has_its_source(inst):
    missing = [f"{inst.id}: {t.where} ({t.value})" for t in inst.thresholds if not t.source]
    assert missing == [], "a threshold without its source: " + "; ".join(missing)
    assert inst.thresholds, "every shipped instrument has at least one threshold"


def test_the_cited_sources_are_the_published_ones():
    by_id = {i.id: {t.where: t.source for t in i.thresholds} for i in list_instruments()}
    assert "Richardson" in by_id["phqa"]["settings.positive_cutoff"] and "Pediatrics" in by_id["phqa"][
        "settings.positive_cutoff"]
    assert "Kroenke" in by_id["phq9"]["short_forms[0].positive"] and "2003" in by_id["phq9"]["short_forms[0].positive"]
    assert "2007" in by_id["gad7"]["short_forms[0].positive"]
    assert all("Gardner" in s for s in by_id["psc17"].values())
    assert all("Birmaher" in s for w, s in by_id["scared41"].items() if w.startswith("settings"))
    assert "Kessler" in by_id["k6"]["settings.positive_cutoff"]
    assert "Prochaska" in by_id["k6"]["total.bands"] and "5-12" in by_id["k6"]["total.bands"]


def test_no_unreferenced_chinese_study_is_cited():
    for inst in list_instruments():
        text = Path(inst.path).read_text(encoding="utf-8")
        assert "a Chinese study used" not in text and "Hong Kong youth study" not in text, inst.id


@pytest.mark.parametrize("make", [sdq_like, mht_like, scl90_like])
def test_a_threshold_without_a_source_is_found_in_any_definition(make):
    inst = load_definition(make())
    assert any(t.source is None for t in inst.thresholds)  # the synthetic files give none: the check sees it


def test_an_empty_source_is_refused_by_the_loader():
    d = sdq_like()
    d["subscales"][-1]["positive"]["source"] = "  "
    with pytest.raises(DefinitionError, match=r"subscales\[4\]\.positive\.source: must not be empty"):
        load_definition(d)


def test_a_nan_setting_default_is_refused_by_the_loader():
    d = sdq_like()
    d["settings"] = {"cut": {"default": float("nan"), "zh": "界值", "en": "cut-off"}}
    with pytest.raises(DefinitionError, match="settings.cut.default: must be a finite number"):
        load_definition(d)


# --- norm tables ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def norm():
    return load_definition(NORM_FILE)


@pytest.mark.parametrize("answers, grade, sex, standard, positive", [
    ([1, 1, 1, 0], 5, "male", 64, False),   # raw 3, grades 4-6 boys: T 64 < 65
    ([1, 1, 1, 0], 5, "female", 66, True),  # the same raw score, girls: T 66
    ([1, 1, 1, 1], 4, "male", 72, True),
    ([1, 1, 1, 1], 8, "male", 68, True),    # grades 7-9, either sex
    ([1, 1, 1, 0], 8, "female", 60, False),
    ([0, 0, 0, 0], 6, "female", 42, False),
])
def test_a_raw_score_is_looked_up_by_grade_band_and_sex_and_the_cutoff_is_on_the_standard_score(
        norm, answers, grade, sex, standard, positive):
    r = score(norm, answers, grade=grade, sex=sex)
    assert r.valid and r.total == sum(answers) and r.total_standard == standard and r.positive is positive
    assert any(f"standard score {standard}" in e["en"] for e in r.explanation)
    assert any(f"标准分 {standard}" in e["zh"] for e in r.explanation)


def test_without_a_norm_group_for_the_student_the_form_is_not_scored(norm):
    for grade, sex in ((2, "male"), (None, None)):
        r = score(norm, [1, 1, 1, 1], grade=grade, sex=sex)
        assert (r.valid, r.reason, r.positive) == (False, "no_norm", None)
        assert "no_norm" in r.flags and any("no norm group" in e["en"] for e in r.explanation)


def test_the_norm_source_counts_as_a_threshold_source(norm):
    assert {t.where for t in norm.thresholds} >= {"total.norms", "settings.standard_cutoff"}
    assert all(t.source for t in norm.thresholds)


def test_a_norm_table_must_cover_every_raw_score():
    import yaml

    d = yaml.safe_load(NORM_FILE.read_text(encoding="utf-8"))
    del d["total"]["norms"]["groups"][0]["table"][4]
    with pytest.raises(DefinitionError, match=r"total\.norms\.groups\[0\]\.table: no standard score for raw 4"):
        load_definition(d)


def test_a_standard_cutoff_needs_a_norm_table():
    import yaml

    d = yaml.safe_load(NORM_FILE.read_text(encoding="utf-8"))
    del d["total"]["norms"]
    with pytest.raises(DefinitionError, match="compare: standard needs a norm table"):
        load_definition(d)
