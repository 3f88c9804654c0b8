"""Issue 15, keys: `flask keys rotate-index` (a new blind-index key version, every index recomputed in batches,
resumable, audited, lookups working meanwhile) and `flask keys prune` (old master-key and index-key versions
removed once nothing uses them; refused while anything does). SQLite and PostgreSQL."""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cli import upgrade_database
from app.keys import rotation
from app.roster.service import find_number_owner
from app.screenings.finding import find_students, match_by_number
from models import AuditEvent, DataKey, Student
from models.audit import Actor
from models.crypto import KeyRing
from models.db import make_engine
from models.vault import Vault
from tests.audit_support import linked_chain
from tests.conftest import _session_on, make_test_app
from tests.integration.keys_support import key_file_for, key_file_versions, seed_sealed


class Crash(Exception):
    pass


@pytest.fixture
def key_file(tmp_path, keyring):  # type: ignore[no-untyped-def]
    return key_file_for(keyring, tmp_path)


@pytest.fixture
def cli_app(engine, connection, key_file):  # type: ignore[no-untyped-def]
    """The app as an operator runs it: key ring loaded from the key file, sharing the test's transaction."""
    return make_test_app(
        engine, KeyRing.generate(), lambda: _session_on(connection), KEYRING=None, KEY_FILE=str(key_file)
    )


def run(app, *args):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args))


def index_versions_in_file(path: Path) -> list[int]:
    data = json.loads(path.read_text())
    return sorted(int(v) for v in data.get("index_versions", {"1": data["index"]}))


def only_current_index(ring: KeyRing) -> KeyRing:
    """The ring as it will be once the old index key is gone: lookups under the new version alone."""
    return KeyRing(dict(ring._master), ring.current_version, {ring.index_version: ring._index_key})


def actions(session: Session, action: str) -> list[dict]:
    return [json.loads(d) for d in session.scalars(select(AuditEvent.detail).where(AuditEvent.action == action))]


def test_rotate_index_adds_a_version_and_recomputes_every_blind_index_in_batches(
    cli_app, db_session, keyring, key_file
):
    seeded = seed_sealed(db_session, keyring, count=5)
    before = {s.id: (s.name_bidx, s.student_number_bidx) for s in seeded.students}
    result = run(cli_app, "keys", "rotate-index", "--batch-size", "2")
    assert result.exit_code == 0, result.output
    assert "added index key version 2" in result.output
    assert "recomputed the blind indexes of 5 students in 3 batches (index version 2)" in result.output
    assert index_versions_in_file(key_file) == [1, 2]
    assert key_file_versions(key_file) == [1]  # the master key is not touched

    ring = KeyRing.from_file(key_file)
    db_session.expire_all()
    students = db_session.scalars(select(Student).where(Student.id.in_(list(before))).order_by(Student.id)).all()
    for student, name, number in zip(students, seeded.names, seeded.numbers, strict=True):
        assert student.bidx_version == 2
        assert student.name_bidx == ring.blind_index("students.name", name) != before[student.id][0]
        assert student.student_number_bidx == ring.blind_index("students.student_number", number)

    new_only = Vault(db_session, only_current_index(ring), Actor.system("t"))
    school_ids = [seeded.students[0].school_id]
    for name, number in zip(seeded.names, seeded.numbers, strict=True):
        assert [s.id for s in find_students(db_session, new_only, name, school_ids)] != []
        assert number in match_by_number(db_session, new_only, [number], Student.school_id.in_(school_ids))

    phases = [d["phase"] for d in actions(db_session, "key.index_rotate")]
    assert phases == ["rebuild_started", "rebuild_finished"]
    assert actions(db_session, "key.add_index_version")[0]["versions"] == [2, 1]
    assert linked_chain(db_session)[1] is None
    assert not any(n in json.dumps(actions(db_session, "key.index_rotate"), ensure_ascii=False) for n in seeded.names)

    again = run(cli_app, "keys", "rotate-index", "--rebuild-only")
    assert again.exit_code == 0 and "nothing to rebuild" in again.output
    status = run(cli_app, "keys", "status")
    assert "index key versions: 1, 2 (current: 2)" in status.output
    assert "index version 2 (current): " in status.output


def test_an_interrupted_index_rebuild_resumes_lookups_work_meanwhile_and_prune_then_drops_the_old_key(
    fresh_database, tmp_path
):
    upgrade_database(fresh_database.url)
    engine = make_engine(fresh_database.url)
    try:
        ring = KeyRing.generate()
        with Session(engine) as s:
            seeded = seed_sealed(s, ring, count=7)
            s.commit()
            district_id = seeded.students[0].school.district_id
            school_ids = [seeded.students[0].school_id]
        key_file = key_file_for(ring, tmp_path)
        operator_ring = KeyRing.from_file(key_file)

        with Session(engine) as s:  # first run: the version is saved, then the process dies after one batch of 3
            rotation.add_index_version(operator_ring, str(key_file), s, Actor.system("op"))
            s.commit()

            def crash(batch: int) -> None:
                raise Crash(f"killed after batch {batch}")

            with pytest.raises(Crash):
                rotation.rebuild_blind_indexes(s, operator_ring, Actor.system("op"), batch_size=3, after_batch=crash)
        with Session(engine) as s:
            assert dict(s.execute(select(Student.bidx_version, func.count()).group_by(Student.bidx_version)).all()) == {
                1: 4, 2: 3
            }
            # Mid-rebuild, a process that loaded the key file finds recomputed and not yet recomputed students alike.
            vault = Vault(s, KeyRing.from_file(key_file), Actor.system("t"))
            for name, number in zip(seeded.names, seeded.numbers, strict=True):
                assert find_number_owner(s, vault, district_id, number) is not None, number
                assert find_students(s, vault, name, school_ids), name
            s.rollback()

        app = make_test_app(engine, KeyRing.generate(), KEYRING=None, KEY_FILE=str(key_file))
        early = app.test_cli_runner().invoke(args=["keys", "prune", "--index-version", "1", "--yes"])
        assert early.exit_code == 1, early.output
        assert "index key version 1: 4 students still indexed under it" in early.output
        assert index_versions_in_file(key_file) == [1, 2]

        result = app.test_cli_runner().invoke(args=["keys", "rotate-index", "--batch-size", "3"])
        assert result.exit_code == 0, result.output
        assert "resuming an unfinished index rebuild: 4 students" in result.output
        assert index_versions_in_file(key_file) == [1, 2]  # no third version added

        unconfirmed = app.test_cli_runner().invoke(args=["keys", "prune"])
        assert unconfirmed.exit_code == 2 and "without --yes" in unconfirmed.output
        assert index_versions_in_file(key_file) == [1, 2]
        pruned = app.test_cli_runner().invoke(args=["keys", "prune", "--yes"])
        assert pruned.exit_code == 0, pruned.output
        assert "removed from" in pruned.output and "index key version 1" in pruned.output
        assert index_versions_in_file(key_file) == [2]

        with Session(engine) as s:
            vault = Vault(s, KeyRing.from_file(key_file), Actor.system("t"))
            for name, number in zip(seeded.names, seeded.numbers, strict=True):
                assert find_number_owner(s, vault, district_id, number) is not None, number
                assert find_students(s, vault, name, school_ids), name
            assert linked_chain(s)[1] is None
            assert [d["index_removed"] for d in actions(s, "key.prune")] == [[1]]
            phases = [d["phase"] for d in actions(s, "key.index_rotate")]
            assert phases.count("rebuild_started") == 2 and phases.count("rebuild_finished") == 1
    finally:
        engine.dispose()


def test_prune_refuses_a_master_version_that_still_wraps_a_data_key_and_removes_it_once_unused(
    cli_app, db_session, keyring, key_file
):
    seeded = seed_sealed(db_session, keyring, count=4)
    erased = seeded.students[0].public_id
    assert run(cli_app, "students", "erase", erased, "--yes").exit_code == 0
    assert run(cli_app, "keys", "rotate", "--add-only").exit_code == 0
    assert key_file_versions(key_file) == [1, 2]

    refused = run(cli_app, "keys", "prune", "--master-version", "1", "--yes")
    assert refused.exit_code == 1, refused.output
    assert "master key version 1: 3 data keys still wrapped by it" in refused.output  # the erased key does not count
    assert key_file_versions(key_file) == [1, 2]
    current = run(cli_app, "keys", "prune", "--master-version", "2", "--yes")
    assert current.exit_code == 1 and "is the current one" in current.output
    nothing = run(cli_app, "keys", "prune", "--yes")
    assert nothing.exit_code == 0 and "nothing to prune" in nothing.output
    assert key_file_versions(key_file) == [1, 2]

    assert run(cli_app, "keys", "rotate", "--rewrap-only").exit_code == 0
    pruned = run(cli_app, "keys", "prune", "--master-version", "1", "--yes")
    assert pruned.exit_code == 0, pruned.output
    assert key_file_versions(key_file) == [2]
    verify = run(cli_app, "keys", "verify")  # the app reloads the pruned key file: everything still opens
    assert verify.exit_code == 0 and "0 failed" in verify.output, verify.output
    assert [d["master_removed"] for d in actions(db_session, "key.prune")] == [[1]]
    assert db_session.scalar(select(func.count()).select_from(DataKey).where(DataKey.master_version == 1)) == 1


def test_prune_with_keys_from_the_environment_only_says_what_may_be_removed(
    engine, connection, db_session, keyring, monkeypatch
):
    k1, k2, idx = os.urandom(32), os.urandom(32), os.urandom(32)
    b = lambda k: base64.urlsafe_b64encode(k).decode()  # noqa: E731
    seed_sealed(db_session, KeyRing({1: k1}, 1, idx), count=2)
    monkeypatch.setenv("XINMIAO_MASTER_KEYS", f"1:{b(k1)},2:{b(k2)}")
    monkeypatch.setenv("XINMIAO_INDEX_KEY", f"1:{b(idx)},2:{b(os.urandom(32))}")
    monkeypatch.delenv("XINMIAO_KEY_FILE", raising=False)
    app = make_test_app(engine, keyring, lambda: _session_on(connection), KEYRING=None, KEY_FILE=None)
    result = run(app, "keys", "prune", "--yes")
    assert result.exit_code == 0, result.output
    assert "in use, kept: master key version 1: 2 data keys" in result.output
    assert "in use, kept: index key version 1: 2 students" in result.output
    rebuild = run(app, "keys", "rotate-index")  # cannot add a version to the environment: explains instead
    assert rebuild.exit_code == 0 and "resuming an unfinished index rebuild: 2 students" in rebuild.output
    result = run(app, "keys", "prune", "--yes")
    assert "unused, may be removed from your environment variables: index key version 1" in result.output


def test_a_partial_identity_write_on_a_row_still_on_an_old_index_version_keeps_it_marked_old(db_session, keyring):
    student = seed_sealed(db_session, keyring, count=1).students[0]
    assert student.bidx_version == 1
    ring = KeyRing(dict(keyring._master), keyring.current_version, {1: keyring._index_key, 2: bytes(range(32))})
    vault = Vault(db_session, ring, Actor.system("t"))
    vault.seal_identity(student, name="新名字")  # the number's index is still under version 1
    assert student.bidx_version == 1
    vault.seal_identity(student, name="新名字", student_number="G4403009999")
    assert student.bidx_version == 2
