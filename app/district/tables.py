"""The dashboard's tables, built from protected figures only, and their CSV / XLSX exports.

A table is rows (the groups of the chosen dimension inside the filters, then a total row) by columns (counts
of a measure, or a rate of two measures). Every cell comes from `Figures`, so a figure hidden on the page is
hidden in the export in exactly the same way: the export writes the same text ("<5", "*", "—").
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from app.care_groups import care_group_label, triggering_groups

from . import glossary
from .service import (
    GENDERS,
    SCHOOL_TYPES,
    STAGES,
    Context,
    Figures,
    Filters,
    ScopeKey,
)
from .suppression import rate_text, rate_value

TYPE_LABELS = {
    "urban": _l("Urban school"),
    "rural_small": _l("Rural small-scale school"),
    "township_boarding": _l("Township boarding school"),
    "other": _l("Other school"),
}
STAGE_LABELS = {"primary": _l("Primary"), "junior": _l("Junior secondary"), "nine_year": _l("Nine-year school")}
GENDER_LABELS = {"M": _l("Boys"), "F": _l("Girls")}
DIMENSION_LABELS = {
    "school": _l("School"),
    "type": _l("School type"),
    "stage": _l("Stage"),
    "grade": _l("Grade"),
    "gender": _l("Gender"),
}
# Plural headings of the shipped triggering groups (the set itself is the warning policy's).
CARE_LABELS = {"left_behind": _l("Left-behind children"), "migrant": _l("Migrant children"),
               "hardship": _l("Students in hardship")}
LEVEL_LABELS = {"L1": _l("Level 1"), "L2": _l("Level 2"), "L3": _l("Level 3"), "care": _l("Care")}


def grade_label(grade: int) -> str:
    return _("Grade %(n)s", n=grade)


@dataclass(frozen=True)
class Column:
    label: Any
    measure: str | None = None  # a count
    numerator: str | None = None  # a rate
    denominator: str | None = None
    figure: str | None = None  # its key in app/district/glossary.py, when the glossary defines it
    note: str = ""  # the glossary's definition: the header's tooltip

    @classmethod
    def of(cls, key: str) -> Column:
        """The column of a glossary figure: its header (label and unit), measure or rate, and definition."""
        f = glossary.get(key)
        if f.is_rate:
            return cls(f.header(), None, f.numerator, f.denominator, key, f.explain())
        return cls(f.header(), key, figure=key, note=f.explain())

    @property
    def is_rate(self) -> bool:
        return self.numerator is not None


@dataclass
class Cell:
    text: str
    value: float | None  # None when hidden or not applicable
    status: str  # shown / primary / complement / rate


@dataclass
class Row:
    label: str
    cells: list[Cell]
    total: bool = False
    scope: str = ""  # which cell the row is: "total", "school:<code>", "type:<t>", "grade:<g>" (data-scope)


@dataclass
class TableView:
    id: str
    title: Any
    columns: list[Column]
    rows: list[Row]
    dimension: str


def table_specs(ctx: Context, figures: Figures) -> list[tuple[str, Any, list[Column]]]:
    from screening import get_instrument

    def short(instrument: str) -> str:
        try:
            return get_instrument(instrument).short_name or instrument
        except Exception:  # noqa: BLE001 - an instrument retired from the catalogue still has figures
            return instrument

    instruments = sorted(m.split(":", 1)[1] for m in figures.protected if m.startswith("screens:"))
    positives: list[Column] = []
    for instrument in instruments:
        name = short(instrument)
        positives += [
            Column(_("%(name)s screened", name=name), f"screens:{instrument}"),
            Column(_("%(name)s positive", name=name), f"positives:{instrument}"),
            Column(_("%(name)s positive rate", name=name), None, f"positives:{instrument}", f"screens:{instrument}"),
        ]
    care_groups: list[Column] = []
    for group in triggering_groups():
        label = CARE_LABELS.get(group) or care_group_label(group)  # a group a district added: its policy label
        care_groups += [
            Column(_("%(group)s screened", group=label), f"screened_{group}"),
            Column(_("%(group)s positive", group=label), f"positive_{group}"),
            Column(_("%(group)s positive rate", group=label), None, f"positive_{group}", f"screened_{group}"),
        ]
    return [
        ("coverage", _l("Enrolment and screening coverage"), [
            Column.of(key) for key in ("on_roll", "eligible", "screened", "coverage", "positive", "positive_rate")
        ]),
        ("positives", _l("Positive screens by instrument"), positives),
        ("warnings", _l("Students by highest confirmed level"), [
            Column.of(f"warn_{lv}") for lv in ("L1", "L2", "L3", "care")
        ]),
        ("care", _l("Care-group students compared with other students"), [
            Column(_l("Care-group students screened"), "screened_care"),
            Column(_l("Care-group students positive"), "positive_care"),
            Column(_l("Care-group positive rate"), None, "positive_care", "screened_care"),
            Column(_l("Other students screened"), "screened_other"),
            Column(_l("Other students positive"), "positive_other"),
            Column(_l("Other students positive rate"), None, "positive_other", "screened_other"),
        ]),
        ("care_groups", _l("Positive rates by care group"), care_groups),
        ("followup", _l("Follow-up timeliness"), [
            Column.of(key) for key in ("crisis", "crisis_same_day", "crisis_same_day_rate", "interview_due",
                                       "interview_on_time", "interview_rate", "recheck_due", "recheck_on_time",
                                       "recheck_rate")
        ]),
        ("crisis_response", _l("Crisis response to level-1 warnings"), [
            Column.of("crisis"),
            Column(_l("Safety assessment the same day"), "crisis_assessed_same_day"),
            Column(_l("Same-day assessment rate"), None, "crisis_assessed_same_day", "crisis"),
            Column(_l("With a safety plan"), "crisis_safety_plan"),
            Column(_l("Safety plan rate"), None, "crisis_safety_plan", "crisis"),
        ]),
        ("cases", _l("Open cases and referrals"), [
            Column(_l("Open cases"), "cases_open"),
            Column(_l("Cases referred"), "cases_referred"),
            Column.of("referrals"),
            Column.of("referrals_feedback"),
            Column.of("referral_feedback_rate"),
        ]),
    ]


def group_rows(ctx: Context, figures: Figures, filters: Filters, dimension: str) -> list[tuple[str, ScopeKey, bool]]:
    """(label, cell key, is total) for each group of `dimension` inside the filters, then the total."""
    scopes = figures.scopes
    scope = scopes.of(filters)
    rows: list[tuple[str, ScopeKey, bool]] = []
    if scope:
        if dimension == "school":
            for sid in sorted(scope, key=lambda s: ctx.schools[s].code):
                rows.append((ctx.schools[sid].name, (frozenset([sid]), None, None), False))
        elif dimension == "type":
            for t in SCHOOL_TYPES:
                part = scope & scopes.by_type.get(t, frozenset())
                if part:
                    rows.append((str(TYPE_LABELS[t]), (part, None, None), False))
        elif dimension == "stage":
            for st in STAGES:
                part = scope & scopes.by_stage.get(st, frozenset())
                if part:
                    rows.append((str(STAGE_LABELS[st]), (part, None, None), False))
        elif dimension == "grade":
            for g in figures.grades:
                rows.append((grade_label(g), (scope, g, None), False))
        elif dimension == "gender":
            for x in GENDERS:
                rows.append((str(GENDER_LABELS[x]), (scope, None, x), False))
        rows.append((_("Overall"), (scope, None, None), True))
    return rows


def cell_of(figures: Figures, col: Column, key: ScopeKey) -> Cell:
    """One figure of one cell, as every surface shows it (a count's mark, or a rate over shown counts only)."""
    if col.is_rate:
        assert col.numerator is not None and col.denominator is not None  # a rate names both
        num = figures.value(col.numerator, key)
        den = figures.value(col.denominator, key)
        return Cell(rate_text(num, den), rate_value(num, den), "rate")
    assert col.measure is not None  # a count names its measure
    return Cell(figures.text(col.measure, key), figures.value(col.measure, key), figures.status(col.measure, key))


def figure_cell(figures: Figures, key: str, scope_key: ScopeKey) -> Cell:
    """A glossary figure of one cell (the dashboard's cards, the trend table)."""
    return cell_of(figures, Column.of(key), scope_key)


def scope_id(ctx: Context, figures: Figures, dimension: str, key: ScopeKey, is_total: bool) -> str:
    """The row's cell named for the page (`data-scope`): total, school:<code>, type:<t>, stage:<s>, grade:<g>..."""
    if is_total:
        return "total"
    schools, grade, gender = key
    if dimension == "school":
        return "school:" + ctx.schools[next(iter(schools))].code
    if dimension == "grade":
        return f"grade:{grade}"
    if dimension == "gender":
        return f"gender:{gender}"
    named = figures.scopes.by_type if dimension == "type" else figures.scopes.by_stage
    return next((f"{dimension}:{name}" for name, members in named.items() if schools <= members), dimension)


def build_tables(ctx: Context, figures: Figures, filters: Filters, dimension: str,
                 specs: list[tuple[str, Any, list[Column]]] | None = None) -> list[TableView]:
    """The tables of `specs` (default: the dashboard's, `table_specs`), one row per group of `dimension`."""
    rows = group_rows(ctx, figures, filters, dimension)
    tables = []
    for table_id, title, columns in (table_specs(ctx, figures) if specs is None else specs):
        view_rows = [
            Row(label, [cell_of(figures, col, key) for col in columns], is_total,
                scope_id(ctx, figures, dimension, key, is_total))
            for label, key, is_total in rows
        ]
        tables.append(TableView(table_id, title, columns, view_rows, dimension))
    return tables


# -- exports ------------------------------------------------------------------------------------------------
def table_matrix(table: TableView) -> list[list[str]]:
    header = [str(DIMENSION_LABELS.get(table.dimension, table.dimension))] + [str(c.label) for c in table.columns]
    return [header] + [[row.label] + [cell.text for cell in row.cells] for row in table.rows]


def footnote(k: int) -> str:
    return _(
        "<%(k)s: fewer than %(k)s students, hidden so that no child can be identified. *: hidden so that a "
        "<%(k)s figure cannot be worked out from totals. —: a rate over a hidden figure, or no students.",
        k=k,
    )


def safe_cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula (a school name such as "=HYPERLINK(...)")."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(matrix: list[list[str]]) -> bytes:
    """The header row first, then the rows: nothing above the header, so every spreadsheet import finds it in row 1.
    UTF-8 with a byte-order mark, so Excel opens the Chinese text correctly. What the table is about (selection,
    filters, suppression rule, time) is in the file name and the XLSX's second sheet (docs/decisions.md)."""
    out = io.StringIO()
    writer = csv.writer(out)
    for row in matrix:
        writer.writerow([safe_cell(cell) for cell in row])
    return "\ufeff".encode("utf-8") + out.getvalue().encode("utf-8")


def to_xlsx(matrix: list[list[str]], sheet_title: str, about: list[tuple[str, str]],
            about_title: str = "说明") -> bytes:
    """Sheet 1: the table, its header in row 1. Sheet 2 (`about_title`, "说明"): what the table is about, one
    (item, value) per row: the selection, filters, suppression rule, generated-at time, the figures' definitions."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.worksheet.worksheet import Worksheet

    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)  # a new workbook has one worksheet
    ws.title = _sheet_name(sheet_title) or "Sheet1"
    for r, row in enumerate(matrix):
        values: list[Any] = []
        for c, text in enumerate(row):
            # Plain numbers are written as numbers; "<5", "*", "—" and rates stay text, exactly as on the page.
            values.append(int(text) if r > 0 and c > 0 and text.isdigit() else safe_cell(text))
        ws.append(values)
    for cell in ws[1]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True)
    ws.column_dimensions["A"].width = 24
    ws.freeze_panes = "B2"
    readme = wb.create_sheet(_sheet_name(about_title) or "README")
    for item, value in about:
        readme.append([safe_cell(item), safe_cell(value)])
    readme.column_dimensions["A"].width = 24
    readme.column_dimensions["B"].width = 100
    for row in readme.iter_rows(min_col=2, max_col=2):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _sheet_name(title: str) -> str:
    """An Excel sheet name: at most 31 characters, none of []:*?/\\."""
    return "".join(ch for ch in title if ch not in "[]:*?/\\")[:31]
