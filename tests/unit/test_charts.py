"""The server-side SVG charts: valid SVG, Chinese labels kept, gaps for missing values, print-distinct series."""
from datetime import date
from xml.etree import ElementTree

from markupsafe import Markup

from app.charts import bar_chart, line_chart, nice_ticks

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup: Markup) -> ElementTree.Element:
    return ElementTree.fromstring(str(markup))


def test_line_chart_is_parseable_svg_with_chinese_title_axes_and_cutoff_label():
    chart = line_chart(
        {"覆盖率": [("2025-2026-1", 80), ("2025-2026-2", 90)]},
        cutoffs=[(85, "目标")],
        title="筛查覆盖率",
        x_label="学期",
        y_label="百分比",
        percent=True,
    )
    assert isinstance(chart, Markup)
    root = parse(chart)
    assert root.get("role") == "img"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert {"筛查覆盖率", "学期", "百分比", "目标", "2025-2026-1", "2025-2026-2"} <= set(texts)
    assert root.find(f"{SVG}title").text == "筛查覆盖率"
    assert len(root.findall(f".//{SVG}line[@class='cutoff']")) == 1


def test_line_chart_leaves_a_gap_where_a_value_is_missing():
    chart = line_chart([("阳性率", [("a", 1), ("b", 2), ("c", None), ("d", 3), ("e", 4)])])
    root = parse(chart)
    paths = root.findall(f".//{SVG}path[@class='series']")
    assert len(paths) == 2  # a-b and d-e, nothing drawn across the gap


def test_line_chart_places_dates_to_scale():
    chart = line_chart([("总分", [(date(2026, 1, 1), 10), (date(2026, 1, 2), 12), (date(2026, 1, 31), 8)])])
    root = parse(chart)
    xs = [float(c.get("cx")) for c in root.iter(f"{SVG}circle")]
    assert xs[1] - xs[0] < (xs[2] - xs[1]) / 10


def test_series_differ_by_dash_pattern_not_only_colour():
    chart = line_chart({"甲": [("a", 1), ("b", 2)], "乙": [("a", 2), ("b", 3)]})
    dashes = [p.get("stroke-dasharray") for p in parse(chart).findall(f".//{SVG}path[@class='series']")]
    assert dashes[0] != dashes[1]


def test_bar_chart_writes_the_missing_label_instead_of_a_bar():
    chart = bar_chart(["城区学校", "农村小规模学校"], [("男", [12, None]), ("女", [10, 7])], missing_label="<5")
    root = parse(chart)
    assert len(root.findall(f".//{SVG}rect[@class='bar']")) == 3
    assert "<5" in [t.text for t in root.iter(f"{SVG}text")]


def test_bar_chart_escapes_labels():
    chart = bar_chart(["<script>x</script>"], [5])
    assert "<script>" not in str(chart)
    parse(chart)


def test_bar_chart_refuses_misaligned_series():
    try:
        bar_chart(["a", "b"], [("s", [1])])
    except ValueError:
        return
    raise AssertionError("misaligned series accepted")


def test_empty_chart_says_so():
    root = parse(line_chart({}, empty_text="暂无数据"))
    assert "暂无数据" in [t.text for t in root.iter(f"{SVG}text")]


def test_nice_ticks_cover_the_range_in_round_steps():
    assert nice_ticks(0, 93) == [0, 20, 40, 60, 80, 100]
    ticks = nice_ticks(3, 7)
    assert ticks[0] <= 3 and ticks[-1] >= 7


def test_bar_chart_writes_a_string_value_as_a_mark_instead_of_a_bar():
    chart = bar_chart(["甲", "乙", "丙"], [("一级预警", [12, "<5", "*"])])
    root = parse(chart)
    assert len(root.findall(f".//{SVG}rect[@class='bar']")) == 1
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "<5" in texts and "*" in texts
