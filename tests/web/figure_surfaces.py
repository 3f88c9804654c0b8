"""Reading district figures back from what a user gets: a page (HTML), a CSV, an XLSX, a PDF report.

Every reader returns {(figure key, scope): text}, where the key is app/district/glossary.py's and the scope names
the cell: "total" (the whole selection), "school:<code>", "type:<t>"... The agreement test compares them.

- HTML: every <td> or <div> with `data-figure="<key>"`; its scope is the nearest `data-scope` around it (a table
  row, a dashboard card). A row with `data-term` (the trend table) counts only for the term asked for.
- CSV / XLSX: row 1 is the header; a header cell that is a glossary header (label and unit, e.g. 在籍学生（人）)
  names its column's key; each row's scope comes from `scope_of(row)` (the row label: 合计, a school's name or
  code, a term).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Callable
from html.parser import HTMLParser

from openpyxl import load_workbook

from app.district import glossary

Extracted = dict[tuple[str, str], str]
VOID = {"br", "img", "input", "meta", "link", "hr", "col", "wbr", "source", "area", "base", "embed", "param", "track"}


class _FigureParser(HTMLParser):
    def __init__(self, term: str | None) -> None:
        super().__init__(convert_charrefs=True)
        self.term = term
        self.stack: list[dict[str, str]] = []
        self.capturing: list[tuple[int, str, str, list[str]]] = []  # (depth, key, scope, text)
        self.found: Extracted = {}
        self.duplicates: list[str] = []
        self.headers: list[tuple[str, str]] = []  # (key, title) of <th data-figure>
        self.notes: dict[str, str] = {}  # key -> definition in the footnote

    def _scope(self) -> str | None:
        for attrs in reversed(self.stack):
            if "data-scope" in attrs:
                term = attrs.get("data-term")
                if term is not None and term != self.term:
                    return None
                return attrs["data-scope"]
        return None

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag in VOID:
            return
        self.stack.append(attrs)
        key = attrs.get("data-figure")
        if key and tag in ("td", "div"):
            scope = self._scope()
            if scope is not None:
                self.capturing.append((len(self.stack), key, scope, []))
        elif key and tag == "th":
            self.headers.append((key, attrs.get("title", "")))
        note = attrs.get("data-figure-definition")
        if note:
            self.capturing.append((len(self.stack), "note:" + note, "", []))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID or not self.stack:
            return
        depth = len(self.stack)
        while self.capturing and self.capturing[-1][0] == depth:
            _, key, scope, text = self.capturing.pop()
            value = " ".join("".join(text).split())
            if key.startswith("note:"):
                self.notes[key[5:]] = value
            elif (key, scope) in self.found and self.found[(key, scope)] != value:
                self.duplicates.append(f"{key}@{scope}: {self.found[(key, scope)]!r} and {value!r}")
            else:
                self.found[(key, scope)] = value
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        for item in self.capturing:
            item[3].append(data)


def parse_page(html: str, term: str | None = None) -> _FigureParser:
    parser = _FigureParser(term)
    parser.feed(html)
    parser.close()
    assert not parser.duplicates, f"one cell with two values on one page: {parser.duplicates}"
    return parser


def html_figures(html: str, term: str | None = None) -> Extracted:
    return parse_page(html, term).found


def table_figures(rows: list[list[str]], scope_of: Callable[[list[str]], str | None]) -> Extracted:
    """A table read back from an export: row 1 the header, glossary headers name their columns."""
    names = glossary.header_keys("zh")
    header = rows[0]
    columns = {i: names[h] for i, h in enumerate(header) if h in names}
    out: Extracted = {}
    for row in rows[1:]:
        scope = scope_of(row)
        if scope is None:
            continue
        for i, key in columns.items():
            out[(key, scope)] = row[i]
    return out


def csv_rows(body: bytes) -> list[list[str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "a CSV export starts with the UTF-8 byte-order mark"
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def xlsx_rows(body: bytes) -> list[list[str]]:
    """Sheet 1 of the workbook, every value as the text the page shows (a count written as a number reads back
    as its digits)."""
    sheet = load_workbook(io.BytesIO(body)).worksheets[0]
    return [["" if v is None else str(v) for v in row] for row in sheet.iter_rows(values_only=True)]


class _TableKeys(HTMLParser):
    """Each figure table of a page (`<table class="figures">`): its title (the h2 of its section) and the figure key
    of each column after the row label (None for a column that is not a figure). Chart data tables are not figure
    tables."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: list[tuple[str, list[str | None]]] = []
        self._title: list[str] | None = None
        self._last_title = ""
        self._head: list[str | None] | None = None
        self._in_head = False

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        attrs = {k: v or "" for k, v in attrs_list}
        if tag == "h2":
            self._title = []
        elif tag == "table" and "figures" in attrs.get("class", "").split():
            self._head = []
        elif tag == "thead" and self._head is not None:
            self._in_head = True
        elif tag == "th" and self._in_head and self._head is not None:
            self._head.append(attrs.get("data-figure") or None)

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self._title is not None:
            self._last_title = " ".join("".join(self._title).split())
            self._title = None
        elif tag == "thead":
            self._in_head = False
        elif tag == "table" and self._head is not None:
            self.tables.append((self._last_title, self._head[1:]))  # the first column is the row label
            self._head = None

    def handle_data(self, data: str) -> None:
        if self._title is not None:
            self._title.append(data)


def table_keys(html: str) -> list[tuple[str, list[str | None]]]:
    """(title, column keys) of every figure table of a page that has a figure column."""
    parser = _TableKeys()
    parser.feed(html)
    parser.close()
    return [(title, keys) for title, keys in parser.tables if any(keys)]


def pdf_table_totals(text: str, title: str, width: int) -> list[str] | None:
    """The 合计 (total) row of the table titled `title` in a report's `pdftotext -layout` text: the first line
    equal to the title (a chart of the same title may come first: then the next 合计 row has another width and the
    next occurrence is tried) followed, before the next title line of that name, by a 合计 line of `width` cells
    (a cell is one token: 36, 90.0%, <5, —)."""
    lines = [line.strip() for line in text.splitlines()]
    for at, line in enumerate(lines):
        if line != title:
            continue
        for later in lines[at + 1:]:
            cells = later.split()
            if cells and cells[0] == "合计":
                if len(cells) - 1 == width:
                    return cells[1:]
                break
    return None
