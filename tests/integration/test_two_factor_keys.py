"""Issue 15: the TOTP secrets follow the master key: `flask keys rotate` seals them again under the new
version, and `flask keys prune` keeps a version that still seals one."""
from __future__ import annotations

from app.auth import two_factor
from app.keys import rotation, service
from models import User
from models.audit import Actor
from models.crypto import KeyRing


def test_rotation_reseals_totp_secrets_and_prune_waits_for_them(db_session, factory):
    ring = KeyRing.generate()
    user = factory.counselor()
    secret = two_factor.begin_enrolment(db_session, ring, user)
    assert user.totp_key_version == 1
    before = rotation.master_usage(db_session, 1)
    ring.add_version()
    assert rotation.master_usage(db_session, 1) == before  # still sealed under version 1: prune keeps it
    assert two_factor.secrets_on_master_version(db_session, 1) == 1
    service.rewrap_data_keys(db_session, ring, Actor.system("op"), commit=db_session.flush)
    row = db_session.get(User, user.id)
    db_session.refresh(row)
    assert row.totp_key_version == 2
    assert two_factor.secrets_on_master_version(db_session, 1) == 0
    assert two_factor.open_secret(ring, row) == secret
    ring.remove_version(1)
    assert two_factor.open_secret(ring, row) == secret  # readable without the old version
