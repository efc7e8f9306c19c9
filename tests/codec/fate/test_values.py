"""FATE values: the byte vectors of fate.md §1, strictness, and encode/decode round trips."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chan_nb.codec.fate import types as T
from chan_nb.codec.fate.types import ObjectKind
from chan_nb.codec.fate.values import (
    Address,
    Bits,
    Bytes,
    ContractBytearray,
    FateMap,
    StoreMap,
    Variant,
    decode,
    encode,
    none,
    order_key,
    some,
)
from chan_nb.errors import DecodeError

KEY = bytes.fromhex("6c73" + "00" * 28 + "fc54")

VECTORS = [
    (0, "00"),
    (1, "02"),
    (-1, "82"),
    (42, "54"),
    (63, "7e"),
    (-63, "fe"),
    (64, "6f00"),
    (-64, "ef00"),
    (65599, "6f82ffff"),
    (2**70, "6f893fffffffffffffffc0"),
    ("", "5f"),
    ("Hello", "1548656c6c6f"),
    ("a" * 64, "0100" + "61" * 64),
    ("b" * 100, "0148" + "62" * 100),
    (True, "ff"),
    (False, "7f"),
    ((), "3f"),
    ((1, True), "2b02ff"),
    ([1, 2, 3], "33020406"),
    ([], "03"),
    ([0] * 16, "1f00" + "00" * 16),
    (((),) * 16, "0b00" + "3f" * 16),
    (FateMap({0: False, 1: True}), "2f02007f02ff"),
    (FateMap(), "2f00"),
    (FateMap({3: True, 1: True, 0: False}), "2f03007f02ff06ff"),  # sorted on encoding
    (none(), "af820001003f"),
    (some(42), "af820001011b54"),
    (Bytes(bytes.fromhex("beef")), "9f0109beef"),
    (Address(ObjectKind.CONTRACT, KEY), "9f02a0" + KEY.hex()),
    (Address(ObjectKind.ADDRESS, KEY), "9f00a0" + KEY.hex()),
    (Bits(0), "4f00"),
    (Bits(5), "4f05"),
    (Bits(-1), "cf01"),
    (StoreMap(1), "bf01"),
    (ContractBytearray(b"\x01\x02"), "8f040102"),
    (T.option(T.STRING), "870237003701" + "77"),
    (T.INT, "07"),
    (T.TList(T.BOOL), "2717"),
    (T.TMap(T.STRING, T.INT), "677707"),
    (T.TBytes(-1), "9782"),
    (T.ADDRESS, "4700"),
    (T.TVar(3), "e703"),
]


@pytest.mark.parametrize(("value", "hexbytes"), VECTORS)
def test_vectors_encode_and_decode(value: object, hexbytes: str) -> None:
    raw = bytes.fromhex(hexbytes)
    assert encode(value) == raw
    assert encode(decode(raw)) == raw
    assert decode(raw) == value


def test_bytes_type_sizes() -> None:
    assert encode(T.TBytes(32)) == bytes([0x97, 0x40])  # 32 is the small int 0x40
    assert encode(T.TBytes(64)) == bytes([0x97, 0x6F, 0x00])
    assert decode(bytes([0x97, 0x40])) == T.TBytes(32)


def test_strings_decode_to_str_or_bytes() -> None:
    assert decode(bytes.fromhex("11b8177eec")) == bytes.fromhex("b8177eec")  # not UTF-8
    assert decode(bytes([0x09]) + "é".encode()) == "é"
    assert encode(b"\xb8\x17\x7e\xec") == bytes.fromhex("11b8177eec")


@pytest.mark.parametrize(
    ("hexbytes", "reason"),
    [
        ("80", "negative zero"),
        ("6f8200ff", "leading zero"),
        ("6f8100", "must not be wrapped"),
        ("0002", "trailing"),
        ("df", "starts no FATE value"),
        ("b7", "starts no FATE value"),
        ("c7", "starts no FATE value"),
        ("2f0202ff007f", "ascending"),
        ("2f02007f007f", "ascending"),  # duplicate key
        ("2f011b2f00ff", "map cannot be"),
        ("af8200010203", "tag 2"),
        ("af820001003b020406", "arity"),
        ("af82000101" + "54", "must be a tuple"),
        ("15414243", "runs past the end"),
        ("cf00", "negative bits"),
        ("9f06a0" + "00" * 32, "unknown object type"),
        ("2b", "runs past the end"),
        ("", "ends where a value"),
        ("4707", "unknown object type"),
        ("6f", "ends inside"),
        ("01", "ends where a value"),
        ("0182", "non-negative"),
        ("6fc0", "RLP list"),
    ],
)
def test_malformed_input_is_refused(hexbytes: str, reason: str) -> None:
    with pytest.raises(DecodeError, match=reason):
        decode(bytes.fromhex(hexbytes))


def test_deep_nesting_is_a_decode_error_not_a_crash() -> None:
    deep = b"\x1b" * 5000 + b"\x00"
    with pytest.raises(DecodeError, match="nested deeper"):
        decode(deep)
    with pytest.raises(DecodeError, match="nested deeper"):
        decode(b"\x27" * 5000 + b"\x07")  # list(list(...)) type


def test_short_address_keys_decode_as_the_node_does() -> None:
    # aebytecode round-trips make_contract(<<1,2,3,4,5>>): the key is an RLP byte string
    raw = bytes.fromhex("9f02850102030405")
    value = decode(raw)
    assert value == Address(ObjectKind.CONTRACT, b"\x01\x02\x03\x04\x05") and encode(value) == raw
    with pytest.raises(DecodeError, match="32 bytes"):
        _ = value.api


def test_huge_claimed_length_fails_fast() -> None:
    with pytest.raises(DecodeError, match="runs past the end"):
        decode(bytes.fromhex("1f88ffffffffffffffff") + b"\x00")


def test_not_bytes_input() -> None:
    with pytest.raises(DecodeError, match="must be bytes"):
        decode("00")  # type: ignore[arg-type]


def test_total_order() -> None:
    ordered = [
        -5,
        3,
        False,
        True,
        Address(ObjectKind.ADDRESS, KEY),
        Address(ObjectKind.CHANNEL, KEY),
        Address(ObjectKind.CONTRACT, KEY),
        Address(ObjectKind.ORACLE, KEY),
        Bytes(b"\xff"),
        Bytes(b"\x00\x00"),
        Bits(3),
        Bits(-1),
        "z",
        "aa",
        (1,),
        (0, 0),
        FateMap({1: 1}),
        [],
        [0, 5],
        [1],
        none(),
        some(0),
        Address(ObjectKind.ORACLE_QUERY, KEY),
        ContractBytearray(b""),
    ]
    keys = [order_key(v) for v in ordered]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)


def test_map_lookup_and_equality() -> None:
    m = FateMap({(1, "a"): [1], 2: True})
    assert m[(1, "a")] == [1]
    assert (1, "a") in m and 3 not in m
    assert FateMap({True: 1}) != FateMap({1: 1})  # booleans are not integers in FATE
    with pytest.raises(ValueError, match="map cannot be"):
        FateMap({(FateMap(),): 1})


def test_variant_checks() -> None:
    with pytest.raises(ValueError, match="tag"):
        Variant((0, 1), 2, ())
    with pytest.raises(ValueError, match="takes 1"):
        Variant((0, 1), 1, ())


def test_type_text_round_trip() -> None:
    for text in [
        "int",
        "unit",
        "list(map(string, tuple(int, bool)))",
        "variant(unit, tuple(address))",
        "bytes(32)",
        "bytes()",
        "tvar(2)",
        "oracle_query",
        "contract_bytearray",
    ]:
        assert T.type_text(T.parse_type(text)) == text
    for bad in ["integer", "list(int, int)", "map(int)", "tuple(int", "bytes(x)", "tvar(300)"]:
        with pytest.raises(DecodeError):
            T.parse_type(bad)


# -- property: decode(encode(v)) == v, and encode(decode(b)) == b ---------------------------

_keys = st.recursive(
    st.integers() | st.booleans() | st.text(max_size=70) | st.binary(max_size=5).map(Bytes),
    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner),
    max_leaves=6,
)
_values = st.recursive(
    st.integers(min_value=-(2**300), max_value=2**300)
    | st.booleans()
    | st.text(max_size=80)
    | st.binary(min_size=1, max_size=80).filter(lambda b: _not_utf8(b))
    | st.binary(max_size=40).map(Bytes)
    | st.integers(min_value=-(2**80), max_value=2**80).map(Bits)
    | st.binary(min_size=32, max_size=32).map(lambda k: Address(ObjectKind.CONTRACT, k))
    | st.just(T.TMap(T.INT, T.option(T.STRING))),
    lambda inner: (
        st.lists(inner, max_size=20)
        | st.lists(inner, max_size=17).map(tuple)
        | st.lists(st.tuples(_keys, inner), max_size=4).map(FateMap)
        | st.tuples(st.integers(0, 2), inner).map(lambda t: Variant((0, 1, 2), t[0], inner_fill(t)))
    ),
    max_leaves=25,
)


def inner_fill(t: tuple[int, object]) -> tuple[object, ...]:
    tag, value = t
    return tuple([value] * tag)


def _not_utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


@settings(max_examples=300, deadline=None)
@given(_values)
def test_round_trip(value: object) -> None:
    raw = encode(value)
    back = decode(raw)
    assert encode(back) == raw
    assert order_key(back) == order_key(value)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=40))
def test_random_bytes_decode_or_refuse(raw: bytes) -> None:
    try:
        value = decode(raw)
    except DecodeError:
        return
    assert encode(value) == raw  # whatever decodes is canonical


# -- public vectors: aeternity/aebytecode test/aeb_serialize_test.erl (facts, not code) ------


def test_aebytecode_integer_vectors() -> None:
    assert encode(65535 + 64) == bytes([111, 130, 255, 255])
    big = bytes([111, 184, 129, 1]) + bytes(128)
    assert encode(2**1024 + 64) == big and decode(big) == 2**1024 + 64


@pytest.mark.parametrize(
    "value",
    [
        Bytes(b"\x01\x02\x03\x04\x05"),
        "0123456789" * 8,  # the 80-character string
        tuple(range(1, 66)),
        tuple(range(1, 17)),
        FateMap({1: True, 2: False}),
        FateMap({"foo": (42, True)}),
        -65,
        65,
        -32432847932847928374983,
        list(range(1, 66)),
        Variant((1, 2, 3), 0, (42,)),
        Variant((2, 0), 1, ()),
        [Variant((0, 0, 0), 0, ())],
        Variant((0,) * 255, 254, ()),
        Variant((0, 1, 2, 3, 4, 5), 3, (True, [1, 2, 3], "foo")),
    ],
)
def test_aebytecode_round_trip_sources(value: object) -> None:
    assert decode(encode(value)) == value
