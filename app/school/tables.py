"""The school page's tables and charts, from the school's protected figures only (app/district/service/school.py).

The tables are the district dashboard's own (`app.district.tables`: the same columns, cells, marks "<5", "*",
"—"), grouped by grade, plus the open cases by status; the page, its charts and the school report are built from
what this module returns, so they cannot disagree.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from app.charts import bar_chart, line_chart
from app.district import glossary
from app.district.service import CASE_STATUSES, CLASS_BANDS, Filters, SchoolFigures, SchoolTrendPoint
from app.district.suppression import rate_text, rate_value
from app.district.tables import Cell, Column, Row, TableView, build_tables, figure_cell, table_specs

CASE_STATUS_LABELS = {"open": _l("New case"), "following": _l("Following up"), "referred": _l("Referred")}
SHOWN_TABLES = ("coverage", "warnings", "care", "followup")  # of the dashboard's tables, those a school leader reads


def school_specs(sf: SchoolFigures) -> list[tuple[str, Any, list[Column]]]:
    by_id = {spec[0]: spec for spec in table_specs(sf.ctx, sf.figures)}
    # coverage over 应测 (the grades screened), the base of the summary and the trend: named here, so the page
    # says what it counts whatever columns the dashboard's table grows
    by_id["coverage"] = ("coverage", _l("Screening coverage by grade"),
                         [Column.of(key) for key in ("eligible", "screened", "coverage", "positive", "positive_rate")])
    return [by_id[t] for t in SHOWN_TABLES] + [
        ("cases_status", _l("Open cases by status"), [
            Column(_l("Open cases"), "cases_open"),
            *[Column(CASE_STATUS_LABELS[s], f"cases_status_{s}") for s in CASE_STATUSES],
        ]),
    ]


def school_tables(sf: SchoolFigures) -> list[TableView]:
    """Every table of the school page, one row per grade and the school's total; then coverage by class size."""
    tables = build_tables(sf.ctx, sf.figures, Filters(), "grade", school_specs(sf))
    band = band_table(sf)
    if band is not None:
        tables.insert(1, band)
    return tables


def band_label(index: int) -> str:
    if index == 0:
        return _("No class")
    lo, hi = CLASS_BANDS[index - 1]
    if hi is None:
        return _("Classes of %(n)s or more", n=lo)
    if lo <= 1:
        return _("Classes of %(n)s or fewer", n=hi)
    return _("Classes of %(lo)s to %(hi)s", lo=lo, hi=hi)


def band_table(sf: SchoolFigures) -> TableView | None:
    """Coverage by class size band (students enrolled in the class); bands with nobody in them are left out."""
    f = sf.bands
    if f is None:
        return None
    school = sf.total_key[0]
    columns = [Column.of(key) for key in ("eligible", "screened", "coverage")]
    rows = []
    for index in range(len(CLASS_BANDS) + 1):
        key = (school, index, None)
        if not (f.protected["eligible"].values.get(key) or f.protected["screened"].values.get(key)):
            continue
        rows.append(Row(band_label(index), _band_cells(f, key)))
    rows.append(Row(_("Overall"), _band_cells(f, sf.total_key), total=True))
    return TableView("class_size", _l("Coverage by class size"), columns, rows, "class_size")


def _band_cells(f: Any, key: Any) -> list[Cell]:
    out = [Cell(f.text(m, key), f.value(m, key), f.status(m, key)) for m in ("eligible", "screened")]
    num, den = f.value("screened", key), f.value("eligible", key)
    return out + [Cell(rate_text(num, den), rate_value(num, den), "rate")]


SUMMARY_FIGURES = ("eligible", "screened", "coverage", "positive_rate", "warn_L1", "crisis", "crisis_same_day_rate")


def summary(sf: SchoolFigures) -> list[tuple[str, str, str]]:
    """(glossary key, header, value) of the figures at the top of the page: the glossary's headers (人/次/%) and
    cells, as on the district dashboard."""
    return [(key, glossary.get(key).header(), figure_cell(sf.figures, key, sf.total_key).text)
            for key in SUMMARY_FIGURES]


def _value(cell: Any) -> float | str | None:
    """A shown figure as a number; a hidden one as its mark, so the chart says what the table says."""
    return cell.text if cell.value is None else cell.value


def page_charts(tables: list[TableView]) -> list[Markup]:
    by_id = {t.id: t for t in tables}
    rows = [r for r in by_id["coverage"].rows if not r.total]
    if not rows:
        return []
    labels = [r.label for r in rows]
    grade = _("Grade")
    warn = by_id["warnings"]
    return [
        bar_chart(labels, [(_("Coverage"), [r.cells[2].value for r in rows]),
                           (_("Positive rate"), [r.cells[4].value for r in rows])],
                  title=_("Screening coverage and positive rate by grade"), x_label=grade, y_label=_("Per cent"),
                  percent=True, missing_label="—"),
        bar_chart(labels, [(str(col.label), [_value(r.cells[i]) for r in warn.rows if not r.total])
                           for i, col in enumerate(warn.columns[:3])],
                  title=_("Warnings by confirmed level and grade"), x_label=grade, y_label=_("Students")),
    ]


# -- the trend over terms --------------------------------------------------------------------------------------
TREND_COLUMNS: tuple[tuple[str, Any, str | None], ...] = (
    # (measure or numerator, label, denominator for a rate)
    ("eligible", _l("Students to be screened"), None),
    ("screened", _l("Students screened"), None),
    ("screened", _l("Coverage"), "eligible"),
    ("positive", _l("Positive rate"), "screened"),
    ("warn_L1", _l("Level 1"), None),
    ("warn_L2", _l("Level 2"), None),
    ("warn_L3", _l("Level 3"), None),
    ("crisis_same_day", _l("Crises contacted the same day"), "crisis"),
    ("interview_on_time", _l("Interviews on time"), "interview_due"),
)


@dataclass
class TrendTable:
    header: list[str]
    rows: list[list[str]]


def trend_table(points: list[SchoolTrendPoint]) -> TrendTable:
    header = [_("Term")] + [str(label) for _m, label, _d in TREND_COLUMNS]
    rows = []
    for p in points:
        row = [p.term]
        for measure, _label, den in TREND_COLUMNS:
            if den is None:
                row.append(p.figures.text(measure, p.key))
            else:
                row.append(rate_text(p.figures.value(measure, p.key), p.figures.value(den, p.key)))
        rows.append(row)
    return TrendTable(header, rows)


def trend_charts(points: list[SchoolTrendPoint]) -> list[Markup]:
    term = _("Term")

    def rate(num: str, den: str) -> list[tuple[str, float | None]]:
        out = []
        for p in points:
            n, d = p.figures.value(num, p.key), p.figures.value(den, p.key)
            out.append((p.term, None if n is None or not d else 100.0 * n / d))
        return out

    empty = _("No figures yet")
    return [
        line_chart([(_("Coverage"), rate("screened", "eligible")), (_("Positive rate"), rate("positive", "screened"))],
                   title=_("Coverage and positive rate by term"), x_label=term, y_label=_("Per cent"), percent=True,
                   empty_text=empty),
        line_chart([(_("Crises contacted the same day"), rate("crisis_same_day", "crisis")),
                    (_("Interviews on time"), rate("interview_on_time", "interview_due"))],
                   title=_("Follow-up timeliness by term"), x_label=term, y_label=_("Per cent"), percent=True,
                   empty_text=empty),
        line_chart([(str(label), [(p.term, p.figures.value(f"warn_{lv}", p.key)) for p in points])
                    for lv, label in (("L1", _("Level 1")), ("L2", _("Level 2")), ("L3", _("Level 3")))],
                   title=_("Warnings by confirmed level and term"), x_label=term, y_label=_("Students"),
                   empty_text=empty),
    ]
