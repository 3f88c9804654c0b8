"""An interrupted rotation (a crash after the first committed batch) resumes where it stopped."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.cli import upgrade_database
from app.keys import service
from models import AuditEvent, DataKey
from models.audit import Actor
from models.crypto import KeyRing
from models.db import make_engine
from tests.audit_support import linked_chain
from tests.conftest import make_test_app
from tests.integration.keys_support import key_file_for, key_file_versions, seed_sealed


class Crash(Exception):
    pass


def _versions(engine) -> dict[int, int]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return dict(s.execute(select(DataKey.master_version, func.count()).group_by(DataKey.master_version)).all())


def test_a_rotation_interrupted_after_the_first_batch_resumes_on_rerun(fresh_database, tmp_path):
    upgrade_database(fresh_database.url)
    engine = make_engine(fresh_database.url)
    try:
        ring = KeyRing.generate()
        with Session(engine) as s:
            seeded = seed_sealed(s, ring, count=7)
            s.commit()
            names = seeded.names
        key_file = key_file_for(ring, tmp_path)
        operator_ring = KeyRing.from_file(key_file)

        # First run: the new version is saved, then the process dies after the first committed batch of 3.
        with Session(engine) as s:
            service.add_master_version(operator_ring, str(key_file), s, Actor.system("op"))
            s.commit()

            def crash(batch: int) -> None:
                raise Crash(f"killed after batch {batch}")

            with pytest.raises(Crash):
                service.rewrap_data_keys(s, operator_ring, Actor.system("op"), batch_size=3, after_batch=crash)
        assert _versions(engine) == {1: 4, 2: 3}  # the first batch is durable, the rest untouched
        assert key_file_versions(key_file) == [1, 2]

        # Rerun as the operator would, in a new process: `flask keys rotate` resumes instead of adding version 3.
        app = make_test_app(engine, KeyRing.generate(), KEYRING=None, KEY_FILE=str(key_file))
        result = app.test_cli_runner().invoke(args=["keys", "rotate", "--batch-size", "3"])
        assert result.exit_code == 0, result.output
        assert "resuming an unfinished rotation: 4 data keys" in result.output
        assert key_file_versions(key_file) == [1, 2]
        assert _versions(engine) == {2: 7}

        verify = app.test_cli_runner().invoke(args=["keys", "verify"])
        assert verify.exit_code == 0 and "0 failed" in verify.output
        from models import Student
        from models.vault import Vault

        only_v2 = KeyRing({2: KeyRing.from_file(key_file)._master[2]}, 2, KeyRing.from_file(key_file)._index_key)
        with Session(engine) as s:
            students = s.scalars(select(Student).order_by(Student.id)).all()
            vault = Vault(s, only_v2, Actor.system("t"))
            assert [vault.reveal(st, "t").name for st in students] == names
            assert linked_chain(s)[1] is None
            phases = [d for d in s.scalars(select(AuditEvent.detail).where(AuditEvent.action == "key.rotate"))]
        assert sum('"rewrap_started"' in d for d in phases) == 2 and sum('"rewrap_finished"' in d for d in phases) == 1
    finally:
        engine.dispose()
