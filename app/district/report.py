"""The district supervision report (区心理健康筛查督导报告): one term's figures as a PDF, for the district role.

Everything in it is what the district pages show, built by the pages' own code: the dashboard's headline figures
(`views.dashboard_summary`), its tables by school type and by stage (`tables.build_tables`, drawn with the
dashboard's `figure_table` macro, export buttons off) and its charts (`views._dashboard_charts`), the follow-up
timeliness tables, the staffing page's rows and gaps of the two types of school (`service.staffing`), and the
trends page's charts and table (`views.trend_charts`, `views.trend_rows`). The figures are the same protected
figures (`service.compute_figures`), so a cell hidden on screen is hidden here with the same mark; no name or
record of a child is ever read (the statements are the pages' statements: tests/integration/test_district_privacy.py).

`GET /district/report.pdf?term=...` is an export: the district role, a recent login, an audit event
`district.export` (target `district:report`, format `pdf`). No command-line twin: the figures are the officer's
(their district, read from the signed-in user as on every district page); bench/bench_report.py times the route.
"""
from __future__ import annotations

from typing import Any

from flask import request
from flask_babel import gettext as _

from app.db import db
from app.reports import pdf_response, render_pdf
from app.security import current_actor, recent_login_required, roles
from models import Actor, append_event

from . import service
from .service import TWO_TYPES, Filters, Selection
from .tables import DIMENSION_LABELS, STAGE_LABELS, TYPE_LABELS, build_tables, footnote
from .views import (
    Query,
    _compute,
    _dashboard_charts,
    _district_id,
    _k,
    _latest_figures,
    _open_max_age,
    _stats,
    as_of_text,
    bp,
    dashboard_summary,
    trend_charts,
    trend_header,
    trend_points,
    trend_rows,
)

TEMPLATE = "district/report.html"
# The dashboard's tables in the report's sections: figures by type and stage, then timeliness on its own.
FIGURE_TABLES = ("coverage", "positives", "warnings", "care", "care_groups", "cases")
TIMELINESS_TABLES = ("followup", "crisis_response")
DIMENSIONS = ("type", "stage")

__all__ = ["TEMPLATE", "render_report", "report_context", "report_filename", "report_pdf"]


def report_title() -> str:
    return _("District mental-health screening supervision report")


def report_context(term: str | None) -> dict[str, Any]:
    """Everything the report template prints, for `term` (default: the latest term), for the current officer."""
    selection = service.resolve_selection(_stats(), _district_id(), Selection(term=term or None))
    ctx, figures = _compute(Query(selection, Filters(), "type"))
    whole = Filters()
    by_dimension = []
    for dimension in DIMENSIONS:
        query = Query(selection, whole, dimension)
        tables = {t.id: t for t in build_tables(ctx, figures, whole, dimension)}
        by_dimension.append({
            "dimension": dimension,
            "label": DIMENSION_LABELS[dimension],
            "query": query,
            "charts": _dashboard_charts(list(tables.values()), query),
            "tables": [tables[t] for t in FIGURE_TABLES if t in tables],
            "timeliness": [tables[t] for t in TIMELINESS_TABLES if t in tables],
        })
    rows, total_ft = service.staffing(_stats(), _district_id(), _k(), _latest_figures())
    two_type_rows = [r for r in rows if r.school.type in TWO_TYPES]
    points = trend_points()
    return {
        "term": selection.term,
        "district_name": service.district_name(_stats(), _district_id()),
        "has_data": bool(ctx.campaign_ids),
        "as_of": as_of_text(ctx.as_of),
        "summary": dashboard_summary(figures, whole),
        "by_dimension": by_dimension,
        "staffing_rows": rows,
        "staffing_gaps": [r for r in rows if r.gap],
        "two_type_count": len(two_type_rows),
        "two_type_staffed": sum(1 for r in two_type_rows if r.full_time > 0),
        "total_ft": total_ft,
        "trend_charts": trend_charts(points),
        "trend_header": trend_header(),
        "trend_rows": trend_rows(points),
        "type_labels": TYPE_LABELS,
        "stage_labels": STAGE_LABELS,
        "dimension_labels": DIMENSION_LABELS,
        "footnote": footnote(_k()),
        "open_minutes": int(_open_max_age().total_seconds() // 60),
        "k": _k(),
    }


def render_report(term: str | None) -> tuple[bytes, dict[str, Any]]:
    """The PDF bytes of the report and the context it was drawn from."""
    context = report_context(term)
    return render_pdf(TEMPLATE, title=report_title(), **context), context


def report_filename(term: str | None) -> str:
    return f"district-report-{term or 'none'}.pdf"


def _audit(actor: Actor, term: str | None) -> None:
    append_event(db.session, actor, "district.export", target="district:report",
                 detail={"format": "pdf", "term": term or ""})


@bp.route("/report.pdf")
@roles("district")
@recent_login_required
def report_pdf():
    pdf, context = render_report(request.args.get("term"))
    _audit(current_actor(), context["term"])
    return pdf_response(pdf, report_filename(context["term"]))

