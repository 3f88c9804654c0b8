"""Production mode behind Debian's nginx with deploy/nginx/xinmiao.conf (ports and paths substituted), a
self-signed certificate and gunicorn: a counselor signs in through HTTPS and opens a student's file. Proves the
forwarded headers (no "form expired" 400), the security headers, Cache-Control: no-store on the student's page,
the static files served by nginx, and that the pages need no inline script under the CSP."""
from __future__ import annotations

import os
import signal
import ssl
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from models import clock
from tests.deploy.support import ROOT, free_port, redis_url
from tests.e2e.conftest import login_as
from tests.waiting import wait_until

NGINX = "/usr/sbin/nginx"
SITE = ROOT / "deploy" / "nginx" / "xinmiao.conf"
NAME = "周晓明"


class Site:
    def __init__(self, url: str):
        self.url = url


def _site_conf(tmp: Path, tls_port: int, http_port: int, app_port: int) -> str:
    text = SITE.read_text()
    for old, new in (
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{tls_port} ssl http2;"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{app_port};"),
        ("server_name xinmiao.example.cn;", "server_name localhost;"),
        ("/etc/xinmiao/tls/fullchain.pem", str(tmp / "cert.pem")),
        ("/etc/xinmiao/tls/privkey.pem", str(tmp / "key.pem")),
        ("/opt/xinmiao/app/static/", f"{ROOT}/app/static/"),
        ("/var/log/nginx/", f"{tmp}/"),
    ):
        assert old in text, f"{old!r} is no longer in {SITE}: update the test's substitutions"
        text = text.replace(old, new)
    return text


def _main_conf(tmp: Path) -> str:
    temps = "\n".join(f"    {d}_temp_path {tmp}/{d};" for d in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""
user root;
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-main.error.log;
events {{ worker_connections 256; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log {tmp}/nginx-main.access.log;
{temps}
    include {tmp}/site.conf;
}}
"""


def _seed(db_url: str, key_file: Path) -> tuple[str, str, str, str]:
    """A school, its counselor (enrolled for two-factor sign-in, which production requires: the secret is
    returned for the test's authenticator) and a student."""
    import pyotp

    from app.auth.two_factor import seal_secret
    from app.cli import upgrade_database
    from models import utcnow
    from models.crypto import KeyRing
    from models.db import make_engine
    from tests.factories import Factory

    upgrade_database(db_url)
    engine = make_engine(db_url)
    try:
        with Session(engine) as session:
            factory = Factory(session, KeyRing.from_file(key_file))
            school = factory.school()
            counselor = factory.counselor(school, username="nginx-counselor")
            secret = pyotp.random_base32(length=32)
            counselor.totp_secret, counselor.totp_key_version = seal_secret(factory.keyring, counselor.id, secret)
            counselor.totp_enrolled_at = utcnow()
            student = factory.student(school, name=NAME)
            session.commit()
            return counselor.username, factory.PASSWORD, student.public_id, secret
    finally:
        engine.dispose()


def _up(url: str, context: Any = None) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2, context=context) as r:
            return r.status == 200
    except OSError:
        return False


@pytest.fixture
def behind_nginx(tmp_path):
    from models.crypto import KeyRing

    if not os.path.exists(NGINX):
        pytest.fail("nginx is missing: `apt-get install nginx-light` (which .ci/run does)", pytrace=False)
    key_file = tmp_path / "keys.json"
    KeyRing.generate_file(key_file)
    db_url = f"sqlite:///{tmp_path / 'xinmiao.db'}"
    username, password, public_id, totp_secret = _seed(db_url, key_file)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    app_port, tls_port, http_port = free_port(), free_port(), free_port()
    clock.now()  # sets XINMIAO_NOW_ANCHOR when the clock is moved: the servers then share this process's offset
    # (each gunicorn worker would otherwise anchor at its own first read, seconds apart)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("XINMIAO_") or k in ("XINMIAO_NOW", "XINMIAO_NOW_ANCHOR")}
    env.update(XINMIAO_ENV="production", SECRET_KEY="n" * 48, XINMIAO_KEY_FILE=str(key_file), DATABASE_URL=db_url,
               REDIS_URL=redis_url(), XINMIAO_TRUSTED_PROXIES="127.0.0.1", PYTHONUNBUFFERED="1")
    procs: list[subprocess.Popen[bytes]] = []
    logs = []
    try:
        log = (tmp_path / "gunicorn.log").open("wb")
        logs.append(log)
        procs.append(subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{app_port}", "app:create_app()"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        wait_until(lambda: _up(f"http://127.0.0.1:{app_port}/healthz"), timeout=90, what="gunicorn")
        (tmp_path / "site.conf").write_text(_site_conf(tmp_path, tls_port, http_port, app_port))
        (tmp_path / "nginx.conf").write_text(_main_conf(tmp_path))
        check = subprocess.run([NGINX, "-t", "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                               capture_output=True, text=True, timeout=30)
        assert check.returncode == 0, check.stderr
        log = (tmp_path / "nginx.log").open("wb")
        logs.append(log)
        procs.append(subprocess.Popen([NGINX, "-c", str(tmp_path / "nginx.conf"), "-p", str(tmp_path)],
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        insecure = ssl.create_default_context()
        insecure.check_hostname = False
        insecure.verify_mode = ssl.CERT_NONE
        base = f"https://localhost:{tls_port}"
        wait_until(lambda: _up(f"{base}/healthz", insecure), timeout=30, what="nginx")
        yield {"url": base, "username": username, "password": password, "totp_secret": totp_secret,
               "public_id": public_id, "tmp": tmp_path,
               "http_port": http_port}
    finally:
        for proc in reversed(procs):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for log in logs:
            log.close()


def test_sign_in_and_open_a_student_file_through_nginx(behind_nginx, browser):
    site = behind_nginx
    context = browser.new_context(ignore_https_errors=True, locale="zh-CN")
    context.set_default_timeout(20_000)
    page = context.new_page()
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        login_as(page, Site(site["url"]), site["username"], site["password"], totp_secret=site["totp_secret"])
        response = page.goto(f"{site['url']}/students/{site['public_id']}")
        assert response is not None and response.status == 200
        assert page.text_content("[data-testid=student-name]").strip() == NAME
        headers = response.headers
        assert headers["cache-control"] == "no-store"
        assert headers["strict-transport-security"].startswith("max-age=")
        assert "script-src 'self'" in headers["content-security-policy"]
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY" and headers["referrer-policy"] == "same-origin"
        static = page.request.get(f"{site['url']}/static/js/app.js")
        assert static.status == 200 and "no-store" not in static.headers.get("cache-control", "")
        assert static.headers.get("server", "").startswith("nginx")
        # the print button works through app.js (no inline handler), and nothing was refused by the policy
        page.evaluate("window.print = () => { window.__printed = true; }")
        page.click("[data-print]")
        assert page.evaluate("window.__printed === true")
        assert violations == []
    finally:
        context.close()
    # nginx logged the request; plain HTTP only redirects to HTTPS
    access = (site["tmp"] / "xinmiao.access.log").read_text()
    assert f"/students/{site['public_id']}" in access
    plain = urllib.request.Request(f"http://127.0.0.1:{site['http_port']}/login", method="GET")
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        opener.open(plain, timeout=5)
        raise AssertionError("plain HTTP was answered")
    except urllib.error.HTTPError as exc:
        assert exc.code == 301 and exc.headers["Location"].startswith("https://")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None

