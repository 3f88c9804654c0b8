"""ASQ scored exactly: every pattern of yes / no / refused over questions 1–4, with question 5 yes, no or not
asked, against an independent statement of the published rule (NIMH ASQ toolkit, the screening form):

    "If the patient answers Yes to any of questions 1 through 4, or refuses to answer, they are considered a
    positive screen. Ask question #5 to assess acuity." — a yes to question 5 is an acute positive.
"""
from __future__ import annotations

import itertools

import pytest

from screening import get_instrument, score, suggest_level
from screening.scoring import FLAG_ACUTE, FLAG_CRITICAL_UNANSWERED
from tests.unit.screening.shipped import POLICY

YES, NO, REFUSED = 1, 0, 2
NOT_ASKED = None
PATTERNS = list(itertools.product((YES, NO, REFUSED), repeat=4))
Q5 = (YES, NO, NOT_ASKED)


def published(q1_4: tuple[int, ...], q5: int | None) -> tuple[bool, bool, bool]:
    """(positive, question 5 asked, acute) by the words of the form, written without the engine."""
    positive = YES in q1_4 or REFUSED in q1_4
    asked = positive
    acute = asked and q5 == YES
    return positive, asked, acute


def test_the_matrix_is_every_pattern():
    assert len(PATTERNS) * len(Q5) == 81 * 3 == 243


@pytest.mark.parametrize("q5", Q5, ids=["q5-yes", "q5-no", "q5-not-asked"])
@pytest.mark.parametrize("q1_4", PATTERNS, ids=lambda p: "".join({YES: "y", NO: "n", REFUSED: "r"}[a] for a in p))
def test_asq_against_the_published_rule(q1_4, q5):
    positive, asked, acute = published(q1_4, q5)
    r = score("asq", [*q1_4, q5])
    assert r.valid
    assert r.total is None and r.band is None  # a screen, not a scale
    assert r.positive is positive
    assert r.critical is positive
    assert r.acute is acute
    assert (FLAG_ACUTE in r.flags) is acute
    assert (5 in r.not_asked) is (not asked)
    assert 5 not in r.missing_items or asked  # a question not asked is never "missing"
    # question 5 asked but left blank: acuity unknown, never read as "no"
    assert (FLAG_CRITICAL_UNANSWERED in r.flags) is (asked and q5 is None)
    assert set(r.critical_items) == {i for i, a in enumerate(q1_4, start=1) if a in (YES, REFUSED)} | (
        {5} if acute else set())
    level, reasons = suggest_level([r], [], POLICY)
    assert level == ("L1" if positive else "none")
    assert reasons[0]["en"].startswith("Level 1 warning: NOW") is acute
    assert reasons[0]["zh"].startswith("一级预警：立即") is acute


def test_a_yes_to_question_5_without_a_positive_screen_is_ignored_and_said_so():
    r = score("asq", [NO, NO, NO, NO, YES])
    assert r.positive is False and not r.acute and r.not_asked == (5,)
    assert "not_asked_ignored" in r.flags
    assert any("not asked this time, its answer is ignored" in e["en"] for e in r.explanation)
    assert any("本次不需回答" in e["zh"] for e in r.explanation)


def test_a_refusal_on_question_5_after_a_positive_screen_is_treated_as_acute():
    r = score("asq", [YES, NO, NO, NO, REFUSED])
    assert r.acute and "acute" in r.flags


def test_a_blank_among_questions_1_to_4_is_not_read_as_no():
    r = score("asq", [NO, None, NO, NO, None])
    assert r.positive is None and FLAG_CRITICAL_UNANSWERED in r.flags
    assert suggest_level([r], [], POLICY)[0] == POLICY.rules["critical_unanswered"]


@pytest.mark.parametrize("answers, en, zh", [
    ([YES, NO, NO, NO, NO], "positive screen (non-acute)", "筛查阳性（非急性）"),
    ([NO, NO, YES, NO, YES], "acute positive", "急性阳性"),
    ([NO, NO, NO, NO, None], "negative screen", "筛查阴性"),
])
def test_every_asq_outcome_is_explained_in_both_languages(answers, en, zh):
    r = score("asq", answers)
    assert any(en in e["en"] for e in r.explanation)
    assert any(zh in e["zh"] for e in r.explanation)


def test_the_asq_file_carries_its_source_ages_grades_and_translation_note():
    inst = get_instrument("asq")
    assert "Horowitz" in inst.source and "1170" in inst.source and "NIMH" in inst.source
    assert (inst.age_min, inst.grade_min, inst.grade_max) == (10, 4, 9)
    assert "Horowitz" in inst.age_source
    text = open(inst.path, encoding="utf-8").read()  # noqa: SIM115 - a one-line read in a test
    assert "translation: faithful, not the NIMH published version" in text
    q5 = inst.item(5)
    assert q5.ask_if is not None and q5.ask_if.items == (1, 2, 3, 4)
    assert q5.refusal_values == (REFUSED,)
