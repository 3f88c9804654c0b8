"""Server-side SVG charts: no JavaScript, no internet, readable when printed in black and white.

Two functions, both returning `Markup` (an inline `<svg>` to drop into a template with `{{ chart }}`):

- `line_chart(series, cutoffs=..., title=..., x_label=..., y_label=...)`: one line per series; `None` values leave
  a gap (a suppressed figure, a missed screening). Horizontal `cutoffs` draw dashed reference lines with a label
  (a score cut-off, a target rate).
- `bar_chart(categories, series, ...)`: grouped vertical bars; a `None` value draws no bar and writes
  `missing_label` (for example "<5") where the bar would be.

Chart text is never smaller than `MIN_FONT` units and the default width (`WIDTH`) is about what a chart card
measures at 1366 px wide (two cards a row on the district pages), so no chart text renders below 11 px there
(tests/e2e/test_district_tables_charts.py measures it). `units` writes the unit beside the y-axis label. With
`table_label` (the words of a disclosure, e.g. "数据表") a chart comes as a `<figure>`: the SVG and, in a
`<details>`, a `<table>` of the same figures for screen readers and anyone who prefers numbers; without it, the bare
SVG (what a PDF report embeds).

Labels are whatever the caller passes (already translated with `_()`), so axes read in Chinese under the zh
locale. Series are told apart by line dash pattern, marker shape and bar hatching as well as colour, so a
grey-scale print still distinguishes them; a legend is drawn when there is more than one series. Every chart
carries `role="img"`, a `<title>` and a `<desc>` listing the figures for screen readers.

Why one module over 400 lines: the two charts are one drawing kit — the same scale, axis, tick, text-escaping,
legend and grey-scale pattern helpers serve both, and those helpers are the module's private vocabulary;
splitting the two public functions apart would only turn them into a shared internal API.
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from markupsafe import Markup, escape

FONT = '"Noto Sans CJK SC","Noto Sans SC","PingFang SC","Microsoft YaHei",sans-serif'
# Colours of clearly different lightness (they stay distinct in grey-scale print).
COLOURS = ("#2f6f73", "#b54708", "#175cd3", "#8a6d00", "#6b3fa0", "#b42318")
DASHES = ("", "6 4", "2 3", "8 3 2 3", "10 4", "1 2")
MARKERS = ("circle", "square", "triangle", "diamond", "circle", "square")
INK = "#1f2933"
GRID = "#d9e2ec"
MUTED = "#616e7c"

_ids = itertools.count(1)

# Sizes in SVG units: a chart drawn at WIDTH and shown at about that width keeps them as pixels.
WIDTH = 520
MIN_FONT = 12
TICK_FONT = 12
LABEL_FONT = 13
TITLE_FONT = 15
LEGEND_ROW = 20

__all__ = ["line_chart", "bar_chart", "nice_ticks", "data_table", "MIN_FONT", "WIDTH"]


# -- helpers ------------------------------------------------------------------------------------------------
def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (1-2-5 steps)."""
    if hi < lo:
        lo, hi = hi, lo
    if hi == lo:
        hi = lo + 1
    raw = (hi - lo) / max(count, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    value = start
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 10))
        value += step
    if ticks[-1] < hi:
        ticks.append(round(ticks[-1] + step, 10))
    return ticks


def _fmt(value: float, percent: bool = False) -> str:
    if percent:
        text = f"{value:.1f}".rstrip("0").rstrip(".")
        return f"{text}%"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.1f}"


def _fmt_value(value: float, percent: bool) -> str:
    """A figure (not a tick) as the pages write it: a rate with one decimal (93.0%), a count whole."""
    if percent:
        return f"{value:.1f}%"
    return _fmt(value)


def _fmt_or_dash(value: float | None, percent: bool) -> str:
    return "—" if value is None else _fmt_value(value, percent)


def _normalise_series(series: Any) -> list[tuple[str, list[tuple[Any, float | None]]]]:
    if isinstance(series, Mapping):
        items: Iterable[Any] = series.items()
    else:
        items = series
    out = []
    for item in items:
        if hasattr(item, "name") and hasattr(item, "points"):
            name, points = item.name, item.points
        else:
            name, points = item
        out.append((str(name), [(x, None if y is None else float(y)) for x, y in points]))
    return out


def _normalise_cutoffs(cutoffs: Any) -> list[tuple[float, str]]:
    out = []
    for c in cutoffs or ():
        if isinstance(c, Mapping):
            out.append((float(c["value"]), str(c.get("label", ""))))
        elif isinstance(c, (int, float)):
            out.append((float(c), ""))
        else:
            out.append((float(c[0]), str(c[1]) if len(c) > 1 else ""))
    return out


def _x_label(x: Any) -> str:
    if isinstance(x, datetime):
        return x.date().isoformat()
    if isinstance(x, date):
        return x.isoformat()
    return str(x)


def _marker(shape: str, x: float, y: float, colour: str) -> str:
    if shape == "square":
        return f'<rect x="{x - 3.5:.1f}" y="{y - 3.5:.1f}" width="7" height="7" fill="{colour}"/>'
    if shape == "triangle":
        return (f'<path d="M{x:.1f},{y - 4.5:.1f} L{x + 4.5:.1f},{y + 3.5:.1f} L{x - 4.5:.1f},{y + 3.5:.1f} Z" '
                f'fill="{colour}"/>')
    if shape == "diamond":
        return (f'<path d="M{x:.1f},{y - 5:.1f} L{x + 5:.1f},{y:.1f} L{x:.1f},{y + 5:.1f} L{x - 5:.1f},{y:.1f} Z" '
                f'fill="{colour}"/>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>'


def _text(x: float, y: float, content: str, anchor: str = "middle", size: int = TICK_FONT, colour: str = INK,
          extra: str = "") -> str:
    size = max(size, MIN_FONT)
    return (f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{colour}"{extra}>'
            f"{escape(content)}</text>")


def _open_svg(width: int, height: int, title: str, desc: str, css_class: str) -> tuple[str, str]:
    uid = f"chart{next(_ids)}"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart {css_class}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="{uid}-t" aria-describedby="{uid}-d" '
        f'font-family=\'{FONT}\' style="max-width:100%;height:auto">'
        f'<title id="{uid}-t">{escape(title)}</title><desc id="{uid}-d">{escape(desc)}</desc>'
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#fff"/>'
    )
    return uid, head


def _with_units(label: str, units: str) -> str:
    """"百分比（%）" / "Per cent (%)": full-width brackets beside Chinese, ASCII ones beside Latin text."""
    if not units:
        return label
    if not label:
        return units
    if any(ord(ch) > 0x2E80 for ch in label):
        return f"{label}（{units}）"
    return f"{label} ({units})"


def _axes(parts: list[str], left: float, top: float, right: float, bottom: float, ticks: list[float],
          y_of: Any, percent: bool, x_label: str, y_label: str, width: int, height: int) -> None:
    for t in ticks:
        y = y_of(t)
        parts.append(
            f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_text(left - 6, y + 4, _fmt(t, percent), anchor="end", size=TICK_FONT, colour=MUTED))
    parts.append(
        f'<line x1="{left:.1f}" y1="{top:.1f}" x2="{left:.1f}" y2="{bottom:.1f}" stroke="{INK}" stroke-width="1"/>'
    )
    parts.append(
        f'<line x1="{left:.1f}" y1="{bottom:.1f}" x2="{right:.1f}" y2="{bottom:.1f}" stroke="{INK}" stroke-width="1"/>'
    )
    if x_label:
        parts.append(_text((left + right) / 2, height - 8, x_label, size=LABEL_FONT, colour=INK))
    if y_label:
        cy = (top + bottom) / 2
        parts.append(_text(16, cy, y_label, size=LABEL_FONT, colour=INK,
                           extra=f' transform="rotate(-90 16 {cy:.1f})"'))


def _legend_item_width(name: str) -> float:
    return 40 + LABEL_FONT * _display_width(name)


def _legend_rows(names: list[str], available: float) -> list[list[int]]:
    """The legend's entries (their indexes) row by row, so that no row is wider than `available`."""
    rows: list[list[int]] = [[]]
    used = 0.0
    for i, name in enumerate(names):
        w = _legend_item_width(name)
        if rows[-1] and used + w > available:
            rows.append([])
            used = 0.0
        rows[-1].append(i)
        used += w
    return rows


def _legend(parts: list[str], names: list[str], x: float, y: float, available: float, kind: str, uid: str) -> None:
    for r, row in enumerate(_legend_rows(names, available)):
        cursor = x
        ry = y + r * LEGEND_ROW
        for i in row:
            name = names[i]
            colour = COLOURS[i % len(COLOURS)]
            if kind == "line":
                dash = DASHES[i % len(DASHES)]
                dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
                parts.append(
                    f'<line x1="{cursor:.1f}" y1="{ry - 4:.1f}" x2="{cursor + 22:.1f}" y2="{ry - 4:.1f}" '
                    f'stroke="{colour}" stroke-width="2.5"{dash_attr}/>'
                )
                parts.append(_marker(MARKERS[i % len(MARKERS)], cursor + 11, ry - 4, colour))
            else:
                parts.append(
                    f'<rect x="{cursor:.1f}" y="{ry - 11:.1f}" width="14" height="12" fill="{_bar_fill(i, uid)}" '
                    f'stroke="{colour}"/>'
                )
            parts.append(_text(cursor + 28, ry, name, anchor="start", size=LABEL_FONT))
            cursor += _legend_item_width(name)


def _legend_height(names: list[str], available: float) -> float:
    return LEGEND_ROW * len(_legend_rows(names, available)) if len(names) > 1 or (names and names[0]) else 0.0


def _display_width(text: str) -> float:
    """Approximate width in units of one CJK glyph's width at a given size (Latin characters count about half)."""
    return sum(1.0 if ord(ch) > 0x2E80 else 0.55 for ch in text)


def _bar_fill(i: int, uid: str) -> str:
    return COLOURS[i % len(COLOURS)] if i == 0 else f"url(#{uid}-p{i % len(COLOURS)})"


def _patterns(uid: str, n: int) -> str:
    defs = []
    for i in range(1, min(n, len(COLOURS))):
        colour = COLOURS[i]
        angle = (45, -45, 0, 90, 30)[(i - 1) % 5]
        defs.append(
            f'<pattern id="{uid}-p{i}" patternUnits="userSpaceOnUse" width="6" height="6" '
            f'patternTransform="rotate({angle})"><rect width="6" height="6" fill="{colour}" fill-opacity="0.35"/>'
            f'<line x1="0" y1="0" x2="0" y2="6" stroke="{colour}" stroke-width="3"/></pattern>'
        )
    return "<defs>" + "".join(defs) + "</defs>" if defs else ""


# -- the table equivalent -----------------------------------------------------------------------------------
def data_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Markup:
    """A plain `<table>` of a chart's figures: `header` (first the x axis' name), then one row per category or
    term, its first cell the row's label."""
    num = ' class="num"'
    head = "".join(f'<th scope="col"{"" if i == 0 else num}>{escape(h)}</th>' for i, h in enumerate(header))
    body = "".join(
        "<tr>" + f'<th scope="row">{escape(row[0])}</th>'
        + "".join(f'<td class="num">{escape(c)}</td>' for c in row[1:]) + "</tr>"
        for row in rows
    )
    return Markup(f'<table class="figures chart-table"><caption>{escape(title)}</caption>'
                  f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _figure(svg: str, title: str, table_label: str | None, header: Sequence[str],
            rows: Sequence[Sequence[str]]) -> Markup:
    if table_label is None:
        return Markup(svg)
    table = data_table(title, header, rows)
    return Markup(
        f'<figure class="chart-figure">{svg}<details class="chart-data"><summary>{escape(table_label)}</summary>'
        f'<div class="table-wrap" role="region" tabindex="0" aria-label="{escape(title or table_label)}">{table}'
        "</div></details></figure>"
    )


# -- line chart ---------------------------------------------------------------------------------------------
def line_chart(
    series: Any,
    cutoffs: Any = (),
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    units: str = "",
    width: int = WIDTH,
    height: int = 300,
    y_min: float | None = None,
    y_max: float | None = None,
    percent: bool = False,
    empty_text: str = "—",
    css_class: str = "line-chart",
    table_label: str | None = None,
) -> Markup:
    """A line chart of one or more series.

    `series`: a mapping {name: points}, or a sequence of (name, points) pairs (or objects with .name/.points);
    points are (x, y) pairs, y a number or None (a gap). x values that are all dates or all numbers are placed
    to scale; anything else (term names, say) is placed as ordered categories. `cutoffs`: (value, label) pairs,
    {"value", "label"} dicts or bare numbers, drawn as dashed horizontal reference lines.
    `percent=True` writes y ticks as percentages (values are already in 0-100). `units` goes beside the y label;
    `table_label` makes it a figure with the table of its figures (see the module text).
    """
    data = _normalise_series(series)
    y_label = _with_units(y_label, units)
    cuts = _normalise_cutoffs(cutoffs)
    xs_all = [x for _, pts in data for x, _ in pts]
    values = [y for _, pts in data for _, y in pts if y is not None]
    desc_parts = []
    for name, pts in data:
        figures = "，".join(f"{_x_label(x)}: {'—' if y is None else _fmt_value(y, percent)}" for x, y in pts)
        desc_parts.append(f"{name}: {figures}" if name else figures)
    uid, head = _open_svg(width, height, title, "；".join(desc_parts) or empty_text, css_class)
    parts = [head]
    left, right = 60.0, width - 16.0
    names = [name for name, _ in data]
    legend_h = _legend_height(names, right - left) if len(data) > 1 else 0.0
    top = 18 + (22 if title else 0) + legend_h + (6 if legend_h else 0)
    bottom = height - (44 if x_label else 28)
    if title:
        parts.append(_text(width / 2, 21, title, size=TITLE_FONT, extra=' font-weight="600"'))
    # the table equivalent: one row per x value, one column per series
    x_order: dict[str, None] = {}
    for _name, pts in data:
        for x, _y in pts:
            x_order.setdefault(_x_label(x), None)
    lookup = {(name, _x_label(x)): y for name, pts in data for x, y in pts}
    header = [x_label] + [name or y_label for name in names]
    table_rows = [[xl] + [_fmt_or_dash(lookup.get((name, xl)), percent) for name in names] for xl in x_order]
    if not values:
        parts.append(_text(width / 2, (top + bottom) / 2, empty_text, size=LABEL_FONT, colour=MUTED))
        parts.append("</svg>")
        return _figure("".join(parts), _with_units(title, units), table_label, header, table_rows)

    lo = min(values + [c for c, _ in cuts]) if y_min is None else y_min
    hi = max(values + [c for c, _ in cuts]) if y_max is None else y_max
    if y_min is None:
        lo = min(0.0, lo)
    ticks = nice_ticks(lo, hi)
    lo, hi = (ticks[0] if y_min is None else y_min), (ticks[-1] if y_max is None else y_max)
    ticks = [t for t in ticks if lo - 1e-9 <= t <= hi + 1e-9]  # a fixed range (0-27) draws no tick above its top
    span = (hi - lo) or 1.0

    def y_of(v: float) -> float:
        return bottom - (v - lo) / span * (bottom - top)

    # x placement: to scale for dates / numbers, otherwise ordered categories.
    scaled = bool(xs_all) and (
        all(isinstance(x, (date, datetime)) for x in xs_all)
        or all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs_all)
    )
    pad = 40.0
    if scaled:
        def num(x: Any) -> float:
            if isinstance(x, datetime):
                return x.timestamp() / 86400
            if isinstance(x, date):
                return float(x.toordinal())
            return float(x)

        nums = [num(x) for x in xs_all]
        x_lo, x_hi = min(nums), max(nums)
        x_span = (x_hi - x_lo) or 1.0

        def x_of(x: Any) -> float:
            if x_hi == x_lo:
                return (left + right) / 2
            return left + pad + (num(x) - x_lo) / x_span * (right - left - 2 * pad)

        seen: dict[str, Any] = {}
        for x in sorted(xs_all, key=num):
            seen.setdefault(_x_label(x), x)
        x_ticks = list(seen.items())
        if len(x_ticks) > 8:
            step = math.ceil(len(x_ticks) / 8)
            x_ticks = x_ticks[::step]
    else:
        order: dict[str, int] = {}
        for x in xs_all:
            order.setdefault(_x_label(x), len(order))
        n = len(order)

        def x_of(x: Any) -> float:
            i = order[_x_label(x)]
            if n == 1:
                return (left + right) / 2
            return left + pad + i * (right - left - 2 * pad) / (n - 1)

        x_ticks = [(label, label) for label in order]
        if len(x_ticks) > 12:
            step = math.ceil(len(x_ticks) / 12)
            x_ticks = x_ticks[::step]

    _axes(parts, left, top, right, bottom, ticks, y_of, percent, x_label, y_label, width, height)
    for label, x in x_ticks:
        px = x_of(x if scaled else label)
        parts.append(f'<line x1="{px:.1f}" y1="{bottom:.1f}" x2="{px:.1f}" y2="{bottom + 4:.1f}" stroke="{INK}"/>')
        parts.append(_text(px, bottom + 18, label, size=TICK_FONT, colour=INK))

    for value, label in cuts:
        if not lo <= value <= hi:
            continue
        y = y_of(value)
        parts.append(f'<line x1="{left:.1f}" y1="{y:.1f}" x2="{right:.1f}" y2="{y:.1f}" stroke="{MUTED}" '
                     f'stroke-width="1.2" stroke-dasharray="5 4" class="cutoff"/>')
        if label:
            parts.append(_text(right - 2, y - 4, label, anchor="end", size=TICK_FONT, colour=MUTED))

    for i, (_name, pts) in enumerate(data):
        colour = COLOURS[i % len(COLOURS)]
        dash = DASHES[i % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        runs: list[list[tuple[float, float]]] = [[]]
        for x, point_y in pts:
            if point_y is None:
                if runs[-1]:
                    runs.append([])
                continue
            runs[-1].append((x_of(x), y_of(point_y)))
        for run in runs:
            if len(run) > 1:
                d = " ".join(f"{'M' if j == 0 else 'L'}{px:.1f},{py:.1f}" for j, (px, py) in enumerate(run))
                parts.append(
                    f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="2.5"{dash_attr} class="series"/>'
                )
            for px, py in run:
                parts.append(_marker(MARKERS[i % len(MARKERS)], px, py, colour))
    if len(data) > 1:
        _legend(parts, names, left, top - legend_h + 6, right - left, "line", uid)
    parts.append("</svg>")
    return _figure("".join(parts), _with_units(title, units), table_label, header, table_rows)


# -- bar chart ----------------------------------------------------------------------------------------------
def bar_chart(
    categories: Sequence[Any],
    series: Any,
    *,
    title: str = "",
    x_label: str = "",
    y_label: str = "",
    units: str = "",
    width: int = WIDTH,
    height: int = 300,
    y_max: float | None = None,
    percent: bool = False,
    missing_label: str = "",
    show_values: bool = True,
    empty_text: str = "—",
    css_class: str = "bar-chart",
    table_label: str | None = None,
) -> Markup:
    """Grouped vertical bars: one group per category, one bar per series.

    `series`: a sequence of numbers (a single unnamed series), or a mapping / sequence of (name, values) with
    values aligned to `categories`. A `None` value draws no bar and writes `missing_label` (e.g. "<5"). A value
    is written above its bar when there is room for it (the table equivalent has every figure).
    """
    cats = [str(c) for c in categories]
    y_label = _with_units(y_label, units)
    if isinstance(series, Mapping):
        data = [(str(k), list(v)) for k, v in series.items()]
    elif series and all(v is None or isinstance(v, (int, float, str)) for v in series):
        data = [("", list(series))]
    else:
        data = [(str(name), list(values)) for name, values in series]
    for name, values in data:
        if len(values) != len(cats):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(cats)} categories")
    values = [float(v) for _, vs in data for v in vs if v is not None and not isinstance(v, str)]
    desc_parts = []
    for name, vs in data:
        figures = "，".join(
            f"{c}: {(missing_label or '—') if v is None else v if isinstance(v, str) else _fmt_value(v, percent)}"
            for c, v in zip(cats, vs, strict=True)  # lengths checked above
        )
        desc_parts.append(f"{name}: {figures}" if name else figures)
    named = len(data) > 1 or bool(data and data[0][0])
    left, right = 60.0, width - 16.0
    long_labels = any(_display_width(c) * TICK_FONT > (right - left) / max(len(cats), 1) - 4 for c in cats)
    # Rotated labels (-30 degrees) need about half their length in height below the axis: the chart grows by that
    # much, so that the bars keep the height they would have with short labels.
    drop = min(120.0, 0.5 * TICK_FONT * max((_display_width(c) for c in cats), default=0) + 8) if long_labels else 0.0
    height += round(drop)
    uid, head = _open_svg(width, height, title, "；".join(desc_parts) or empty_text, css_class)
    parts = [head, _patterns(uid, len(data))]
    legend_h = _legend_height([name for name, _ in data], right - left) if named else 0.0
    top = 20 + (22 if title else 0) + legend_h + (6 if legend_h else 0)
    bottom = height - (48 if x_label else 28) - drop
    if title:
        parts.append(_text(width / 2, 21, title, size=TITLE_FONT, extra=' font-weight="600"'))

    def cell_text(v: Any) -> str:
        return (missing_label or "—") if v is None else v if isinstance(v, str) else _fmt_value(float(v), percent)

    header = [x_label] + ([name for name, _ in data] if named else [y_label])
    table_rows = [[c] + [cell_text(vs[ci]) for _, vs in data] for ci, c in enumerate(cats)]
    if not cats or not data:
        parts.append(_text(width / 2, (top + bottom) / 2, empty_text, size=LABEL_FONT, colour=MUTED))
        parts.append("</svg>")
        return _figure("".join(parts), _with_units(title, units), table_label, header, table_rows)
    hi = max(values) if values else 1.0
    if y_max is not None:
        hi = y_max
    ticks = nice_ticks(0.0, hi if hi > 0 else 1.0)
    top_value = ticks[-1] if y_max is None else y_max
    ticks = [t for t in ticks if t <= top_value + 1e-9]

    def y_of(v: float) -> float:
        return bottom - v / (top_value or 1.0) * (bottom - top)

    _axes(parts, left, top, right, bottom, ticks, y_of, percent, x_label, y_label, width, height)
    group_w = (right - left) / len(cats)
    bar_w = min(36.0, group_w * 0.8 / len(data))
    for ci, cat in enumerate(cats):
        gx = left + ci * group_w + (group_w - bar_w * len(data)) / 2
        for si, (_, vs) in enumerate(data):
            v = vs[ci]
            bx = gx + si * bar_w
            cx = bx + bar_w / 2
            if v is None or isinstance(v, str):
                label = v if isinstance(v, str) else missing_label
                if label and _display_width(label) * TICK_FONT <= bar_w + 8:
                    parts.append(_text(cx, bottom - 4, label, size=TICK_FONT, colour=MUTED))
                continue
            y = y_of(float(v))
            colour = COLOURS[si % len(COLOURS)]
            parts.append(f'<rect x="{bx + 1:.1f}" y="{y:.1f}" width="{bar_w - 2:.1f}" height="{bottom - y:.1f}" '
                         f'fill="{_bar_fill(si, uid)}" stroke="{colour}" class="bar"/>')
            shown = _fmt_value(float(v), percent)
            if show_values and _display_width(shown) * TICK_FONT <= bar_w + 6:
                parts.append(_text(cx, y - 3, shown, size=TICK_FONT, colour=INK))
        label_x = left + ci * group_w + group_w / 2
        if long_labels:
            parts.append(_text(label_x, bottom + 15, cat, anchor="end", size=TICK_FONT,
                               extra=f' transform="rotate(-30 {label_x:.1f} {bottom + 15:.1f})"'))
        else:
            parts.append(_text(label_x, bottom + 18, cat, size=TICK_FONT))
    if named:
        _legend(parts, [name for name, _ in data], left, top - legend_h + 4, right - left, "bar", uid)
    parts.append("</svg>")
    return _figure("".join(parts), _with_units(title, units), table_label, header, table_rows)
