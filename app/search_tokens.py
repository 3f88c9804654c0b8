"""Searches by name without the name in any URL (so never in a server, proxy or access log, nor in the browser's
history): the search form POSTs the query (CSRF-protected), the view keeps it here and redirects to the result
page with an opaque token `?r=<token>`.

The token is 16 random bytes, nothing derived from the query. The query itself waits in the user's own session
cookie, sealed with AES-256-GCM under `KeyRing.purpose_key("search-query")`; the associated data binds it to the
token, the user's id, its expiry and the key version, so it opens only for the user who searched, only within
SEARCH_TOKEN_MINUTES (default 15), and a token copied into another user's session opens nothing. At most
MAX_KEPT searches are kept (the oldest go first); signing in clears the session and them with it.
"""
from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app, session
from flask_login import current_user

from models import clock
from models.crypto import CryptoError

SESSION_KEY = "searches"
PURPOSE = "search-query"
MAX_KEPT = 5
MAX_QUERY = 100
DEFAULT_MINUTES = 15


def _ttl() -> int:
    return int(current_app.config.get("SEARCH_TOKEN_MINUTES", DEFAULT_MINUTES)) * 60


def _aad(token: str, user_id: int, expires: int, version: int) -> bytes:
    return f"xinmiao/search/v1|{token}|{user_id}|{expires}|{version}".encode()


def stash(query: str) -> str:
    """Keep `query` for the signed-in user; returns the opaque token to put in the result URL."""
    from app.vault import keyring

    token = secrets.token_urlsafe(16)
    key, version = keyring().purpose_key(PURPOSE)
    expires = int(clock.timestamp()) + _ttl()
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(
        nonce, query[:MAX_QUERY].encode("utf-8"), _aad(token, current_user.id, expires, version)
    )
    now = clock.timestamp()
    kept = {
        t: v for t, v in (session.get(SESSION_KEY) or {}).items() if isinstance(v, list) and len(v) == 3 and v[1] > now
    }
    while len(kept) >= MAX_KEPT:
        kept.pop(min(kept, key=lambda t: kept[t][1]))
    kept[token] = [version, expires, base64.urlsafe_b64encode(nonce + sealed).decode("ascii")]
    session[SESSION_KEY] = kept
    return token


def recall(token: str | None) -> str | None:
    """The query behind `token` for this user, or None (unknown, expired, another user's, tampered)."""
    from app.vault import keyring

    if not token or not current_user.is_authenticated:
        return None
    # [version, expires, blob] as stash() wrote it, or None or anything a client sent: checked by the unpacking below
    entry: Any = (session.get(SESSION_KEY) or {}).get(token)
    try:
        version, expires, blob = entry
        if int(expires) <= clock.timestamp():
            return None
        raw = base64.urlsafe_b64decode(blob)
        key, _v = keyring().purpose_key(PURPOSE, int(version))
        return (
            AESGCM(key).decrypt(raw[:12], raw[12:], _aad(token, current_user.id, int(expires), int(version))).decode()
        )
    except (TypeError, ValueError, InvalidTag, CryptoError, UnicodeDecodeError):
        return None


def result_args(form: Mapping[str, Any], keep: tuple[str, ...]) -> dict[str, str]:
    """The query-string arguments of a result page after a search POST: the filters named in `keep` as they
    were posted, and `r`, the token of the query `q` when one was given. Never `q` itself."""
    args = {k: str(form.get(k)) for k in keep if form.get(k)}
    query = (form.get("q") or "").strip()
    if query:
        args["r"] = stash(query)
    return args
