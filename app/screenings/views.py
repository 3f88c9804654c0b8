"""Paper entry, results, the import, the interview queue and crisis acknowledgement (counselors), the screenings part
of the student file. The campaign and class-session pages are in campaign_views.py; both are on `bp`."""
from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from app import form_tokens, search_tokens
from app.care.service import CareError
from app.care.warning_lifecycle import acknowledge_crisis, interview_queue, warning_for
from app.db import db
from app.listing import Listing, ListSpec, scope_options
from app.roster.search import name_sort_key
from app.security import current_actor, get_visible_or_404, roles, safe_next
from app.ui import local_today
from app.vault import get_vault
from models import Campaign, Screening, Student, Warning
from screening import RANK, get_instrument, list_instruments

from . import campaign_views as _campaign_views  # noqa: F401 - its routes join the same blueprint when imported
from . import grid_views as _grid_views  # noqa: F401 - the class grid of paper forms, same blueprint
from . import importer
from .blueprint import bp, instrument_name, loc
from .blueprint import user as _user
from .campaigns import open_campaigns_for_school
from .finding import find_students
from .forms import ImportForm
from .recording import ScreeningError, answer_error_text, grade_refusal_text, result_of, screenings_of
from .submission import DuplicateScreening, Submission, submit_screening


# -- counselor entry from paper ----------------------------------------------------------------------------------
@bp.route("/screenings/enter", methods=["GET", "POST"])
@roles("counselor")
def enter() -> ResponseReturnValue:
    """Find the student: a POST of the name, answered by a redirect to `?r=<opaque token>` (app/search_tokens.py)."""
    if request.method == "POST":
        args: dict[str, Any] = search_tokens.result_args(request.form, ())
        return redirect(url_for("screenings.enter", **args))
    q = ""
    if request.args.get("r"):
        q = (search_tokens.recall(request.args["r"]) or "").strip()
        if not q:
            flash(_("This search has expired; search again."), "info")
    found: list[Student] = []
    names: dict[int, Any] = {}
    if q:
        found = find_students(db.session, get_vault(), q, _user().school_ids)
        if found:
            names = get_vault().reveal_many(found, "roster.search", detail={"purpose": "paper_entry"})
    return render_template("screenings/enter_search.html", q=q, found=found, names=names)


def _entry_student(public_id: str) -> Student:
    return get_visible_or_404(db.session, _user(), Student, public_id)


@bp.route("/screenings/enter/<public_id>", methods=["GET", "POST"])
@roles("counselor")
def enter_form(public_id: str):
    student = _entry_student(public_id)
    instruments = list(list_instruments())
    inst_id = request.values.get("instrument") or ""
    inst = next((i for i in instruments if i.id == inst_id), None)
    campaigns = open_campaigns_for_school(db.session, student.school_id)
    errors: dict[str, str] = {}
    answers: dict[int, str] = {}
    administered = request.values.get("administered_on") or local_today().isoformat()
    if request.method == "POST" and inst is not None:
        for item in inst.items:
            answers[item.number] = request.form.get(f"q{item.number}", "")
        from datetime import date

        try:
            administered_on = date.fromisoformat(administered)
            if administered_on > local_today():
                errors["administered_on"] = _("The date is in the future.")
        except ValueError:
            errors["administered_on"] = _("Enter a date as YYYY-MM-DD.")
        campaign = None
        cid = request.form.get("campaign") or ""
        if cid:
            campaign = next((c for c in campaigns if str(c.id) == cid), None)
            if campaign is None:
                errors["campaign"] = _("Choose one of the open campaigns.")
        values: list[Any] = []
        for item in inst.items:
            raw = answers[item.number]
            if raw == "":
                values.append(None)
                continue
            try:
                values.append(int(raw))
            except ValueError:
                errors[f"q{item.number}"] = _("Choose one of the answers.")
                values.append(None)
        refusal = grade_refusal_text(inst.id, student.grade)
        if refusal is not None:
            errors["form"] = refusal
        if not errors and form_tokens.already_sent(db.session, request.form, "screenings-enter",
                                                   f"user:{_user().id}"):
            # the same paper form sent twice: without a campaign nothing else would stop a second copy
            flash(_("This form was already sent; it was not carried out a second time."), "error")
            return redirect(url_for("screenings.enter"))
        if not errors:
            try:
                screening = submit_screening(db.session, current_actor(), get_vault(),
                                             Submission(student, inst.id, values, administered_on, campaign=campaign),
                                             mode="paper")
            except DuplicateScreening:
                errors["campaign"] = _("This instrument is already recorded for this student in this campaign.")
            except ScreeningError as exc:
                errors[f"q{exc.item}" if exc.item else "form"] = answer_error_text(exc)
            else:
                return redirect(url_for("screenings.result", uid=screening.uid))
        flash(_("Please correct the marked answers."), "error")
    reader = get_vault().reveal(student, "student.view", detail={"purpose": "paper_entry"})
    return render_template(
        "screenings/enter_form.html",
        student=student,
        name=reader.name,
        number=reader.student_number,
        instruments=instruments,
        inst=inst,
        answers=answers,
        errors=errors,
        administered=administered,
        campaigns=campaigns,
        loc=loc,
    )


@bp.route("/screenings/<uid>")
@roles("counselor")
def result(uid: str):
    screening = get_visible_or_404(db.session, _user(), Screening, uid)
    student = screening.student
    reader = get_vault().reveal(student, "screening.view", target=f"screening:{screening.uid}")
    warning = warning_for(db.session, screening)
    inst = get_instrument(screening.instrument_id)
    detail = result_of(screening)
    answers = reader.get_json(screening, "answers") or []
    return render_template(
        "screenings/result.html",
        screening=screening,
        student=student,
        name=reader.name,
        inst=inst,
        detail=detail,
        answers=answers,
        warning=warning,
        reasons=json.loads(warning.reasons) if warning else [],
        loc=loc,
        mode_label=MODE_LABELS,
    )


MODE_LABELS = {"self": _l("Self-completed in class"), "paper": _l("Entered from paper"), "import": _l("Imported")}


# -- import -------------------------------------------------------------------------------------------------------
def _import_form() -> ImportForm:
    form = ImportForm()
    open_campaigns = list(
        db.session.scalars(
            select(Campaign)
            .where(Campaign.visible_to(_user()), Campaign.status == "open")
            .order_by(Campaign.starts_on.desc())
        )
    )
    form.campaign.choices = [("", _("— none —"))] + [(str(c.id), f"{c.name}（{c.term}）") for c in open_campaigns]
    return form


def _school_filter():
    return Student.school_id.in_(_user().school_ids or [-1])


@bp.route("/screenings/import", methods=["GET", "POST"])
@roles("counselor")
def import_upload():
    form = _import_form()
    if form.validate_on_submit():
        data = form.file.data.read(importer.MAX_BYTES + 1)
        filename = form.file.data.filename or ""
        return _preview(data, filename, form.campaign.data or "", bool(form.partial.data))
    return render_template("screenings/import.html", form=form, max_mb=importer.MAX_BYTES // (1024 * 1024),
                           instruments=list_instruments())


def _campaign_choice(value: str) -> Campaign | None:
    if not value:
        return None
    try:
        cid = int(value)
    except ValueError:
        abort(400)
    c = get_visible_or_404(db.session, _user(), Campaign, cid)
    if c.status != "open":
        abort(400)
    return c


def _preview(data: bytes, filename: str, campaign_value: str, partial: bool):
    campaign = _campaign_choice(campaign_value)
    try:
        report = importer.run_import(db.session, current_actor(), get_vault(), data, filename=filename,
                                     school_filter=_school_filter(), campaign=campaign, dry_run=True)
    except importer.ImportFileError as exc:
        flash(str(exc), "error")
        return render_template(
            "screenings/import.html",
            form=_import_form(),
            max_mb=importer.MAX_BYTES // (1024 * 1024),
            instruments=list_instruments(),
        ), 400
    return render_template("screenings/import_preview.html", report=report, filename=filename, campaign=campaign,
                           partial=partial, payload=base64.b64encode(data).decode("ascii"),
                           instrument_name=instrument_name)


@bp.route("/screenings/import/template.csv")
@roles("counselor")
def import_template():
    """An empty CSV (UTF-8 with BOM, so Excel opens it in Chinese) with the columns of one instrument."""
    from flask import Response

    inst_id = request.args.get("instrument", "phqa")
    try:
        columns = importer.sample_rows(inst_id)
    except KeyError:
        abort(404)
    body = "\ufeff" + ",".join(columns) + "\r\n"
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": f"attachment; filename=screenings-{inst_id}.csv"})


@bp.route("/screenings/import/confirm", methods=["POST"])
@roles("counselor")
def import_confirm():
    if form_tokens.already_sent(db.session, request.form, "screenings-import", f"user:{_user().id}"):
        flash(_("This form was already sent; it was not carried out a second time."), "error")
        return redirect(url_for("screenings.interviews"))
    try:
        data = base64.b64decode(request.form.get("payload", ""), validate=True)
    except (binascii.Error, ValueError):
        abort(400)
    filename = request.form.get("filename", "")[:200]
    campaign = _campaign_choice(request.form.get("campaign", ""))
    partial = request.form.get("partial") == "1"
    try:
        report = importer.run_import(db.session, current_actor(), get_vault(), data, filename=filename,
                                     school_filter=_school_filter(), campaign=campaign, partial=partial)
    except importer.ImportFileError as exc:
        flash(str(exc), "error")
        return redirect(url_for("screenings.import_upload"))
    if report.errors and not partial:
        flash(_("Nothing was imported: %(n)s row(s) have errors.", n=len(report.bad_rows)), "error")
        return render_template(
            "screenings/import_preview.html",
            report=report,
            filename=filename,
            campaign=campaign,
            partial=partial,
            payload=request.form.get("payload", ""),
            instrument_name=instrument_name,
        ), 400
    flash(_("%(n)s screening(s) imported.", n=report.written), "success")
    return redirect(url_for("screenings.interviews"))


# -- the interview queue and crisis acknowledgement ----------------------------------------------------------------
INTERVIEW_LIST = ListSpec(sorts=("level", "name", "school", "class", "since", "due"), default="level")


@bp.route("/interviews")
@roles("counselor")
def interviews():
    listing = Listing.parse(INTERVIEW_LIST, scope_options(db.session, _user()))
    queue = [w for w in interview_queue(db.session, _user())
             if listing.keep(w.school_id, w.student.grade, w.student.class_id)]
    vault = get_vault()
    names: dict[int, Any] = {}
    if listing.sort_key == "name" and queue:  # names are sealed: open the scope's to sort them (one event)
        names = vault.reveal_many([w.student for w in queue], "roster.list",
                                  detail={"purpose": "interviews", "sort": listing.sort_arg})
    page = listing.page_of(listing.sort(queue, {
        "level": lambda w: (RANK[w.suggested_level], w.created_at, w.id),
        "name": lambda w: name_sort_key(names[w.student.id].name),
        "school": lambda w: w.student.school.code,
        "class": lambda w: (w.student.grade, w.student.school_class.name) if w.student.school_class else None,
        "since": lambda w: w.created_at,
        "due": lambda w: w.interview_due_on,
    }))
    if listing.sort_key != "name" and page.rows:
        names = vault.reveal_many([w.student for w in page.rows], "roster.list",
                                  detail={"purpose": "interviews", "page": page.page})
    today = local_today()
    return render_template("screenings/interviews.html", rows=page.rows, page=page, listing=listing, names=names,
                           today=today, loc=loc, reasons={w.id: json.loads(w.reasons or "[]") for w in page.rows})


@bp.route("/interviews/<uid>/acknowledge", methods=["POST"])
@roles("counselor")
def acknowledge(uid: str):
    warning = get_visible_or_404(db.session, _user(), Warning, uid)
    try:
        acknowledge_crisis(db.session, current_actor(), warning, _user())
    except CareError:
        abort(400)
    flash(_("Crisis alert acknowledged. Contact the student today."), "success")
    return redirect(safe_next(request.form.get("next"), url_for("screenings.interviews")))


# -- the student file section ------------------------------------------------------------------------------------
def file_section(student: Student, reader: Any, user: Any) -> Markup | None:
    if getattr(user, "role", None) != "counselor":
        return None
    from app.charts import line_chart

    rows = screenings_of(db.session, student)
    groups: dict[str, list[Screening]] = {}
    for s in rows:
        groups.setdefault(s.instrument_id, []).append(s)
    blocks = []
    for inst_id, items in groups.items():
        try:
            inst = get_instrument(inst_id)
        except KeyError:
            continue
        chart = None
        points = [(s.administered_on, s.total) for s in items if s.total is not None]
        if inst.total is not None and points:
            cutoffs = []
            for cond in inst.total.positive:
                if cond.stat == "score":
                    cutoffs.append(
                        (
                            cond.threshold(inst.setting_defaults),
                            _("positive ≥%(n)s", n=int(cond.threshold(inst.setting_defaults))),
                        )
                    )
            for band in inst.total.bands:
                if band.severe:
                    cutoffs.append((band.min, _("severe ≥%(n)s", n=band.min)))
            chart = line_chart(
                {inst.short_name: points},
                cutoffs,
                title=_("%(name)s totals over time", name=inst.short_name),
                x_label=_("Date"),
                y_label=_("Total"),
                units=_("points"),
                y_min=inst.total.lo,
                y_max=inst.total.hi,
                width=600,
                height=250,
            )
        blocks.append({"inst": inst, "screenings": list(reversed(items)), "chart": chart})
    return Markup(render_template("screenings/_file_section.html", blocks=blocks, loc=loc, mode_label=MODE_LABELS,
                                  student=student))
