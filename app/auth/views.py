from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.db import db
from app.security import ALL_ROLES, current_actor, public, roles, safe_next
from models import User

from . import service
from .forms import ChangePasswordForm, LoginForm, ReauthForm

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    form = LoginForm()
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("main.home"))
    if form.validate_on_submit():
        target = safe_next(request.args.get("next"), url_for("main.home"))  # checked before any session exists
        outcome = service.authenticate(db.session, form.username.data, form.password.data, request.remote_addr)
        if outcome.locked:
            flash(_("Too many failed attempts. This account is locked for a while; try again later."), "error")
        elif outcome.user is None:
            flash(_("Wrong username or password."), "error")
        else:
            service.start_session(outcome.user)
            return redirect(target)
        return render_template("auth/login.html", form=form), 200
    if request.args.get("expired"):
        flash(_("You were signed out after a period of inactivity."), "info")
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@roles(*ALL_ROLES)
def logout():
    service.end_session(current_user._get_current_object(), current_actor())
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/reauth", methods=["GET", "POST"])
@roles(*ALL_ROLES)
def reauth():
    form = ReauthForm()
    if form.validate_on_submit():
        target = safe_next(request.args.get("next"), url_for("main.home"))
        user = current_user._get_current_object()
        outcome = service.reauthenticate(db.session, user, form.password.data, request.remote_addr)
        if outcome.user is not None:
            service.mark_reauthenticated()
            return redirect(target)
        if outcome.locked:
            return _locked_out(user)
        flash(_("Wrong password."), "error")
    return render_template("auth/reauth.html", form=form)


def _locked_out(user: User) -> Response:
    """Re-authentication locked the account: this session ends too (it may be a captured one)."""
    service.end_session(user, current_actor(), reason="logout_locked")
    flash(_("Too many failed attempts. This account is locked for a while; try again later."), "error")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@roles(*ALL_ROLES)
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        outcome = service.reauthenticate(db.session, user, form.current_password.data, request.remote_addr,
                                         purpose="password_change")
        if outcome.locked:
            return _locked_out(user)
        if outcome.user is None:
            form.current_password.errors.append(_("Wrong password."))
        else:
            service.change_password(db.session, current_actor(), user, form.new_password.data)
            service.start_session(user)  # this browser stays signed in; every other session is refused
            flash(_("Password changed. Other sessions have been signed out."), "success")
            return redirect(url_for("main.home"))
    return render_template("auth/password.html", form=form)
