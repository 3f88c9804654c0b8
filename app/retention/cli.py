"""`flask retention list-due [--json]`: the monthly review run by hand (the scheduler's job `retention_review` does it
on its day); `flask retention policy`: check config/retention.yaml and print the rule in force."""
from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from app.db import db
from app.ui import local_today

from .policy import RetentionPolicyError, load_retention_policy
from .service import list_due

retention_cli = AppGroup("retention", help="Retention: files of students who left, erased when their period ends.")


@retention_cli.command("list-due")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as one JSON object.")
def list_due_command(as_json: bool) -> None:
    """List (on /retention) the files whose retention period ran out, and held files whose hold ended. Idempotent."""
    from app.cli import operator_actor

    try:
        policy = load_retention_policy()
    except RetentionPolicyError as exc:
        raise click.ClickException(str(exc)) from exc
    with db.transaction() as session:
        counts = list_due(session, operator_actor(), policy, local_today())
    if as_json:
        click.echo(json.dumps(counts, sort_keys=True))
    else:
        click.echo(f"listed {counts['listed']}, back after a hold {counts['returned_after_hold']}, "
                   f"cancelled (enrolled again) {counts['cancelled']}")


@retention_cli.command("policy")
def policy_command() -> None:
    """Check config/retention.yaml and print the rule in force."""
    try:
        policy = load_retention_policy()
    except RetentionPolicyError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"leaving statuses: {', '.join(policy.leaving_statuses)}")
    click.echo(f"kept {policy.months_after_leaving} months after leaving; "
               f"holds at most {policy.max_hold_months} months")
    click.echo(f"hold reasons: {', '.join(policy.hold_reasons)}")
