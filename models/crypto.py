"""Pure cryptographic core: sealing of sensitive fields, the master-key ring, blind indexes, audit-chain links.

Only the standard library and ``cryptography`` are used here; no Flask, no SQLAlchemy. Nothing outside
``models/vault.py`` should call this module's cipher functions directly (see docs/security.md).

Design decisions (the "why"):

* Envelope encryption. Each student has a 256-bit data key; values are sealed with AES-256-GCM under it. The data
  key is stored only wrapped (AES-256-GCM) by a versioned master key (KEK). Rotating the master key rewraps data
  keys; it never touches sealed values. Destroying a data key crypto-shreds everything sealed under it.
* Sealed blob layout: ``format (1 byte) | key id (8 bytes, big-endian unsigned) | nonce | ciphertext+tag``.
  The format byte selects an entry of ``FORMATS`` so another algorithm (e.g. SM4, format 2) can be added next to
  AES-256-GCM without migrating old data. The whole header is authenticated together with the caller's
  associated data (table, column, row id), so a blob copied to another row/column, or with a rewritten key id,
  fails to open.
* Every failure raises ``CryptoError``; nothing here ever returns unauthenticated bytes.
* Blind indexes use a separate index key (never derived from or equal to a master key), with a per-column key
  derived by HKDF; the HMAC is truncated to 40 bits on purpose so that a match may be a false positive, which the
  application filters out after decrypting. Truncation limits what an attacker with the database learns from
  equal index values. The index key is versioned like the master key (`flask keys rotate-index` adds a version
  and recomputes every index; lookups try every version the ring holds until `flask keys prune` drops the old).

Why one module over 400 lines: every primitive that touches key material (sealing, the key ring and its
wrapping, the blind index and the text it normalises) is here and nowhere else, so that a security review reads
one file against docs/security.md, and nothing else in the code base holds a key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import stat
import struct
import tempfile
import threading
import unicodedata
from collections.abc import Callable, Mapping
from functools import lru_cache
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "CryptoError",
    "FORMAT_AES256GCM",
    "FORMATS",
    "BLIND_INDEX_HEX_LEN",
    "KEY_BYTES",
    "normalise",
    "aad_for",
    "seal",
    "Sealer",
    "open_sealed",
    "parse_header",
    "new_data_key",
    "new_key_id",
    "KeyRing",
    "chain_hash",
]

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96-bit GCM nonce
TAG_BYTES = 16
KEY_ID_BYTES = 8
MAX_KEY_ID = 2**64 - 1
BLIND_INDEX_HEX_LEN = 10  # 40 bits: deliberately collision-prone; the app filters after decrypting

FORMAT_AES256GCM = 1

_BLIND_INDEX_INFO = b"xinmiao/blind-index/v1/"
_WRAP_AAD_PREFIX = b"xinmiao/wrap/v1"
_PURPOSE_INFO = b"xinmiao/purpose/v1/"
_FIELD_AAD_PREFIX = b"xinmiao/field/v1"


class CryptoError(Exception):
    """Any failure to seal, open, wrap, unwrap or load keys. Callers must treat it as "no data"."""


# --------------------------------------------------------------------------------------------------------------
# Ciphertext formats


class _AesGcmFormat:
    """Format 1: AES-256-GCM with a 96-bit random nonce from the OS CSPRNG."""

    version = FORMAT_AES256GCM
    nonce_bytes = NONCE_BYTES
    min_ciphertext_bytes = TAG_BYTES

    def cipher(self, key: bytes) -> AESGCM:
        """The keyed cipher object, for sealing several values under one key (see ``Sealer``)."""
        return AESGCM(key)

    def encrypt(self, key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return AESGCM(key).encrypt(nonce, plaintext, aad)

    def decrypt(self, key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        try:
            return AESGCM(key).decrypt(nonce, ciphertext, aad)
        except InvalidTag:
            raise CryptoError("sealed value failed authentication") from None


# Registry of ciphertext formats by version byte. A future SM4 format registers itself here as 2.
FORMATS: dict[int, _AesGcmFormat] = {FORMAT_AES256GCM: _AesGcmFormat()}

_HEADER_PREFIX = struct.Struct(">BQ")  # format version, key id


def _check_key(key: object, what: str = "data key") -> bytes:
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_BYTES:
        raise CryptoError(f"{what} must be {KEY_BYTES} bytes")
    return bytes(key)


def _format(version: int) -> _AesGcmFormat:
    try:
        return FORMATS[version]
    except KeyError:
        raise CryptoError(f"unknown ciphertext format {version}") from None


# --------------------------------------------------------------------------------------------------------------
# Normalisation and associated data

# Zero-width characters that are not whitespace for str.isspace() but are invisible in a typed name.
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u2060", "\ufeff"}


# The per-character rules of normalise() below, restricted to ASCII: drop what str.isspace() calls whitespace
# (which includes the separators \x1c-\x1f; the only ASCII "Zs" is the space), lower-case A-Z, keep the rest.
# Exactly the slow path's result for ASCII text (tests/unit/test_crypto.py compares the two with Hypothesis).
_ASCII_NORMALISE = ({i: None for i in range(128) if chr(i).isspace()}
                    | {i: i + 32 for i in range(ord("A"), ord("Z") + 1)})


def normalise(value: str) -> str:
    """Normalise a searchable value: NFKC, ASCII digits, no whitespace at all, ASCII letters lower-cased.

    NFKC already maps full-width digits and letters (U+FF10.., U+FF21..) to ASCII and U+3000 to a space; other
    decimal digits (e.g. Arabic-Indic) are mapped to ASCII explicitly so a student number always compares equal.
    """
    if not isinstance(value, str):
        raise CryptoError("normalise() takes a str")
    if value.isascii():  # fast path (student numbers, phones): NFKC leaves ASCII unchanged
        return value.translate(_ASCII_NORMALISE)
    text = unicodedata.normalize("NFKC", value)
    if text.isascii() or text.isalpha():
        # Full-width digits and letters become ASCII under NFKC. Letters only (a Chinese name): no whitespace, no
        # Zs, no invisible format character and no decimal digit is a letter, so only A-Z change.
        return text.translate(_ASCII_NORMALISE)
    return text.translate(_CHAR_RULES)


class _CharRules(dict[int, str | int | None]):
    """normalise()'s per-character rules as a str.translate table, each code point worked out on first sight.

    The rules look at one character at a time (no context), so translating with this table gives exactly what
    _normalise_chars() gives; the loop in C replaces a Python loop per character (guardian JSON, long names).
    Bounded: past 100,000 distinct code points new results are returned without being remembered.
    """

    def __missing__(self, codepoint: int) -> str | int | None:
        ch = chr(codepoint)
        out: str | int | None = codepoint  # unchanged
        if ch.isspace() or ch in _INVISIBLE or unicodedata.category(ch) == "Zs":
            out = None
        elif "A" <= ch <= "Z":
            out = ch.lower()
        elif not ch.isascii() and unicodedata.category(ch) == "Nd":
            out = str(unicodedata.decimal(ch))
        if len(self) < 100_000:
            self[codepoint] = out
        return out


_CHAR_RULES = _CharRules()


def _normalise_chars(text: str) -> str:
    """The per-character rules, on NFKC text."""
    out = []
    for ch in text:
        if ch.isspace() or ch in _INVISIBLE or unicodedata.category(ch) == "Zs":
            continue
        if "A" <= ch <= "Z":
            ch = ch.lower()
        elif not ch.isascii() and unicodedata.category(ch) == "Nd":
            ch = str(unicodedata.decimal(ch))
        out.append(ch)
    return "".join(out)


def _normalise_slow(value: str) -> str:
    """normalise() without its ASCII fast paths: the reference the tests compare the fast paths with."""
    return _normalise_chars(unicodedata.normalize("NFKC", value))


def _lp(part: str | bytes) -> bytes:
    raw = part.encode("utf-8") if isinstance(part, str) else part
    return struct.pack(">I", len(raw)) + raw


def aad_for(table: str, column: str, row_id: str) -> bytes:
    """Associated data binding a sealed value to (table, column, row id), length-prefixed so it is unambiguous."""
    table, column, row_id = str(table), str(column), str(row_id)
    if not (table and column and row_id):
        raise CryptoError("table, column and row id are all required for associated data")
    return _aad_prefix(table, column) + _lp(row_id)


@lru_cache(maxsize=256)  # a handful of (table, column) pairs; the row id is what changes
def _aad_prefix(table: str, column: str) -> bytes:
    return _FIELD_AAD_PREFIX + _lp(table) + _lp(column)


# --------------------------------------------------------------------------------------------------------------
# Sealing


def new_data_key() -> bytes:
    """A fresh 256-bit data key from the OS CSPRNG."""
    return os.urandom(KEY_BYTES)


def new_key_id() -> int:
    """A random positive 63-bit id (fits a signed BIGINT) used as the data-key row id and in the blob header."""
    while True:
        key_id = secrets.randbits(63)
        if key_id:
            return key_id


def _header(format_version: int, key_id: int) -> bytes:
    if not isinstance(key_id, int) or isinstance(key_id, bool) or not 0 <= key_id <= MAX_KEY_ID:
        raise CryptoError("key id must be an unsigned 64-bit integer")
    return _HEADER_PREFIX.pack(format_version, key_id)


def seal(data_key: bytes, key_id: int, plaintext: str | bytes, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` under ``data_key``; returns ``format | key id | nonce | ciphertext+tag``."""
    return Sealer(data_key, key_id).seal(plaintext, aad)


class Sealer:
    """Seals several values under one data key: exactly ``seal(data_key, key_id, ...)`` (same format, a fresh
    random nonce per value), with the key checked, the header built and the cipher keyed once instead of per
    value. Short-lived: made for one student's values and dropped."""

    __slots__ = ("_header", "_cipher", "_nonce_bytes")

    def __init__(self, data_key: bytes, key_id: int):
        key = _check_key(data_key)
        fmt = FORMATS[FORMAT_AES256GCM]
        self._header = _header(fmt.version, key_id)
        self._cipher = fmt.cipher(key)
        self._nonce_bytes = fmt.nonce_bytes

    def seal(self, plaintext: str | bytes, aad: bytes) -> bytes:
        if isinstance(plaintext, str):
            plaintext = plaintext.encode("utf-8")
        elif not isinstance(plaintext, (bytes, bytearray)):
            raise CryptoError("plaintext must be str or bytes")
        if not isinstance(aad, (bytes, bytearray)):
            raise CryptoError("associated data must be bytes")
        header = self._header
        nonce = os.urandom(self._nonce_bytes)
        return header + nonce + self._cipher.encrypt(nonce, bytes(plaintext), header + bytes(aad))


def parse_header(blob: bytes) -> tuple[int, int, bytes]:
    """Return (format_version, key_id, nonce) of a sealed blob, or raise CryptoError if it cannot be one."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise CryptoError("sealed value must be bytes")
    blob = bytes(blob)
    if len(blob) < _HEADER_PREFIX.size:
        raise CryptoError("sealed value is truncated")
    version, key_id = _HEADER_PREFIX.unpack_from(blob)
    fmt = _format(version)
    end = _HEADER_PREFIX.size + fmt.nonce_bytes
    if len(blob) < end + fmt.min_ciphertext_bytes:
        raise CryptoError("sealed value is truncated")
    return version, key_id, blob[_HEADER_PREFIX.size:end]


def open_sealed(blob: bytes, key_lookup: Callable[[int], bytes], aad: bytes) -> bytes:
    """Authenticate and decrypt a sealed blob. ``key_lookup(key_id)`` returns the unwrapped data key.

    An unknown format, an unknown key id (``key_lookup`` raising ``KeyError``/``LookupError`` or returning None),
    a wrong key, wrong associated data or any altered byte raises ``CryptoError``.
    """
    version, key_id, nonce = parse_header(blob)
    if not isinstance(aad, (bytes, bytearray)):
        raise CryptoError("associated data must be bytes")
    try:
        key = key_lookup(key_id)
    except CryptoError:
        raise
    except LookupError:
        raise CryptoError(f"unknown data key {key_id}") from None
    if key is None:
        raise CryptoError(f"unknown data key {key_id}")
    key = _check_key(key)
    fmt = _format(version)
    blob = bytes(blob)
    header_len = _HEADER_PREFIX.size
    ciphertext = blob[header_len + fmt.nonce_bytes:]
    return fmt.decrypt(key, nonce, ciphertext, blob[:header_len] + bytes(aad))


# --------------------------------------------------------------------------------------------------------------
# Key ring


def _b64decode_key(text: object, what: str) -> bytes:
    """Decode a 32-byte key from urlsafe or standard base64, padding optional."""
    if not isinstance(text, str):
        raise CryptoError(f"{what} must be a base64 string")
    cleaned = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        raw = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError):
        raise CryptoError(f"{what} is not valid base64") from None
    return _check_key(raw, what)


def _b64encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode("ascii")


def _parse_version(value: object) -> int:
    try:
        version = int(str(value).strip())
    except ValueError:
        raise CryptoError(f"master key version {value!r} is not an integer") from None
    if version <= 0:
        raise CryptoError("master key versions are positive integers")
    return version


def _parse_index_spec(spec: str) -> dict[int, bytes]:
    """XINMIAO_INDEX_KEY: one base64 key (version 1), or "<version>:<b64>,..." after an index-key rotation."""
    if ":" not in spec:
        return {1: _b64decode_key(spec, "XINMIAO_INDEX_KEY")}
    keys: dict[int, bytes] = {}
    for item in (part.strip() for part in spec.split(",")):
        if not item:
            continue
        version_text, sep, key_text = item.partition(":")
        if not sep:
            raise CryptoError("XINMIAO_INDEX_KEY entries look like <version>:<base64 key>")
        version = _parse_version(version_text)
        if version in keys:
            raise CryptoError(f"index key version {version} given twice")
        keys[version] = _b64decode_key(key_text, f"index key {version}")
    if not keys:
        raise CryptoError("XINMIAO_INDEX_KEY holds no key")
    return keys


class KeyRing:
    """Master key (KEK) versions plus the separate, also versioned, blind-index key."""

    def __init__(
        self,
        master_keys: dict[int, bytes],
        current_version: int,
        index_key: bytes | Mapping[int, bytes],
        index_version: int | None = None,
    ):
        if not master_keys:
            raise CryptoError("a key ring needs at least one master key")
        self._master: dict[int, bytes] = {}
        for version, key in master_keys.items():
            self._master[_parse_version(version)] = _check_key(key, f"master key {version}")
        if current_version not in self._master:
            raise CryptoError(f"current master key version {current_version} is not in the key ring")
        self.current_version: int = current_version
        specs = {1: index_key} if isinstance(index_key, (bytes, bytearray)) else dict(index_key)
        if not specs:
            raise CryptoError("a key ring needs an index key")
        self._index: dict[int, bytes] = {}
        for version, key in specs.items():
            self._index[_parse_version(version)] = _check_key(key, f"index key {version}")
        self.index_version: int = max(self._index) if index_version is None else index_version
        if self.index_version not in self._index:
            raise CryptoError(f"current index key version {self.index_version} is not in the key ring")
        self._check_independent()
        self._column_keys: dict[tuple[int, str], bytes] = {}
        self._kek_ciphers: dict[bytes, AESGCM] = {}  # keyed by the master key itself, so never stale
        # The key file this ring came from (from_file): a master-key version met in the data but unknown here is
        # looked for there once, so that workers running during `flask keys rotate` keep working.
        self._source: Path | None = None
        self._reload_lock = threading.Lock()

    def __repr__(self) -> str:  # never print key material
        return (
            f"KeyRing(versions={self.versions}, current_version={self.current_version}, "
            f"index_versions={self.index_versions}, index_version={self.index_version})"
        )

    def _check_independent(self) -> None:
        """Every blind-index key must be independent of every encryption key, and of the other index keys."""
        index_keys = list(self._index.values())
        if any(hmac.compare_digest(i, k) for i in index_keys for k in self._master.values()):
            raise CryptoError("the index key must not equal a master key")
        if len({bytes(k) for k in index_keys}) != len(index_keys):
            raise CryptoError("two index key versions hold the same key")

    @property
    def versions(self) -> list[int]:
        return sorted(self._master)

    @property
    def index_versions(self) -> list[int]:
        """Every blind-index key version, the current one first (the order lookups try them in)."""
        return [self.index_version] + sorted((v for v in self._index if v != self.index_version), reverse=True)

    @property
    def _index_key(self) -> bytes:
        return self._index[self.index_version]

    # -- loading and saving ------------------------------------------------------------------------------------

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> KeyRing | None:
        """XINMIAO_KEY_FILE=path, or XINMIAO_MASTER_KEYS="1:<b64>,2:<b64>" plus XINMIAO_INDEX_KEY=<b64>.

        Returns None if neither is configured; a half configuration is an error, not a silent fallback.
        """
        key_file = (environ.get("XINMIAO_KEY_FILE") or "").strip()
        if key_file:
            return cls.from_file(key_file)
        master_spec = (environ.get("XINMIAO_MASTER_KEYS") or "").strip()
        index_spec = (environ.get("XINMIAO_INDEX_KEY") or "").strip()  # "<b64>" (version 1) or "1:<b64>,2:<b64>"
        if not master_spec and not index_spec:
            return None
        if not master_spec or not index_spec:
            raise CryptoError("XINMIAO_MASTER_KEYS and XINMIAO_INDEX_KEY must be set together")
        master: dict[int, bytes] = {}
        for item in master_spec.split(","):
            item = item.strip()
            if not item:
                continue
            version_text, sep, key_text = item.partition(":")
            if not sep:
                raise CryptoError("XINMIAO_MASTER_KEYS entries look like <version>:<base64 key>")
            version = _parse_version(version_text)
            if version in master:
                raise CryptoError(f"master key version {version} given twice")
            master[version] = _b64decode_key(key_text, f"master key {version}")
        if not master:
            raise CryptoError("XINMIAO_MASTER_KEYS holds no key")
        return cls(master, max(master), _parse_index_spec(index_spec))

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> KeyRing:
        """Load a JSON key file ``{"master": {"1": b64, ...}, "current": 1, "index": b64}``.

        On POSIX a file that group or other may read or write is refused: it would leak every student's data.
        """
        path = Path(path)
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError as exc:
            raise CryptoError(f"cannot open key file {path}: {exc.strerror}") from None
        try:
            if os.name == "posix":
                mode = os.fstat(fd).st_mode
                if mode & (stat.S_IRWXG | stat.S_IRWXO):
                    raise CryptoError(
                        f"key file {path} is accessible by group/other (mode {stat.S_IMODE(mode):04o}); "
                        "run: chmod 600 " + str(path)
                    )
            with os.fdopen(fd, "rb") as fh:
                fd = -1
                raw = fh.read()
        finally:
            if fd >= 0:
                os.close(fd)
        try:
            data = json.loads(raw.decode("utf-8"))
            master_spec = data["master"]
            index_text = data["index"]
            if not isinstance(master_spec, dict):
                raise TypeError
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            raise CryptoError(f"key file {path} is not a valid key file") from None
        master = {_parse_version(v): _b64decode_key(k, f"master key {v}") for v, k in master_spec.items()}
        if not master:
            raise CryptoError(f"key file {path} holds no master key")
        current = _parse_version(data.get("current", max(master)))
        index_spec = data.get("index_versions")
        if index_spec is None:  # a key file from before index-key rotation: one index key, version 1
            ring = cls(master, current, _b64decode_key(index_text, "index key"))
            ring._source = path
            return ring
        if not isinstance(index_spec, dict) or not index_spec:
            raise CryptoError(f"key file {path} is not a valid key file")
        index = {_parse_version(v): _b64decode_key(k, f"index key {v}") for v, k in index_spec.items()}
        index_current = _parse_version(data.get("index_current", max(index)))
        current_index = _b64decode_key(index_text, "index key")
        if index_current not in index or not hmac.compare_digest(index[index_current], current_index):
            raise CryptoError(f"key file {path}: \"index\" is not the current index key version")
        ring = cls(master, current, index, index_current)
        ring._source = path
        return ring

    @classmethod
    def generate(cls) -> KeyRing:
        """A new key ring (version 1) with fresh random master and index keys, held in memory only."""
        return cls({1: os.urandom(KEY_BYTES)}, 1, os.urandom(KEY_BYTES))

    @classmethod
    def generate_file(cls, path: str | os.PathLike[str]) -> KeyRing:
        """Create a new development key file with mode 0600; refuses to overwrite an existing file."""
        path = Path(path)
        ring = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise CryptoError(f"key file {path} already exists; refusing to overwrite it") from None
        except OSError as exc:
            raise CryptoError(f"cannot create key file {path}: {exc.strerror}") from None
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(ring._serialise())
                fh.flush()
                os.fsync(fh.fileno())
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return ring

    def _serialise(self) -> bytes:
        data: dict[str, object] = {
            "master": {str(v): _b64encode_key(self._master[v]) for v in self.versions},
            "current": self.current_version,
            "index": _b64encode_key(self._index_key),  # the current index key (all a pre-rotation reader knows)
        }
        if sorted(self._index) != [1]:
            data["index_versions"] = {str(v): _b64encode_key(self._index[v]) for v in sorted(self._index)}
            data["index_current"] = self.index_version
        return (json.dumps(data, indent=2) + "\n").encode("utf-8")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Atomically rewrite the key file (temp file with mode 0600 in the same directory, then os.replace)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(prefix=".keys-", suffix=".tmp", dir=path.parent)  # mkstemp uses 0600
        try:
            if os.name == "posix":
                os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(self._serialise())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if os.name == "posix":
            dir_fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)

    def add_version(self) -> int:
        """Add a new random master key version (max + 1) and make it current. The caller must save() it."""
        version = max(self._master) + 1
        key = os.urandom(KEY_BYTES)
        self._master[version] = key
        self.current_version = version
        return version

    def add_index_version(self) -> int:
        """Add a new random blind-index key version (max + 1) and make it current. The caller must save() it."""
        version = max(self._index) + 1
        self._index[version] = os.urandom(KEY_BYTES)
        self.index_version = version
        self._check_independent()
        return version

    def remove_version(self, version: int) -> None:
        """Forget an old master key version (`flask keys prune` checks first that no data key needs it)."""
        if version == self.current_version:
            raise CryptoError("the current master key version cannot be removed")
        self._master_key(version)
        del self._master[version]
        self._kek_ciphers.clear()

    def remove_index_version(self, version: int) -> None:
        """Forget an old blind-index key version (`flask keys prune` checks first that no index uses it)."""
        if version == self.index_version:
            raise CryptoError("the current index key version cannot be removed")
        if version not in self._index:
            raise CryptoError(f"unknown index key version {version}")
        del self._index[version]
        self._column_keys = {k: v for k, v in self._column_keys.items() if k[0] != version}

    # -- wrapping data keys ------------------------------------------------------------------------------------

    @staticmethod
    def _wrap_aad(key_id: int, version: int) -> bytes:
        if not isinstance(key_id, int) or not 0 <= key_id <= MAX_KEY_ID:
            raise CryptoError("key id must be an unsigned 64-bit integer")
        return _WRAP_AAD_PREFIX + struct.pack(">QQ", key_id, version)

    def _master_key(self, version: int) -> bytes:
        try:
            return self._master[version]
        except (KeyError, TypeError):
            pass
        if self._learn_version(version):
            return self._master[version]
        raise CryptoError(f"unknown master key version {version}")

    def _learn_version(self, version: object) -> bool:
        """Read the key file again for a master-key version this ring does not know (added by `keys rotate` in
        another process). Known versions are never replaced; the file's current version is adopted when it is
        newer. True when `version` is now known."""
        if self._source is None or not isinstance(version, int) or isinstance(version, bool):
            return False
        with self._reload_lock:
            if version in self._master:
                return True
            try:
                fresh = KeyRing.from_file(self._source)
            except CryptoError:
                return False
            if version not in fresh._master:
                return False
            for v, key in fresh._master.items():
                self._master.setdefault(v, key)
            if fresh.current_version > self.current_version:
                self.current_version = fresh.current_version
            return True

    def wrap(self, data_key: bytes, key_id: int, version: int | None = None) -> tuple[bytes, int]:
        """Wrap a data key under master key ``version`` (default: current). Returns (nonce|ct+tag, version)."""
        data_key = _check_key(data_key)
        version = self.current_version if version is None else version
        kek = self._master_key(version)
        cipher = self._kek_ciphers.get(kek)
        if cipher is None:
            cipher = self._kek_ciphers[kek] = AESGCM(kek)
        nonce = os.urandom(NONCE_BYTES)
        return nonce + cipher.encrypt(nonce, data_key, self._wrap_aad(key_id, version)), version

    def unwrap(self, wrapped: bytes, key_id: int, version: int) -> bytes:
        """Recover a data key; any mismatch of key id, version or bytes raises CryptoError."""
        kek = self._master_key(version)
        if not isinstance(wrapped, (bytes, bytearray, memoryview)):
            raise CryptoError("wrapped key must be bytes")
        wrapped = bytes(wrapped)
        if len(wrapped) != NONCE_BYTES + KEY_BYTES + TAG_BYTES:
            raise CryptoError("wrapped key has the wrong length")
        # The keyed cipher is kept as wrap() keeps it: a list page or a search unwraps thousands of keys under the
        # same master key, and building the cipher was half the cost of each unwrap (bench_search).
        cipher = self._kek_ciphers.get(kek)
        if cipher is None:
            cipher = self._kek_ciphers[kek] = AESGCM(kek)
        try:
            key = cipher.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], self._wrap_aad(key_id, version))
        except InvalidTag:
            raise CryptoError(f"data key {key_id} does not unwrap under master key version {version}") from None
        return _check_key(key)

    # -- keys for one purpose ----------------------------------------------------------------------------------

    def purpose_key(self, purpose: str, version: int | None = None) -> tuple[bytes, int]:
        """(key, master version): an AEAD key for one purpose outside the database (a pending upload, a search
        query held in the session), derived with HKDF-SHA-256 from master key `version` (default: current) with
        `info = xinmiao/purpose/v1/<purpose>`. Never equal to a data key, a wrapping key or a blind-index key, and
        different for every purpose; an unknown version fails closed (CryptoError)."""
        if not isinstance(purpose, str) or not purpose:
            raise CryptoError("a key purpose is required")
        version = self.current_version if version is None else version
        master = self._master_key(version)
        key = HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None,
                   info=_PURPOSE_INFO + purpose.encode("utf-8")).derive(master)
        return key, version

    # -- blind indexes -----------------------------------------------------------------------------------------

    def _column_key(self, column: str, version: int | None = None) -> bytes:
        version = self.index_version if version is None else version
        key = self._column_keys.get((version, column))
        if key is None:
            if not isinstance(column, str) or not column:
                raise CryptoError("blind index column name is required")
            try:
                index_key = self._index[version]
            except (KeyError, TypeError):
                raise CryptoError(f"unknown index key version {version}") from None
            key = HKDF(
                algorithm=hashes.SHA256(),
                length=KEY_BYTES,
                salt=None,
                info=_BLIND_INDEX_INFO + column.encode("utf-8"),
            ).derive(index_key)
            self._column_keys[(version, column)] = key
        return key

    def blind_index(self, column: str, value: str, version: int | None = None) -> str:
        """Truncated (40-bit, 10 hex chars) HMAC-SHA-256 of normalise(value) under the column's derived key
        (of index key `version`, default: the current one)."""
        key = self._column_key(column, version)
        digest = hmac.new(key, normalise(value).encode("utf-8"), hashlib.sha256).digest()
        return digest[: BLIND_INDEX_HEX_LEN // 2].hex()


# --------------------------------------------------------------------------------------------------------------
# Audit chain


def chain_hash(prev_hash: str, payload: Mapping[str, object]) -> str:
    """SHA-256 hex of prev_hash followed by the canonical JSON of payload (one link of the audit chain)."""
    canonical = json.dumps(dict(payload), sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode("utf-8")).hexdigest()
