from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.wrappers import Response

from app.db import db
from app.qr import qr_svg
from app.security import ALL_ROLES, current_actor, public, roles, safe_next
from app.vault import keyring
from models import User

from . import service, two_factor
from .forms import ChangePasswordForm, EnrolForm, LoginForm, ReauthForm, SecondFactorForm

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
        elif outcome.second_factor:
            service.begin_pending(outcome.user, target, outcome.second_factor)
            endpoint = "auth.enrol" if outcome.second_factor == "enrol" else "auth.second_factor"
            return redirect(url_for(endpoint))
        else:
            service.start_session(outcome.user)
            return redirect(target)
        return render_template("auth/login.html", form=form), 200
    if request.args.get("expired"):
        flash(_("You were signed out after a period of inactivity."), "info")
    return render_template("auth/login.html", form=form)


def _pending_or_restart() -> tuple[User, dict[str, object]] | Response:
    pending = service.pending_user(db.session)
    if pending is None:
        flash(_("Please sign in again: the sign-in was not completed in time."), "info")
        return redirect(url_for("auth.login"))
    return pending


def _second_factor_locked() -> Response:
    service.end_pending()
    flash(_("Too many failed attempts. This account is locked for a while; try again later."), "error")
    return redirect(url_for("auth.login"))


def _pending_next(mark: dict[str, object]) -> str | None:
    """The `next` the password step kept in the pending mark (checked by safe_next where it is used)."""
    target = mark.get("next")
    return target if isinstance(target, str) else None


@bp.route("/login/second-factor", methods=["GET", "POST"])
@public  # half-way through a sign-in: Flask-Login has no user yet; the pending mark in the session says who
def second_factor():
    pending = _pending_or_restart()
    if isinstance(pending, Response):
        return pending
    user, mark = pending
    if not two_factor.is_enrolled(user):
        return redirect(url_for("auth.enrol"))
    form = SecondFactorForm()
    if form.validate_on_submit():
        outcome = service.verify_second_factor(db.session, user, form.code.data, request.remote_addr)
        if outcome.locked:
            return _second_factor_locked()
        if outcome.user is not None:
            target = safe_next(_pending_next(mark), url_for("main.home"))
            service.start_session(user, outcome.factor)
            if outcome.factor == "recovery":
                flash(_("You signed in with a recovery code; it cannot be used again. %(n)s are left.",
                        n=two_factor.unused_recovery_codes(db.session, user)), "info")
            return redirect(target)
        flash(_("Wrong or already used code."), "error")
    return render_template("auth/second_factor.html", form=form, user=user)


@bp.route("/login/enrol", methods=["GET", "POST"])
@public  # half-way through a first sign-in with two factors (see second_factor)
def enrol():
    pending = _pending_or_restart()
    if isinstance(pending, Response):
        return pending
    user, mark = pending
    if two_factor.is_enrolled(user):
        return redirect(url_for("auth.second_factor"))
    secret = two_factor.begin_enrolment(db.session, keyring(), user)
    form = EnrolForm()
    if form.validate_on_submit():
        outcome = service.confirm_enrolment(db.session, user, form.code.data, request.remote_addr)
        if outcome.locked:
            return _second_factor_locked()
        if outcome.user is not None:
            target = safe_next(_pending_next(mark), url_for("main.home"))
            service.start_session(user, outcome.factor)
            return render_template("auth/recovery_codes.html", codes=outcome.recovery_codes, target=target)
        flash(_("Wrong code. Check that the app shows the code of this account, and try the current one."),
              "error")
    uri = two_factor.provisioning_uri(user, secret, current_app.config["TWO_FACTOR_ISSUER"])
    return render_template("auth/enrol.html", form=form, user=user, secret=secret, qr=qr_svg(uri),
                           grouped=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)))


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
        outcome = service.reauthenticate(db.session, user, form.password.data, request.remote_addr,
                                         code=form.code.data)
        if outcome.user is not None:
            service.mark_reauthenticated()
            return redirect(target)
        if outcome.locked:
            return _locked_out(user)
        if service.second_factor_due(user):
            flash(_("Wrong password or code."), "error")
        else:
            flash(_("Wrong password."), "error")
    return render_template("auth/reauth.html", form=form,
                           second_factor=service.second_factor_due(current_user._get_current_object()))


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
            factor = session.get("second_factor")
            service.change_password(db.session, current_actor(), user, form.new_password.data)
            service.start_session(user, factor)  # this browser stays signed in; every other session is refused
            flash(_("Password changed. Other sessions have been signed out."), "success")
            return redirect(url_for("main.home"))
    return render_template("auth/password.html", form=form)
