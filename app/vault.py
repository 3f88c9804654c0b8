"""The request's Vault: one per request, so decrypted data keys live no longer than the request."""
from __future__ import annotations

from flask import current_app, g

from models.crypto import KeyRing
from models.vault import Vault

from .db import db
from .security import current_actor


def keyring() -> KeyRing:
    return current_app.extensions["xinmiao_keyring"]


def get_vault() -> Vault:
    if "vault" not in g:
        g.vault = Vault(db.session, keyring(), current_actor())
    return g.vault
