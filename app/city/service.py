"""The city statistics (市教委): each district's protected figures, side by side, and the city's totals.

No new SQL over children: every district row is `app.district.service.compute_figures` for that district (the
exact figures its district officer sees for the same term and filters, suppression and complements included),
and staffing is `app.district.service.staffing`. A city total is the sum of its district cells only when every one
of them is shown; otherwise it is hidden ("*"). A shown total then adds nothing a district page does not already
publish, and a hidden one is a sum with an unknown term, so no hidden district cell can be worked out from the
city's tables (see docs in /work/team/city-notes.md and tests/web/test_city_pages.py). No school row, no name.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.district import service as district_service
from app.district.service import TWO_TYPES, Context, Figures, FiguresCache, Filters, Selection
from app.district.suppression import cell_text, rate_text, rate_value
from app.district.tables import Cell, Column, Row, table_specs
from models.roster import City, District

HIDDEN = "complement"  # the status a city total takes when one of its district cells is hidden: printed "*"


@dataclass
class StaffingSummary:
    """Counselors at the district's 两类学校 (rural small-scale and township boarding schools)."""

    schools: int
    gaps: int  # two-type schools without a full-time counselor
    full_time: int  # full-time counselor posts at those schools (a counselor of two schools counts twice)
    students: int | None  # enrolled at those schools; None when a school's count is hidden
    students_text: str


@dataclass
class DistrictFigures:
    id: int
    code: str
    name: str
    ctx: Context
    figures: Figures
    staffing: StaffingSummary


@dataclass
class CityTable:
    id: str
    title: Any
    columns: list[Column]
    rows: list[Row] = field(default_factory=list)


def city_of(db: Session, city_id: int | None) -> City | None:
    return db.get(City, city_id) if city_id is not None else None


def city_districts(db: Session, city_id: int | None) -> list[District]:
    if city_id is None:
        return []
    return list(db.scalars(select(District).where(District.city_id == city_id).order_by(District.code)))


def list_terms(db: Session, city_id: int | None) -> list[str]:
    """Every term any of the city's districts has a campaign in."""
    terms: set[str] = set()
    for district in city_districts(db, city_id):
        terms.update(district_service.list_terms(db, district.id))
    return sorted(terms)


def resolve_term(db: Session, city_id: int | None, term: str | None) -> str | None:
    terms = list_terms(db, city_id)
    if term in terms:
        return term
    return terms[-1] if terms else None


def staffing_summary(db: Session, district_id: int, k: int) -> StaffingSummary:
    rows, _total = district_service.staffing(db, district_id, k)
    two = [r for r in rows if r.school.type in TWO_TYPES]
    counts = [r.school.enrolled_all for r in two]
    hidden = any(1 <= n < k for n in counts)  # the district's staffing page shows such a school's count as "<k"
    students = None if hidden else sum(counts)
    return StaffingSummary(
        schools=len(two), gaps=sum(1 for r in two if r.gap), full_time=sum(r.full_time for r in two),
        students=students, students_text="*" if students is None else str(students),
    )


def compute_city(db: Session, city_id: int | None, term: str | None, k: int, today: date, tz_name: str, *,
                 rollup_max_age: timedelta | None = None, open_max_age: timedelta | None = None,
                 cache: FiguresCache | None = None) -> list[DistrictFigures]:
    """Each district of the city with its protected figures for `term` (the district officer's own)."""
    out = []
    kwargs: dict[str, Any] = {"cache": cache}
    if rollup_max_age is not None:
        kwargs["rollup_max_age"] = rollup_max_age
    if open_max_age is not None:
        kwargs["open_max_age"] = open_max_age
    for district in city_districts(db, city_id):
        ctx, figures = district_service.compute_figures(db, district.id, Selection(term, None), k, today, tz_name,
                                                        **kwargs)
        out.append(DistrictFigures(district.id, district.code, district.name, ctx, figures,
                                   staffing_summary(db, district.id, k)))
    return out


def as_of(districts: list[DistrictFigures]) -> datetime | None:
    stamps = [d.ctx.as_of for d in districts if d.ctx.as_of is not None]
    return min(stamps) if stamps else None


def _columns(districts: list[DistrictFigures]) -> list[tuple[str, Any, list[Column]]]:
    """The district dashboard's table specs, their columns united over the districts (instruments may differ)."""
    merged: dict[str, tuple[Any, dict[Column, None]]] = {}
    order: list[str] = []
    for d in districts:
        for table_id, title, columns in table_specs(d.ctx, d.figures):
            if table_id not in merged:
                merged[table_id] = (title, {})
                order.append(table_id)
            merged[table_id][1].update(dict.fromkeys(columns))
    return [(tid, merged[tid][0], list(merged[tid][1])) for tid in order]


def build_tables(districts: list[DistrictFigures], filters: Filters, total_label: str) -> list[CityTable]:
    """Rows = districts (each district's total for the filters), then the city total."""
    tables = []
    for table_id, title, columns in _columns(districts):
        table = CityTable(table_id, title, columns)
        totals: list[tuple[int, bool]] = [(0, True) for _ in columns]  # (sum, every district cell shown)
        for d in districts:
            scope = d.figures.scopes.of(filters)
            key = (scope, None, None)
            cells = []
            for i, col in enumerate(columns):
                if not scope:
                    cells.append(Cell("—", None, "rate" if col.is_rate else "shown"))
                    continue
                if col.is_rate:
                    assert col.numerator is not None and col.denominator is not None
                    num, den = d.figures.value(col.numerator, key), d.figures.value(col.denominator, key)
                    cells.append(Cell(rate_text(num, den), rate_value(num, den), "rate"))
                    continue
                assert col.measure is not None
                value = d.figures.value(col.measure, key)
                cells.append(Cell(d.figures.text(col.measure, key), value, d.figures.status(col.measure, key)))
                total, ok = totals[i]
                totals[i] = (total + (value or 0), ok and value is not None)
            table.rows.append(Row(d.name, cells, scope=f"district:{d.code}"))
        by_measure: dict[str, int | None] = {}
        for col, (total, ok) in zip(columns, totals, strict=True):
            if col.measure is not None:
                by_measure[col.measure] = total if ok else None
        cells = []
        for col, (total, ok) in zip(columns, totals, strict=True):
            if col.is_rate:
                assert col.numerator is not None and col.denominator is not None
                num, den = _total_of(col.numerator, by_measure, districts, filters), _total_of(
                    col.denominator, by_measure, districts, filters)
                cells.append(Cell(rate_text(num, den), rate_value(num, den), "rate"))
            else:
                cells.append(Cell(str(total), float(total), "shown") if ok else Cell("*", None, HIDDEN))
        if districts:
            table.rows.append(Row(total_label, cells, total=True, scope="total"))
        tables.append(table)
    return tables


def _total_of(measure: str, by_measure: dict[str, int | None], districts: list[DistrictFigures],
              filters: Filters) -> int | None:
    """The city total of a measure (summed only when every district cell is shown)."""
    if measure in by_measure:
        return by_measure[measure]
    total = 0
    for d in districts:
        scope = d.figures.scopes.of(filters)
        if not scope:
            continue
        value = d.figures.value(measure, (scope, None, None))
        if value is None:
            return None
        total += value
    return total


def staffing_rows(districts: list[DistrictFigures], total_label: str, k: int) -> list[list[str]]:
    """Per district: two-type schools, gaps, full-time posts, students, students per full-time counselor."""

    def per(students: int | None, ft: int) -> str:
        return "—" if students is None or ft == 0 else f"{students / ft:.0f}"

    rows = []
    for d in districts:
        s = d.staffing
        rows.append([d.name, str(s.schools), str(s.gaps), str(s.full_time), s.students_text,
                     per(s.students, s.full_time)])
    if districts:
        schools = sum(d.staffing.schools for d in districts)
        gaps = sum(d.staffing.gaps for d in districts)
        ft = sum(d.staffing.full_time for d in districts)
        students = None if any(d.staffing.students is None for d in districts) else sum(
            d.staffing.students or 0 for d in districts)
        rows.append([total_label, str(schools), str(gaps), str(ft), "*" if students is None else str(students),
                     per(students, ft)])
    return rows


__all__ = ["CityTable", "DistrictFigures", "StaffingSummary", "as_of", "build_tables", "cell_text", "city_districts",
           "city_of", "compute_city", "list_terms", "resolve_term", "staffing_rows", "staffing_summary"]
