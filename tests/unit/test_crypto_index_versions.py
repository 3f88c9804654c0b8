"""The key ring's versioned blind-index key (issue 15): key files, environment, lookups and removal."""
from __future__ import annotations

import base64
import json
import os

import pytest

from models.crypto import CryptoError, KeyRing


def b64(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def test_a_new_index_version_changes_the_index_and_the_old_one_stays_computable(tmp_path):
    ring = KeyRing.generate()
    old = ring.blind_index("students.name", "欧阳晓雯")
    assert ring.add_index_version() == 2
    assert ring.index_versions == [2, 1]
    new = ring.blind_index("students.name", "欧阳晓雯")
    assert new != old and ring.blind_index("students.name", "欧阳晓雯", 1) == old
    path = tmp_path / "keys.json"
    ring.save(path)
    data = json.loads(path.read_text())
    assert data["index_current"] == 2 and sorted(data["index_versions"]) == ["1", "2"]
    assert data["index"] == data["index_versions"]["2"]  # what a reader from before rotation would use
    again = KeyRing.from_file(path)
    assert again.index_versions == [2, 1] and again.blind_index("students.name", "欧阳晓雯") == new


def test_a_key_file_from_before_index_rotation_is_index_version_1(tmp_path):
    ring = KeyRing.generate()
    path = tmp_path / "keys.json"
    ring.save(path)
    assert "index_versions" not in json.loads(path.read_text())  # unchanged format while there is one version
    assert KeyRing.from_file(path).index_versions == [1]


def test_the_environment_gives_index_versions_the_highest_current():
    m, i1, i2 = os.urandom(32), os.urandom(32), os.urandom(32)
    ring = KeyRing.from_environ({"XINMIAO_MASTER_KEYS": f"1:{b64(m)}", "XINMIAO_INDEX_KEY": f"1:{b64(i1)},2:{b64(i2)}"})
    assert ring is not None and ring.index_versions == [2, 1]
    bare = KeyRing.from_environ({"XINMIAO_MASTER_KEYS": f"1:{b64(m)}", "XINMIAO_INDEX_KEY": b64(i1)})
    assert bare is not None and bare.blind_index("c", "x") == ring.blind_index("c", "x", 1)
    with pytest.raises(CryptoError):
        KeyRing.from_environ({"XINMIAO_MASTER_KEYS": f"1:{b64(m)}", "XINMIAO_INDEX_KEY": f"1:{b64(i1)},1:{b64(i2)}"})


def test_removing_versions_refuses_the_current_ones_and_forgets_the_old():
    ring = KeyRing.generate()
    ring.add_version()
    ring.add_index_version()
    with pytest.raises(CryptoError):
        ring.remove_version(2)
    with pytest.raises(CryptoError):
        ring.remove_index_version(2)
    ring.remove_version(1)
    ring.remove_index_version(1)
    assert ring.versions == [2] and ring.index_versions == [2]
    with pytest.raises(CryptoError):
        ring.blind_index("c", "x", 1)
    with pytest.raises(CryptoError):
        ring.unwrap(b"\0" * 60, 5, 1)


def test_an_index_key_equal_to_a_master_key_or_to_another_index_version_is_refused():
    m, i = os.urandom(32), os.urandom(32)
    with pytest.raises(CryptoError):
        KeyRing({1: m}, 1, {1: i, 2: m})
    with pytest.raises(CryptoError):
        KeyRing({1: m}, 1, {1: i, 2: i})
