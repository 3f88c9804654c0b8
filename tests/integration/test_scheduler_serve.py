"""`flask serve` (what `make run` starts): the development server plus ONE scheduler; stopping one stops both."""
from __future__ import annotations

import os
import signal
import socket
import sys
import urllib.request
from pathlib import Path

import pytest

from .scheduler_support import Proc, migrated_engine, process_env, wait_for

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _schedulers_of(parent_pid: int) -> list[int]:
    """Scheduler processes started for this server (they carry --parent-pid <server pid>)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"scheduler" in args and b"run" in args and str(parent_pid).encode() in args:
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def _serve(fresh_database, tmp_path, reload: bool) -> tuple[Proc, int]:
    migrated_engine(fresh_database.url).dispose()
    port = _free_port()
    args = [
        sys.executable,
        "-m",
        "flask",
        "--app",
        "app",
        "serve",
        "--port",
        str(port),
        "--reload" if reload else "--no-reload",
    ]
    return Proc(args, process_env(fresh_database.url, tmp_path), tmp_path / "serve.log"), port


def test_serve_under_the_reloader_runs_one_scheduler_and_stopping_the_server_stops_it(fresh_database, tmp_path):
    server, port = _serve(fresh_database, tmp_path, reload=True)
    try:
        wait_for(lambda: _healthy(port), what="the development server")
        wait_for(lambda: "lease acquired" in server.output(), what="the scheduler to start")
        schedulers = _schedulers_of(server.p.pid)
        assert len(schedulers) == 1, server.output()
        assert server.output().count("scheduler: started") == 1
    finally:
        server.kill(signal.SIGTERM)
    wait_for(lambda: not _alive(schedulers[0]), timeout=30, what="the scheduler to stop with the server")
    assert "lease released" in server.output()


def test_when_the_scheduler_dies_the_server_stops_too(fresh_database, tmp_path):
    server, port = _serve(fresh_database, tmp_path, reload=False)
    try:
        wait_for(lambda: _healthy(port) and "lease acquired" in server.output(), what="server and scheduler")
        [scheduler] = _schedulers_of(server.p.pid)
        os.kill(scheduler, signal.SIGKILL)
        wait_for(lambda: server.p.poll() is not None, timeout=30, what="the server to stop")
        assert "stopping the server too" in server.output()
    finally:
        server.kill(signal.SIGTERM)
