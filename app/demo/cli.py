"""`flask demo seed [--if-empty]`: build the demo district from every registered step, in one transaction."""
from __future__ import annotations

import random
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime, time

import click
from flask import current_app, has_app_context
from flask.cli import AppGroup
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.areas import DemoStep, wiring
from models import Actor, District, School, User, append_event, clock
from models.crypto import KeyRing
from models.vault import Vault

from . import DemoContext, demo_terms

demo_cli = AppGroup("demo", help="The demo district (development and evaluation only).")

DEFAULT_SEED = 20261129


def database_is_empty(session: Session) -> bool:
    return not any(session.scalar(select(func.count()).select_from(m)) for m in (District, School, User))


def run_demo(
    session: Session, keyring: KeyRing, password: str, *, seed: int = DEFAULT_SEED, today: date | None = None,
    steps: Sequence[DemoStep] | None = None,
) -> tuple[DemoContext, list[str]]:
    """Run the demo steps in order on `session` (flushing only); return the context and summaries.

    Default steps: the current app's (its areas' `demo_steps`); steps record screenings with the app's policy,
    so they run inside an app context."""
    if steps is None:
        steps = wiring().demo_steps
    actor = Actor.system("demo-seed")
    today = today or clock.today(current_app.config.get("TIMEZONE") if has_app_context() else None)
    ctx = DemoContext(
        session=session,
        keyring=keyring,
        vault=Vault(session, keyring, actor),
        rng=random.Random(seed),
        today=today,
        password=password,
        terms=demo_terms(today),
    )
    per_term = [step for step in steps if step.each_term]
    first = min((step.order for step in per_term), default=None)
    setup = [step for step in steps if not step.each_term and (first is None or step.order < first)]
    finish = [step for step in steps if not step.each_term and step not in setup]
    summaries = []
    # The district exists from the first school year of the history on (its users, grants and first classes).
    with _story_clock(ctx, date(int(ctx.terms[0].school_year[:4]), 9, 1) if per_term else None, time(8, 0)):
        for step in setup:
            summaries.append(f"[{step.order:>3}] {step.run(ctx)}")
        session.flush()
    for term in ctx.terms if per_term else ():
        ctx.term, ctx.today = term, term.today
        # a past term's steps run at the end of its story (they travel to each moment they date); the current
        # term's on the real clock
        with _story_clock(ctx, None if term.current else term.today, time(17, 30)):
            for step in per_term:
                summaries.append(f"[{step.order:>3}] {term.term}: {step.run(ctx)}")
            session.flush()
    ctx.term, ctx.today = None, today
    for step in finish:
        summaries.append(f"[{step.order:>3}] {step.run(ctx)}")
    append_event(session, actor, "demo.seeded", detail={"steps": [step.name for step in steps],
                                                        "terms": [t.term for t in ctx.terms] if per_term else []})
    session.flush()
    return ctx, summaries


@contextmanager
def _story_clock(ctx: DemoContext, day: date | None, at: time) -> Iterator[None]:
    """The clock at `day` `at` (school time zone) for the block, flushing before it ends so that every default
    stamp is taken then; None: the clock as it is."""
    if day is None:
        yield
        return
    with clock.travel(datetime.combine(day, at, tzinfo=clock.school_timezone())):
        yield
        ctx.session.flush()


def account_lines(ctx: DemoContext, password: str) -> list[str]:
    users: dict[str, User] = ctx.data.get("users", {})
    lines = [f"Demo accounts (password: {password}):"]
    featured = ("admin", "district", "counselor", "teacher", "leader", "city")
    for username in featured:
        user = users.get(username)
        if user is None:
            continue
        scope = ""
        if user.role in ("counselor", "school_leader"):
            scope = " — " + "、".join(s.name for s in user.schools)
        elif user.role == "head_teacher":
            scope = " — " + "、".join(f"{c.school.name} {c.name}" for c in user.classes)
        lines.append(f"  {username:<10} {user.role:<13} {user.display_name}{scope}")
    others = sorted(u for u, user in users.items() if u not in featured and user.role == "counselor")
    if others:
        lines.append(f"  also counselors: {', '.join(others)} (same password)")
    return lines


@demo_cli.command("seed")
@click.option("--if-empty", is_flag=True, help="Do nothing (successfully) when the database already has data.")
@click.option("--seed", "seed", type=int, default=DEFAULT_SEED, show_default=True, help="Random seed.")
def demo_seed(if_empty: bool, seed: int) -> None:
    """Create the demo district (about 12 schools, 1,500 students and the demo users)."""
    from app.db import db

    if not current_app.config.get("ALLOW_DEMO_SEED"):
        click.echo(
            "Refused: demo seeding is disabled in this configuration "
            f"({current_app.config.get('ENV_NAME')}); it would mix invented students with real ones.",
            err=True,
        )
        sys.exit(2)
    password = current_app.config["DEMO_PASSWORD"]
    with db.transaction() as session:
        if not database_is_empty(session):
            if if_empty:
                click.echo("demo seed: the database already has data; nothing to do.")
                return
            click.echo("Refused: the database is not empty. Seed an empty database (or use --if-empty).", err=True)
            sys.exit(1)
        keyring = current_app.extensions["xinmiao_keyring"]
        ctx, summaries = run_demo(session, keyring, password, seed=seed)
    for line in summaries:
        click.echo(line)
    for line in account_lines(ctx, password):
        click.echo(line)
