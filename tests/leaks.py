"""Leak checks that look for a score where a score would stand, not for its digits anywhere in the page.

A page that must not show a score ("23") may well show 2026-11-23, 23:40 or "23 名学生"; the digits alone prove
nothing and a check on them passes or fails by the date. `score_places(html, score)` lists the places where the
score would stand if it leaked: a table cell holding it as a word, any `data-score` / `data-total` /
`data-level` attribute, any `data-` attribute whose value is the score, an element marked as a score or total
(class or data-testid), and, given `row_with`, the table row of that student holding it as a number that is not
part of a date or a time. tests/unit/test_leaks.py shows each of them caught and the dates let through.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

SCORE_ATTRS = ("data-score", "data-total", "data-level")
MARKS = re.compile(r"\b(score|total)\b", re.IGNORECASE)
WORD_SPLIT = re.compile(r"[\s,，;；()（）、]+")


class _Places(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cells: list[str] = []
        self.rows: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []  # (tag, name, value) of data- attributes
        self.marked: list[str] = []  # text of elements marked as score/total
        self._open_cells: list[list[str]] = []
        self._open_rows: list[list[str]] = []
        self._open_marks: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name.startswith("data-"):
                self.attrs.append((tag, name, value))
        marks = " ".join(v or "" for n, v in attrs if n in ("class", "data-testid", "id"))
        if MARKS.search(marks.replace("-", " ").replace("_", " ")):
            self._open_marks.append((tag, []))
        if tag in ("td", "th"):
            self._open_cells.append([])
        elif tag == "tr":
            self._open_rows.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._open_cells:
            self.cells.append(" ".join(self._open_cells.pop()))
        elif tag == "tr" and self._open_rows:
            self.rows.append(" ".join(self._open_rows.pop()))
        if self._open_marks and self._open_marks[-1][0] == tag:
            self.marked.append(" ".join(self._open_marks.pop()[1]))

    def handle_data(self, data: str) -> None:
        for bucket in self._open_cells + self._open_rows:
            bucket.append(data)
        for _, bucket in self._open_marks:
            bucket.append(data)


def _as_number(text: str, score: str) -> bool:
    """`score` stands in `text` as a number of its own: not inside a longer number, a date (2026-11-23,
    2026年11月23日, 11/23) or a time (23:40)."""
    return re.search(rf"(?<![\d\-/年月日:.]){re.escape(score)}(?![\d\-/年月日:.])", text) is not None


def score_places(html: str, score: int | str, *, row_with: str | None = None) -> list[str]:
    """Where `score` stands in `html` (empty: nowhere a score would stand)."""
    score = str(score)
    parser = _Places()
    parser.feed(html)
    parser.close()
    found = [f"cell {cell.strip()!r}" for cell in parser.cells if score in WORD_SPLIT.split(cell)]
    found += [f"<{tag} {name}={value!r}>" for tag, name, value in parser.attrs
              if name in SCORE_ATTRS or (value or "").strip() == score]
    found += [f"marked element {text.strip()!r}" for text in parser.marked if text.strip()]
    if row_with is not None:
        found += [f"row {row.strip()!r}" for row in parser.rows if row_with in row and _as_number(row, score)]
    return found
