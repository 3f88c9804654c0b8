"""Names sort in pinyin order, as Chinese staff look a name up in a list (app/roster/search.py name_sort_key)."""
from __future__ import annotations

from app.roster.search import name_sort_key


def _order(*names: str) -> list[str]:
    return sorted(names, key=name_sort_key)  # type: ignore[arg-type, return-value]


def test_names_sort_by_their_readings_not_by_code_point():
    assert _order("张三", "王五", "李四", "黄晨", "龚诗") == ["龚诗", "黄晨", "李四", "王五", "张三"]
    assert sorted(["张三", "王五", "李四"]) == ["张三", "李四", "王五"]  # what code points alone would give


def test_syllable_by_syllable_so_a_shorter_given_name_comes_first():
    assert _order("李小明", "李四", "李晓") == ["李四", "李晓", "李小明"]  # si < xiao (晓, 小), then the characters


def test_a_polyphonic_surname_sorts_by_its_surname_reading():
    assert _order("曾六", "张三", "程七") == ["程七", "曾六", "张三"]  # 曾 zeng, not ceng (which would come first)
    assert _order("单田芳", "丁一", "孙二") == ["丁一", "单田芳", "孙二"]  # 单 shan, not dan
    assert _order("王曾", "王层") == ["王层", "王曾"]  # not a surname here: both ceng, then the characters


def test_blank_names_have_no_key_and_letters_sort_as_letters():
    assert name_sort_key(None) is None and name_sort_key("") is None
    assert _order("Zoe", "anna", "阿明") == ["阿明", "anna", "Zoe"]  # a·ming, a·n·n·a, z·o·e: case ignored
