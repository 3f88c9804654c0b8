"""`flask keys init|status|rotate|rotate-index|prune|verify`, `flask audit verify|link`, `flask students erase`.

Registered by the keys area (app/keys/area.py; the keys area has no web pages: key operations are CLI-only).
Every command prints what it did and exits non-zero on any failure.
"""
from __future__ import annotations

import os
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from app.cli import operator_actor
from app.db import db
from models import clock
from models.audit import Actor, AuditEvent, ChainLinkError, link_pending, unlinked_report, verify_chain
from models.crypto import CryptoError, KeyRing

from . import rotation, service

keys_cli = AppGroup("keys", help="Master keys and data keys: status, rotation, verification.")
audit_cli = AppGroup("audit", help="The tamper-evident audit chain.")
students_cli = AppGroup("students", help="Student records.")

ENV_ROTATION_HELP = """\
Your master keys come from environment variables (XINMIAO_MASTER_KEYS), so this command cannot add a version
for you. To rotate:
  1. Make a new 256-bit key:
       python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"
  2. Append it with the next version number, keeping every old version:
       XINMIAO_MASTER_KEYS="1:<old key>,2:<new key>"   (the highest version becomes current)
     and store it wherever your secrets live (and in your key backup) BEFORE going further.
  3. Restart every app process (web workers and the scheduler) so that all of them know the new version.
  4. Run:  flask keys rotate --rewrap-only
Nothing has been changed."""

ENV_INDEX_ROTATION_HELP = """\
Your keys come from environment variables, so this command cannot add a blind-index key version for you.
To rotate the index key:
  1. Make a new 256-bit key:
       python -c "import base64, os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"
  2. Give every version, the highest being current:
       XINMIAO_INDEX_KEY="1:<old index key>,2:<new key>"   (a bare key is version 1)
     and store it wherever your secrets live (and in your key backup) BEFORE going further.
  3. Restart every app process (web workers and the scheduler): each then looks up under both versions.
  4. Run:  flask keys rotate-index --rebuild-only
Nothing has been changed."""


def _actor() -> Actor:
    return operator_actor()


def _keyring() -> KeyRing:
    return current_app.extensions["xinmiao_keyring"]


def key_source(app: Flask) -> tuple[str, str | None]:
    """Where the running app's key ring came from: ("file", path), ("environment", None) or ("configured", None).

    Mirrors `app._load_keyring`: KEY_FILE (XINMIAO_KEY_FILE), then XINMIAO_MASTER_KEYS, then in development the
    generated instance/keys.json.
    """
    if app.config.get("KEYRING") is not None:
        return "configured", None
    if app.config.get("KEY_FILE"):
        return "file", str(app.config["KEY_FILE"])
    if (os.environ.get("XINMIAO_KEY_FILE") or "").strip():
        return "file", os.environ["XINMIAO_KEY_FILE"].strip()
    if (os.environ.get("XINMIAO_MASTER_KEYS") or "").strip():
        return "environment", None
    if app.config.get("GENERATE_DEV_KEYS"):
        return "file", str(app.config["DEV_KEY_FILE"])
    return "configured", None


def _describe_source(kind: str, path: str | None) -> str:
    if kind == "file":
        return f"key file {path}"
    if kind == "environment":
        return "environment variables XINMIAO_MASTER_KEYS / XINMIAO_INDEX_KEY"
    return "key ring given to the app in its configuration"


# -- keys ---------------------------------------------------------------------------------------------------------


@keys_cli.command("init")
@click.option("--path", "path_opt", default=None, type=click.Path(dir_okay=False),
              help="Where to write the key file (default: XINMIAO_KEY_FILE).")
def keys_init(path_opt: str | None) -> None:
    """Write a NEW key file (random master and blind-index keys, mode 0600). Refuses to overwrite a file."""
    path = path_opt or current_app.config.get("KEY_FILE") or os.environ.get("XINMIAO_KEY_FILE")
    if not path:
        click.echo("error: give --path or set XINMIAO_KEY_FILE", err=True)
        sys.exit(2)
    try:
        KeyRing.generate_file(path)
    except CryptoError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"wrote a new key file {path} (mode 0600, readable by this user only)")
    click.echo("Back it up now, apart from the database backups (deploy/backup/xinmiao-backup-keys): without it "
               "no name or note can ever be read again.")


@keys_cli.command("status")
def keys_status() -> None:
    """Master-key versions, the current one, data keys per version, destroyed keys."""
    kind, path = key_source(current_app)
    status = service.key_status(db.session, _keyring(), kind)
    click.echo(f"master keys from: {_describe_source(kind, path)}")
    click.echo(f"master key versions: {', '.join(str(v) for v in status.versions)} (current: {status.current})")
    click.echo(f"data keys: {status.live} live, {status.destroyed} destroyed (erased students)")
    for version in sorted(set(status.per_version) | set(status.versions)):
        marker = " (current)" if version == status.current else ""
        missing = "" if version in status.versions else "  <- NOT IN THE KEY RING: these keys cannot be opened"
        click.echo(f"  version {version}{marker}: {status.per_version.get(version, 0)} data keys{missing}")
    if status.pending:
        click.echo(
            f"{status.pending} data keys are not on the current version: run `flask keys rotate --rewrap-only` "
            "to finish the rotation."
        )
    ring = _keyring()
    per_index = rotation.index_status(db.session, ring)
    click.echo(f"index key versions: {', '.join(str(v) for v in sorted(ring.index_versions))} "
               f"(current: {ring.index_version})")
    for version in sorted(set(per_index) | set(ring.index_versions)):
        marker = " (current)" if version == ring.index_version else ""
        missing = "" if version in ring.index_versions else "  <- NOT IN THE KEY RING: these rows are not found"
        click.echo(f"  index version {version}{marker}: {per_index.get(version, 0)} students{missing}")
    pending = rotation.pending_reindex(db.session, ring)
    if pending:
        click.echo(f"{pending} students are not on the current index version: run "
                   "`flask keys rotate-index --rebuild-only` to finish the rebuild.")
    db.session.rollback()


@keys_cli.command("rotate")
@click.option("--rewrap-only", is_flag=True, help="Do not add a master-key version; rewrap to the current one.")
@click.option(
    "--add-only", is_flag=True,
    help="Only add the new version to the key file (then restart every app process and run --rewrap-only).",
)
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
def keys_rotate(rewrap_only: bool, add_only: bool, batch_size: int) -> None:
    """Add a master-key version to the key file and rewrap every data key to it, one commit per batch.

    Resumable: if a previous rotation was interrupted (live data keys on an older version), running it again
    continues that rotation instead of adding yet another version.
    """
    ring = _keyring()
    kind, path = key_source(current_app)
    session = db.session
    actor = _actor()
    if rewrap_only and add_only:
        click.echo("error: --rewrap-only and --add-only exclude each other", err=True)
        sys.exit(2)
    try:
        status = service.key_status(session, ring, kind)
        if add_only:
            if kind != "file" or not path:
                click.echo(ENV_ROTATION_HELP)
                sys.exit(2)
            version = service.add_master_version(ring, path, session, actor)
            session.commit()
            click.echo(f"added master key version {version} to {path}; no data key rewrapped yet.")
            click.echo("Back up the key file, restart every app process, then run: flask keys rotate --rewrap-only")
            return
        if not rewrap_only:
            if status.pending:
                click.echo(
                    f"resuming an unfinished rotation: {status.pending} data keys "
                    f"are not yet on version {ring.current_version}"
                )
            elif kind == "file" and path:
                version = service.add_master_version(ring, path, session, actor)
                session.commit()
                click.echo(f"added master key version {version} to {path} (saved and read back before rewrapping)")
                click.echo("Back up the key file now: old backups cannot open keys wrapped under the new version.")
            else:
                click.echo(ENV_ROTATION_HELP)
                sys.exit(2)
        elif not status.pending:
            click.echo(f"nothing to rewrap: all {status.live} live data keys are on version {ring.current_version}")
            session.rollback()
            return
        click.echo(f"rewrapping data keys to master key version {ring.current_version} in batches of {batch_size}")
        result = service.rewrap_data_keys(
            session,
            ring,
            actor,
            batch_size=batch_size,
            commit=session.commit,
            progress=lambda n: click.echo(f"  {n} rewrapped"),
        )
    except (CryptoError, service.KeyOperationError) as exc:
        session.rollback()
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"rewrapped {result.rewrapped} data keys in {result.batches} batches to version {result.to_version}")
    if result.failures:
        for key_id, reason in result.failures:
            click.echo(f"FAILED data key {key_id}: {reason}", err=True)
        click.echo(f"{len(result.failures)} data keys could not be unwrapped and were left as they were", err=True)
        sys.exit(1)
    click.echo(
        "Restart every app process so all of them load the key file again. Keep the old versions in the key file "
        "until no backup made before today is needed any more."
    )


@keys_cli.command("rotate-index")
@click.option("--rebuild-only", is_flag=True, help="Do not add an index key version; recompute to the current one.")
@click.option(
    "--add-only", is_flag=True,
    help="Only add the new index version to the key file (then restart every app process and run --rebuild-only).",
)
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
def keys_rotate_index(rebuild_only: bool, add_only: bool, batch_size: int) -> None:
    """Add a blind-index key version and recompute every student's blind indexes under it, one commit per batch.

    Resumable: rerun after an interruption and it continues with the students not yet recomputed (it adds no
    further version while some are left). Lookups keep working during the rebuild in every process that loaded
    the key file after the version was added; processes started before it miss the recomputed rows until they
    are restarted, so without downtime use --add-only, restart every process, then --rebuild-only.
    """
    ring = _keyring()
    kind, path = key_source(current_app)
    session = db.session
    actor = _actor()
    if rebuild_only and add_only:
        click.echo("error: --rebuild-only and --add-only exclude each other", err=True)
        sys.exit(2)
    try:
        pending = rotation.pending_reindex(session, ring)
        if not rebuild_only:
            if pending and not add_only:
                click.echo(f"resuming an unfinished index rebuild: {pending} students are not yet on index "
                           f"version {ring.index_version}")
            elif kind == "file" and path:
                version = rotation.add_index_version(ring, path, session, actor)
                session.commit()
                click.echo(f"added index key version {version} to {path} (saved and read back)")
                click.echo("Back up the key file now. Lookups try every index version the key file holds.")
                if add_only:
                    click.echo("Restart every app process, then run: flask keys rotate-index --rebuild-only")
                    return
            else:
                click.echo(ENV_INDEX_ROTATION_HELP)
                sys.exit(2)
        elif not pending:
            click.echo(f"nothing to rebuild: every student is on index version {ring.index_version}")
            session.rollback()
            return
        click.echo(f"recomputing blind indexes under index key version {ring.index_version} "
                   f"in batches of {batch_size}")
        result = rotation.rebuild_blind_indexes(
            session, ring, actor, batch_size=batch_size, commit=session.commit,
            progress=lambda n: click.echo(f"  {n} students recomputed"),
        )
    except (CryptoError, service.KeyOperationError) as exc:
        session.rollback()
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"recomputed the blind indexes of {result.rebuilt} students in {result.batches} batches "
               f"(index version {result.to_version})")
    if result.left:
        click.echo(f"{result.left} students were written meanwhile under an older index version (a process not "
                   "restarted since the version was added): restart it and run this command again", err=True)
    if result.failures:
        for failure in result.failures:
            click.echo(f"FAILED student {failure}", err=True)
        click.echo(f"{len(result.failures)} students could not be opened and keep their old indexes", err=True)
    if result.left or result.failures:
        sys.exit(1)
    click.echo("When every app process has been restarted, `flask keys prune --yes` removes the old index key.")


@keys_cli.command("prune")
@click.option("--master-version", "master", type=int, multiple=True, help="Only this old master key version.")
@click.option("--index-version", "index", type=int, multiple=True, help="Only this old index key version.")
@click.option("--yes", is_flag=True, help="Confirm: database backups older than the rotation need the old keys.")
def keys_prune(master: tuple[int, ...], index: tuple[int, ...], yes: bool) -> None:
    """Remove old master-key and index-key versions that nothing uses any more from the key file.

    Refuses a version that any live data key is still wrapped by (or any student is still indexed under). Without
    --master-version/--index-version every unused old version is removed and the ones in use are listed.
    """
    ring = _keyring()
    kind, path = key_source(current_app)
    session = db.session
    named_master = list(master) or None
    named_index = list(index) or None
    if not named_master and not named_index:
        named_master = named_index = None
    elif named_master is None:
        named_master = []
    elif named_index is None:
        named_index = []
    try:
        plan = rotation.prune_plan(session, ring, named_master, named_index)
        busy = [f"master key version {v}: {n} data keys still wrapped by it (run `flask keys rotate --rewrap-only`)"
                for v, n in plan.master_in_use.items() if n]
        busy += [f"index key version {v}: {n} students still indexed under it "
                 "(run `flask keys rotate-index --rebuild-only`)" for v, n in plan.index_in_use.items() if n]
        free = [f"master key version {v}" for v, n in plan.master_in_use.items() if not n]
        free += [f"index key version {v}" for v, n in plan.index_in_use.items() if not n]
        for line in busy:
            click.echo(f"in use, kept: {line}", err=True)
        if busy and (named_master or named_index):
            click.echo("error: a version you named is still in use; nothing removed", err=True)
            session.rollback()
            sys.exit(1)
        if not free:
            click.echo("nothing to prune: no old key version is unused")
            session.rollback()
            return
        if kind != "file" or not path:
            click.echo("unused, may be removed from your environment variables: " + ", ".join(free))
            session.rollback()
            return
        if not yes:
            click.echo(
                "refusing to remove " + ", ".join(free) + " without --yes: database backups made before the "
                "rotation need them (keep a copy of the key file with those backups), and every app process must "
                "have been restarted since the rotation",
                err=True,
            )
            session.rollback()
            sys.exit(2)
        report = rotation.prune_versions(session, ring, path, _actor(), named_master, named_index)
        session.commit()
    except (CryptoError, service.KeyOperationError) as exc:
        session.rollback()
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    removed = [f"master key version {v}" for v in report.master_removed]
    removed += [f"index key version {v}" for v in report.index_removed]
    click.echo(f"removed from {path}: {', '.join(removed)}; master key versions now "
               f"{', '.join(map(str, ring.versions))}, index key versions {', '.join(map(str, ring.index_versions))}")
    click.echo("Restart every app process so all of them load the pruned key file.")


@keys_cli.command("verify")
@click.option("--sample", type=click.IntRange(1, None), default=None, help="Open only a random sample of N values.")
def keys_verify(sample: int | None) -> None:
    """Open every sealed value (or a random sample) and report any that fail; exit 1 on any failure."""
    with db.transaction() as session:
        report = service.verify_sealed(session, _keyring(), _actor(), sample=sample, expunge=True)
    for table, column, uid, reason in report.failures:
        click.echo(f"FAILED {table}.{column} row {uid}: {reason}", err=True)
    scope = f"a random sample of {sample}" if sample else "every sealed value"
    click.echo(
        f"checked {report.checked} values ({scope}): {report.opened} opened, {report.empty} empty, "
        f"{report.erased} of erased students (expected not to open), {len(report.failures)} failed"
    )
    if report.failures:
        sys.exit(1)


# -- audit --------------------------------------------------------------------------------------------------------


@audit_cli.command("verify")
@click.option("--no-checkpoint", is_flag=True, help="Only check; do not append a checkpoint afterwards.")
def audit_verify(no_checkpoint: bool) -> None:
    """Walk the linked audit chain and compare it with the signed checkpoints kept outside the database; print
    the number of events and the head hash, or what is wrong (exit 1). Then append a checkpoint of the verified
    chain. Events not linked yet are counted: pending while younger than AUDIT_UNLINKED_MAX_AGE_SECONDS, a fault
    (exit 1) once older (the linker is stopped, or refuses a broken chain).

    A chain whose tail was deleted and head rewound, or whose tables were emptied, has fewer events than the
    newest checkpoint recorded, or another hash at a checkpointed event: that fails too. See docs/security.md.
    """
    from app.audit.checkpoints import check_chain, checkpoint_path, write_checkpoint

    session = db.session
    count, brk = verify_chain(session)
    if brk is not None:
        click.echo(
            f"audit chain BROKEN at event {brk.seq}: {brk.problem} ({count} events verified before it)", err=True
        )
        sys.exit(1)
    verdict = check_chain(session)
    if not verdict.ok:
        session.rollback()
        for problem in verdict.problems:
            click.echo(f"audit chain does NOT match its checkpoints: {problem.message}", err=True)
        click.echo(f"({count} events verify as a chain; {verdict.checked} checkpoints read from "
                   f"{checkpoint_path()})", err=True)
        sys.exit(1)
    last = session.scalar(select(AuditEvent.hash).where(AuditEvent.chain_seq == count)) if count else None
    unlinked = unlinked_report(session, clock.now(), float(current_app.config["AUDIT_UNLINKED_MAX_AGE_SECONDS"]))
    written = None if no_checkpoint else write_checkpoint(session)
    session.rollback()
    click.echo(f"audit chain OK: {count} events, head {last or '0' * 64}")
    path = checkpoint_path()
    if path is None:
        click.echo("checkpoints are off (AUDIT_CHECKPOINT_FILE is empty): the chain is not anchored", err=True)
    elif verdict.latest is None:
        click.echo(f"warning: no checkpoint yet in {path}: nothing outside the database anchors the chain", err=True)
    else:
        click.echo(f"agrees with {verdict.checked} checkpoints in {path} (newest {verdict.latest.at.isoformat()}: "
                   f"{verdict.latest.count} events)")
    if written is not None and written.written is not None:
        click.echo(f"checkpoint written: {written.written.count} events, head {written.written.head}")
    if unlinked.pending and unlinked.ok:
        click.echo(f"{unlinked.pending} events pending (not linked yet, all younger than "
                   f"{unlinked.max_age_seconds:g} s)")
    if not unlinked.ok:
        oldest = unlinked.oldest.isoformat() if unlinked.oldest else "?"
        click.echo(f"audit chain FAULT: {unlinked.stale} events not linked for more than "
                   f"{unlinked.max_age_seconds:g} s (oldest at {oldest}; {unlinked.pending} unlinked in all): the "
                   "linker (scheduler job audit_link) is not running or refuses the chain; run `flask audit link`",
                   err=True)
        sys.exit(1)


@audit_cli.command("link")
def audit_link() -> None:
    """Link every event not yet in the hash chain (what the scheduler's `audit_link` job does every second),
    committing batch by batch. Safe while the scheduler runs: linkers take turns on the chain's head row."""
    batch = int(current_app.config["AUDIT_LINK_BATCH"])
    total = 0
    while True:
        try:
            with db.transaction() as session:
                result = link_pending(session, batch=batch, max_events=batch * 10)
        except ChainLinkError as exc:
            click.echo(f"audit linker refused: {exc}; run `flask audit verify`", err=True)
            sys.exit(1)
        total += result.linked
        if result.linked == 0:
            break
    click.echo(f"linked {total} events; the chain holds {result.head_seq}, head {result.head_hash}")


# -- students erase -------------------------------------------------------------------------------------------------


@students_cli.command("erase")
@click.argument("public_id")
@click.option("--yes", is_flag=True, help="Confirm: this cannot be undone.")
def students_erase(public_id: str, yes: bool) -> None:
    """Erase a student by destroying their data key (crypto-shredding); leaves a tombstone. Irreversible."""
    if not yes:
        click.echo(
            "refusing to erase without --yes: erasure destroys the student's data key and cannot be undone "
            "(backups keep the wrapped key until they expire; see docs/security.md)",
            err=True,
        )
        sys.exit(2)
    try:
        with db.transaction() as session:
            student = service.erase_student(session, _actor(), public_id)
    except service.KeyOperationError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"student {student.public_id} erased: data key destroyed, identity and blind indexes cleared")


def register_cli(app: Flask) -> None:
    app.cli.add_command(keys_cli)
    app.cli.add_command(audit_cli)
    existing = app.cli.commands.get("students")
    if existing is not None and existing is not students_cli and hasattr(existing, "add_command"):
        existing.add_command(students_erase)  # another area's `students` group: add `erase` to it
    else:
        app.cli.add_command(students_cli)


__all__ = ["register_cli", "keys_cli", "audit_cli", "students_cli", "key_source"]
