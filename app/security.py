"""Access control, enforced in one place.

Every view is annotated with `@roles(...)` or `@public`; the `before_request` hook installed by `init_security`
checks the annotation for each request. A view with no annotation is refused (fail closed), and the
route-by-role test walks the URL map to prove every route carries one.

Refusals: not logged in -> redirect to /login; wrong role -> 403 (the route itself is not secret);
a record outside the user's scope -> 404 (`get_visible_or_404`), so its existence is not disclosed.
"""
from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Callable
from typing import Any, TypeGuard, TypeVar
from urllib.parse import quote, unquote, urlsplit

from flask import Flask, abort, current_app, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.service import end_session, second_factor_due, session_now
from config import serving_refusal
from models import Actor

F = TypeVar("F", bound=Callable[..., Any])
ALL_ROLES = ("admin", "district", "counselor", "head_teacher", "school_leader", "city")


def roles(*allowed: str) -> Callable[[F], F]:
    unknown = set(allowed) - set(ALL_ROLES)
    if unknown:
        raise ValueError(f"unknown roles {unknown}")

    def deco(fn: F) -> F:
        fn._roles = frozenset(allowed)  # type: ignore[attr-defined]  # a mark on the view, read by the request guard
        return fn

    return deco


def public(fn: F) -> F:
    fn._public = True  # type: ignore[attr-defined]  # a mark on the view, read by the request guard
    return fn


def recent_login_required(fn: F) -> F:
    """Exports, key operations and role changes need a login within RECENT_LOGIN."""
    fn._recent_login = True  # type: ignore[attr-defined]  # a mark on the view, read by the request guard
    return fn


def view_access(view: Callable[..., Any]) -> tuple[bool, frozenset[str] | None]:
    """(is public, allowed roles) as declared on a view function."""
    return bool(getattr(view, "_public", False)), getattr(view, "_roles", None)


def _listening_refusal(app: Flask, environ: dict[str, Any]) -> str | None:
    """The address the server listens on, as the WSGI server reports it (gunicorn and Werkzeug put the bound
    address in SERVER_NAME): a non-loopback IP without complete production settings is refused, request by request,
    for servers started some other way than `flask serve` (which refuses to start)."""
    from app.proxy import BOUND_SERVER_NAME

    name = environ.get(BOUND_SERVER_NAME) or environ.get("SERVER_NAME") or ""
    cache = app.extensions.setdefault("xinmiao_listening_checked", {})
    if name not in cache:
        try:
            ipaddress.ip_address(name.strip("[]"))
        except ValueError:
            cache[name] = None  # a host name from a Host header (test clients): not a bound address
        else:
            cache[name] = serving_refusal(name, app.config)
            if cache[name]:
                app.logger.error(cache[name])
    return cache[name]


def init_security(app: Flask) -> None:
    @app.after_request
    def _no_store(response: Any) -> Any:
        # every page but the static files may hold student data: never kept by a browser or proxy cache (nginx
        # passes this header through; deploy/nginx/xinmiao.conf)
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.before_request
    def _enforce() -> Any:
        if _listening_refusal(app, request.environ):
            abort(503)
        if request.endpoint is None:
            return None  # 404 / 405 handled by Flask
        if request.endpoint == "static":
            return None
        view = app.view_functions.get(request.endpoint)
        is_public, allowed = view_access(view) if view else (False, None)
        if is_public:
            return None
        if allowed is None:
            abort(404)  # fail closed: a route nobody declared access for does not exist
        if current_user.is_authenticated:
            last = session.get("last_seen")
            idle = current_app.config["IDLE_TIMEOUT"].total_seconds()
            if last is not None and session_now() - last > idle:
                end_session(current_user, current_actor(), reason="idle")
                return redirect(url_for("auth.login", next=here(), expired=1))
            session["last_seen"] = session_now()
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login", next=here()))
        if not session.get("second_factor") and second_factor_due(current_user):
            # A session without a passed second factor for a user who needs one (opened before two factors were
            # switched on, or by any path but the second-factor step): it ends here.
            end_session(current_user, current_actor(), reason="logout_second_factor_missing")
            return redirect(url_for("auth.login", next=here()))
        if current_user.role not in allowed:
            abort(403)
        if getattr(view, "_recent_login", False):
            auth_at = session.get("auth_at", 0)
            if session_now() - auth_at > current_app.config["RECENT_LOGIN"].total_seconds():
                return redirect(url_for("auth.reauth", next=here()))
        return None


def here() -> str:
    """This request's path and query as a `next` value: the path percent-encoded, so that it passes
    `is_safe_path` (which accepts printable ASCII only) and comes back to the same page."""
    query = request.query_string.decode("latin-1")
    return quote(request.path, safe="/:;,=+!$&'()*~-._") + (f"?{query}" if query else "")


def current_actor() -> Actor:
    """The audit actor for this request: the user and the client address."""
    addr = request.remote_addr if request else None
    if current_user and current_user.is_authenticated:
        return Actor.for_user(current_user, addr)
    return Actor(None, "anonymous", "anonymous", addr)


M = TypeVar("M")


def get_visible_or_404(db: Session, user: Any, model: type[M], key: int | str) -> M:
    """The one record of `model` that `user` may see, or 404 (its existence is not disclosed).

    Every view that opens one record of a student (screening, warning, case, entry, recheck, check-in, draft...)
    or one record in scope (campaign, session, class) comes through here: the scope is the model's
    `visible_to(user)` SQL condition (student-owned records delegate to their student, models.roster.StudentOwned).
    `key` is what the URL carries: an int is the row id; a string is the public id of a student, else the row's
    uid.
    """
    # `model` is any scoped model (M is unbounded): each has id, uid or public_id, and visible_to.
    if isinstance(key, int):
        column = model.id  # type: ignore[attr-defined]
    else:
        column = model.public_id if hasattr(model, "public_id") else model.uid  # type: ignore[attr-defined]
    row = db.scalars(select(model).where(column == key, model.visible_to(user))).first()  # type: ignore[attr-defined]
    if row is None:
        abort(404)
    return row


MAX_NEXT = 2048
_DECODE_ROUNDS = 4


def is_safe_path(target: object) -> TypeGuard[str]:
    """True only for a same-site relative path ("/students?page=2"): the one rule for every redirect whose target
    comes from the request (`next`, `back`).

    Refused: anything not starting with one "/" ("//host", "/\\host", schemes, "javascript:"); any character
    outside printable ASCII (tabs, CR/LF, NUL, spaces, Unicode spaces and format characters: browsers drop some of
    them, so "/\t/evil" becomes "//evil", and a newline would split the header); backslashes; "@"; and each of
    these again after up to four rounds of percent-decoding ("/%09/evil", "/%252f/evil"), or more rounds than that.
    """
    if not isinstance(target, str) or not target or len(target) > MAX_NEXT:
        return False
    if any(not 0x21 <= ord(c) <= 0x7E for c in target):
        return False
    form = target
    for _round in range(_DECODE_ROUNDS + 1):
        if not _safe_form(form):
            return False
        try:
            decoded = unquote(form, errors="strict") if "%" in form else form
        except UnicodeDecodeError:
            return False  # percent-escapes that are no UTF-8: no real link of this app
        if decoded == form:
            return True
        form = decoded
    return False  # encoded more deeply than any real link


def _safe_form(form: str) -> bool:
    if not form.startswith("/") or form[1:2] in ("/", "\\"):
        return False
    if "\\" in form or "@" in form.split("?", 1)[0]:
        return False
    if any(unicodedata.category(c)[0] in "CZ" for c in form):  # controls, format characters, any space
        return False
    parts = urlsplit(form)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str) -> str:
    """`target` if it is a same-site relative path (see `is_safe_path`), else `default`: no open redirect."""
    return target if is_safe_path(target) else default
