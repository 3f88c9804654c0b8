"""`flask roster import PATH --school CODE [--dry-run] [--apply-transfers] [--partial]` and `flask roster export`."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.cli import operator_actor
from models import School

roster_cli = AppGroup("roster", help="Roster: import students from a school's XLSX/CSV, export a school's roster.")


def _school(session, code: str) -> School:
    school = session.scalars(select(School).where(School.code == code)).first()
    if school is None:
        raise click.ClickException(f"no school with code {code!r}")
    return school


@roster_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--school", "school_code", required=True, help="The school (code) the file belongs to.")
@click.option("--dry-run", is_flag=True, help="Check every row and show what would change; write nothing.")
@click.option("--apply-transfers", "--request-transfers", "apply_transfers", is_flag=True,
              help="Also request the transfer of students found at another school of the district (each moves when "
                   "the sending school approves).")
@click.option("--partial", is_flag=True, help="Write the valid rows even when some rows are wrong.")
def import_command(path: Path, school_code: str, dry_run: bool, apply_transfers: bool, partial: bool) -> None:
    """Import (create or update) the students of one school from PATH (XLSX, or CSV in UTF-8 or GBK)."""
    from app.db import db
    from app.ui import local_today
    from app.vault import keyring
    from models.vault import Vault

    from . import service
    from .parse import RosterFileError

    actor = operator_actor()
    failed = False
    # messages are translated (default locale zh), which Flask-Babel does within a request context
    with current_app.test_request_context(), db.transaction() as session:
        school = _school(session, school_code)
        vault = Vault(session, keyring(), actor)
        try:
            plan = service.plan_import(
                session,
                vault,
                school,
                path,
                today=local_today(),
                max_bytes=current_app.config.get("ROSTER_IMPORT_MAX_BYTES", service.parse.MAX_BYTES),
                max_rows=current_app.config.get("ROSTER_IMPORT_MAX_ROWS", service.parse.MAX_ROWS),
            )
        except RosterFileError as exc:
            raise click.ClickException(str(exc)) from None
        for p in plan.problems[:500]:
            click.echo(p.text(), err=True)
        if len(plan.problems) > 500:
            click.echo(f"... {len(plan.problems) - 500} more problem(s)", err=True)
        for note in plan.notes[:50]:
            click.echo("note: " + note.text(), err=True)
        if plan.extra_columns:
            click.echo("ignored column(s): " + ", ".join(plan.extra_columns))
        c = plan.counts()
        summary = (
            f"{c['rows']} row(s): {c['create']} to create, {c['update']} to update, {c['unchanged']} unchanged, "
            f"{c['transfers']} transfer(s) to request, {c['classes_new']} new class(es), "
            f"{c['bad_rows']} row(s) with errors"
        )
        for t in plan.transfers[:50]:
            click.echo(f"transfer: row {t.row.row} ({t.row.student_number}) belongs to a student of another school "
                       "- request a transfer")
        if dry_run:
            service.audit_preview(session, actor, plan, file=path.name)
            click.echo("dry run: " + summary + "; nothing written")
            failed = bool(plan.problems)
        elif plan.problems and not partial:
            session.rollback()
            click.echo("nothing written: " + summary + " (correct the rows, or use --partial)", err=True)
            failed = True
        else:
            result = service.apply_import(session, actor, vault, plan, apply_transfers=apply_transfers, partial=partial,
                                          source="cli", audit_detail={"file": path.name})
            click.echo(
                f"{school.code}: {result.created} created, {result.updated} updated, {result.unchanged} unchanged, "
                f"{result.transfers_requested} transfer(s) requested, {result.transfers_pending} transfer(s) not "
                f"requested (use --request-transfers), {result.classes_created} class(es) created"
                + (f", {result.skipped_rows} bad row(s) skipped" if result.skipped_rows else "")
            )
    if failed:
        raise SystemExit(1)


@roster_cli.command("export")
@click.argument("out", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@click.option("--school", "school_code", required=True, help="The school (code) to export.")
def export_command(out: Path, school_code: str) -> None:
    """Write the school's enrolled students to OUT (XLSX, the import's own format). Audited as roster.export."""
    import os

    from app.db import db
    from app.vault import keyring
    from models.vault import Vault

    from . import service

    actor = operator_actor()
    with current_app.test_request_context(), db.transaction() as session:
        school = _school(session, school_code)
        # the file holds names: readable by this user only, whatever the umask or an older file's mode
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            count = service.export_xlsx(session, Vault(session, keyring(), actor), school, fh)
    click.echo(f"{count} student(s) of {school_code} written to {out} (mode 0600)")
    click.echo("This file holds students' names and numbers: keep it off shared folders and delete it when done.")
