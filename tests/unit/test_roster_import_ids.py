"""The import's own public-id generator gives what str(uuid.uuid4()) gives: random version-4 UUID text."""
from __future__ import annotations

import uuid

from app.roster_import.service import _new_public_id


def test_new_public_ids_are_version_4_uuids_in_canonical_text_form():
    ids = [_new_public_id() for _ in range(2000)]
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
    assert len(set(ids)) == len(ids)
