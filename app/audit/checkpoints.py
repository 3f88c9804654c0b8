"""The checkpoint sink: signed audit-chain checkpoints appended outside the database.

A file of JSON lines (`AUDIT_CHECKPOINT_FILE`, env `XINMIAO_AUDIT_CHECKPOINT_FILE`, default
`instance/audit-checkpoints.jsonl`; put it on another disk than the database, or ship it elsewhere), opened with
O_APPEND, mode 0600, each line fsynced; optionally each line is also sent to syslog
(`AUDIT_CHECKPOINT_SYSLOG`: `/dev/log`, or `host:port` over UDP), where the app cannot take it back.

Writers: the scheduler's `audit_checkpoint` job (every `AUDIT_CHECKPOINT_MINUTES`) and `flask audit verify`
after a successful verification. A checkpoint is written only if the chain still extends the newest checkpoint
in the file; otherwise nothing is written (a rewound chain is never anchored) and the job reports a mismatch.
The format and the comparison are in models/audit_checkpoint.py.
"""
from __future__ import annotations

import fcntl
import logging
import logging.handlers
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy.orm import Session

from models import clock
from models.audit_checkpoint import (
    Checkpoint,
    CheckpointError,
    Problem,
    chain_tip,
    compare,
    extends,
    parse,
    sign,
)
from models.crypto import KeyRing


def checkpoint_path(app: Flask | None = None) -> Path | None:
    """The configured file, or None where checkpoints are off (only the test configuration turns them off)."""
    value = (app or current_app).config.get("AUDIT_CHECKPOINT_FILE")
    return Path(value) if value else None


def _keyring(app: Flask | None = None) -> KeyRing:
    return (app or current_app).extensions["xinmiao_keyring"]


@dataclass
class FileReport:
    """What the sink holds: the checkpoints that verified (line number, checkpoint) and the lines that did not."""

    path: Path | None
    checkpoints: list[tuple[int, Checkpoint]] = field(default_factory=list)
    bad_lines: list[Problem] = field(default_factory=list)

    @property
    def latest(self) -> Checkpoint | None:
        return self.checkpoints[-1][1] if self.checkpoints else None


def read_checkpoints(path: Path | None, keyring: KeyRing) -> FileReport:
    report = FileReport(path)
    if path is None or not path.exists():
        return report
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, raw in enumerate(fh, start=1):
            line = raw.strip()
            if not line:
                continue
            try:
                report.checkpoints.append((number, parse(keyring, line)))
            except CheckpointError as exc:
                report.bad_lines.append(Problem(number, f"checkpoint line {number} {exc}"))
    return report


@dataclass(frozen=True)
class Verdict:
    problems: list[Problem]
    checked: int
    latest: Checkpoint | None

    @property
    def ok(self) -> bool:
        return not self.problems


def check_chain(session: Session, app: Flask | None = None) -> Verdict:
    """The stored chain against every checkpoint of the sink (and the sink's own lines)."""
    report = read_checkpoints(checkpoint_path(app), _keyring(app))
    problems = list(report.bad_lines) + compare(session, report.checkpoints)
    return Verdict(sorted(problems, key=lambda p: p.line), len(report.checkpoints), report.latest)


@dataclass(frozen=True)
class WriteResult:
    written: Checkpoint | None
    reason: str = ""  # why nothing was written
    mismatch: bool = False  # the chain or the file disagrees with the newest checkpoint


def write_checkpoint(session: Session, app: Flask | None = None, now: datetime | None = None) -> WriteResult:
    """Append a checkpoint of the chain as stored now, if it extends the newest valid checkpoint of the file.

    Under an exclusive lock of the file, so the scheduler and `flask audit verify` never write out of order: a
    checkpoint older than the file's newest (read before it was written by the other) is not appended."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    path = checkpoint_path(app)
    if path is None:
        return WriteResult(None, "checkpoints are off (AUDIT_CHECKPOINT_FILE is empty)")
    keyring = _keyring(app)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tip = chain_tip(session)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        report = read_checkpoints(path, keyring)
        if report.bad_lines:
            return WriteResult(None, report.bad_lines[-1].message, mismatch=True)
        latest = report.latest
        if latest is not None:
            if not extends(tip, latest, session):
                return WriteResult(None, f"the chain ({tip.count} events) does not extend the checkpoint of "
                                         f"{latest.at.isoformat()} ({latest.count} events)", mismatch=True)
            if latest.count == tip.count and latest.head == tip.head:
                return WriteResult(None, "unchanged since the last checkpoint")
        checkpoint = sign(keyring, tip, now or clock.now())
        os.write(fd, (checkpoint.line() + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    _to_syslog(app, checkpoint.line())
    return WriteResult(checkpoint)


def _to_syslog(app: Flask, line: str) -> None:
    target = (app.config.get("AUDIT_CHECKPOINT_SYSLOG") or "").strip()
    if not target:
        return
    if target.startswith("/"):
        address: str | tuple[str, int] = target
    else:
        host, _, port = target.rpartition(":")
        address = (host.strip("[]") or "127.0.0.1", int(port or 514))
    handler = logging.handlers.SysLogHandler(address=address, facility=logging.handlers.SysLogHandler.LOG_AUTH)
    try:
        record = logging.LogRecord("xinmiao.audit", logging.INFO, __file__, 0, "xinmiao-audit-checkpoint: %s",
                                   (line,), None)
        handler.emit(record)
    finally:
        handler.close()
