"""Page latency and throughput through real HTTP: gunicorn (4 sync workers) under load from wrk, a process of its
own (bench/loadgen.py), 8 concurrent keep-alive connections.

    .venv/bin/python -m bench.bench_http [tiny|small|district]

Data: `care` (the synthetic district with counselors at work, bench/bench_care.py), on a copy (every page view
writes its audit event). Both servers run on the copy at once (only one is loaded at a time):
- the app (`app:create_app()`, production config): `/care/worklist` (where `/` sends a counselor), `/students`
  and `/healthz`;
- the bare endpoint (bench/bare_app.py): the same queries' rows as raw JSON, no Flask, login, template, decryption
  or audit, and its own `/healthz`.
Each connection logs in once over HTTP as a different counselor (clients spread over the district's schools; the
session cookie, with its CSRF token already in it, goes to wrk; GETs only) and reads its own counselor's school on
the bare endpoint. Every page gets a warm-up, then `REQUESTS` requests per run (each connection its share), the
pages in turn within each run, several runs; each figure is the median over runs of that run's p50 / p95 / p99
(wrk's histogram) or throughput, with min and max, beside the bare endpoint's and `/healthz`'s same figure.
"""
from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from bench.core import Floor, Sample, result
from bench.loadgen import USER_AGENT, Client, Stats, load

DATA = "care"
CLIENTS = 8
WORKERS = {"tiny": 2}  # sync workers for both servers; 4 at every real scale (BENCH_HTTP_WORKERS overrides).
# tiny is the smoke test's scale: the same code paths, as little work as possible.
REQUESTS = {"tiny": 16, "small": 2_000, "district": 2_000}  # per page and run, over all connections
WARMUP = {"tiny": 8, "small": 200, "district": 200}
RUNS = {"tiny": 1, "small": 3, "district": 3}
P95_TARGET_MS = 100
ROOT = Path(__file__).resolve().parent.parent
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """A gunicorn started on 127.0.0.1:<free port>; stopped by its pid (never by name)."""

    def __init__(self, target: str, env: dict[str, str], log: Path, workers: int = 4):
        self.port = free_port()
        self.log_path = log
        self.log = log.open("wb")
        cmd = [str(Path(sys.executable).parent / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
               "--log-level", "warning", "--timeout", "120", target]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.log.close()
                raise RuntimeError(f"gunicorn exited: {log.read_text(errors='replace')[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.2)  # a server starting up: poll its port again
        self.stop()
        raise RuntimeError("gunicorn did not start in 90 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


class Browser:
    """One HTTP session (cookies kept) on a keep-alive connection, as a logged-in counselor's browser."""

    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str]:
        headers = {"User-Agent": USER_AGENT}
        if self.cookies:
            headers["Cookie"] = self.cookie()
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read().decode("utf-8", "replace")
        for header, value in resp.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return resp.status, data

    def cookie(self) -> str:
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def login(self, username: str, password: str, totp_secret: str | None = None) -> None:
        status, html = self.request("GET", "/login")
        token = CSRF_RE.search(html)
        if not token:
            raise RuntimeError(f"no CSRF token on /login ({status})")
        status, _ = self.request("POST", "/login", urlencode(
            {"username": username, "password": password, "csrf_token": token.group(1)}))
        if status != 302:
            raise RuntimeError(f"login of {username} failed: {status}")
        if totp_secret is None:
            return
        # production requires the second factor (issue 15): the code an authenticator app would show now
        from app.auth.two_factor import current_code

        status, html = self.request("GET", "/login/second-factor")
        token = CSRF_RE.search(html)
        if not token:
            raise RuntimeError(f"no second-factor page after the password of {username} ({status})")
        status, _ = self.request("POST", "/login/second-factor", urlencode(
            {"code": current_code(totp_secret), "csrf_token": token.group(1)}))
        if status != 302:
            raise RuntimeError(f"second factor of {username} failed: {status}")

    def close(self) -> None:
        self.conn.close()


def enrol_second_factor(url: str, key_file: str, usernames: list[str]) -> dict[str, str]:
    """Give each bench counselor an enrolled TOTP secret (as after their first sign-in), so that the production
    app can be signed in to; returns the secrets by username."""
    import pyotp
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from app.auth.two_factor import seal_secret
    from models import User, utcnow
    from models.crypto import KeyRing
    from models.db import make_engine

    ring = KeyRing.from_file(key_file)
    secrets: dict[str, str] = {}
    engine = make_engine(url)
    try:
        with Session(engine) as s:
            for user in s.scalars(select(User).where(User.username.in_(sorted(set(usernames))))):
                secret = pyotp.random_base32(length=32)
                user.totp_secret, user.totp_key_version = seal_secret(ring, user.id, secret)
                user.totp_enrolled_at, user.totp_last_step = utcnow(), None
                secrets[user.username] = secret
            s.commit()
    finally:
        engine.dispose()
    return secrets


def sessions(port: int, logins: list[tuple[str, str]], paths: list[str],
             secrets: dict[str, str] | None = None) -> list[str]:
    """Log each client in and visit each page once (the session then holds what the pages put in it, such as the
    CSRF token, so wrk's requests do not each write a new cookie); returns the cookies. Clients of the same
    counselor share one session (as two tabs of one browser would)."""
    cookies = []
    made: dict[str, str] = {}
    for username, password in logins:
        if username in made:
            cookies.append(made[username])
            continue
        b = Browser(port)
        try:
            b.login(username, password, (secrets or {}).get(username))
            for p in paths:
                status, _ = b.request("GET", p)
                if status != 200:
                    raise RuntimeError(f"{p} answered {status} for {username}")
            made[username] = b.cookie()
            cookies.append(made[username])
        finally:
            b.close()
    return cookies


PAGES = (  # key, label, server, path for client i
    ("worklist", "GET /care/worklist (counselor home)", "app", lambda school: "/care/worklist"),
    ("students", "GET /students (first page of 50)", "app", lambda school: "/students"),
    ("healthz", "GET /healthz of the app", "app", lambda school: "/healthz"),
    ("bare_worklist", "bare endpoint, worklist rows as raw JSON", "bare", lambda school: f"/worklist?school={school}"),
    ("bare_students", "bare endpoint, student rows as raw JSON", "bare", lambda school: f"/students?school={school}"),
    ("bare_healthz", "GET /healthz of the bare endpoint", "bare", lambda school: "/healthz"),
)


def run(scale: str, data: Any) -> list[dict]:
    requests = REQUESTS.get(scale, REQUESTS["small"])
    per_client = -(-requests // CLIENTS)
    warmup = -(-WARMUP.get(scale, WARMUP["small"]) // CLIENTS)
    runs = RUNS.get(scale, RUNS["small"])
    workers = int(os.environ.get("BENCH_HTTP_WORKERS") or WORKERS.get(scale, 4))
    workdir = data.workdir("http")
    measured: dict[str, list[Stats]] = {key: [] for key, *_ in PAGES}
    with data.copy() as db:
        info = db.info
        env = {
            "XINMIAO_ENV": "production",
            "SECRET_KEY": "bench-secret-not-for-production",
            "DATABASE_URL": db.url,
            "XINMIAO_KEY_FILE": info["key_file"],
            "XINMIAO_LOGIN_MAX_FAILURES": "1000",
        }
        counselors = info["counselors"]
        school_of = dict(zip(counselors, info["school_ids"], strict=True))
        logins = [(counselors[i % len(counselors)], info["password"]) for i in range(CLIENTS)]
        schools = [school_of[u] for u, _ in logins]
        secrets = enrol_second_factor(db.url, info["key_file"], counselors)
        servers: dict[str, Server] = {}
        try:
            servers["app"] = Server("app:create_app()", env, workdir / "gunicorn-app.log", workers)
            servers["bare"] = Server("bench.bare_app:app", env, workdir / "gunicorn-bare.log", workers)
            cookies = sessions(servers["app"].port, logins, ["/care/worklist", "/students"], secrets)
            clients = {key: [Client(path(school), cookies[i] if server == "app" else None)
                             for i, school in enumerate(schools)] for key, _, server, path in PAGES}
            for key, _, server, _ in PAGES:
                load(servers[server].port, clients[key], warmup)
            for _ in range(runs):
                for key, _, server, _ in PAGES:  # pages in turn: load drift touches a page and its floors alike
                    measured[key].append(load(servers[server].port, clients[key], per_client))
        finally:
            for running in servers.values():
                running.stop()
    return _rows(measured, workers, per_client * CLIENTS)


STATS = (  # key, label, unit, better, Stats -> value
    ("p50", "p50", "ms", "lower", lambda s: s.p50_ms),
    ("p95", "p95", "ms", "lower", lambda s: s.p95_ms),
    ("p99", "p99", "ms", "lower", lambda s: s.p99_ms),
    ("throughput", "throughput", "req/s", "higher", lambda s: s.throughput),
)


def _rows(measured: dict[str, list[Stats]], workers: int, requests: int) -> list[dict]:
    label = {key: text for key, text, *_ in PAGES}
    setup = f"{CLIENTS} connections, gunicorn {workers} sync workers, {requests:,} requests per run"
    floors_of = {"worklist": ("bare_worklist", "healthz"), "students": ("bare_students", "healthz"),
                 "healthz": ("bare_healthz",)}
    rows = []
    for page, floors in floors_of.items():
        for stat, stat_label, unit, better, get in STATS:
            value = Sample.of(get(s) for s in measured[page])
            target = None
            if page == "worklist" and stat == "p95":
                target = (f"p95 < {P95_TARGET_MS} ms with {CLIENTS} clients at district scale; goal < 30 ms, "
                          "<= 1.5x bare")
            rows.append(result(
                f"http.{page}.{stat}", f"{label[page]}: {stat_label} ({setup}; wrk)", value, unit,
                [Floor(f, f"{label[f]}, same load, same run", Sample.of(get(s) for s in measured[f])) for f in floors],
                better=better, target=target))
    return rows


if __name__ == "__main__":
    from bench.__main__ import standalone

    standalone("bench_http")
