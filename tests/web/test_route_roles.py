"""Every route against every role, derived from the views' own annotations (@roles / @public).

Routes added later by any area are covered automatically: anonymous users are sent to /login, roles the view does
not name get 403, the roles it names get neither 403, nor a login redirect, nor a server error (URL parameters
are filled with bogus values, so they typically get 404). Every POST route refuses a request without a CSRF
token. A route with no annotation at all fails the suite, with the offenders listed.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, url_for
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, IntegerConverter, UUIDConverter

from app.security import ALL_ROLES, view_access
from tests.conftest import csrf_token, login

BOGUS_INT = 987654321
BOGUS_UUID = "00000000-0000-4000-8000-000000000000"


def _rules(app: Flask) -> Iterator[Rule]:
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint != "static":
            yield rule


def _bogus_url(app: Flask, rule: Rule) -> str:
    values: dict[str, Any] = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = BOGUS_INT
        elif isinstance(converter, UUIDConverter):
            values[name] = BOGUS_UUID
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]  # type: ignore[attr-defined]
        else:
            values[name] = "bogus"
    with app.test_request_context():
        return url_for(rule.endpoint, **values)


def _method(rule: Rule) -> str:
    return "GET" if "GET" in (rule.methods or ()) else "POST"


def _is_login_redirect(response: Any) -> bool:
    """The access hook's refusal: a redirect to /login?next=... (a view may still send people to /login itself,
    as logout does)."""
    return response.status_code in (301, 302, 303, 307) and response.headers.get("Location", "").startswith(
        "/login?next="
    )


def _user_for(factory: Any, role: str) -> Any:
    if role == "counselor":
        return factory.user("counselor", schools=[factory.school()])
    if role == "head_teacher":
        return factory.user("head_teacher", classes=[factory.klass()])
    if role == "school_leader":
        return factory.school_leader()
    return factory.user(role)


def _request(client: Any, method: str, url: str) -> Any:
    if method == "GET":
        return client.get(url)
    return client.post(url, data={"csrf_token": csrf_token(client)})


def test_every_route_declares_who_may_use_it(app):
    offenders = []
    for rule in _rules(app):
        is_public, allowed = view_access(app.view_functions[rule.endpoint])
        if not is_public and not allowed:
            offenders.append(f"{rule.rule} ({rule.endpoint})")
    assert not offenders, "routes without @roles(...) or @public: " + ", ".join(offenders)


def test_anonymous_users_are_sent_to_login_from_every_non_public_route(app):
    client = app.test_client()
    failures = []
    for rule in _rules(app):
        is_public, allowed = view_access(app.view_functions[rule.endpoint])
        method, url = _method(rule), _bogus_url(app, rule)
        response = _request(client, method, url)
        if is_public:
            if response.status_code >= 500:
                failures.append(f"{method} {url}: {response.status_code} (public route crashed)")
        elif allowed and not _is_login_redirect(response):
            failures.append(f"{method} {url}: {response.status_code}, expected a redirect to /login")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_role_gets_exactly_the_routes_its_views_allow(app, factory, role):
    user = _user_for(factory, role)
    client = app.test_client()
    login(client, user.username)
    failures = []
    checked = 0
    for rule in _rules(app):
        is_public, allowed = view_access(app.view_functions[rule.endpoint])
        if is_public or not allowed:
            continue  # public routes: covered above; unannotated ones fail the annotation test
        method, url = _method(rule), _bogus_url(app, rule)
        response = _request(client, method, url)
        checked += 1
        status = response.status_code
        if role in allowed:
            if status == 403 or status >= 500 or _is_login_redirect(response):
                failures.append(
                    f"{role} {method} {url}: {status} {response.headers.get('Location', '')}, expected access"
                )
        elif status != 403:
            failures.append(f"{role} {method} {url}: {status}, expected 403 (view allows {sorted(allowed)})")
        if method == "POST" and client.get("/").status_code == 302 and "/login" in client.get("/").headers["Location"]:
            login(client, user.username)  # that POST ended the session (logout): sign in again for the next route
    assert checked > 0
    assert not failures, "\n".join(failures)


def test_every_post_route_refuses_a_request_without_a_csrf_token(app, factory):
    clients: dict[str, Any] = {}
    failures = []
    for rule in _rules(app):
        if "POST" not in (rule.methods or ()):
            continue
        is_public, allowed = view_access(app.view_functions[rule.endpoint])
        role = None if is_public or not allowed else sorted(allowed)[0]
        if role not in clients:
            client = app.test_client()
            if role is not None:
                login(client, _user_for(factory, role).username)
            clients[role] = client
        url = _bogus_url(app, rule)
        response = clients[role].post(url, data={})
        if response.status_code != 400:
            failures.append(f"POST {url} as {role or 'anonymous'} without CSRF: {response.status_code}, expected 400")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("stage", ["enrol", "verify"])
def test_a_half_signed_in_session_is_sent_to_login_from_every_non_public_route(two_factor_app, factory, stage):
    """Two factors on: after the right password, before the second factor (enrolment or code), the session is
    no sign-in at all: every non-public route answers as to an anonymous visitor."""
    from app.auth import two_factor

    app = two_factor_app
    user = factory.user("admin")
    if stage == "verify":
        with app.app_context():
            two_factor.begin_enrolment(factory.session, app.extensions["xinmiao_keyring"], user)
            user.totp_enrolled_at = user.created_at
            factory.session.flush()
    client = app.test_client()
    response = client.post("/login", data={"username": user.username, "password": factory.PASSWORD,
                                           "csrf_token": csrf_token(client)})
    assert response.headers["Location"] == ("/login/enrol" if stage == "enrol" else "/login/second-factor")
    failures = []
    for rule in _rules(app):
        is_public, allowed = view_access(app.view_functions[rule.endpoint])
        if is_public or not allowed:
            continue
        method, url = _method(rule), _bogus_url(app, rule)
        response = _request(client, method, url)
        if not _is_login_redirect(response):
            failures.append(f"{method} {url}: {response.status_code}, expected a redirect to /login")
    assert not failures, "\n".join(failures)
    with client.session_transaction() as sess:
        assert "_user_id" not in sess  # Flask-Login never saw the user
