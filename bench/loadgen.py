"""HTTP load from `wrk` (Debian's package), a process of its own that shares no interpreter lock with the app.

`load(port, clients, requests)` runs one wrk with one thread and one connection per client (each its own path and
session cookie, see bench/wrk_session.lua), all clients loading at once until every one of them has had its share
of responses: the threads print when they start and when they have had their share, and this module then ends wrk
with SIGINT (wrk reports on SIGINT; by itself it runs for its whole `-d` duration). The figures cover every request
wrk completed (at least clients x share: a faster connection goes on while a slower one finishes its share, so the
load stays at N concurrent connections to the end); throughput is the responses counted here between the first
thread's start and the moment the last thread had its share, over that time.
"""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

LUA = Path(__file__).resolve().parent / "wrk_session.lua"
USER_AGENT = "xinmiao-bench"  # the same on the login request and under wrk (sessions are bound to it)


class LoadError(RuntimeError):
    pass


@dataclass(frozen=True)
class Client:
    path: str
    cookie: str | None = None


@dataclass(frozen=True)
class Stats:
    p50_ms: float
    p95_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    requests: int  # every request wrk completed (its histogram's count)
    seconds: float  # the timed window: first start to the last thread's share
    window_responses: int  # responses inside that window

    @property
    def throughput(self) -> float:
        return self.window_responses / self.seconds if self.seconds else 0.0


def wrk_path() -> str:
    found = shutil.which("wrk")
    if not found:
        raise LoadError("wrk is not installed: `apt-get install wrk` (`make bench` installs it)")
    return found


def load(port: int, clients: list[Client], requests_per_client: int, *, max_seconds: int = 900) -> Stats:
    """GET each client's path `requests_per_client` times over its own connection, all clients at once."""
    n = len(clients)
    args: list[str] = [str(requests_per_client), USER_AGENT]
    for c in clients:
        args += [c.path, c.cookie or "-"]
    cmd = [wrk_path(), "-t", str(n), "-c", str(n), "-d", f"{max_seconds}s", "--timeout", "60s", "-s", str(LUA),
           f"http://127.0.0.1:{port}", "--", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)
    starts: dict[str, float] = {}
    stops: dict[str, float] = {}
    report: dict | None = None
    stderr: list[str] = []
    ended = 0.0
    responses = 0
    drain = threading.Thread(target=lambda: stderr.extend(proc.stderr or []), daemon=True)
    drain.start()
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            now = time.perf_counter()
            if line == "r\n":
                if len(stops) < n:
                    responses += 1
            elif line.startswith("start "):
                starts.setdefault(line.split()[1], now)
            elif line.startswith("stop "):
                stops.setdefault(line.split()[1], now)
                if len(stops) == n:
                    proc.send_signal(signal.SIGINT)  # every connection has had its share: wrk reports now
                    ended = now
            elif line.startswith("result "):
                report = json.loads(line[len("result "):])
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        drain.join(timeout=5)
    if report is None:
        raise LoadError(f"wrk gave no result (exit {proc.returncode}): {''.join(stderr)[-500:]}")
    expected = n * requests_per_client
    if report["bad_status"]:
        raise LoadError(f"{report['bad_status']} of {report['requests']} answers were not 200 "
                        f"(first: {report['first_bad_status']}) for {clients[0].path}")
    errors = {k: v for k, v in report["errors"].items() if v}
    if errors:
        raise LoadError(f"wrk socket errors {errors} for {clients[0].path}")
    if len(stops) < n or report["requests"] < expected:
        raise LoadError(f"only {report['requests']} of {expected} requests in {max_seconds} s for {clients[0].path}")
    seconds = ended - min(starts.values())
    return Stats(p50_ms=report["p50"] / 1000, p95_ms=report["p95"] / 1000, p99_ms=report["p99"] / 1000,
                 mean_ms=report["mean"] / 1000, max_ms=report["max"] / 1000, requests=report["requests"],
                 seconds=seconds, window_responses=responses)
