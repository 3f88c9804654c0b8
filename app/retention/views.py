"""Retention pages: the review list of files due for erasure (hold / confirm), and a student's PIPL export."""
from __future__ import annotations

import json
from datetime import date

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from app.audit.labels import ACTION_LABELS
from app.db import db
from app.security import current_actor, get_visible_or_404, recent_login_required, roles
from app.ui import local_today
from app.vault import get_vault
from models import RetentionReview, Student

from . import service
from .policy import HOLD_REASON_LABELS, add_months, load_retention_policy

bp = Blueprint("retention", __name__)

ERRORS = {
    "reason": _l("Choose the reason for the hold."),
    "until_past": _l("The hold needs an end date after today."),
    "until_far": _l("A hold may last at most %(months)s months; set an earlier end date."),
    "closed": _l("This file is no longer on the review list."),
    "not_due": _l("This file is held: it can be erased when the hold ends."),
    "enrolled": _l("This student is enrolled again: the file is kept."),
    "open_case": _l("This student still has an open case: close it, or hold the file."),
}


def _review_or_404(uid: str) -> RetentionReview:
    return get_visible_or_404(db.session, current_user, RetentionReview, uid)


@bp.route("/retention")
@roles("counselor", "district")
def review():
    policy = load_retention_policy()
    today = local_today()
    return render_template(
        "retention/review.html", rows=service.review_list(db.session, get_vault(), current_user),
        erased=service.recently_erased(db.session, current_user), policy=policy,
        reasons=[(code, HOLD_REASON_LABELS[code]) for code in policy.hold_reasons], reason_labels=HOLD_REASON_LABELS,
        today=today, max_until=add_months(today, policy.max_hold_months),
    )


def _fail(code: str, policy_months: int) -> Response:
    flash(str(ERRORS[code]) % {"months": policy_months} if code == "until_far" else str(ERRORS[code]), "error")
    return redirect(url_for("retention.review"))  # type: ignore[return-value]


@bp.route("/retention/<uid>/hold", methods=["POST"])
@roles("counselor", "district")
def hold(uid: str):
    review = _review_or_404(uid)
    policy = load_retention_policy()
    try:
        until = date.fromisoformat(request.form.get("until", "").strip())
    except ValueError:
        until = None
    try:
        service.hold(db.session, current_actor(), current_user, review, policy, request.form.get("reason", ""),
                     until, local_today())
    except service.RetentionError as exc:
        return _fail(exc.message, policy.max_hold_months)
    flash(_("The file is held until %(day)s; it returns to the list after that.", day=until), "success")
    return redirect(url_for("retention.review"))


@bp.route("/retention/<uid>/confirm", methods=["POST"])
@roles("counselor", "district")
@recent_login_required
def confirm(uid: str):
    review = _review_or_404(uid)
    policy = load_retention_policy()
    if request.form.get("confirm") != "erase":
        flash(_("Tick the box to confirm the erasure."), "error")
        return redirect(url_for("retention.review"))
    try:
        service.confirm(db.session, current_actor(), current_user, review, policy)
    except service.RetentionError as exc:
        return _fail(exc.message, policy.max_hold_months)
    flash(_("The file was erased: the student's data key is destroyed."), "success")
    return redirect(url_for("retention.review"))


@bp.route("/students/<public_id>/export")
@roles("counselor")
@recent_login_required
def export(public_id: str):
    """Everything held about one student (a guardian's access request under PIPL art. 45): a JSON file, or with
    `?format=html` the same content as a page to print for the family."""
    student = get_visible_or_404(db.session, current_user, Student, public_id)
    fmt = "html" if request.args.get("format") == "html" else "json"
    data = service.export_student(db.session, get_vault(), student, fmt)
    if fmt == "html":
        return render_template("retention/export.html", data=data, labels=ACTION_LABELS)
    body = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=False)
    stamp = local_today().isoformat()
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="student-{student.public_id}-{stamp}.json"',
        "Cache-Control": "no-store",
    })
