"""`flask screenings import PATH [--dry-run] [--school CODE] [--campaign ID] [--partial]`."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import ColumnElement, select

from app.cli import operator_actor
from models import Campaign, District, School, Student, append_event

screenings_cli = AppGroup("screenings", help="Screening results: import from CSV/XLSX.")


@screenings_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@click.option("--school", "school_code", help="Only match students of this school (code).")
@click.option(
    "--district", "district_code", help="Match students of this district (code); the default when there is one."
)
@click.option("--campaign", "campaign_id", type=int, help="Attach the screenings to this campaign (id).")
@click.option("--partial", is_flag=True, help="Write the valid rows even when some rows are wrong.")
def import_command(
    path: Path,
    dry_run: bool,
    school_code: str | None,
    district_code: str | None,
    campaign_id: int | None,
    partial: bool,
) -> None:
    """Import screening results from PATH (CSV in UTF-8 or GBK, or XLSX)."""
    from app.db import db
    from app.vault import keyring
    from models.vault import Vault

    from . import importer

    if path.stat().st_size > importer.MAX_BYTES:
        raise click.ClickException(f"{path.name} is larger than {importer.MAX_BYTES // (1024 * 1024)} MB")
    data = path.read_bytes()
    actor = operator_actor()
    # messages are translated (default locale), which Flask-Babel does within a request context
    with current_app.test_request_context(), db.transaction() as session:
        districts = list(session.scalars(select(District).order_by(District.code)))
        if district_code:
            district = next((d for d in districts if d.code == district_code), None)
            if district is None:
                raise click.ClickException(f"no district with code {district_code!r}")
        elif len(districts) == 1 or school_code:
            district = districts[0] if districts else None
        else:
            raise click.ClickException("several districts: give --district CODE or --school CODE")
        school_filter: ColumnElement[bool] = Student.school_id.in_(
            select(School.id).where(School.district_id == (district.id if district else -1))
        )
        if school_code:
            school = session.scalars(select(School).where(School.code == school_code)).first()
            if school is None:
                raise click.ClickException(f"no school with code {school_code!r}")
            school_filter = Student.school_id == school.id
        campaign = None
        if campaign_id is not None:
            campaign = session.get(Campaign, campaign_id)
            if campaign is None or campaign.status != "open":
                raise click.ClickException(f"no open campaign with id {campaign_id}")
        vault = Vault(session, keyring(), actor)
        try:
            report = importer.run_import(session, actor, vault, data, filename=path.name, school_filter=school_filter,
                                         campaign=campaign, dry_run=dry_run, partial=partial)
        except importer.ImportFileError as exc:
            raise click.ClickException(str(exc)) from None
        for line in importer.format_errors(report):
            click.echo(line, err=True)
        bad = len(report.bad_rows)
        if dry_run:
            # the check matched the file's student numbers against stored (sealed) ones: one event, counts only
            append_event(session, actor, "screening.import_checked", target=f"campaign:{campaign.id}" if campaign
                         else None, detail={"file": path.name, "rows": len(report.rows),
                                            "valid": len(report.good_rows), "bad": bad})
            click.echo(
                f"dry run: {len(report.rows)} row(s) checked, {len(report.good_rows)} valid, "
                f"{bad} with errors; nothing written"
            )
        elif bad and not partial:
            session.rollback()
            click.echo(f"nothing written: {bad} row(s) with errors (use --partial to write the valid rows)", err=True)
        else:
            click.echo(
                f"{report.written} screening(s) imported from {path.name}" + (f"; {bad} row(s) skipped" if bad else "")
            )
    if (bad and not partial) or (dry_run and bad):
        raise SystemExit(1)
