"""tests/leaks.py: a score is found where a score would stand, and a date holding the same digits is not."""
from __future__ import annotations

import pytest

from tests.leaks import score_places

ROW = '<table><tr><td>{name}</td><td>{cell}</td></tr></table>'


@pytest.mark.parametrize("html", [
    ROW.format(name="甲同学", cell="23"),
    ROW.format(name="甲同学", cell="总分 23"),
    ROW.format(name="甲同学", cell="23 分"),
    '<p><span data-score="23">重点关注</span></p>',
    '<p><span data-level="L1">重点关注</span></p>',
    '<li data-value="23">甲同学</li>',
    '<p>甲同学 <b class="total">23</b></p>',
    '<p>甲同学 <span data-testid="score">23</span></p>',
    '<table><tr><td>甲同学 23</td></tr></table>',
])
def test_a_score_where_a_score_would_stand_is_found(html):
    assert score_places(html, 23, row_with="甲同学"), html


@pytest.mark.parametrize("html", [
    ROW.format(name="甲同学", cell="2026-11-23"),
    ROW.format(name="甲同学", cell="2026年11月23日"),
    ROW.format(name="甲同学", cell="11/23"),
    ROW.format(name="甲同学", cell="2027-01-31 23:40"),
    ROW.format(name="甲同学", cell="123"),
    '<p>2026-11-23 · 23 名学生本周需要关注</p>',  # prose outside a cell, a row or a score element
    '<p data-date="2026-11-23">…</p>',
])
def test_the_same_digits_in_a_date_a_time_or_prose_are_not_a_score(html):
    assert score_places(html, 23, row_with="甲同学") == [], html
