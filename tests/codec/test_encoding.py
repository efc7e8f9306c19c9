"""API string encodings and strict RLP."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chan_nb.codec import encoding, rlp
from chan_nb.codec.ids import Id, IdKind
from chan_nb.errors import DecodeError


def test_api_encoding_vectors(vectors: dict[str, Any]) -> None:
    for vec in vectors["api_encoding"]:
        payload = bytes.fromhex(vec["payload_hex"])
        prefix, got = encoding.split(vec["string"])
        assert prefix == vec["prefix"]
        assert got == payload
        assert encoding.checksum(payload).hex() == vec["checksum_hex"]
        assert encoding.encode(prefix, payload) == vec["string"]


def test_id_vectors(vectors: dict[str, Any]) -> None:
    for vec in vectors["ids"]:
        ident = Id.from_api(vec["api"])
        assert ident.to_bytes().hex() == vec["id_bytes_hex"]
        assert Id.from_bytes(ident.to_bytes()).api == vec["api"]


def test_int_vectors(vectors: dict[str, Any]) -> None:
    for vec in vectors["int_encoding"]:
        field = rlp.encode_int(vec["int"])
        assert field.hex() == vec["field_bytes_hex"]
        assert rlp.encode(field).hex() == vec["rlp_hex"]
        assert rlp.decode_int(rlp.decode(bytes.fromhex(vec["rlp_hex"]))) == vec["int"]


def test_leading_zero_account_prints_with_ones() -> None:
    assert encoding.encode("ak", (42).to_bytes(32, "big")) == (
        "ak_11111111111111111111111111111115rHyByZ"
    )
    assert encoding.encode("tx", b"") == "tx_Xfbg4g=="


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("ak_11111111111111111111111111111115rHyByY", "checksum"),
        ("ak_1111111111111111111111111111111115rHyByZ", "checksum"),  # extra zero byte
        ("zz_abc", "unknown API prefix"),
        ("akabc", "no '_'"),
        ("ak_0OIl", "not base58"),
        ("tx_!!!!", "not base64"),
        ("tx_QQ", "not base64"),
        ("ba_0l8E77UMjdvRtTsx", ""),  # valid: 8-byte fsm id payload
        ("st_Xfbg4g==", "32 bytes"),
        ("ak_", "too short"),
    ],
)
def test_bad_api_strings_name_the_problem(text: str, reason: str) -> None:
    if not reason:
        assert len(encoding.decode(text, "ba")) == 8
        return
    with pytest.raises(DecodeError, match=reason):
        encoding.decode(text)


def test_prefix_mismatch_and_non_canonical_base64() -> None:
    good = encoding.encode("cb", b"A")
    with pytest.raises(DecodeError, match="expected a tx_ string"):
        encoding.decode(good, "tx")
    body = good[3:]
    # flip unused pad bits of the last base64 char: same bytes, not the node's text
    tweaked = "cb_" + body[:-3] + chr(ord(body[-3]) + 1) + body[-2:]
    with pytest.raises(DecodeError):
        encoding.decode(tweaked)


@given(st.sampled_from(sorted(encoding.PREFIXES)), st.binary(max_size=80))
def test_api_string_round_trip(prefix: str, payload: bytes) -> None:
    size = encoding.PREFIXES[prefix][1]
    if size is not None:
        payload = (payload * 64)[:size] if payload else bytes(size)
    text = encoding.encode(prefix, payload)
    assert encoding.split(text) == (prefix, payload)


@given(st.text(max_size=60))
def test_random_text_only_raises_decode_error(text: str) -> None:
    with contextlib.suppress(DecodeError):
        encoding.split(text)


def test_wrong_size_rejected_on_encode() -> None:
    with pytest.raises(DecodeError, match="32 bytes"):
        encoding.encode("ak", b"short")


def test_id_kinds_and_errors() -> None:
    ident = Id.from_api(encoding.encode("ch", bytes(range(32))))
    assert ident.kind is IdKind.CHANNEL
    with pytest.raises(DecodeError, match="unknown id tag"):
        Id.from_bytes(b"\x09" + bytes(32))
    with pytest.raises(DecodeError, match="33 bytes"):
        Id.from_bytes(b"\x01" + bytes(31))
    with pytest.raises(DecodeError, match="not an id prefix"):
        Id.from_api(encoding.encode("th", bytes(32)))


# -- RLP ----------------------------------------------------------------------

rlp_items: st.SearchStrategy[rlp.Item] = st.recursive(
    st.binary(max_size=70),
    lambda children: st.lists(children, max_size=6),
    max_leaves=20,
)


@given(rlp_items)
def test_rlp_round_trip(item: rlp.Item) -> None:
    data = rlp.encode(item)
    assert rlp.decode(data) == item
    assert rlp.encode(rlp.decode(data)) == data


@given(st.binary(max_size=200))
def test_rlp_random_bytes_only_raise_decode_error(data: bytes) -> None:
    try:
        item = rlp.decode(data)
    except DecodeError:
        return
    assert rlp.encode(item) == data  # whatever is accepted is canonical


@given(rlp_items, st.data())
def test_rlp_mutations_only_raise_decode_error(item: rlp.Item, data: st.DataObject) -> None:
    raw = bytearray(rlp.encode(item))
    pos = data.draw(st.integers(0, len(raw) - 1))
    raw[pos] = data.draw(st.integers(0, 255))
    try:
        decoded = rlp.decode(bytes(raw))
    except DecodeError:
        return
    assert rlp.encode(decoded) == bytes(raw)


@given(st.integers(min_value=0, max_value=2**300))
def test_int_round_trip(value: int) -> None:
    assert rlp.decode_int(rlp.encode_int(value)) == value


@pytest.mark.parametrize(
    ("hex_data", "reason"),
    [
        ("", "empty input"),
        ("8100", "single byte"),  # 0x00 must be written as itself
        ("817f", "single byte"),
        ("b800", "leading zero"),
        ("b80161", "short length"),
        ("83616263ff", "trailing"),
        ("8561", "past the end"),
        ("c3616263ff", "trailing"),
        ("c5616263", "past the end"),
        ("f800", "leading zero"),
        ("b90001" + "61", "leading zero"),
    ],
)
def test_rlp_strictness(hex_data: str, reason: str) -> None:
    data = bytes.fromhex(hex_data)
    with pytest.raises(DecodeError, match=reason):
        rlp.decode(data)


def test_int_fields_are_canonical() -> None:
    with pytest.raises(DecodeError, match="leading zero"):
        rlp.decode_int(b"\x00\x01", "amount")
    with pytest.raises(DecodeError, match="empty integer"):
        rlp.decode_int(b"", "amount")
    with pytest.raises(DecodeError, match="amount: expected an integer"):
        rlp.decode_int([b"\x01"], "amount")
    assert rlp.encode_int(0) == b"\x00"
    with pytest.raises(ValueError):
        rlp.encode_int(-1)


def test_deep_nesting_is_a_decode_error_not_a_crash() -> None:
    data = b"\xc0"  # []
    for _ in range(5000):  # [[[…]]]: a list header around the previous list, by hand
        size = len(data)
        if size < 56:
            data = bytes((0xC0 + size,)) + data
        else:
            length = size.to_bytes((size.bit_length() + 7) // 8, "big")
            data = bytes((0xF7 + len(length),)) + length + data
    with pytest.raises(DecodeError, match="nested deeper"):
        rlp.decode(data)
    shallow = rlp.encode([[[[b"x"]]]])
    assert rlp.decode(shallow) == [[[[b"x"]]]]


@given(st.binary(max_size=40))
def test_base58_is_canonical_without_a_re_encode_check(payload: bytes) -> None:
    """split() skips the re-encode check for base58: decode → encode is always exact."""
    import base58

    text = base58.b58encode(payload).decode()
    assert base58.b58encode(base58.b58decode(text)).decode() == text
    assert base58.b58decode(text) == payload
