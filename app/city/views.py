"""The city education commission's pages (市教委): its districts compared, figures only, never a child or a school.

Every figure comes from `app.city.service`, which reuses the district statistics with each district as the scope.
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import pgettext
from flask_login import current_user

from app.charts import bar_chart
from app.db import db
from app.district import service as district_service
from app.district.service import SCHOOL_TYPES, STAGES, Filters
from app.district.tables import STAGE_LABELS, TYPE_LABELS, footnote, to_csv, to_xlsx
from app.district.views import (
    _k,
    _open_max_age,
    _rollup_max_age,
    _stats,
    as_of_text,
    chart_table_label,
    content_disposition,
)
from app.security import current_actor, recent_login_required, roles
from app.ui import local_today
from models import append_event, clock

from . import service

bp = Blueprint("city", __name__)

EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def _city_id() -> int | None:
    return current_user.city_id


def _query() -> tuple[str | None, Filters]:
    term = service.resolve_term(_stats(), _city_id(), request.args.get("term") or None)
    school_type = request.args.get("type") or None
    stage = request.args.get("stage") or None
    return term, Filters(school_type if school_type in SCHOOL_TYPES else None, stage if stage in STAGES else None)


def _args(term: str | None, filters: Filters) -> dict[str, Any]:
    out = {"term": term, "type": filters.type, "stage": filters.stage}
    return {k: v for k, v in out.items() if v}


def _compute(term: str | None) -> list[service.DistrictFigures]:
    return service.compute_city(
        _stats(), _city_id(), term, _k(), local_today(), current_app.config["TIMEZONE"],
        rollup_max_age=_rollup_max_age(), open_max_age=_open_max_age(), cache=district_service.figures_cache(),
    )


def district_label() -> str:
    return pgettext("city", "District")


def staffing_header() -> list[str]:
    return [district_label(), _("Rural small-scale and township boarding schools"),
            _("Of which without a full-time counselor"), _("Full-time counselor posts"), _("Students enrolled"),
            _("Students per full-time counselor")]


def _coverage_chart(tables: list[service.CityTable]) -> Any:
    coverage = next((t for t in tables if t.id == "coverage"), None)
    rows = [r for r in coverage.rows if not r.total] if coverage else []
    if not rows or len(rows) > 32:
        return None
    assert coverage is not None  # rows came from it
    at = {col.figure: i for i, col in enumerate(coverage.columns)}  # cells by glossary key, as the district's chart
    return bar_chart([r.label for r in rows],
                     [(_("Coverage"), [r.cells[at["coverage"]].value for r in rows]),
                      (_("Positive rate"), [r.cells[at["positive_rate"]].value for r in rows])],
                     title=_("Screening coverage and positive rate by district"), x_label=district_label(),
                     y_label=_("Per cent"), percent=True, missing_label="—", table_label=chart_table_label())


@bp.route("")
@roles("city")
def dashboard():
    term, filters = _query()
    districts = _compute(term)
    tables = service.build_tables(districts, filters, _("City total"))
    city = service.city_of(_stats(), _city_id())
    return render_template(
        "city/dashboard.html",
        city=city,
        term=term,
        terms=service.list_terms(_stats(), _city_id()),
        filters=filters,
        args=_args(term, filters),
        tables=tables,
        chart=_coverage_chart(tables),
        staffing_header=staffing_header(),
        staffing_rows=service.staffing_rows(districts, _("City total"), _k()),
        n_districts=len(districts),
        district_label=district_label(),
        has_data=any(d.ctx.campaign_ids for d in districts),
        as_of=as_of_text(service.as_of(districts)),
        type_labels=TYPE_LABELS,
        stage_labels=STAGE_LABELS,
        footnote=footnote(_k()),
    )


@bp.route("/export/<table_id>.<fmt>")
@roles("city")
@recent_login_required
def export(table_id: str, fmt: str):
    if fmt not in EXPORT_TYPES:
        abort(404)
    term, filters = _query()
    districts = _compute(term)
    if table_id == "staffing":
        matrix = [staffing_header()] + service.staffing_rows(districts, _("City total"), _k())
        title = _("Counselor staffing of rural small-scale and township boarding schools")
    else:
        table = next((t for t in service.build_tables(districts, filters, _("City total")) if t.id == table_id), None)
        if table is None:
            abort(404)
        matrix = [[district_label()] + [str(c.label) for c in table.columns]]
        matrix += [[row.label] + [cell.text for cell in row.cells] for row in table.rows]
        title = str(table.title)
    # As the district's exports (app/district/views.py export): the header in row 1, what the table is about in
    # the file name and the XLSX's second sheet.
    generated = clock.local_now(current_app.config["TIMEZONE"])
    about = [(_("Table"), title), (_("Term"), term or "—")]
    name_parts = [term or ""]
    if filters.type:
        about.append((_("School type"), str(TYPE_LABELS[filters.type])))
        name_parts.append(str(TYPE_LABELS[filters.type]))
    if filters.stage:
        about.append((_("Stage"), str(STAGE_LABELS[filters.stage])))
        name_parts.append(str(STAGE_LABELS[filters.stage]))
    about += [(_("Small counts"), footnote(_k())),
              (_("Generated at"), generated.strftime("%Y-%m-%d %H:%M %Z").strip())]
    detail = {"format": fmt, "rows": len(matrix) - 1, **{k: str(v) for k, v in _args(term, filters).items()}}
    append_event(db.session, current_actor(), "city.export", target=f"city:{table_id}", detail=detail)
    body = to_csv(matrix) if fmt == "csv" else to_xlsx(matrix, title, about, _("About this table"))
    stamp = generated.strftime("%Y%m%d-%H%M")
    ascii_parts = ["city", table_id, term or "", filters.type or "", filters.stage or "", stamp]
    return Response(
        body, mimetype=EXPORT_TYPES[fmt],
        headers={"Content-Disposition": content_disposition([title, *name_parts, stamp], ascii_parts, fmt),
                 "Cache-Control": "no-store"},
    )
