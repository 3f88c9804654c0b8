"""Signed checkpoints anchor the audit chain outside the database: `flask audit verify` detects a deleted tail
with a rewound head, a wiped log and a rewritten tail against them, and refuses forged or edited checkpoints
(issue 15). Each of the attacks below passes `verify_chain` alone (asserted), which is what it did before."""
from __future__ import annotations

import json
import os
import socket
import stat
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, select, update

from app.audit.checkpoints import write_checkpoint
from app.audit.tasks import checkpoint_sweep
from app.scheduler.jobs import JOBS, by_hand_sweeps
from models import AuditEvent, AuditHead, append_event, clock, verify_chain
from models.audit import Actor
from models.audit_checkpoint import CheckpointError, Tip, parse, sign
from models.crypto import KeyRing
from tests.audit_support import link_audit
from tests.conftest import _session_on, make_test_app
from tests.integration.keys_support import disable_audit_triggers

ACTOR = Actor(3, "counselor3", "counselor", "10.0.0.3")


@pytest.fixture
def sink(tmp_path):  # type: ignore[no-untyped-def]
    return tmp_path / "anchor" / "audit-checkpoints.jsonl"


@pytest.fixture
def cli_app(engine, connection, keyring, sink):  # type: ignore[no-untyped-def]
    return make_test_app(engine, keyring, lambda: _session_on(connection), AUDIT_CHECKPOINT_FILE=str(sink))


def _append(session, n: int, tag: str = "a") -> None:  # type: ignore[no-untyped-def]
    for i in range(n):
        append_event(session, ACTOR, "student.view", student_public_id=f"{tag}-{i}", detail={"i": i})
    link_audit(session)


def verify(app, *extra: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["audit", "verify", *extra])


def _lines(sink) -> list[dict]:  # type: ignore[no-untyped-def]
    return [json.loads(line) for line in sink.read_text().splitlines() if line.strip()]


def _hash_of(session, seq: int) -> str:  # type: ignore[no-untyped-def]
    return session.scalar(select(AuditEvent.hash).where(AuditEvent.chain_seq == seq))


def _truncate_and_rewind(session, keep: int) -> None:  # type: ignore[no-untyped-def]
    """What a database superuser does to hide the last events: delete them and set the head back."""
    disable_audit_triggers(session)
    session.execute(delete(AuditEvent).where(AuditEvent.chain_seq > keep))
    session.execute(update(AuditHead).values(seq=keep, last_hash=_hash_of(session, keep)))
    session.expire_all()


def test_an_honest_chain_passes_and_each_verify_appends_a_signed_checkpoint(cli_app, db_session, sink):
    _append(db_session, 4)
    first = verify(cli_app)
    assert first.exit_code == 0, first.output
    assert first.output.splitlines()[0] == f"audit chain OK: 4 events, head {_hash_of(db_session, 4)}"
    assert "no checkpoint yet" in first.output and "checkpoint written: 4 events" in first.output
    _append(db_session, 3, "b")
    second = verify(cli_app)
    assert second.exit_code == 0, second.output
    assert "agrees with 1 checkpoints" in second.output and "checkpoint written: 7 events" in second.output
    lines = _lines(sink)
    assert [(x["count"], x["seq"], x["head"]) for x in lines] == [
        (4, 4, _hash_of(db_session, 4)), (7, 7, _hash_of(db_session, 7))]
    assert all(len(x["mac"]) == 64 and x["key"] == 1 for x in lines)
    assert stat.S_IMODE(os.stat(sink).st_mode) == 0o600
    assert verify(cli_app, "--no-checkpoint").exit_code == 0
    assert len(_lines(sink)) == 2  # nothing new: --no-checkpoint, and an unchanged chain is not re-anchored


def test_tail_truncation_with_a_rewound_head_is_detected_against_the_checkpoint(cli_app, db_session, sink):
    _append(db_session, 6)
    assert verify(cli_app).exit_code == 0
    _truncate_and_rewind(db_session, keep=3)
    assert verify_chain(db_session) == (3, None)  # the chain alone cannot tell
    result = verify(cli_app)
    assert result.exit_code == 1
    assert "the chain holds 3 events but the checkpoint of" in result.stderr
    assert "recorded 6: events were deleted (tail truncated or log wiped)" in result.stderr
    assert "audit chain OK" not in result.output
    assert len(_lines(sink)) == 1  # a rewound chain is never anchored


def test_a_wiped_log_both_tables_emptied_is_detected(cli_app, db_session, sink):
    _append(db_session, 5)
    assert verify(cli_app).exit_code == 0
    disable_audit_triggers(db_session)
    db_session.execute(delete(AuditEvent))
    db_session.execute(delete(AuditHead))
    db_session.expire_all()
    assert verify_chain(db_session) == (0, None)  # an empty database is a valid empty chain
    result = verify(cli_app)
    assert result.exit_code == 1
    assert "the audit log is empty but the checkpoint of" in result.stderr and "recorded 5" in result.stderr


def test_a_tail_rewritten_to_the_same_length_is_detected_by_the_checkpointed_hash(cli_app, db_session, sink):
    _append(db_session, 5)
    assert verify(cli_app).exit_code == 0
    _truncate_and_rewind(db_session, keep=3)
    _append(db_session, 2, "forged")  # events 4 and 5 again, with other content, correctly chained
    assert verify_chain(db_session) == (5, None)
    result = verify(cli_app)
    assert result.exit_code == 1
    assert "event 5 does not have the hash checkpointed at" in result.stderr and "rewritten" in result.stderr


def test_an_older_checkpoint_is_checked_too(cli_app, db_session, sink):
    _append(db_session, 3)
    assert verify(cli_app).exit_code == 0
    _append(db_session, 3, "b")
    assert verify(cli_app).exit_code == 0
    # Rewrite events 2.. and add enough to pass the newest checkpoint's count: both checkpointed hashes differ.
    _truncate_and_rewind(db_session, keep=1)
    _append(db_session, 7, "forged")
    assert verify_chain(db_session) == (8, None)
    result = verify(cli_app)
    assert result.exit_code == 1
    assert "event 3 does not have the hash" in result.stderr and "event 6 does not have the hash" in result.stderr


@pytest.mark.parametrize("edit", ["lower_count", "other_head", "forged_mac", "other_key", "not_json", "missing_field"])
def test_a_forged_or_edited_checkpoint_line_fails_the_verification(cli_app, db_session, sink, edit):
    _append(db_session, 5)
    assert verify(cli_app).exit_code == 0
    line = _lines(sink)[0]
    if edit == "lower_count":  # the attacker truncates to 3 and edits the checkpoint to match
        _truncate_and_rewind(db_session, keep=3)
        line.update(count=3, seq=3, head=_hash_of(db_session, 3))
    elif edit == "other_head":
        line["head"] = "f" * 64
    elif edit == "forged_mac":
        line["mac"] = "0" * 64
    elif edit == "other_key":  # signed properly, but with a key that is not the installation's
        line = json.loads(sign(KeyRing.generate(), Tip(5, 5, line["head"]), clock.now()).line())
    elif edit == "missing_field":
        del line["seq"]
    text = "{not json" if edit == "not_json" else json.dumps(line)
    sink.write_text(text + "\n")
    result = verify(cli_app)
    assert result.exit_code == 1
    assert "checkpoint line 1" in result.stderr
    expected = {"not_json": "is not JSON", "missing_field": "does not have the fields of a checkpoint"}.get(
        edit, "signature that does not match: a forged or edited checkpoint")
    assert expected in result.stderr


def test_a_checkpoint_appended_with_a_made_up_signature_fails(cli_app, db_session, sink):
    _append(db_session, 2)
    assert verify(cli_app).exit_code == 0
    forged = dict(_lines(sink)[0], count=1, seq=1, head=_hash_of(db_session, 1), mac="ab" * 32)
    with open(sink, "a") as fh:
        fh.write(json.dumps(forged) + "\n")
    result = verify(cli_app)
    assert result.exit_code == 1 and "checkpoint line 2 has a signature that does not match" in result.stderr


def test_checkpoints_signed_under_a_version_the_key_ring_does_not_hold_are_named(keyring):
    line = sign(keyring, Tip(1, 1, "a" * 64), clock.now()).line()
    data = dict(json.loads(line), key=9)
    with pytest.raises(CheckpointError, match="master key version 9"):
        parse(keyring, json.dumps(data))
    assert parse(keyring, line).count == 1


def test_the_scheduler_job_writes_checkpoints_and_refuses_to_anchor_a_rewound_chain(cli_app, db_session, sink):
    job = next(j for j in JOBS if j.id == "audit_checkpoint")
    assert job.minutes_key == "AUDIT_CHECKPOINT_MINUTES" and not job.by_hand
    assert "audit_checkpoint" not in {s.name for s in by_hand_sweeps()}
    now = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
    _append(db_session, 4)
    with cli_app.app_context():
        assert checkpoint_sweep(db_session, now, None) == {"written": 1, "events": 4, "mismatch": 0}  # type: ignore[arg-type]
        assert checkpoint_sweep(db_session, now, None)["written"] == 0  # unchanged  # type: ignore[arg-type]
        _truncate_and_rewind(db_session, keep=2)
        counts = checkpoint_sweep(db_session, now, None)  # type: ignore[arg-type]
    assert counts == {"written": 0, "events": 0, "mismatch": 1}
    assert [x["count"] for x in _lines(sink)] == [4]
    mismatch = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.checkpoint_mismatch"))
    assert mismatch is not None and "does not extend the checkpoint" in mismatch.detail
    assert verify(cli_app).exit_code == 1


def test_a_checkpoint_is_also_sent_to_syslog_when_configured(engine, connection, keyring, sink, db_session):
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(10)
    try:
        app = make_test_app(engine, keyring, lambda: _session_on(connection), AUDIT_CHECKPOINT_FILE=str(sink),
                            AUDIT_CHECKPOINT_SYSLOG=f"127.0.0.1:{receiver.getsockname()[1]}")
        _append(db_session, 2)
        with app.app_context():
            written = write_checkpoint(db_session).written
        message = receiver.recv(4096).decode()
    finally:
        receiver.close()
    assert written is not None and "xinmiao-audit-checkpoint: " + written.line() in message


def test_checkpoints_are_off_only_where_the_file_setting_is_empty(app, db_session):
    _append(db_session, 1)
    result = verify(app)
    assert result.exit_code == 0 and "checkpoints are off" in result.output
    with app.app_context():
        assert write_checkpoint(db_session).written is None
    from config import BaseConfig, DevelopmentConfig, ProductionConfig

    for cfg in (BaseConfig, DevelopmentConfig, ProductionConfig):
        assert cfg.AUDIT_CHECKPOINT_FILE.endswith("audit-checkpoints.jsonl")


def test_the_admin_verify_button_reports_a_chain_that_does_not_match_its_checkpoint(cli_app, db_session, factory):
    from tests.conftest import login, post

    admin = factory.user("admin")
    client = cli_app.test_client()
    login(client, admin.username, factory.PASSWORD)
    _append(db_session, 3)
    assert verify(cli_app).exit_code == 0
    _truncate_and_rewind(db_session, keep=1)
    html = post(client, "/admin/audit/verify", follow_redirects=True).get_data(as_text=True)
    assert "审计链与保存在数据库之外的签名检查点不符" in html and "events were deleted" in html
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.verify"))
    detail = json.loads(event.detail)
    assert detail["ok"] is False and "events were deleted" in detail["checkpoint_problems"][0]
