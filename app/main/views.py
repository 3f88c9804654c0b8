"""Home (each role's landing page), health check, language switch."""
from flask import Blueprint, current_app, jsonify, redirect, request, session, url_for
from flask_login import current_user

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
    """JSON for the load balancer and the administrator: the database, Redis (when configured), the scheduler's
    lease and the key file. 503 when the web workers cannot serve (database, Redis, keys); a stopped scheduler is
    reported ("degraded") but answers 200, since pages still work without it."""
    from app.health import runtime_checks

    checks = runtime_checks(current_app._get_current_object(), db.session)
    body: dict[str, object] = {c.name: c.detail for c in checks}
    failing = [c for c in checks if not c.ok and c.blocking]
    body["status"] = "failing" if failing else ("degraded" if any(not c.ok for c in checks) else "ok")
    return jsonify(body), 503 if failing else 200


@bp.route("/lang", methods=["POST"])
@public
def set_language():
    lang = request.form.get("lang", "")
    if lang in current_app.config["LANGUAGES"]:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next"), url_for("main.home")))
