"""app/demo: the terms of the demo's history follow the clock's date, whatever the date."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

from app.demo import demo_terms, term_of


@pytest.mark.parametrize("today", [date(2028, 2, 29), date(2026, 11, 29), date(2027, 9, 1), date(2027, 2, 10),
                                   date(2026, 12, 31), date(2027, 8, 31), date(2027, 6, 15)])
def test_two_school_years_of_terms_end_in_the_current_campaigns_term(today):
    terms = demo_terms(today)
    current = terms[-1]
    assert current.current and current.starts_on == today - timedelta(days=14) and current.today == today
    assert current.term == term_of(current.starts_on)  # the current campaign stays in its start day's term
    assert len(terms) == (4 if current.term.endswith("-2") else 5)
    assert terms[0].autumn and sum(t.autumn for t in terms) >= 2 and sum(not t.autumn for t in terms) >= 2
    assert len({t.term for t in terms}) == len(terms)
    for earlier, later in zip(terms, terms[1:], strict=False):
        assert earlier.starts_on < earlier.today < later.starts_on  # each past term followed up before the next
        assert term_of(earlier.starts_on) == term_of(earlier.today) == earlier.term and not earlier.current


def test_on_the_29th_of_february_the_history_is_the_two_school_years_to_that_spring():
    terms = demo_terms(date(2028, 2, 29))
    assert [t.term for t in terms] == ["2026-2027-1", "2026-2027-2", "2027-2028-1", "2027-2028-2"]
    assert terms[-1].starts_on == date(2028, 2, 15)
