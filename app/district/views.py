"""The district office's pages: dashboard, trends, staffing, and exports. Figures only, never a child.

Every view reaches data through `app.district.service` (aggregate queries) and shows protected figures only.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import click
from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask.cli import AppGroup
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import Session

from app.charts import WIDTH, bar_chart, line_chart
from app.db import db
from app.security import current_actor, recent_login_required, roles
from app.ui import local_today
from models import append_event, clock

from . import glossary, service
from .service import DIMENSIONS, SCHOOL_TYPES, STAGES, Filters, Selection
from .tables import (
    DIMENSION_LABELS,
    STAGE_LABELS,
    TYPE_LABELS,
    build_tables,
    figure_cell,
    footnote,
    table_matrix,
    to_csv,
    to_xlsx,
)

bp = Blueprint("district", __name__)


district_cli = AppGroup("district", help="District statistics: maintained rollups.")


@district_cli.command("refresh-rollups")
@click.option("--running/--closed-only", default=False, help="Also the terms with a campaign still running.")
def refresh_rollups_command(running: bool) -> None:
    """Recompute the rollups of every term whose campaigns are all closed (and, with --running, the others).

    The scheduler does this by itself: job district_rollups every few minutes, district_rollups_nightly nightly.
    """
    from app.cli import operator_actor
    from models import append_event

    with db.transaction() as session:
        for district_id in service.district_ids(session):
            terms = service.refresh_rollups(session, district_id, local_today(), current_app.config["TIMEZONE"],
                                            running=running)
            append_event(session, operator_actor(), "district.rollups_refreshed", target=f"district:{district_id}",
                         detail={"terms": terms, "running": running})
            what = "terms" if running else "closed terms"
            click.echo(f"district {district_id}: rollups refreshed for {len(terms)} {what}: {', '.join(terms) or '-'}")


# -- request parsing ----------------------------------------------------------------------------------------
@dataclass
class Query:
    selection: Selection
    filters: Filters
    dimension: str

    def args(self, **overrides: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.selection.campaign_id is not None:
            out["campaign"] = self.selection.campaign_id
        elif self.selection.term:
            out["term"] = self.selection.term
        if self.filters.type:
            out["type"] = self.filters.type
        if self.filters.stage:
            out["stage"] = self.filters.stage
        out["group"] = self.dimension
        out.update(overrides)
        return {k: v for k, v in out.items() if v not in (None, "")}


def _district_id() -> int | None:
    return current_user.district_id


def parse_query() -> Query:
    campaign = request.args.get("campaign", "")
    selection = Selection(
        term=request.args.get("term") or None,
        campaign_id=int(campaign) if campaign.isdigit() else None,
    )
    selection = service.resolve_selection(_stats(), _district_id(), selection)
    school_type = request.args.get("type") or None
    stage = request.args.get("stage") or None
    dimension = request.args.get("group") or "type"
    return Query(
        selection,
        Filters(school_type if school_type in SCHOOL_TYPES else None, stage if stage in STAGES else None),
        dimension if dimension in DIMENSIONS else "type",
    )


def _stats() -> Session:
    """The session the district pages read figures from: the statistics replica when it is healthy, else the
    primary (app/db.py: db.statistics). Audit events and anything else that writes use db.session (the primary)."""
    return db.statistics().session


def source_text() -> str:
    """Where the figures were read, when a statistics replica is configured: its lag, or why the primary was used."""
    read = db.statistics()
    if read.source == "replica":
        return _("read from the statistics replica, %(seconds)s s behind the primary",
                 seconds=f"{read.lag_seconds or 0:.0f}")
    if read.source == "fallback":
        if read.reason == "lagging":
            why = _("the statistics replica is %(seconds)s s behind", seconds=f"{read.lag_seconds or 0:.0f}") \
                if read.lag_seconds is not None else _("the statistics replica's lag is unknown")
        elif read.reason == "not_standby":
            why = _("the statistics replica is not a standby")
        else:
            why = _("the statistics replica is unreachable")
        return _("read from the primary database: %(why)s", why=why)
    return ""


def _k() -> int:
    return int(current_app.config.get("SUPPRESSION_K", 5))


def _rollup_max_age() -> timedelta:
    minutes = current_app.config.get("DISTRICT_ROLLUP_MAX_AGE_MINUTES")
    return timedelta(minutes=int(minutes)) if minutes is not None else service.ROLLUP_MAX_AGE


def _open_max_age() -> timedelta:
    minutes = current_app.config.get("DISTRICT_OPEN_ROLLUP_MAX_AGE_MINUTES")
    return timedelta(minutes=int(minutes)) if minutes is not None else service.OPEN_ROLLUP_MAX_AGE


def _compute(query: Query):
    return service.compute_figures(
        _stats(), _district_id(), query.selection, _k(), local_today(), current_app.config["TIMEZONE"],
        rollup_max_age=_rollup_max_age(), open_max_age=_open_max_age(), cache=service.figures_cache(),
    )


def _latest_figures():
    """The dashboard's protected figures of its default selection (the latest term), or None before any campaign:
    the staffing page hides each school's roll exactly as the dashboard does."""
    selection = service.resolve_selection(_stats(), _district_id(), Selection())
    if selection.term is None:
        return None
    return _compute(Query(selection, Filters(), "type"))[1]


def as_of_text(value: datetime | None) -> str:
    """"Figures as of HH:MM" in the school time zone (with the date when not today), so the officer knows their age."""
    if value is None:
        return ""
    local = value.astimezone(ZoneInfo(current_app.config["TIMEZONE"]))
    shown = local.strftime("%H:%M") if local.date() == local_today() else local.strftime("%Y-%m-%d %H:%M")
    text = _("Figures as of %(time)s", time=shown)
    source = source_text()
    return _("%(figures)s (%(source)s)", figures=text, source=source) if source else text


def _selection_label(query: Query, campaigns: list[tuple[int, str, str]]) -> str:
    if query.selection.campaign_id is not None:
        for cid, name, term in campaigns:
            if cid == query.selection.campaign_id:
                return f"{name}（{term}）"
    return query.selection.term or "—"


# -- pages --------------------------------------------------------------------------------------------------
@bp.route("")
@roles("district")
def dashboard():
    query = parse_query()
    ctx, figures = _compute(query)
    tables = build_tables(ctx, figures, query.filters, query.dimension)
    campaigns = service.list_campaigns(_stats(), _district_id())
    summary = dashboard_summary(figures, query.filters)
    charts = _dashboard_charts(tables, query)
    return render_template(
        "district/dashboard.html",
        query=query,
        as_of=as_of_text(ctx.as_of),
        open_minutes=int(_open_max_age().total_seconds() // 60),
        tables=tables,
        summary=summary,
        charts=charts,
        terms=service.list_terms(_stats(), _district_id()),
        campaigns=campaigns,
        selection_label=_selection_label(query, campaigns),
        report_term=report_term(query, campaigns),
        type_labels=TYPE_LABELS,
        stage_labels=STAGE_LABELS,
        dimension_labels=DIMENSION_LABELS,
        has_data=bool(ctx.campaign_ids),
        footnote=footnote(_k()),
        k=_k(),
        notes=page_notes(SUMMARY_FIGURES, *[c.figure for t in tables for c in t.columns]),
    )


# The dashboard's cards: 在籍 and 应测 side by side (coverage is over 应测), students at level 1 (人) beside the
# crisis warnings (次) whose same-day contact rate follows.
SUMMARY_FIGURES = ("on_roll", "eligible", "screened", "coverage", "positive_rate", "warn_L1", "crisis",
                   "crisis_same_day_rate")
TREND_FIGURES = ("on_roll", "eligible", "screened", "coverage", "positive_rate", "warn_L1", "warn_L2", "warn_L3",
                 "crisis", "crisis_same_day_rate")
STAFFING_FIGURES = ("on_roll", "counselors_full_time", "counselors_part_time", "students_per_counselor")


def page_notes(*keys: str | None) -> list[glossary.Figure]:
    """The glossary entries of the figures a page shows, once each, in glossary order (the footnote 指标说明)."""
    wanted = {k for k in keys if k}
    return [f for f in glossary.FIGURES if f.key in wanted]


def dashboard_summary(figures, filters: Filters) -> list[tuple[glossary.Figure, str]]:
    """The dashboard's headline figures (glossary entry, shown text) over the filters' scope (the supervision
    report's too)."""
    total_key = (figures.scopes.of(filters), None, None)
    return [(glossary.get(key), figure_cell(figures, key, total_key).text) for key in SUMMARY_FIGURES]


def report_term(query: Query, campaigns: list[tuple[int, str, str]]) -> str | None:
    """The term of the supervision report linked from the dashboard: the selected term, or the campaign's term."""
    if query.selection.campaign_id is not None:
        return next((term for cid, _name, term in campaigns if cid == query.selection.campaign_id), None)
    return query.selection.term


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def _chart_value(cell) -> float | str | None:
    """A shown count as a number; a hidden one as its mark ("<5" or "*"), so the chart says what the table says."""
    return cell.text if cell.value is None else cell.value


@dataclass
class Chart:
    """A chart as a page shows it: the figure (SVG + its table equivalent) and whether it takes a whole row."""
    html: Any
    wide: bool = False

    def __html__(self) -> str:
        """`{{ chart }}` renders the figure, as when the list held bare Markup (a report template may do so)."""
        return str(self.html)


WIDE_CATEGORIES = 8  # more groups than this: the chart takes the whole row (drawn twice as wide, same text size)


def chart_table_label() -> str:
    return _("The figures of this chart as a table")


def _dashboard_charts(tables, query: Query) -> list[Chart]:
    by_id = {t.id: t for t in tables}
    rows = [r for r in by_id["coverage"].rows if not r.total]
    if not rows or len(rows) > 24:
        return []
    labels = [r.label for r in rows]
    dim = str(DIMENSION_LABELS[query.dimension])
    at = {col.figure: i for i, col in enumerate(by_id["coverage"].columns)}  # cells by glossary key, not position
    wide = len(labels) > WIDE_CATEGORIES
    width = 2 * WIDTH if wide else WIDTH
    charts = [
        bar_chart(labels, [(_("Coverage"), [r.cells[at["coverage"]].value for r in rows]),
                           (_("Positive rate"), [r.cells[at["positive_rate"]].value for r in rows])],
                  title=_("Screening coverage and positive rate"), x_label=dim, y_label=_("Per cent"),
                  percent=True, missing_label="—", width=width, table_label=chart_table_label()),
    ]
    warn = by_id["warnings"]
    warn_rows = [r for r in warn.rows if not r.total]
    charts.append(
        bar_chart(labels, [(str(col.label), [_chart_value(r.cells[i]) for r in warn_rows])
                           for i, col in enumerate(warn.columns[:3])],
                  title=_("Students by highest confirmed level"), x_label=dim, y_label=_("Students"),
                  units=_("persons"), width=width, table_label=chart_table_label())
    )
    return [Chart(c, wide) for c in charts]


@bp.route("/trends")
@roles("district")
def trends():
    points = trend_points()
    terms = [p.term for p in points]
    charts = trend_charts(points)
    rows = trend_rows(points)
    stamps = [p.as_of for p in points if p.as_of is not None]
    return render_template("district/trends.html", charts=charts, terms=terms, rows=rows, footnote=footnote(_k()),
                           as_of=as_of_text(min(stamps) if stamps else None),
                           columns=[glossary.get(key) for key in TREND_FIGURES], notes=page_notes(*TREND_FIGURES))


def trend_points():
    """The district's figures term by term (the trends page, its export and the supervision report)."""
    return service.trends(_stats(), _district_id(), _k(), local_today(), current_app.config["TIMEZONE"],
                          rollup_max_age=_rollup_max_age(), open_max_age=_open_max_age(),
                          cache=service.figures_cache())


def trend_charts(points) -> list[Any]:
    """The trends page's charts over `points` (the supervision report draws the same)."""

    def series_for(num: str, den: str | None) -> list[tuple[str, list[tuple[str, float | None]]]]:
        out = []
        lines: list[tuple[str, Any]] = [(_("District"), lambda s: s.all)]
        for t in SCHOOL_TYPES:
            lines.append((str(TYPE_LABELS[t]), lambda s, t=t: s.by_type.get(t)))
        for label, pick in lines:
            pts: list[tuple[str, float | None]] = []
            for p in points:
                scope = pick(p.scopes)
                if not scope:
                    pts.append((p.term, None))
                    continue
                key = (scope, None, None)
                pts.append((p.term, p.figures.rate(num, den, key) if den else p.figures.value(num, key)))
            if any(y is not None for _, y in pts):
                out.append((label, pts))
        return out

    term_label = _("Term")
    common: dict[str, Any] = {"empty_text": _("No figures yet"), "table_label": chart_table_label()}
    drawn = [
        line_chart(series_for("screened", "eligible"), title=_("Screening coverage"), x_label=term_label,
                   y_label=_("Per cent"), percent=True, **common),
        line_chart(series_for("positive", "screened"), title=_("Positive rate"), x_label=term_label,
                   y_label=_("Per cent"), percent=True, **common),
        line_chart(series_for("positive_care", "screened_care"), title=_("Positive rate of care-group students"),
                   x_label=term_label, y_label=_("Per cent"), percent=True, **common),
        line_chart(series_for("crisis_same_day", "crisis"), title=_("Crises contacted the same day"),
                   x_label=term_label, y_label=_("Per cent"), percent=True, **common),
        line_chart(series_for("interview_on_time", "interview_due"), title=_("Interviews within the policy window"),
                   x_label=term_label, y_label=_("Per cent"), percent=True, **common),
        line_chart(
            [(str(label), [(p.term, p.figures.value(f"warn_{lv}", (p.scopes.all, None, None))) for p in points])
             for lv, label in (("L1", _("Level 1")), ("L2", _("Level 2")), ("L3", _("Level 3")))],
            title=_("Students by highest confirmed level"), x_label=term_label, y_label=_("Students"),
            units=_("persons"), **common,
        ),
    ]
    return [Chart(c) for c in drawn]


def trend_rows(points) -> list[list[str]]:
    """One row per term: the term, then TREND_FIGURES of the whole district."""
    return [[p.term, *[figure_cell(p.figures, key, (p.scopes.all, None, None)).text for key in TREND_FIGURES]]
            for p in points]


def trend_header() -> list[str]:
    return [_("Term"), *[glossary.get(key).header() for key in TREND_FIGURES]]


@bp.route("/staffing")
@roles("district")
def staffing():
    rows, total_ft = service.staffing(_stats(), _district_id(), _k(), _latest_figures())
    gaps = [r for r in rows if r.gap]
    return render_template("district/staffing.html", rows=rows, gaps=gaps, total_ft=total_ft, source=source_text(),
                           type_labels=TYPE_LABELS, stage_labels=STAGE_LABELS, footnote=footnote(_k()),
                           figures={key: glossary.get(key) for key in STAFFING_FIGURES},
                           notes=page_notes(*STAFFING_FIGURES))


# -- exports ------------------------------------------------------------------------------------------------
EXPORT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def staffing_matrix() -> tuple[list[list[str]], str]:
    rows, _total = service.staffing(_stats(), _district_id(), _k(), _latest_figures())
    header = [_("School code"), _("School"), _("School type"), _("Stage"),
              *[glossary.get(key).header() for key in STAFFING_FIGURES], _("Staffing gap")]
    body = [
        [r.school.code, r.school.name, str(TYPE_LABELS.get(r.school.type, r.school.type)),
         str(STAGE_LABELS.get(r.school.stage, r.school.stage)), r.students_text, str(r.full_time), str(r.part_time),
         r.per_counselor, _("Yes") if r.gap else ""]
        for r in rows
    ]
    return [header] + body, _("Counselor staffing")


@bp.route("/export/<table_id>.<fmt>")
@roles("district")
@recent_login_required
def export(table_id: str, fmt: str):
    """A table as CSV (the header in row 1, nothing above it) or XLSX (sheet 2 "说明": what it is about).

    What the table is about goes into the file name (table, selection, filters, generated-at time; RFC 5987 for
    the Chinese name) and, in full, into the XLSX's second sheet (docs/decisions.md "Exports for spreadsheets")."""
    if fmt not in EXPORT_TYPES:
        abort(404)
    query = parse_query()
    generated = clock.local_now(current_app.config["TIMEZONE"])
    about_selection: list[tuple[str, str]] = []
    name_parts: list[str] = []
    if table_id == "staffing":
        matrix, title = staffing_matrix()
        keys: list[str | None] = list(STAFFING_FIGURES)
        about_selection.append((_("Students counted"), _("The current roll of every school of the district.")))
    elif table_id == "trends":
        points = trend_points()
        matrix, title = [trend_header()] + trend_rows(points), _("District figures by term")
        keys = list(TREND_FIGURES)
        about_selection.append((_("Terms"), "、".join(p.term for p in points) or "—"))
    else:
        ctx, figures = _compute(query)
        tables = {t.id: t for t in build_tables(ctx, figures, query.filters, query.dimension)}
        table = tables.get(table_id)
        if table is None:
            abort(404)
        matrix, title = table_matrix(table), str(table.title)
        keys = [c.figure for c in table.columns]
        campaigns = service.list_campaigns(_stats(), _district_id())
        selection = _selection_label(query, campaigns)
        about_selection.append((_("Selection"), selection))
        name_parts.append(selection)
        for label, value in ((_("School type"), TYPE_LABELS.get(query.filters.type or "")),
                             (_("Stage"), STAGE_LABELS.get(query.filters.stage or ""))):
            about_selection.append((label, str(value) if value else _("All")))
            if value:
                name_parts.append(str(value))
        about_selection.append((_("Group by"), str(DIMENSION_LABELS[query.dimension])))
    about = [(_("Table"), title), *about_selection,
             (_("Small counts"), footnote(_k())),
             (_("Generated at"), generated.strftime("%Y-%m-%d %H:%M %Z").strip()),
             *[(f.header(), f.explain()) for f in page_notes(*keys)]]
    append_event(
        db.session, current_actor(), "district.export", target=f"district:{table_id}",
        detail={"format": fmt, "rows": len(matrix) - 1, **{k: str(v) for k, v in query.args().items()}},
    )
    body = to_csv(matrix) if fmt == "csv" else to_xlsx(matrix, title, about, _("About this table"))
    stamp = generated.strftime("%Y%m%d-%H%M")
    ascii_parts = [table_id] + ([query.args().get("term") or f"campaign{query.selection.campaign_id}"]
                               if name_parts else [])
    ascii_parts += [v for v in (query.filters.type, query.filters.stage) if v]
    return Response(
        body,
        mimetype=EXPORT_TYPES[fmt],
        headers={"Content-Disposition": content_disposition([title, *name_parts, stamp],
                                                            ["district", *ascii_parts, stamp], fmt),
                 "Cache-Control": "no-store"},
    )


def content_disposition(parts: list[str], ascii_parts: list[str], ext: str) -> str:
    """`attachment` with an ASCII `filename` and the Chinese one as RFC 5987 `filename*` (every browser since
    2012 prefers it); characters a file system refuses are dropped."""
    def clean(text: str) -> str:
        return "".join("_" if ch in '\\/:*?"<>|' or ord(ch) < 32 else ch for ch in text).strip()

    name = "_".join(clean(p) for p in parts if p) + f".{ext}"
    fallback = "_".join(re.sub(r"[^A-Za-z0-9._-]+", "-", p).strip("-") for p in ascii_parts if p) + f".{ext}"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"


def export_url(table_id: str, fmt: str, query: Query) -> str:
    return url_for("district.export", table_id=table_id, fmt=fmt, **query.args())
