"""The class grid of paper forms (app/screenings/grid.py): choose a class and an instrument, then type the forms.

The page is a plain form grid that posts (it works without JavaScript); app/static/js/paper-grid.js adds the
keyboard movement (a digit fills the cell and moves on, Enter goes to the next student), the running totals and
the refusal of a digit outside the item's answers. Two buttons: save the grid as a draft, or record it.
"""
from __future__ import annotations

from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from sqlalchemy import select

from app import form_tokens
from app.db import db
from app.security import current_actor, get_visible_or_404, roles
from app.ui import local_today
from app.vault import get_vault
from models import SchoolClass
from screening import UnknownInstrument, get_instrument, list_instruments
from screening.definition import Instrument

from . import grid
from .blueprint import bp, loc
from .blueprint import user as _user
from .campaigns import open_campaigns_for_school
from .recording import ScreeningError, answer_error_text
from .submission import DuplicateScreening


def _classes() -> list[SchoolClass]:
    return list(db.session.scalars(select(SchoolClass).where(SchoolClass.visible_to(_user()))
                                   .order_by(SchoolClass.school_id, SchoolClass.grade, SchoolClass.name)))


@bp.route("/screenings/grid")
@roles("counselor")
def grid_choose() -> ResponseReturnValue:
    """Choose the class and the instrument (a GET form: nothing in it is personal)."""
    classes = _classes()
    instruments = [i for i in list_instruments() if i.audience == "student"]
    class_id, inst_id = request.args.get("class_id", ""), request.args.get("instrument", "")
    if class_id.isdigit() and any(c.id == int(class_id) for c in classes) and any(i.id == inst_id for i in instruments):
        return redirect(url_for("screenings.grid_page", class_id=int(class_id), instrument_id=inst_id))
    return render_template("screenings/grid_choose.html", classes=classes, instruments=instruments, loc=loc)


@bp.route("/screenings/grid/<int:class_id>/<instrument_id>", methods=["GET", "POST"])
@roles("counselor")
def grid_page(class_id: int, instrument_id: str) -> ResponseReturnValue:
    klass = get_visible_or_404(db.session, _user(), SchoolClass, class_id)
    try:
        inst = get_instrument(instrument_id)
    except (UnknownInstrument, KeyError):
        abort(404)
    vault = get_vault()
    rows, drafted = grid.load_grid(db.session, vault, klass, inst)
    campaigns = open_campaigns_for_school(db.session, klass.school_id)
    administered = request.values.get("administered_on") or local_today().isoformat()
    campaign_id = request.values.get("campaign") or ""
    messages: list[str] = []
    if request.method == "POST":
        cell_errors = grid.parse_grid(rows, inst, request.form)
        messages = [_("%(name)s, item %(n)s: %(value)s is not one of the answers (%(allowed)s).", name=e.name,
                      n=e.item, value=e.value, allowed=_allowed(inst, e.item)) for e in cell_errors]
        campaign = None
        if campaign_id:
            campaign = next((c for c in campaigns if str(c.id) == campaign_id), None)
            if campaign is None:
                messages.append(_("Choose one of the open campaigns."))
        try:
            administered_on = date.fromisoformat(administered)
            if administered_on > local_today():
                messages.append(_("The date is in the future."))
        except ValueError:
            messages.append(_("Enter a date as YYYY-MM-DD."))
        if not messages and form_tokens.already_sent(db.session, request.form, "screenings-grid",
                                                     f"user:{_user().id}"):
            # a second copy of a grid already saved (a double click, a resent page): without a campaign nothing
            # else would stop the same forms being recorded twice
            flash(_("This form was already sent; it was not carried out a second time."), "error")
            return redirect(url_for("screenings.grid_choose"))
        if not messages and request.form.get("action") == "draft":
            kept = grid.save_draft(db.session, current_actor(), vault, klass, inst, rows)
            flash(_("Draft saved: %(num)d forms so far.", num=kept), "success")
            return redirect(url_for("screenings.grid_page", class_id=klass.id, instrument_id=inst.id))
        if not messages:
            try:
                saved = grid.save_grid(db.session, current_actor(), vault, klass, inst, rows,
                                       administered_on=administered_on, campaign=campaign)
            except DuplicateScreening as exc:
                entered = [r for r in rows if r.entered]
                messages = [_("%(name)s: this instrument is already recorded for this student in this campaign.",
                              name=entered[i].identity.name or "") for i in exc.rows]
            except ScreeningError as exc:
                messages = [answer_error_text(exc)]
            else:
                if saved:
                    flash(_("Forms recorded: %(num)d.", num=saved), "success")
                else:
                    flash(_("No form was entered: nothing recorded."), "info")
                return redirect(url_for("screenings.grid_choose"))
    # 200 with the errors, like the one-student entry: the refused batch wrote nothing (its savepoint rolled back),
    # and the audit events of what this page opened are kept.
    return render_template(
        "screenings/grid.html", klass=klass, inst=inst, rows=rows, drafted=drafted, messages=messages,
        campaigns=campaigns, campaign_id=campaign_id, administered=administered, loc=loc,
        cell_name=grid.cell_name, running_total=grid.running_total,
    )


def _allowed(inst: Instrument, number: int) -> str:
    values = inst.items[number - 1].values
    return "–".join((str(min(values)), str(max(values))))
