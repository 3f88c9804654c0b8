"""The review list of clinical access (proposals, grants, refusals, revocations) and the second person's decision.
Routes of the admin blueprint (/admin/access-grants), open to district officers and counselors too: they decide."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from app.db import db
from app.security import current_actor, roles
from models import AccessGrant

from . import grants
from .views import bp


@bp.route("/access-grants")
@roles("admin", "district", "counselor")
def access_grants():
    rows = grants.review_list(db.session, current_user)
    decidable = {g.id for g in rows if grants.may_decide(db.session, current_user, g)}
    return render_template("admin/access_grants.html", rows=rows, decidable=decidable)


def _decision(uid: str) -> AccessGrant:
    grant = grants.visible_grant(db.session, current_user, uid)
    if grant is None:
        abort(404)
    if not grants.may_decide(db.session, current_user, grant):
        abort(403)
    return grant


@bp.route("/access-grants/<uid>/approve", methods=["POST"])
@roles("district", "counselor")
def access_grant_approve(uid: str):
    grant = _decision(uid)
    grants.approve(db.session, current_actor(), current_user, grant)
    flash(_("Access approved."), "success")
    return redirect(url_for("admin.access_grants"))


@bp.route("/access-grants/<uid>/refuse", methods=["POST"])
@roles("district", "counselor")
def access_grant_refuse(uid: str):
    grant = _decision(uid)
    try:
        grants.refuse(db.session, current_actor(), current_user, grant, request.form.get("reason"))
    except grants.GrantError as exc:
        flash(_(str(exc)), "error")
    else:
        flash(_("Access refused."), "info")
    return redirect(url_for("admin.access_grants"))
