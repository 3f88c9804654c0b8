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


def _font_sizes(root: ElementTree.Element) -> list[float]:
    return [float(t.get("font-size")) for t in root.iter(f"{SVG}text")]


def test_no_chart_text_is_drawn_below_the_minimum_size():
    from app.charts import MIN_FONT

    bar = parse(bar_chart(["城区学校", "农村小规模学校"], [("一级预警", [3, "<5"]), ("二级预警", [12, 8])],
                          title="预警", x_label="学校类型", y_label="人数", units="人", missing_label="<5"))
    line = parse(line_chart({"全区": [("2025-2026-1", 80), ("2025-2026-2", 90)]}, cutoffs=[(85, "目标")],
                            title="覆盖率", x_label="学期", y_label="百分比", percent=True))
    for root in (bar, line):
        assert min(_font_sizes(root)) >= MIN_FONT


def test_units_stand_beside_the_y_label_in_the_script_of_the_label():
    texts = [t.text for t in parse(bar_chart(["甲"], [3], y_label="人数", units="人")).iter(f"{SVG}text")]
    assert "人数（人）" in texts
    texts = [t.text for t in parse(bar_chart(["a"], [3], y_label="Students", units="persons")).iter(f"{SVG}text")]
    assert "Students (persons)" in texts


def test_with_a_table_label_a_chart_is_a_figure_with_the_same_figures_as_a_table():
    html = str(bar_chart(["城区学校", "其他学校"], [("覆盖率", [93.7, None]), ("阳性率", [14.66, "<5"])],
                         title="覆盖率与阳性率", x_label="学校类型", percent=True, missing_label="—",
                         table_label="以表格查看本图数据"))
    root = ElementTree.fromstring(html)
    assert root.tag == "figure"
    svg = root.find(f"{SVG}svg")
    assert svg is not None and svg.get("role") == "img"
    region = root.find("details/div")
    assert region.get("role") == "region" and region.get("tabindex") == "0" and region.get("aria-label")
    table = region.find("table")
    assert table.find("caption").text == "覆盖率与阳性率"
    assert [th.text for th in table.find("thead/tr")] == ["学校类型", "覆盖率", "阳性率"]
    rows = [[c.text for c in tr] for tr in table.find("tbody")]
    assert rows == [["城区学校", "93.7%", "14.7%"], ["其他学校", "—", "<5"]]


def test_a_line_chart_table_has_a_row_per_term_and_a_dash_for_a_gap():
    html = str(line_chart({"全区": [("2025-2026-1", 80), ("2025-2026-2", 90)], "城区学校": [("2025-2026-2", None)]},
                          title="覆盖率", x_label="学期", percent=True, table_label="数据"))
    table = ElementTree.fromstring(html).find("details/div/table")
    rows = [[c.text for c in tr] for tr in table.find("tbody")]
    assert rows == [["2025-2026-1", "80.0%", "—"], ["2025-2026-2", "90.0%", "—"]]


def test_a_long_legend_wraps_onto_a_second_row_inside_the_chart():
    names = ["全区", "城区学校", "农村小规模学校", "乡镇寄宿制学校", "其他学校"]
    root = parse(line_chart({n: [("a", 1), ("b", 2)] for n in names}, title="t", width=520))
    legend = [t for t in root.iter(f"{SVG}text") if t.text in names]
    assert len({t.get("y") for t in legend}) == 2
    from app.charts import _display_width

    for t in legend:
        assert float(t.get("x")) + 13 * _display_width(t.text) <= 520


def test_a_bar_too_narrow_for_its_value_leaves_the_value_to_the_table():
    cats = [f"学校{i}" for i in range(24)]
    root = parse(bar_chart(cats, [("覆盖率", [93.7] * 24), ("阳性率", [14.7] * 24)], percent=True))
    assert "93.7%" not in [t.text for t in root.iter(f"{SVG}text")]


def test_a_fixed_range_draws_no_tick_beyond_it():
    root = parse(line_chart({"PHQ-A": [("a", 6), ("b", 15)]}, y_min=0, y_max=27))
    ticks = [t.text for t in root.iter(f"{SVG}text") if t.get("text-anchor") == "end"]
    assert ticks and "30" not in ticks and max(float(t) for t in ticks) <= 27
