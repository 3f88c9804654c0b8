"""Home (each role's landing page), health check, language switch."""
from flask import Blueprint, current_app, jsonify, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy import text

from app.areas import wiring
from app.db import db
from app.security import ALL_ROLES, public, roles, safe_next

bp = Blueprint("main", __name__)

@bp.route("/")
@roles(*ALL_ROLES)
def home():
    endpoint = wiring().home.get(current_user.role)  # each area's `home` (app/areas.py); else a plain landing page
    if endpoint:
        return redirect(url_for(endpoint))
    from flask import render_template

    return render_template("main/landing.html")


@bp.route("/healthz")
@public
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
        database = "ok"
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        database = f"error: {type(exc).__name__}"
    status = 200 if database == "ok" else 503
    return jsonify({"status": "ok" if status == 200 else "degraded", "database": database}), status


@bp.route("/lang", methods=["POST"])
@public
def set_language():
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next"), url_for("main.home")))
