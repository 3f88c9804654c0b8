"""`flask keys rotate` while workers run: a worker that meets a master-key version it does not know reads the key
file again (once) instead of answering 500 "unknown master key version 2" until it is restarted."""
from __future__ import annotations

import pytest

from app.keys import service
from models import Actor
from models.crypto import CryptoError, KeyRing
from tests.conftest import _session_on, login, make_test_app
from tests.factories import Factory

ACTOR = Actor.system("tests")


@pytest.fixture
def shared_key_file(tmp_path, keyring):
    path = tmp_path / "keys.json"
    keyring.save(path)
    path.chmod(0o600)
    return path


def _worker(engine, connection, path):
    return make_test_app(engine, None, lambda: _session_on(connection), KEYRING=None, KEY_FILE=str(path))


def test_a_running_worker_opens_data_rewrapped_by_another_process(engine, connection, db_session, shared_key_file):
    rotating = _worker(engine, connection, shared_key_file)  # the process running `flask keys rotate`
    serving = _worker(engine, connection, shared_key_file)   # a web worker started before the rotation
    ring_a = rotating.extensions["xinmiao_keyring"]
    ring_b = serving.extensions["xinmiao_keyring"]
    factory = Factory(db_session, ring_a)
    school = factory.school()
    counselor = factory.counselor(school)
    student = factory.student(school, name="沈一鸣")
    version = service.add_master_version(ring_a, str(shared_key_file), db_session, ACTOR)
    result = service.rewrap_data_keys(db_session, ring_a, ACTOR, commit=db_session.flush)
    assert version == 2 and result.rewrapped >= 1 and result.failures == []
    assert ring_b.versions == [1]  # the serving worker has not seen version 2 yet

    client = serving.test_client()
    login(client, counselor.username, factory.PASSWORD)
    response = client.get(f"/students/{student.public_id}")
    assert response.status_code == 200
    assert "沈一鸣" in response.get_data(as_text=True)
    assert ring_b.versions == [1, 2] and ring_b.current_version == 2  # learnt, and new keys now use version 2


def test_a_version_absent_from_the_file_is_still_refused(tmp_path):
    path = tmp_path / "keys.json"
    ring = KeyRing.generate_file(path)
    wrapped, _ = ring.wrap(b"k" * 32, 7)
    with pytest.raises(CryptoError, match="unknown master key version 5"):
        ring.unwrap(wrapped, 7, 5)
    assert ring.versions == [1]


def test_a_learnt_file_never_replaces_a_known_key(tmp_path):
    path = tmp_path / "keys.json"
    ring = KeyRing.generate_file(path)
    wrapped, version = ring.wrap(b"d" * 32, 9)
    other = KeyRing.generate()  # someone replaces the file with foreign keys, versions 1 and 2
    other.add_version()
    other.save(path)
    assert ring.unwrap(wrapped, 9, version) == b"d" * 32  # version 1 stays the ring's own
    with pytest.raises(CryptoError):
        ring.unwrap(wrapped, 9, 2)  # learnt from the file, but does not open this key
