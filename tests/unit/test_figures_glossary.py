"""The glossary of district figures (app/district/glossary.py): complete, consistent, and docs/figures.md is it."""
from pathlib import Path

from app.district import glossary

ROOT = Path(__file__).resolve().parents[2]
TIMELINESS = ("crisis_same_day", "crisis_same_day_rate", "interview_due", "interview_on_time", "interview_rate",
              "recheck_due", "recheck_on_time", "recheck_rate")


def test_docs_figures_md_is_the_glossary():
    text = (ROOT / "docs" / "figures.md").read_text(encoding="utf-8")
    assert text == glossary.markdown(), "regenerate: python -m app.district.glossary > docs/figures.md"


def test_every_figure_has_both_labels_a_unit_and_a_definition():
    assert len({f.key for f in glossary.FIGURES}) == len(glossary.FIGURES)
    for f in glossary.FIGURES:
        assert f.label["zh"] and f.label["en"], f.key
        assert f.definition["zh"] and f.definition["en"], f.key
        assert f.unit in glossary.UNITS, f.key
        assert f.header("zh").endswith(f"（{glossary.UNITS[f.unit]['zh']}）"), f.key


def test_the_issue_s_figures_are_all_defined_and_student_counts_say_so():
    for key in ("on_roll", "eligible", "screened", "coverage", "positive_rate", "warn_L1", "crisis"):
        assert key in glossary.BY_KEY
    for key in ("on_roll", "eligible", "screened", "positive", "warn_L1", "warn_L2", "warn_L3", "warn_care"):
        assert glossary.get(key).header("zh").endswith("（人）"), key  # students, each once
    for key in ("crisis", "crisis_same_day", "interview_due", "recheck_due"):
        assert glossary.get(key).header("zh").endswith("（次）"), key  # warnings / events


def test_rates_divide_glossary_counts_and_coverage_is_over_eligible():
    for f in glossary.FIGURES:
        if f.is_rate:
            assert f.unit == "percent"
            assert not glossary.get(f.numerator).is_rate and not glossary.get(f.denominator).is_rate
    assert (glossary.get("coverage").numerator, glossary.get("coverage").denominator) == ("screened", "eligible")


def test_every_timeliness_figure_says_when_its_clock_starts_and_stops():
    for key in TIMELINESS:
        f = glossary.get(key)
        assert f.clock is not None, key
        assert "开始" in f.clock["zh"] and ("为止" in f.clock["zh"] or "停止" in f.clock["zh"]), key
        assert "starts" in f.clock["en"] and "stops" in f.clock["en"], key
        assert f.clock["zh"] in f.explain("zh")


def test_a_name_that_is_no_measure_is_refused():
    assert glossary.is_measure("on_roll") and glossary.is_measure("screens:phq9")
    assert glossary.is_measure("screened_left_behind")
    assert not glossary.is_measure("enrolled")  # renamed: on_roll (在籍) and eligible (应测)
    assert not glossary.is_measure("coverage")  # a rate, not a count
    assert not glossary.is_measure("counselors_full_time")  # the staffing page's own count
