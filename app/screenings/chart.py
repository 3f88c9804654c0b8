"""A small server-side SVG trend chart for one instrument's totals over time, with cut-off lines.

(Written here because no shared chart helper existed when this area was built; no JavaScript, prints cleanly.)
"""
from __future__ import annotations

from datetime import date
from typing import Sequence

from markupsafe import Markup, escape


def trend_svg(points: Sequence[tuple[date, int]], *, lo: int, hi: int, cutoffs: Sequence[tuple[float, str]] = (),
              title: str = "", width: int = 560, height: int = 180) -> Markup:
    """`points`: (date, total) in time order; `cutoffs`: (score, label) drawn as dashed lines."""
    left, right, top, bottom = 40, 16, 14, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    span = max(hi - lo, 1)

    def y(v: float) -> float:
        return top + plot_h - (v - lo) / span * plot_h

    n = len(points)

    def x(i: int) -> float:
        return left + (plot_w / 2 if n == 1 else i * plot_w / (n - 1))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" viewBox="0 0 {width} {height}" width="100%" '
             f'role="img" aria-label="{escape(title)}">', f"<title>{escape(title)}</title>"]
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff" stroke="#d9e2ec"/>')
    for v in (lo, hi):
        parts.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11" fill="#616e7c">{v}</text>')
    for value, label in cutoffs:
        if lo <= value <= hi:
            yy = y(value)
            parts.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#b54708" '
                         f'stroke-dasharray="5 4"/>')
            parts.append(f'<text x="{left + plot_w - 4}" y="{yy - 4:.1f}" text-anchor="end" font-size="11" '
                         f'fill="#b54708">{escape(label)}</text>')
    if n:
        path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(v):.1f}" for i, (_, v) in enumerate(points))
        if n > 1:
            parts.append(f'<path d="{path}" fill="none" stroke="#2f6f73" stroke-width="2"/>')
        for i, (d, v) in enumerate(points):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="4" fill="#2f6f73"><title>{d.isoformat()}: {v}</title></circle>')
            parts.append(f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="middle" font-size="11" fill="#616e7c">'
                         f'{d.isoformat()}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
