"""One school's figures for its own people: the school leader (校领导 / 分管德育) and the school's counselors.

Counts only, never a name: every figure comes from `app.district.service.school_figures` (the district's cubes
with a school filter, protected as the school's own family). Who may open which school:
- a school leader: their one school (`User.schools`); any other school id answers 404;
- a counselor: the schools they work in (the report is "for the school leader and the counselor"); others 404;
- the district role is refused (403): it sees the district's family of cells, whose hidden cells differ from the
  school's, and holding both could undo a suppression; admins and head teachers are refused too (setup only /
  their class's care list).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.db import db
from app.district import service
from app.district.service import SchoolFigures, Selection
from app.district.tables import DIMENSION_LABELS, STAGE_LABELS, TYPE_LABELS, footnote
from app.district.views import _open_max_age, _rollup_max_age, as_of_text
from app.reports import pdf_response, render_pdf
from app.security import current_actor, recent_login_required, roles
from app.ui import local_today
from models import append_event

from . import tables

bp = Blueprint("school", __name__)
SCHOOL_ROLES = ("school_leader", "counselor")


def _k() -> int:
    return int(current_app.config.get("SUPPRESSION_K", 5))


def _my_school_ids() -> list[int]:
    return current_user.school_ids


def _school_or_404(school_id: int) -> service.SchoolInfo:
    """The school if it is one of the user's (and of their district); 404 otherwise: its figures are not theirs."""
    if school_id not in _my_school_ids():
        abort(404)
    school = service.district_school(db.session, current_user.district_id, school_id)
    if school is None:
        abort(404)
    return school


def _selection() -> Selection:
    return service.resolve_selection(db.session, current_user.district_id,
                                     Selection(term=request.args.get("term") or None))


def load_school_page(school_id: int, selection: Selection) -> dict[str, Any]:
    """Everything the school page and the school report show: one computation, so both say the same."""
    district_id, k, tz = current_user.district_id, _k(), current_app.config["TIMEZONE"]
    cache = service.figures_cache()
    sf: SchoolFigures = service.school_figures(
        db.session, district_id, school_id, selection, k, local_today(), tz,
        rollup_max_age=_rollup_max_age(), open_max_age=_open_max_age(), cache=cache)
    points = service.school_trends(db.session, district_id, school_id, k, local_today(), tz,
                                   rollup_max_age=_rollup_max_age(), open_max_age=_open_max_age(), cache=cache)
    built = tables.school_tables(sf) if sf.has_data else []
    return {
        "sf": sf,
        "school": sf.school,
        "term": selection.term,
        "terms": service.list_terms(db.session, district_id),
        "summary": tables.summary(sf) if sf.has_data else [],
        "tables": built,
        "charts": tables.page_charts(built) if sf.has_data else [],
        "trend": tables.trend_table(points),
        "trend_charts": tables.trend_charts(points) if len(points) else [],
        "staffing": service.school_staffing(db.session, district_id, school_id, k),
        "as_of": as_of_text(sf.ctx.as_of) if sf.has_data else "",
        "footnote": footnote(k),
        "type_labels": TYPE_LABELS,
        "stage_labels": STAGE_LABELS,
        "dimension_labels": DIMENSION_LABELS,
    }


@bp.route("")
@roles(*SCHOOL_ROLES)
def home():
    """A school leader's landing page (their school); a counselor with several schools chooses one."""
    ids = _my_school_ids()
    if len(ids) == 1:
        return redirect(url_for("school.overview", school_id=ids[0]))
    schools = [s for s in (service.district_school(db.session, current_user.district_id, i) for i in ids) if s]
    return render_template("school/choose.html", schools=schools)


@bp.route("/<int:school_id>")
@roles(*SCHOOL_ROLES)
def overview(school_id: int):
    _school_or_404(school_id)
    return render_template("school/overview.html", **load_school_page(school_id, _selection()))


@bp.route("/<int:school_id>/report.pdf")
@roles(*SCHOOL_ROLES)
@recent_login_required
def report(school_id: int):
    """The school screening report (学校心理健康筛查报告) of a term: the page's figures and charts, as a PDF."""
    school = _school_or_404(school_id)
    selection = _selection()
    context = load_school_page(school_id, selection)
    pdf = render_pdf("school/report.html", title=_("School mental-health screening report"), **context)
    append_event(db.session, current_actor(), "school.report_exported", target=f"school:{school.code}",
                 detail={"format": "pdf", "term": selection.term or ""})
    return pdf_response(pdf, f"school-report-{school.code}-{selection.term or 'none'}.pdf")
