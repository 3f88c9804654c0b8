"""CLI entry points (`flask --app app ...`): the database commands; each area adds its own in its `area.py`.

Every command prints what it did; bad arguments exit non-zero with a clear message. Commands use
`db.transaction()`: one commit at the end, rollback on error.
"""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from models import Actor

db_cli = AppGroup("db", help="Database schema (Alembic).")


def operator_actor() -> Actor:
    """The audit actor of a CLI command: the operator's login name, as "cli:<os user>" (role "system")."""
    import getpass

    try:
        who = getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        who = "unknown"
    return Actor(None, f"cli:{who}"[:64], "system", None)


def alembic_config(url: str):
    from alembic.config import Config

    from config import ROOT

    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(url: str, revision: str = "head") -> None:
    from alembic import command

    command.upgrade(alembic_config(url), revision)


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Run the Alembic chain up to REVISION (default head) on DATABASE_URL."""
    url = current_app.config["DATABASE_URL"]
    if url.startswith("sqlite:///"):
        import os

        os.makedirs(os.path.dirname(url[len("sqlite:///"):]) or ".", exist_ok=True)
    upgrade_database(url, revision)
    click.echo(f"database upgraded to {revision}: {_redact(url)}")


@db_cli.command("current")
def db_current() -> None:
    """Show the database's current revision."""
    from alembic import command

    command.current(alembic_config(current_app.config["DATABASE_URL"]))


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001
        return "<database>"


@click.command("doctor")
@with_appcontext
def doctor_command() -> None:
    """Check this installation end to end (settings, translations, keys, database, Redis, migrations, a sample of
    data keys, the scheduler, the proxy setting); print what to fix; exit 1 when anything is wrong."""
    import sys

    from app.db import db
    from app.health import all_checks

    checks = all_checks(current_app._get_current_object(), db.session)  # type: ignore[attr-defined]
    for check in checks:
        click.echo(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        if not check.ok and check.fix:
            click.echo(f"     fix: {check.fix}")
    problems = [c for c in checks if not c.ok]
    if problems:
        click.echo(f"{len(problems)} problem(s): {', '.join(c.name for c in problems)}", err=True)
        sys.exit(1)
    click.echo("everything checked is in order")


def register_cli(app: Flask) -> None:
    app.cli.add_command(db_cli)
    app.cli.add_command(doctor_command)
