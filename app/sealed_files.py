"""Short-lived files outside the database (a roster waiting for its confirmation), never in clear.

Each file is AES-256-GCM under a key derived from the master key for this one purpose
(`KeyRing.purpose_key("pending-upload")`), named by a random token kept in the user's session:

```
offset  size  field
0       4     magic "XPU1"
4       4     master key version, unsigned big-endian
8       8     creation time, UNIX seconds, unsigned big-endian
16      12    nonce (fresh, OS CSPRNG)
28      n+16  ciphertext and tag
```

The associated data is the 16-byte header, the purpose and the token, so a file renamed to another token, a
rewritten creation time (to outlive the expiry) or a flipped bit does not open. A file older than `max_age` is
expired: it is deleted when read and by `sweep`, which every use of the store runs first. Files are created with
mode 0600 (O_EXCL) in a directory of mode 0700. Deleting is unlinking: the ciphertext left on the disk blocks is
useless without the master key.
"""
from __future__ import annotations

import os
import re
import secrets
import struct
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from models import clock as time_source
from models.crypto import CryptoError, KeyRing

MAGIC = b"XPU1"
HEADER = struct.Struct(">4sIQ")
NONCE = 12
SUFFIX = ".upload"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32}$")


class PendingFileGone(Exception):
    """No such file, expired, or it does not open (renamed, tampered, its key version gone)."""


class SealedFiles:
    def __init__(self, directory: Path | str, ring: KeyRing, purpose: str, max_age: int,
                 clock: Callable[[], float] | None = None):
        self.dir = Path(directory)
        self.ring, self.purpose, self.max_age = ring, purpose, max_age
        self.clock = clock or (time_source.timestamp)
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, token: str) -> Path:
        if not TOKEN_RE.match(token or ""):
            raise PendingFileGone("bad token")
        return self.dir / f"{token}{SUFFIX}"

    def _aad(self, header: bytes, token: str) -> bytes:
        return header + b"|" + self.purpose.encode() + b"|" + token.encode()

    def store(self, data: bytes) -> str:
        """Seal `data` into a new file; returns its token."""
        self.sweep()
        token = secrets.token_urlsafe(24)
        key, version = self.ring.purpose_key(self.purpose)
        header = HEADER.pack(MAGIC, version, int(self.clock()))
        nonce = os.urandom(NONCE)
        blob = header + nonce + AESGCM(key).encrypt(nonce, data, self._aad(header, token))
        fd = os.open(self._path(token), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
        return token

    def load(self, token: str) -> bytes:
        """The plaintext of a live file, else PendingFileGone (an expired or unreadable file is deleted)."""
        path = self._path(token)
        try:
            blob = path.read_bytes()
        except FileNotFoundError:
            raise PendingFileGone("no such file") from None
        try:
            magic, version, created = HEADER.unpack_from(blob)
            if magic != MAGIC:
                raise ValueError
            if self.clock() - created > self.max_age:
                raise PendingFileGone("expired")
            key, _version = self.ring.purpose_key(self.purpose, version)
            header, nonce, sealed = (
                blob[: HEADER.size],
                blob[HEADER.size : HEADER.size + NONCE],
                blob[HEADER.size + NONCE :],
            )
            return AESGCM(key).decrypt(nonce, sealed, self._aad(header, token))
        except (struct.error, ValueError, InvalidTag, CryptoError, PendingFileGone) as exc:
            path.unlink(missing_ok=True)
            raise PendingFileGone(str(exc) or type(exc).__name__) from None

    def discard(self, token: str | None) -> None:
        if token and TOKEN_RE.match(token):
            self._path(token).unlink(missing_ok=True)

    def sweep(self) -> int:
        """Delete every expired file (by its authenticated creation time; by mtime for a file that does not parse).
        Returns how many were deleted."""
        now, gone = self.clock(), 0
        for path in self.dir.glob(f"*{SUFFIX}"):
            try:
                with path.open("rb") as fh:
                    head = fh.read(HEADER.size)
                try:
                    magic, _v, created = HEADER.unpack(head)
                    if magic != MAGIC:
                        raise ValueError
                except (struct.error, ValueError):
                    created = int(path.stat().st_mtime)
                if now - created > self.max_age:
                    path.unlink()
                    gone += 1
            except OSError:
                continue
        return gone
