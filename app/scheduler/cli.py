"""`flask scheduler run|status` and `flask serve` (the development server plus ONE scheduler child process)."""
from __future__ import annotations

import os
import signal
import sys
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup, with_appcontext

from config import serving_refusal
from models import SchedulerLease
from models.clock import database_now

from .lease import LEASE_NAME
from .runner import run_scheduler

scheduler_cli = AppGroup("scheduler", help="The one process that runs the periodic sweeps.")


@scheduler_cli.command("run")
@click.option(
    "--lease-ttl", type=float, default=60.0, show_default=True,
    help="Seconds without renewal before a dead or hung holder's lease expires.",
)
@click.option("--renew-every", type=float, default=15.0, show_default=True, help="Seconds between lease renewals.")
@click.option(
    "--parent-pid", type=int, default=None, hidden=True,
    help="Stop when this parent process is gone (used by `flask serve`).",
)
@with_appcontext
def scheduler_run(lease_ttl: float, renew_every: float, parent_pid: int | None) -> None:
    """Run the scheduler in the foreground (BlockingScheduler). Start it once, beside the web workers."""
    if lease_ttl < 1:
        raise click.BadParameter("--lease-ttl must be at least 1 second")
    if renew_every * 2 > lease_ttl:
        raise click.BadParameter("renew at least twice per lease lifetime (--renew-every <= --lease-ttl / 2)")
    # current_app is typed as Flask; it is a proxy, and the scheduler's threads need the app object itself
    run_scheduler(current_app._get_current_object(), lease_ttl, renew_every, parent_pid)  # type: ignore[attr-defined]


@scheduler_cli.command("status")
@with_appcontext
def scheduler_status() -> None:
    """Show who holds the scheduler lease, its fencing token and until when (database server time)."""
    from app.db import db

    session = db.session
    row = session.get(SchedulerLease, LEASE_NAME)
    now = database_now(session)
    session.rollback()
    if row is None:
        click.echo("scheduler: not running (no lease)")
    else:
        state = "running" if row.expires_at >= now else "not running (lease expired)"
        click.echo(
            f"scheduler: {state}; holder {row.holder}, token {row.token}, lease until {row.expires_at.isoformat()}"
        )


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, type=int, show_default=True)
@click.option("--reload/--no-reload", default=None, help="Restart on code changes (default: on in development).")
@click.option(
    "--scheduler/--no-scheduler", "with_scheduler", default=True, help="Run one scheduler process beside the server."
)
@with_appcontext
def serve_command(host: str, port: int, reload: bool | None, with_scheduler: bool) -> None:
    """The development server plus ONE scheduler child process; stopping one stops both.

    Under the reloader this command runs twice (the watcher, then the server child with WERKZEUG_RUN_MAIN set);
    only the watcher starts the scheduler, so reloads never double it.
    """
    import subprocess
    import threading

    from werkzeug.serving import run_simple

    app = current_app._get_current_object()  # type: ignore[attr-defined]  # the app itself, not the proxy
    refusal = serving_refusal(host, app.config)
    if refusal:
        raise click.ClickException(refusal)
    if reload is None:
        reload = app.config.get("ENV_NAME") == "development"
    in_reloader_child = os.environ.get("WERKZEUG_RUN_MAIN") == "true"
    child: subprocess.Popen[bytes] | None = None
    if with_scheduler and not in_reloader_child:
        child = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "scheduler", "run", "--parent-pid", str(os.getpid())],
            env=dict(os.environ),
        )

        def watch() -> None:
            code = child.wait()
            if not stopping.is_set():
                click.echo(f"scheduler process exited ({code}); stopping the server too", err=True)
                os.kill(os.getpid(), signal.SIGINT)

        stopping = threading.Event()
        threading.Thread(target=watch, daemon=True, name="scheduler-watch").start()

    def on_term(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    try:
        run_simple(host, port, app, use_reloader=reload, use_debugger=bool(app.debug), threaded=True)
    except KeyboardInterrupt:
        pass
    finally:
        if child is not None:
            stopping.set()
            if child.poll() is None:
                child.terminate()
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
