"""Page latency through real HTTP: the counselor's worklist (the counselor home) and the student list, p50/p95
with 8 concurrent clients against gunicorn, each beside a bare endpoint serving the same query's rows raw
(bench/bare_app.py, also under gunicorn with the same workers) measured in the same run.

    .venv/bin/python -m bench.bench_http [tiny|small|district]

Each client logs in as a counselor (its own session; clients spread over the district's schools), then fetches
`/care/worklist` (where `/` sends a counselor) and `/students` in turn on a keep-alive connection.
"""
from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

CLIENTS = 8
REQUESTS = {"tiny": 6, "small": 8, "district": 40}  # per client and page
WORKERS = 4  # sync workers for both servers (BENCH_HTTP_WORKERS overrides). On SQLite the app begins every
# transaction IMMEDIATE (models/db.py), so writers queue on busy_timeout instead of failing with "database is locked";
# every page view writes its audit event, so the database serialises page views there whatever the worker count.
P95_TARGET_MS = 100
ROOT = Path(__file__).resolve().parent.parent
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn started on 127.0.0.1:<free port>; stopped by its pid (never by name)."""

    def __init__(self, target: str, env: dict[str, str], log: Path, workers: int = WORKERS):
        self.port = free_port()
        self.log = log.open("wb")
        cmd = [str(Path(sys.executable).parent / "gunicorn"), "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
               "--log-level", "warning", "--timeout", "120", target]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                                     stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: see {log}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("gunicorn did not start in 90 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


class Client:
    def __init__(self, port: int):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str, dict[str, str]]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        resp = self.conn.getresponse()
        data = resp.read().decode("utf-8", "replace")
        for header, value in resp.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        return resp.status, data, dict(resp.getheaders())

    def login(self, username: str, password: str) -> None:
        status, html, _ = self.request("GET", "/login")
        token = CSRF_RE.search(html)
        if not token:
            raise RuntimeError(f"no CSRF token on /login ({status})")
        status, _, headers = self.request("POST", "/login", urlencode(
            {"username": username, "password": password, "csrf_token": token.group(1)}))
        if status != 302:
            raise RuntimeError(f"login of {username} failed: {status}")


def _measure(port: int, paths_for: Any, n: int, logins: list[tuple[str, str]] | None) -> list[list[float]]:
    """8 threads; client i fetches each of `paths_for(i)` n times in turn; latencies (ms) by position in that list."""
    width = len(paths_for(0))
    out: list[list[float]] = [[] for _ in range(width)]
    lock = threading.Lock()
    errors: list[str] = []
    barrier = threading.Barrier(CLIENTS)

    def worker(i: int) -> None:
        try:
            c = Client(port)
            if logins:
                c.login(*logins[i % len(logins)])
            paths = paths_for(i)
            for p in paths:  # warm-up, unmeasured
                c.request("GET", p)
            barrier.wait()
            mine: list[list[float]] = [[] for _ in paths]
            for _ in range(n):
                for k, p in enumerate(paths):
                    start = time.perf_counter()
                    status, _, _ = c.request("GET", p)
                    mine[k].append((time.perf_counter() - start) * 1000)
                    if status != 200:
                        raise RuntimeError(f"{p} answered {status}")
            with lock:
                for k in range(width):
                    out[k].extend(mine[k])
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{type(exc).__name__}: {exc}")
            try:
                barrier.abort()
            except Exception:  # noqa: BLE001
                pass

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError("; ".join(errors[:3]))
    return out


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(q / 100 * (len(values) - 1))))
    return values[k]


def run(scale: str = "small", database_url: str | None = None) -> list[dict]:
    import bench
    from bench.synth import build_district

    ctx = bench.CONTEXT
    own = not ctx or (database_url and ctx.get("database_url") != database_url)
    if own:
        ctx = build_district(database_url, "tiny" if scale == "tiny" else scale)
    n = REQUESTS.get(scale, REQUESTS["small"])
    workdir = Path(tempfile.mkdtemp(prefix="xinmiao-bench-http-"))
    env = {
        "XINMIAO_ENV": "production",
        "SECRET_KEY": "bench-secret-not-for-production",
        "DATABASE_URL": ctx["database_url"],
        "XINMIAO_KEY_FILE": ctx["key_file"],
        "XINMIAO_LOGIN_MAX_FAILURES": "1000",
    }
    logins = [(u, ctx["password"]) for u in ctx["counselors"]]
    workers = int(os.environ.get("BENCH_HTTP_WORKERS") or WORKERS)
    school_of = dict(zip(ctx["counselors"], ctx["school_ids"]))
    app_server = Server("app:create_app()", env, workdir / "gunicorn-app.log", workers)
    try:
        app_lat = _measure(app_server.port, lambda i: ["/care/worklist", "/students"], n, logins)
    finally:
        app_server.stop()
    bare_server = Server("bench.bare_app:app", env, workdir / "gunicorn-bare.log", workers)
    try:
        # the same spread over schools as the logged-in clients: client i reads counselor i's school
        def bare_paths(i: int) -> list[str]:
            school = school_of[logins[i % len(logins)][0]]
            return [f"/worklist?school={school}", f"/students?school={school}"]

        bare_lat = _measure(bare_server.port, bare_paths, n, None)
    finally:
        bare_server.stop()
    import shutil

    shutil.rmtree(workdir, ignore_errors=True)
    if own:
        shutil.rmtree(ctx["workdir"], ignore_errors=True)
    rows = []
    for k, (page, label) in enumerate((("/care/worklist", "counselor_worklist"), ("/students", "student_list"))):
        for q in (50, 95):
            value, base = pct(app_lat[k], q), pct(bare_lat[k], q)
            rows.append({
                "metric": f"{label}_page_latency_p{q} (GET {page} over HTTP, {CLIENTS} concurrent clients, gunicorn "
                          f"{workers} sync worker(s), {len(app_lat[k])} requests; login, scope, queries, one audit "
                          f"event, names decrypted, template)",
                "value": round(value, 1), "unit": "ms",
                "baseline": f"bare WSGI endpoint serving the same query's rows as raw JSON (bench/bare_app.py, same "
                            f"gunicorn, same clients), p{q}",
                "baseline_value": round(base, 1), "ratio": round(value / base, 2) if base else None,
                "target": f"p95 < {P95_TARGET_MS} ms with {CLIENTS} clients (district scale)" if (q == 95 and label == "counselor_worklist") else None,
            })
    return rows


if __name__ == "__main__":
    for row in run(sys.argv[1] if len(sys.argv) > 1 else "small"):
        print(f"{row['metric']}\n  {row['value']} {row['unit']}; baseline {row['baseline_value']}; ratio {row['ratio']}")
