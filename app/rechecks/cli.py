"""`flask rechecks sweep [--json] [--now ISO]` and `flask rechecks policy`: run the sweeps once, show the policy."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import click
from flask.cli import AppGroup, with_appcontext

from app.cli import operator_actor
from models import append_event, clock

rechecks_cli = AppGroup("rechecks", help="Rechecks, reminders and the periodic sweeps.")

LABELS = {
    "rechecks": "rechecks",
    "crisis_realerts": "crisis re-alerts",
    "checkin_reminders": "care-group check-in reminders",
    "weekly_digest": "weekly digest",
    "mail": "e-mail",
}


def parse_now(value: str | None) -> datetime:
    if not value:
        return clock.now()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO date-time such as 2026-12-01T08:00:00+08:00", param_hint="--now"
        ) from None
    if moment.tzinfo is None:  # a bare time is the school's local time
        from app.rechecks.service import school_timezone

        moment = moment.replace(tzinfo=school_timezone())
    return moment.astimezone(UTC)


@rechecks_cli.command("sweep")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object of counts per sweep.")
@click.option("--now", "now_text", default=None, help="Pretend it is this moment (ISO 8601; default: now).")
@with_appcontext
def sweep(as_json: bool, now_text: str | None) -> None:
    """Run every sweep once, in one transaction, and print what it did. Safe to run twice: nothing is repeated."""
    from app.db import db
    from app.rechecks.policy import PolicyError, load_recheck_policy
    from app.scheduler.jobs import run_all_sweeps

    now = parse_now(now_text)
    try:
        policy = load_recheck_policy()
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    with db.transaction() as session:
        result = run_all_sweeps(session, now, policy)
        append_event(session, operator_actor(), "rechecks.sweep", detail={"now": now.isoformat(), **result})
    if as_json:
        click.echo(json.dumps({"now": now.isoformat(), **result}, sort_keys=True))
        return
    click.echo(f"sweeps at {now.isoformat()}:")
    for name, label in LABELS.items():
        counts = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in result[name].items())
        click.echo(f"  {label}: {counts}")
    click.echo(f"  notifications created: {result['notifications_created']}")


@rechecks_cli.command("policy")
@with_appcontext
def show_policy() -> None:
    """Check the recheck policy file and print it as the sweeps read it."""
    from app.rechecks.policy import PolicyError, load_recheck_policy, policy_path

    try:
        p = load_recheck_policy()
    except PolicyError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"policy {policy_path()}: OK")
    click.echo(f"  recheck after (days): {', '.join(f'{k} {v}' for k, v in p.interval_days.items())}")
    click.echo(f"  instrument: {p.instrument_choice} (defaults {p.default_instruments})")
    click.echo(f"  due notice {p.due_notice_days_before} d, escalate after {p.escalate_after_days_overdue} d overdue")
    click.echo(f"  crisis re-alert every {p.crisis_realert_hours:g} h; digest weekday {p.digest_weekday + 1}")
