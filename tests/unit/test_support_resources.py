"""The support lines (config/support_resources.yaml): the shipped list loads, every entry names its source, and a
broken file is refused naming the entry and the field."""
from __future__ import annotations

import pytest

from app.support_resources import SupportResourcesError, load_support_resources


def test_the_shipped_list_has_the_national_lines_and_the_emergency_numbers_each_with_a_source():
    resources = load_support_resources()
    numbers = [r.number for r in resources]
    assert {"12356", "12355", "962525", "110", "120"} <= set(numbers)
    assert all(r.source and r.name["zh"] and r.hours["zh"] for r in resources)
    line = resources[0].line("zh")
    assert "：" in line and "（" in line  # full-width punctuation in Chinese
    assert ": " in resources[0].line("en")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- {name: {zh: 热线}, hours: {zh: 全天}, source: x}\n", "entry 1: 'number' is required"),
        ('- {name: {zh: 热线}, number: "1", hours: {zh: 全天}}\n', "entry 1: 'source' is required"),
        ('- {name: {zh: 热线}, number: "1", hours: {zh: 全天}, source: x}\n- {number: "2", source: y}\n',
         "entry 2: 'name' needs at least a 'zh' text"),
        ("name: not a list\n", "expected a list"),
    ],
)
def test_a_broken_file_is_refused_naming_the_entry_and_field(tmp_path, text, message):
    path = tmp_path / "support_resources.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SupportResourcesError, match=message):
        load_support_resources(path)
