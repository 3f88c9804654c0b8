"""Unit tests of the pure crypto core (models/crypto.py): no database, no app."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import stat
import struct
from datetime import UTC

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models import crypto
from models.crypto import (
    BLIND_INDEX_HEX_LEN,
    FORMAT_AES256GCM,
    FORMATS,
    CryptoError,
    KeyRing,
    Sealer,
    aad_for,
    chain_hash,
    new_data_key,
    new_key_id,
    normalise,
    open_sealed,
    parse_header,
    seal,
)

KEY_ID = 0x0123456789ABCDEF
AAD = aad_for("students", "name", "42")


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


@pytest.fixture
def data_key() -> bytes:
    return new_data_key()


@pytest.fixture
def lookup(data_key):
    return {KEY_ID: data_key}.__getitem__


@pytest.fixture
def ring() -> KeyRing:
    return KeyRing({1: os.urandom(32)}, 1, os.urandom(32))


# -- seal / open --------------------------------------------------------------------------------------------------


def test_seal_then_open_returns_a_chinese_string_as_utf8(data_key, lookup):
    blob = seal(data_key, KEY_ID, "张三 · 初二(3)班", AAD)
    assert open_sealed(blob, lookup, AAD).decode("utf-8") == "张三 · 初二(3)班"


def test_seal_then_open_returns_bytes_unchanged(data_key, lookup):
    payload = bytes(range(256)) * 3
    assert open_sealed(seal(data_key, KEY_ID, payload, AAD), lookup, AAD) == payload


def test_an_empty_value_round_trips(data_key, lookup):
    assert open_sealed(seal(data_key, KEY_ID, "", AAD), lookup, AAD) == b""


def test_the_sealed_blob_does_not_contain_the_plaintext(data_key):
    text = "13800138000 王小明"
    blob = seal(data_key, KEY_ID, text, AAD)
    assert text.encode("utf-8") not in blob
    assert "王小明".encode("gbk") not in blob


@pytest.mark.parametrize(
    "other_aad",
    [
        aad_for("students", "name", "43"),  # another row
        aad_for("students", "student_number", "42"),  # another column
        aad_for("notes", "name", "42"),  # another table
        b"",
    ],
    ids=["another_row", "another_column", "another_table", "no_aad"],
)
def test_a_ciphertext_opened_with_another_rows_columns_or_tables_aad_fails(data_key, lookup, other_aad):
    blob = seal(data_key, KEY_ID, "张三", AAD)
    with pytest.raises(CryptoError):
        open_sealed(blob, lookup, other_aad)


def test_aad_is_unambiguous_when_parts_shift_between_fields():
    assert aad_for("ab", "c", "1") != aad_for("a", "bc", "1")
    assert aad_for("a", "b", "12") != aad_for("a", "b1", "2")


def test_aad_refuses_an_empty_part():
    with pytest.raises(CryptoError):
        aad_for("students", "", "1")


def test_every_single_flipped_bit_of_a_blob_fails(data_key, lookup):
    blob = seal(data_key, KEY_ID, "李四", AAD)
    for i in range(len(blob) * 8):
        tampered = bytearray(blob)
        tampered[i // 8] ^= 1 << (i % 8)
        with pytest.raises(CryptoError):
            open_sealed(bytes(tampered), lookup, AAD)


def test_a_wrong_data_key_fails(data_key):
    blob = seal(data_key, KEY_ID, "李四", AAD)
    with pytest.raises(CryptoError):
        open_sealed(blob, {KEY_ID: new_data_key()}.__getitem__, AAD)


def test_an_unknown_key_id_fails_closed(data_key, lookup):
    blob = seal(data_key, KEY_ID + 1, "李四", AAD)
    with pytest.raises(CryptoError):
        open_sealed(blob, lookup, AAD)


def test_a_key_lookup_returning_none_fails_closed(data_key):
    blob = seal(data_key, KEY_ID, "李四", AAD)
    with pytest.raises(CryptoError):
        open_sealed(blob, lambda key_id: None, AAD)


def test_a_key_lookup_returning_a_short_key_fails_closed(data_key):
    blob = seal(data_key, KEY_ID, "李四", AAD)
    with pytest.raises(CryptoError):
        open_sealed(blob, lambda key_id: data_key[:16], AAD)


def test_an_unknown_format_byte_fails(data_key, lookup):
    blob = seal(data_key, KEY_ID, "李四", AAD)
    for fmt in (0, 2, 255):
        with pytest.raises(CryptoError):
            open_sealed(bytes([fmt]) + blob[1:], lookup, AAD)
        with pytest.raises(CryptoError):
            parse_header(bytes([fmt]) + blob[1:])


def test_a_truncated_blob_fails(data_key, lookup):
    blob = seal(data_key, KEY_ID, "李四", AAD)
    for length in range(len(blob)):
        with pytest.raises(CryptoError):
            open_sealed(blob[:length], lookup, AAD)


def test_a_blob_with_extra_bytes_appended_fails(data_key, lookup):
    blob = seal(data_key, KEY_ID, "李四", AAD)
    with pytest.raises(CryptoError):
        open_sealed(blob + b"\x00", lookup, AAD)


def test_a_non_bytes_blob_fails(lookup):
    with pytest.raises(CryptoError):
        open_sealed("not bytes", lookup, AAD)  # type: ignore[arg-type]


def test_seal_refuses_a_key_that_is_not_256_bits():
    with pytest.raises(CryptoError):
        seal(os.urandom(16), KEY_ID, "x", AAD)


def test_seal_refuses_a_negative_or_oversized_key_id(data_key):
    for key_id in (-1, 2**64):
        with pytest.raises(CryptoError):
            seal(data_key, key_id, "x", AAD)


def test_ten_thousand_seals_of_one_value_give_ten_thousand_distinct_nonces(data_key):
    nonces = {parse_header(seal(data_key, KEY_ID, "张三", AAD))[2] for _ in range(10_000)}
    assert len(nonces) == 10_000


def test_the_header_parses_as_version_then_key_id_then_nonce(data_key):
    blob = seal(data_key, KEY_ID, "张三", AAD)
    version, key_id, nonce = parse_header(blob)
    assert (version, key_id) == (FORMAT_AES256GCM, KEY_ID)
    assert blob[0] == 1
    assert blob[1:9] == KEY_ID.to_bytes(8, "big")
    assert nonce == blob[9:21] and len(nonce) == 12
    assert len(blob) == 1 + 8 + 12 + len("张三".encode()) + 16


def test_the_format_registry_holds_aes_256_gcm_as_format_one():
    assert FORMAT_AES256GCM == 1
    assert set(FORMATS) == {1}


def test_new_data_keys_are_32_random_bytes():
    keys = {new_data_key() for _ in range(100)}
    assert len(keys) == 100 and all(len(k) == 32 for k in keys)


def test_new_key_ids_are_positive_63_bit_and_distinct():
    ids = [new_key_id() for _ in range(1000)]
    assert all(0 < i < 2**63 for i in ids)
    assert len(set(ids)) == 1000
    assert max(ids) > 2**56  # random over the full range, not a counter


# -- normalise ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("张 三", "张三"),
        ("张\u3000三", "张三"),
        (" 张\t三\n", "张三"),
        ("１２３", "123"),
        ("２０２４０１", "202401"),
        ("ＡＢｃ 12", "abc12"),
        ("Zhang San", "zhangsan"),
        ("张\u200b三", "张三"),
        ("\u0661\u0662\u0663", "123"),  # Arabic-Indic digits
    ],
)
def test_normalise_removes_spaces_maps_full_width_and_lowercases(raw, expected):
    assert normalise(raw) == expected


def test_normalise_keeps_chinese_characters_unchanged():
    assert normalise("欧阳娜娜") == "欧阳娜娜"


# The ASCII fast paths of normalise() must give exactly what the character-by-character rules give.
_ASCII_TEXT = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=127))
_MIXED_TEXT = st.text(alphabet=st.one_of(
    st.characters(min_codepoint=0, max_codepoint=127),
    st.sampled_from("０１２３４５６７８９ＡＢＺａｚ\u3000\u00a0\u2000\u200b\ufeff\u0661\u0967张三欧阳①㈠ﬁ"),
    st.characters(),
))


@settings(max_examples=500, deadline=None)
@given(_ASCII_TEXT)
def test_normalise_fast_path_equals_the_slow_path_for_any_ascii_text(value):
    assert normalise(value) == crypto._normalise_slow(value)


@settings(max_examples=500, deadline=None)
@given(_MIXED_TEXT)
def test_normalise_equals_the_slow_path_for_any_text(value):
    assert normalise(value) == crypto._normalise_slow(value)


@pytest.mark.parametrize("value", ["\x1c\x1d\x1e\x1f", "A\x0bB\x0cC", "G31 0151\t2014", "ＧＳ１２", "Ab\r\n"])
def test_normalise_fast_path_equals_the_slow_path_for_ascii_separators_and_full_width(value):
    assert normalise(value) == crypto._normalise_slow(value)


def test_the_translate_table_applies_the_per_character_rules_to_every_code_point():
    table = crypto._CharRules()  # a fresh one: the module's shared table stays small
    for codepoint in range(0x110000):
        if 0xD800 <= codepoint <= 0xDFFF:
            continue  # surrogates are not characters of a str that came from text
        ch = chr(codepoint)
        assert ch.translate(table) == crypto._normalise_chars(ch), hex(codepoint)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_blind_index_is_the_truncated_hmac_sha256_of_the_normalised_value(value):
    ring = KeyRing.generate()
    expected = hmac.new(ring._column_key("students.name"), normalise(value).encode("utf-8"), hashlib.sha256)
    assert ring.blind_index("students.name", value) == expected.hexdigest()[:BLIND_INDEX_HEX_LEN]


def test_aad_is_the_prefix_and_each_length_prefixed_utf8_part():
    def lp(text: str) -> bytes:
        raw = text.encode("utf-8")
        return struct.pack(">I", len(raw)) + raw

    expected = b"xinmiao/field/v1" + lp("students") + lp("name") + lp("学生-42")
    assert aad_for("students", "name", "学生-42") == expected
    assert aad_for("students", "name", 42) == b"xinmiao/field/v1" + lp("students") + lp("name") + lp("42")


def test_a_sealer_makes_the_same_format_as_seal_with_a_fresh_nonce_each_time(data_key):
    sealer = Sealer(data_key, KEY_ID)
    a, b = sealer.seal("张小明", AAD), sealer.seal("张小明", AAD)
    reference = seal(data_key, KEY_ID, "张小明", AAD)
    assert len(a) == len(b) == len(reference)
    assert a[:9] == reference[:9]  # format byte and key id
    assert parse_header(a)[2] != parse_header(b)[2]
    for blob in (a, b):
        assert open_sealed(blob, lambda _: data_key, AAD) == "张小明".encode()
    with pytest.raises(CryptoError):
        open_sealed(a, lambda _: data_key, aad_for("students", "name", "43"))


def test_a_sealer_refuses_what_seal_refuses(data_key):
    with pytest.raises(CryptoError):
        Sealer(b"short", KEY_ID)
    with pytest.raises(CryptoError):
        Sealer(data_key, -1)
    with pytest.raises(CryptoError):
        Sealer(data_key, KEY_ID).seal(123, AAD)  # type: ignore[arg-type]
    with pytest.raises(CryptoError):
        Sealer(data_key, KEY_ID).seal("x", "not bytes")  # type: ignore[arg-type]


def test_wrapping_many_keys_under_one_master_version_unwraps_each(ring):
    keys = [(new_key_id(), new_data_key()) for _ in range(3)]
    wrapped = [(key_id, *ring.wrap(dek, key_id)) for key_id, dek in keys]
    assert [ring.unwrap(w, key_id, v) for key_id, w, v in wrapped] == [dek for _, dek in keys]
    new_version = ring.add_version()
    key_id, dek = keys[0]
    w, v = ring.wrap(dek, key_id)
    assert v == new_version and ring.unwrap(w, key_id, new_version) == dek
    with pytest.raises(CryptoError):
        ring.unwrap(w, key_id, new_version - 1)


# -- key ring: wrapping -------------------------------------------------------------------------------------------


def test_wrap_then_unwrap_returns_the_data_key(ring, data_key):
    wrapped, version = ring.wrap(data_key, KEY_ID)
    assert version == 1
    assert data_key not in wrapped
    assert ring.unwrap(wrapped, KEY_ID, version) == data_key


def test_unwrap_with_a_wrong_key_id_fails(ring, data_key):
    wrapped, version = ring.wrap(data_key, KEY_ID)
    with pytest.raises(CryptoError):
        ring.unwrap(wrapped, KEY_ID + 1, version)


def test_unwrap_with_a_wrong_or_unknown_version_fails(ring, data_key):
    ring.add_version()
    wrapped, version = ring.wrap(data_key, KEY_ID, version=1)
    assert version == 1
    with pytest.raises(CryptoError):
        ring.unwrap(wrapped, KEY_ID, 2)
    with pytest.raises(CryptoError):
        ring.unwrap(wrapped, KEY_ID, 99)


def test_unwrap_of_a_tampered_or_truncated_wrapped_key_fails(ring, data_key):
    wrapped, version = ring.wrap(data_key, KEY_ID)
    for i in range(len(wrapped)):
        tampered = bytearray(wrapped)
        tampered[i] ^= 0x01
        with pytest.raises(CryptoError):
            ring.unwrap(bytes(tampered), KEY_ID, version)
    with pytest.raises(CryptoError):
        ring.unwrap(wrapped[:-1], KEY_ID, version)


def test_unwrap_under_another_key_ring_fails(ring, data_key):
    wrapped, version = ring.wrap(data_key, KEY_ID)
    other = KeyRing({1: os.urandom(32)}, 1, os.urandom(32))
    with pytest.raises(CryptoError):
        other.unwrap(wrapped, KEY_ID, version)


def test_add_version_then_rewrap_works_while_old_versions_still_unwrap(ring, data_key):
    old_wrapped, old_version = ring.wrap(data_key, KEY_ID)
    new_version = ring.add_version()
    assert new_version == 2 and ring.current_version == 2 and ring.versions == [1, 2]
    rewrapped, version = ring.wrap(ring.unwrap(old_wrapped, KEY_ID, old_version), KEY_ID)
    assert version == 2
    assert ring.unwrap(rewrapped, KEY_ID, 2) == data_key
    assert ring.unwrap(old_wrapped, KEY_ID, 1) == data_key
    assert ring.add_version() == 3 and ring.versions == [1, 2, 3]


def test_a_key_ring_refuses_a_current_version_it_does_not_hold():
    with pytest.raises(CryptoError):
        KeyRing({1: os.urandom(32)}, 2, os.urandom(32))


def test_a_key_ring_refuses_keys_that_are_not_256_bits():
    with pytest.raises(CryptoError):
        KeyRing({1: os.urandom(16)}, 1, os.urandom(32))
    with pytest.raises(CryptoError):
        KeyRing({1: os.urandom(32)}, 1, os.urandom(31))


def test_the_index_key_must_be_independent_of_the_master_keys():
    shared = os.urandom(32)
    with pytest.raises(CryptoError):
        KeyRing({1: shared}, 1, shared)


def test_the_key_ring_repr_shows_no_key_material(ring):
    text = repr(ring)
    assert "versions=[1]" in text
    assert b64(ring._master[1]) not in text and repr(ring._master[1]) not in text


# -- key ring: files and environment ------------------------------------------------------------------------------


def test_generate_file_creates_a_0600_file_that_loads_back(tmp_path, data_key):
    path = tmp_path / "deep" / "instance" / "keys.json"
    ring = KeyRing.generate_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = KeyRing.from_file(path)
    assert loaded.versions == [1] and loaded.current_version == 1
    wrapped, version = ring.wrap(data_key, KEY_ID)
    assert loaded.unwrap(wrapped, KEY_ID, version) == data_key
    assert loaded.blind_index("name", "张三") == ring.blind_index("name", "张三")


def test_generate_file_refuses_to_overwrite_an_existing_file(tmp_path):
    path = tmp_path / "keys.json"
    KeyRing.generate_file(path)
    before = path.read_bytes()
    with pytest.raises(CryptoError):
        KeyRing.generate_file(path)
    assert path.read_bytes() == before


def test_from_file_refuses_a_0644_file(tmp_path):
    path = tmp_path / "keys.json"
    KeyRing.generate_file(path)
    path.chmod(0o644)
    with pytest.raises(CryptoError, match="chmod 600"):
        KeyRing.from_file(path)


def test_from_file_refuses_a_group_writable_file(tmp_path):
    path = tmp_path / "keys.json"
    KeyRing.generate_file(path)
    path.chmod(0o620)
    with pytest.raises(CryptoError):
        KeyRing.from_file(path)


@pytest.mark.parametrize("content", ["", "not json", "{}", '{"master": {}, "index": "x"}', '{"master": []}'])
def test_from_file_refuses_a_malformed_key_file(tmp_path, content):
    path = tmp_path / "keys.json"
    path.write_text(content)
    path.chmod(0o600)
    with pytest.raises(CryptoError):
        KeyRing.from_file(path)


def test_from_file_refuses_a_missing_file(tmp_path):
    with pytest.raises(CryptoError):
        KeyRing.from_file(tmp_path / "nope.json")


def test_from_file_reads_the_documented_json_layout(tmp_path):
    m1, m2, index = os.urandom(32), os.urandom(32), os.urandom(32)
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"master": {"1": b64(m1), "2": b64(m2)}, "current": 1, "index": b64(index)}))
    path.chmod(0o600)
    ring = KeyRing.from_file(path)
    assert ring.versions == [1, 2] and ring.current_version == 1
    assert ring.blind_index("name", "x") == KeyRing({9: m1}, 9, index).blind_index("name", "x")


def test_save_after_add_version_rewrites_the_file_atomically_with_0600(tmp_path, data_key):
    path = tmp_path / "keys.json"
    ring = KeyRing.generate_file(path)
    old_wrapped, _ = ring.wrap(data_key, KEY_ID)
    ring.add_version()
    ring.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]  # no temp file left behind
    loaded = KeyRing.from_file(path)
    assert loaded.versions == [1, 2] and loaded.current_version == 2
    assert loaded.unwrap(old_wrapped, KEY_ID, 1) == data_key


def test_from_environ_returns_none_when_no_key_is_configured():
    assert KeyRing.from_environ({}) is None
    assert KeyRing.from_environ({"XINMIAO_KEY_FILE": "", "OTHER": "x"}) is None


def test_from_environ_reads_a_key_file(tmp_path):
    path = tmp_path / "keys.json"
    generated = KeyRing.generate_file(path)
    ring = KeyRing.from_environ({"XINMIAO_KEY_FILE": str(path)})
    assert ring is not None
    assert ring.blind_index("name", "张三") == generated.blind_index("name", "张三")


def test_from_environ_reads_master_keys_and_index_key_with_the_highest_version_current(data_key):
    m1, m2, index = os.urandom(32), os.urandom(32), os.urandom(32)
    std_b64_index = base64.b64encode(index).decode().rstrip("=")  # standard alphabet, no padding, also accepted
    ring = KeyRing.from_environ(
        {"XINMIAO_MASTER_KEYS": f"2:{b64(m2)}, 1:{b64(m1)}", "XINMIAO_INDEX_KEY": std_b64_index}
    )
    assert ring is not None
    assert ring.versions == [1, 2] and ring.current_version == 2
    wrapped, version = KeyRing({1: m1}, 1, index).wrap(data_key, KEY_ID)
    assert ring.unwrap(wrapped, KEY_ID, version) == data_key
    assert ring.blind_index("name", "x") == KeyRing({1: m1}, 1, index).blind_index("name", "x")


@pytest.mark.parametrize(
    "environ",
    [
        {"XINMIAO_MASTER_KEYS": "1:" + b64(b"k" * 32)},  # no index key
        {"XINMIAO_INDEX_KEY": b64(b"i" * 32)},  # no master keys
        {"XINMIAO_MASTER_KEYS": "1:" + b64(b"k" * 16), "XINMIAO_INDEX_KEY": b64(b"i" * 32)},  # short key
        {"XINMIAO_MASTER_KEYS": b64(b"k" * 32), "XINMIAO_INDEX_KEY": b64(b"i" * 32)},  # no version
        {"XINMIAO_MASTER_KEYS": "x:" + b64(b"k" * 32), "XINMIAO_INDEX_KEY": b64(b"i" * 32)},  # bad version
        {"XINMIAO_MASTER_KEYS": "1:!!!notbase64!!!", "XINMIAO_INDEX_KEY": b64(b"i" * 32)},
    ],
    ids=["no_index", "no_master", "short_key", "no_version", "bad_version", "bad_base64"],
)
def test_from_environ_refuses_a_half_or_malformed_configuration(environ):
    with pytest.raises(CryptoError):
        KeyRing.from_environ(environ)


# -- blind index --------------------------------------------------------------------------------------------------


def test_blind_index_is_equal_for_a_name_with_and_without_spaces(ring):
    assert ring.blind_index("name", "张 三") == ring.blind_index("name", "张三")
    assert ring.blind_index("name", "张\u3000三") == ring.blind_index("name", "张三")


def test_blind_index_is_equal_for_full_width_and_ascii_digits(ring):
    assert ring.blind_index("student_number", "１２３") == ring.blind_index("student_number", "123")


def test_blind_index_differs_for_different_values(ring):
    assert ring.blind_index("name", "张三") != ring.blind_index("name", "李四")


def test_blind_index_differs_per_column_for_the_same_value(ring):
    assert ring.blind_index("name", "123") != ring.blind_index("student_number", "123")


def test_blind_index_is_stable_across_key_rings_with_the_same_index_key():
    index = os.urandom(32)
    a = KeyRing({1: os.urandom(32)}, 1, index)
    b = KeyRing({5: os.urandom(32)}, 5, index)
    assert a.blind_index("name", "张三") == b.blind_index("name", "张三")


def test_blind_index_differs_with_another_index_key(ring):
    other = KeyRing({1: ring._master[1]}, 1, os.urandom(32))
    assert ring.blind_index("name", "张三") != other.blind_index("name", "张三")


def test_blind_index_is_ten_lowercase_hex_characters(ring):
    value = ring.blind_index("name", "张三")
    assert BLIND_INDEX_HEX_LEN == 10
    assert len(value) == 10 and all(c in "0123456789abcdef" for c in value)


def test_blind_index_does_not_change_when_a_master_key_is_added(ring):
    before = ring.blind_index("name", "张三")
    ring.add_version()
    assert ring.blind_index("name", "张三") == before


def test_blind_index_matches_an_independent_hkdf_hmac_computation():
    import hashlib
    import hmac

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    index = os.urandom(32)
    column_key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"xinmiao/blind-index/v1/name"
    ).derive(index)
    expected = hmac.new(column_key, "张三".encode(), hashlib.sha256).hexdigest()[:10]
    assert KeyRing({1: os.urandom(32)}, 1, index).blind_index("name", "张 三") == expected
    # The index is not a plain HMAC under the raw index key or a master key: keys are derived per column.
    assert hmac.new(index, "张三".encode(), hashlib.sha256).hexdigest()[:10] != expected


# -- audit chain --------------------------------------------------------------------------------------------------

PAYLOAD = {
    "actor": 7,
    "role": "counselor",
    "action": "view_student",
    "student": "S-8f2a",
    "at": "2026-11-29T06:40:00Z",
    "ip": "10.0.0.5",
}


def test_chain_hash_is_deterministic_and_independent_of_key_order():
    prev = "0" * 64
    first = chain_hash(prev, PAYLOAD)
    assert first == chain_hash(prev, dict(reversed(list(PAYLOAD.items()))))
    assert len(first) == 64 and all(c in "0123456789abcdef" for c in first)


def test_chain_hash_matches_sha256_over_prev_hash_and_canonical_json():
    import hashlib

    canonical = json.dumps(PAYLOAD, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert chain_hash("abc", PAYLOAD) == hashlib.sha256(("abc" + canonical).encode()).hexdigest()


@pytest.mark.parametrize("field", sorted(PAYLOAD))
def test_chain_hash_changes_when_any_field_changes(field):
    altered = dict(PAYLOAD, **{field: str(PAYLOAD[field]) + "x"})
    assert chain_hash("0" * 64, altered) != chain_hash("0" * 64, PAYLOAD)


def test_chain_hash_changes_when_a_field_is_removed_or_added():
    base = chain_hash("0" * 64, PAYLOAD)
    assert chain_hash("0" * 64, {k: v for k, v in PAYLOAD.items() if k != "ip"}) != base
    assert chain_hash("0" * 64, dict(PAYLOAD, extra=None)) != base


def test_chain_hash_changes_with_the_previous_hash():
    assert chain_hash("0" * 64, PAYLOAD) != chain_hash("0" * 63 + "1", PAYLOAD)


def test_chain_hash_accepts_non_json_values_through_str():
    from datetime import datetime

    at = datetime(2026, 11, 29, 6, 40, tzinfo=UTC)
    assert chain_hash("", {"at": at}) == chain_hash("", {"at": str(at)})


def test_a_blob_whose_key_id_is_rewritten_fails_even_when_that_id_maps_to_the_same_key(data_key):
    blob = seal(data_key, KEY_ID, "李四", AAD)
    forged = blob[:1] + (KEY_ID + 1).to_bytes(8, "big") + blob[9:]
    with pytest.raises(CryptoError):
        open_sealed(forged, {KEY_ID: data_key, KEY_ID + 1: data_key}.__getitem__, AAD)
