"""Behind a reverse proxy: X-Forwarded-* believed only from XINMIAO_TRUSTED_PROXIES (app/proxy.py).

The student entrance limits and the audit log's client address are keyed by the client address: behind nginx
without this, every request came from 127.0.0.1 and 40 wrong entries anywhere locked the whole district out.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.auth.throttle import MemoryThrottle
from app.proxy import ProxySettingError, parse_trusted_proxies
from models import AuditEvent
from tests.conftest import csrf_token, make_test_app, post

PROXY = "10.0.0.5"


@pytest.fixture
def proxied_app(engine, keyring, connection):
    from tests.conftest import _session_on

    return make_test_app(
        engine, keyring, lambda: _session_on(connection),
        TRUSTED_PROXIES="127.0.0.1, 10.0.0.0/24",
        STUDENT_ENTRY_CODE_FAILURES_LIMITER=MemoryThrottle(3, 600),  # wrong session codes, per client address
        STUDENT_ENTRY_ATTEMPTS_LIMITER=MemoryThrottle(300, 600),
    )


def _client(app, sender: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = sender
    return client


def _failed_login(client, username: str, forwarded: str | None):
    # over HTTPS Flask-WTF also checks that the Referer is this host (the browser sends it)
    headers = {"X-Forwarded-For": forwarded, "X-Forwarded-Proto": "https",
               "Referer": "https://localhost/login"} if forwarded else {}
    token = csrf_token(client)
    return client.post("/login", data={"username": username, "password": "wrong", "csrf_token": token},
                       headers=headers)


def _last_login_failure(db_session) -> AuditEvent:
    return db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "auth.login_failed").order_by(AuditEvent.seq.desc())
    ).first()


def test_a_trusted_proxy_gives_the_real_client_address_to_the_audit_log(proxied_app, factory, db_session):
    user = factory.counselor()
    response = _failed_login(_client(proxied_app, PROXY), user.username, "203.0.113.7")
    assert response.status_code == 200
    assert _last_login_failure(db_session).client_addr == "203.0.113.7"


def test_only_the_address_the_proxy_appended_counts(proxied_app, factory, db_session):
    # nginx appends the sender to whatever the client sent: the client's own entry is not believed
    user = factory.counselor()
    _failed_login(_client(proxied_app, PROXY), user.username, "1.2.3.4, 203.0.113.8")
    assert _last_login_failure(db_session).client_addr == "203.0.113.8"


def test_an_untrusted_sender_cannot_choose_its_address(proxied_app, factory, db_session):
    user = factory.counselor()
    _failed_login(_client(proxied_app, "198.51.100.9"), user.username, "203.0.113.7")
    assert _last_login_failure(db_session).client_addr == "198.51.100.9"


def test_without_the_setting_no_sender_is_trusted(app, factory, db_session):
    user = factory.counselor()
    _failed_login(_client(app, "127.0.0.1"), user.username, "203.0.113.7")
    assert _last_login_failure(db_session).client_addr == "127.0.0.1"


def _wrong_code(client, forwarded: str | None):
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return post(client, "/s", {"code": "ZZZZZZ", "student_number": "1", "entry_code": "ZZZZZZ"}, headers=headers)


def test_student_entrance_limits_count_each_client_behind_the_proxy(proxied_app):
    school_a = _client(proxied_app, PROXY)
    for _ in range(3):
        assert _wrong_code(school_a, "203.0.113.20").status_code == 200
    assert _wrong_code(school_a, "203.0.113.20").status_code == 429  # this computer is locked out...
    school_b = _client(proxied_app, PROXY)
    assert _wrong_code(school_b, "203.0.113.30").status_code == 200  # ...another school, same proxy, is not


def test_an_untrusted_sender_cannot_escape_the_limit_by_varying_the_header(proxied_app):
    client = _client(proxied_app, "198.51.100.9")
    for n in range(3):
        _wrong_code(client, f"203.0.113.{n}")
    assert _wrong_code(client, "203.0.113.99").status_code == 429


def test_a_trusted_proxy_sets_the_scheme_and_host(proxied_app):
    from flask import request

    seen = {}

    @proxied_app.after_request
    def _look(response):
        seen.update(scheme=request.scheme, host=request.host, addr=request.remote_addr)
        return response

    _client(proxied_app, PROXY).get("/healthz", headers={
        "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "xinmiao.example.cn"})
    assert seen == {"scheme": "https", "host": "xinmiao.example.cn", "addr": "203.0.113.7"}
    _client(proxied_app, "198.51.100.9").get("/healthz", headers={
        "X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "evil.example"})
    assert seen["scheme"] == "http" and seen["host"] != "evil.example" and seen["addr"] == "198.51.100.9"


def test_a_wrong_proxy_setting_names_the_entry():
    assert [str(n) for n in parse_trusted_proxies("127.0.0.1 10.0.0.0/24")] == ["127.0.0.1/32", "10.0.0.0/24"]
    with pytest.raises(ProxySettingError, match="'10.0.0.300'"):
        parse_trusted_proxies("127.0.0.1,10.0.0.300")
