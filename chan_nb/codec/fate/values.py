"""FATE values and their serialization, byte for byte (fate.md §1; aebytecode's encoding).

Python forms of the FATE values:

=====================  ===========================================================
FATE                   Python
=====================  ===========================================================
integer                ``int`` (any size)
boolean                ``bool``
string                 ``str`` when the bytes are UTF-8, else ``bytes``
unit, tuple            ``tuple``
list                   ``list``
map                    :class:`FateMap` (a read-only mapping; ``dict`` is accepted to encode)
address, contract …    :class:`Address` (kind + 32-byte key; ``.api`` gives ``ak_…``/``ct_…``)
bytes(n)               :class:`Bytes`
bits                   :class:`Bits`
variant                :class:`Variant` (arities, tag, values)
typerep                a :class:`~chan_nb.codec.fate.types.FateType`
store map reference    :class:`StoreMap`
contract bytearray     :class:`ContractBytearray`
=====================  ===========================================================

Decoding is strict (canonical integers, keys strictly ascending, no negative zero, no
trailing bytes, bounded nesting) so that decode → encode gives the same bytes; every
problem raises :class:`~chan_nb.errors.DecodeError` saying what and at which offset.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias

from chan_nb.codec import encoding, rlp
from chan_nb.codec.fate.types import TYPE_TAGS, FateType, ObjectKind, decode_type_at, encode_type
from chan_nb.errors import DecodeError

#: Deepest nesting of containers (and types) accepted, so that a crafted input raises
#: DecodeError rather than RecursionError. Real contract data nests a few levels.
MAX_NESTING: Final = 100

Value: TypeAlias = Any  # one of the Python forms in the module docstring


# -- value classes ---------------------------------------------------------------------------

_API_PREFIX: Final[dict[ObjectKind, str]] = {
    ObjectKind.ADDRESS: "ak",
    ObjectKind.CONTRACT: "ct",
    ObjectKind.ORACLE: "ok",
    ObjectKind.ORACLE_QUERY: "oq",
    ObjectKind.CHANNEL: "ch",
}
_KIND_OF_PREFIX: Final[dict[str, ObjectKind]] = {v: k for k, v in _API_PREFIX.items()}


@dataclass(frozen=True, slots=True)
class Address:
    """An address-like value: account, contract, oracle, oracle query or channel.

    The key is 32 bytes in every real value; the encoding (an RLP byte string) allows
    other lengths and the node decodes them, so they decode here too (``api`` refuses).
    """

    kind: ObjectKind
    pubkey: bytes

    def __post_init__(self) -> None:
        if self.kind is ObjectKind.BYTES:
            raise ValueError("bytes values are Bytes, not Address")

    @classmethod
    def from_api(cls, text: str) -> Address:
        """``ak_…``, ``ct_…``, ``ok_…``, ``oq_…`` or ``ch_…``."""
        prefix, payload = encoding.split(text)
        kind = _KIND_OF_PREFIX.get(prefix)
        if kind is None:
            raise DecodeError(f"{prefix}_ is not an address-like prefix")
        return cls(kind, payload)

    @property
    def api(self) -> str:
        """``ak_…``/``ct_…`` …; DecodeError for a key that is not 32 bytes."""
        return encoding.encode(_API_PREFIX[self.kind], self.pubkey)

    def __repr__(self) -> str:
        if len(self.pubkey) != 32:
            return f"Address({self.kind.name.lower()}, #{self.pubkey.hex()})"
        return f"Address({self.api})"


@dataclass(frozen=True, slots=True)
class Bytes:
    """A ``bytes(n)`` value (hashes are bytes(32), signatures bytes(64))."""

    value: bytes

    def __repr__(self) -> str:
        return f"Bytes(#{self.value.hex()})"


@dataclass(frozen=True, slots=True)
class Bits:
    """A bit set; a negative value is an infinite set (all bits from some point on)."""

    value: int


@dataclass(frozen=True, slots=True)
class StoreMap:
    """A reference to a map kept in the contract store (only inside store registers)."""

    map_id: int


@dataclass(frozen=True, slots=True)
class ContractBytearray:
    """Serialized FATE code as a value (vm >= 7; ``Chain.create``)."""

    code: bytes


@dataclass(frozen=True, slots=True)
class Variant:
    """Constructor ``tag`` of a datatype whose constructors have ``arities`` fields each."""

    arities: tuple[int, ...]
    tag: int
    values: tuple[Value, ...]

    def __post_init__(self) -> None:
        if not all(0 <= a <= 255 for a in self.arities):
            raise ValueError(f"arities are 0..255, got {self.arities}")
        if not 0 <= self.tag < len(self.arities):
            raise ValueError(f"tag {self.tag} out of range for {len(self.arities)} constructors")
        if len(self.values) != self.arities[self.tag]:
            raise ValueError(
                f"constructor {self.tag} takes {self.arities[self.tag]} values, "
                f"got {len(self.values)}"
            )


def none() -> Variant:
    """Sophia ``None``."""
    return Variant((0, 1), 0, ())


def some(value: Value) -> Variant:
    """Sophia ``Some(value)``."""
    return Variant((0, 1), 1, (value,))


class FateMap(Mapping[Value, Value]):
    """A FATE map: pairs held in the FATE key order (§1.7), read-only.

    Keys may be any FATE value except maps (lists, tuples … included), so lookups go
    through :func:`order_key` rather than Python hashing of the keys themselves.
    """

    __slots__ = ("_index", "pairs")

    def __init__(self, items: Mapping[Value, Value] | Iterable[tuple[Value, Value]] = ()) -> None:
        pairs = items.items() if isinstance(items, Mapping) else items
        index: dict[Any, tuple[Value, Value]] = {}
        for key, value in pairs:
            _check_key(key)
            index[order_key(key)] = (key, value)  # a later duplicate replaces an earlier one
        self.pairs: tuple[tuple[Value, Value], ...] = tuple(index[k] for k in sorted(index))
        self._index = {k: v for k, (_, v) in zip(sorted(index), self.pairs, strict=True)}

    def __getitem__(self, key: Value) -> Value:
        return self._index[order_key(key)]

    def __contains__(self, key: object) -> bool:
        try:
            return order_key(key) in self._index
        except TypeError:
            return False

    def __iter__(self) -> Iterator[Value]:
        return (k for k, _ in self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FateMap):
            return self._index == other._index
        if isinstance(other, Mapping):
            try:
                return self == FateMap(other)
            except (TypeError, ValueError):
                return False
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self._index.items()))

    def __repr__(self) -> str:
        return "FateMap({" + ", ".join(f"{k!r}: {v!r}" for k, v in self.pairs) + "})"


# -- the total order (map keys) -----------------------------------------------------------

_ORDINAL_OF_KIND: Final[dict[ObjectKind, int]] = {
    ObjectKind.ADDRESS: 2,
    ObjectKind.CHANNEL: 3,
    ObjectKind.CONTRACT: 4,
    ObjectKind.ORACLE: 5,
    ObjectKind.ORACLE_QUERY: 13,
}


def order_key(value: Value) -> Any:
    """A Python sort key giving FATE's total order of values (aebytecode v3.x, §1.7).

    Types order integer < boolean < address < channel < contract < oracle < bytes <
    bits < string < tuple < map < list < variant < oracle query < contract bytearray;
    strings and bytes order shorter first. Typereps (never seen as keys in practice)
    sort last, by their encoding.
    """
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int):
        return (0, value)
    if isinstance(value, str | bytes):
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return (8, len(raw), raw)
    if isinstance(value, Address):
        return (_ORDINAL_OF_KIND[value.kind], value.pubkey)
    if isinstance(value, Bytes):
        return (6, len(value.value), value.value)
    if isinstance(value, Bits):
        return (7, 0 if value.value >= 0 else 1, value.value)
    if isinstance(value, tuple):
        return (9, len(value), tuple(order_key(v) for v in value))
    if isinstance(value, FateMap | dict):
        m = value if isinstance(value, FateMap) else FateMap(value)
        return (10, len(m), tuple((order_key(k), order_key(v)) for k, v in m.pairs))
    if isinstance(value, list):
        return (11, tuple(order_key(v) for v in value))
    if isinstance(value, Variant):
        return (
            12,
            len(value.arities),
            value.arities,
            value.tag,
            tuple(order_key(v) for v in value.values),
        )
    if isinstance(value, ContractBytearray):
        return (14, len(value.code), value.code)
    if isinstance(value, FateType):
        return (15, encode(value))
    if isinstance(value, StoreMap):
        return (10, -1, value.map_id)
    raise TypeError(f"not a FATE value: {value!r}")


def _check_key(key: Value, where: str = "map key") -> None:
    """Maps (and store maps) may not appear inside a map key."""
    if isinstance(key, FateMap | dict | StoreMap):
        raise ValueError(f"a map cannot be (part of) a {where}")
    if isinstance(key, list | tuple):
        for item in key:
            _check_key(item, where)
    elif isinstance(key, Variant):
        for item in key.values:
            _check_key(item, where)


# -- encoding -----------------------------------------------------------------------------

TRUE, FALSE, UNIT_BYTE, EMPTY_STRING = 0xFF, 0x7F, 0x3F, 0x5F
POS_BIG_INT, NEG_BIG_INT, LONG_STRING = 0x6F, 0xEF, 0x01
LONG_TUPLE, LONG_LIST, MAP, STORE_MAP = 0x0B, 0x1F, 0x2F, 0xBF
POS_BITS, NEG_BITS, OBJECT, VARIANT, CONTRACT_BYTEARRAY = 0x4F, 0xCF, 0x9F, 0xAF, 0x8F


def _rlp_uint(n: int) -> bytes:
    """RLP byte string of n's minimal big-endian bytes (0 is the byte 00)."""
    return rlp.encode(rlp.encode_int(n))


def encode_fate_int(n: int) -> bytes:
    """FATE integer bytes."""
    if -64 < n < 64:
        return bytes(((0x80 if n < 0 else 0) | (abs(n) << 1),))
    return bytes((NEG_BIG_INT if n < 0 else POS_BIG_INT,)) + _rlp_uint(abs(n) - 64)


def _encode_string(raw: bytes, out: bytearray) -> None:
    n = len(raw)
    if n == 0:
        out.append(EMPTY_STRING)
    elif n < 64:
        out.append((n << 2) | 1)
    else:
        out.append(LONG_STRING)
        out += encode_fate_int(n - 64)
    out += raw


def encode(value: Value) -> bytes:
    """FATE serialization of a value."""
    out = bytearray()
    _encode_into(value, out, 0)
    return bytes(out)


def _encode_into(value: Value, out: bytearray, depth: int) -> None:
    if depth > MAX_NESTING:
        raise ValueError(f"value nested deeper than {MAX_NESTING} levels")
    if isinstance(value, bool):
        out.append(TRUE if value else FALSE)
    elif isinstance(value, int):
        out += encode_fate_int(value)
    elif isinstance(value, str):
        _encode_string(value.encode("utf-8"), out)
    elif isinstance(value, bytes | bytearray):
        _encode_string(bytes(value), out)
    elif isinstance(value, tuple):
        n = len(value)
        if n == 0:
            out.append(UNIT_BYTE)
        elif n < 16:
            out.append((n << 4) | 0x0B)
        else:
            out.append(LONG_TUPLE)
            out += _rlp_uint(n - 16)
        for item in value:
            _encode_into(item, out, depth + 1)
    elif isinstance(value, list):
        n = len(value)
        if n < 16:
            out.append((n << 4) | 0x03)
        else:
            out.append(LONG_LIST)
            out += _rlp_uint(n - 16)
        for item in value:
            _encode_into(item, out, depth + 1)
    elif isinstance(value, FateMap | dict):
        m = value if isinstance(value, FateMap) else FateMap(value)
        out.append(MAP)
        out += _rlp_uint(len(m))
        for key, item in m.pairs:
            _encode_into(key, out, depth + 1)
            _encode_into(item, out, depth + 1)
    elif isinstance(value, Address):
        out += bytes((OBJECT, value.kind))
        out += _rlp_uint_bytes(value.pubkey)
    elif isinstance(value, Bytes):
        out += bytes((OBJECT, ObjectKind.BYTES))
        _encode_string(value.value, out)
    elif isinstance(value, Bits):
        out.append(POS_BITS if value.value >= 0 else NEG_BITS)
        out += _rlp_uint(abs(value.value))
    elif isinstance(value, Variant):
        out.append(VARIANT)
        out += _rlp_uint_bytes(bytes(value.arities))
        out.append(value.tag)
        _encode_into(tuple(value.values), out, depth + 1)
    elif isinstance(value, StoreMap):
        out.append(STORE_MAP)
        out += _rlp_uint(value.map_id)
    elif isinstance(value, ContractBytearray):
        out.append(CONTRACT_BYTEARRAY)
        out += encode_fate_int(len(value.code))
        out += value.code
    elif isinstance(value, FateType):
        encode_type(value, out, depth)
    else:
        raise TypeError(f"cannot FATE-encode {type(value).__name__}: {value!r}")


def _rlp_uint_bytes(raw: bytes) -> bytes:
    """RLP byte string of raw bytes (a single byte < 0x80 stands for itself)."""
    return rlp.encode(raw)


# -- decoding -----------------------------------------------------------------------------


def decode(data: bytes, where: str = "fate") -> Value:
    """The single value ``data`` encodes; anything else raises DecodeError."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise DecodeError(f"FATE input must be bytes, not {type(data).__name__}", where)
    data = bytes(data)
    try:
        value, end = decode_at(data, 0)
    except DecodeError as exc:
        raise DecodeError(exc.reason, f"{where}{exc.where or ''}") from None
    if end != len(data):
        raise DecodeError(f"{len(data) - end} trailing bytes after the value", f"{where}@{end}")
    return value


def _err(reason: str, pos: int) -> DecodeError:
    return DecodeError(reason, f"@{pos}")


def _rlp_bytes_at(data: bytes, pos: int) -> tuple[bytes, int]:
    """One RLP byte string at ``pos`` (strict, as rlp.py): its payload and the end.

    FATE embeds RLP fields in the middle of a value; :func:`chan_nb.codec.rlp.decode`
    reads a whole buffer only, so this reads one field in place, with the same rules.
    """
    if pos >= len(data):
        raise _err("input ends inside an RLP field", pos)
    first = data[pos]
    if first < 0x80:
        return data[pos : pos + 1], pos + 1
    if first < 0xB8:
        start, length = pos + 1, first - 0x80
        if length == 1 and start < len(data) and data[start] < 0x80:
            raise _err("single byte < 0x80 must not be wrapped as an RLP string", pos)
    elif first < 0xC0:
        size = first - 0xB7
        if pos + 1 + size > len(data):
            raise _err("RLP length-of-length runs past the end", pos)
        if data[pos + 1] == 0:
            raise _err("RLP long length has a leading zero", pos)
        length = int.from_bytes(data[pos + 1 : pos + 1 + size], "big")
        if length < 56:
            raise _err("RLP long form used for a short length", pos)
        start = pos + 1 + size
    else:
        raise _err("expected an RLP byte string, got an RLP list", pos)
    end = start + length
    if end > len(data):
        raise _err(f"RLP string of {length} bytes runs past the end", pos)
    return data[start:end], end


def _rlp_uint_at(data: bytes, pos: int) -> tuple[int, int]:
    raw, end = _rlp_bytes_at(data, pos)
    if not raw:
        raise _err("empty RLP integer (0 is written as the byte 00)", pos)
    if len(raw) > 1 and raw[0] == 0:
        raise _err("RLP integer has a leading zero byte", pos)
    return int.from_bytes(raw, "big"), end


def _take(data: bytes, pos: int, n: int, what: str) -> tuple[bytes, int]:
    end = pos + n
    if end > len(data):
        raise _err(f"{what} of {n} bytes runs past the end", pos)
    return data[pos:end], end


def string_value(raw: bytes) -> str | bytes:
    """The Python form of a FATE string's bytes: ``str`` if they are UTF-8, else ``bytes``."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw


def _decode_raw_string(data: bytes, pos: int, depth: int) -> tuple[bytes, int]:
    """A FATE string at ``pos`` as raw bytes."""
    if pos >= len(data):
        raise _err("input ends where a string was expected", pos)
    first = data[pos]
    if first == EMPTY_STRING:
        return b"", pos + 1
    if first & 0x03 == 0x01 and first != LONG_STRING:
        return _take(data, pos + 1, first >> 2, "string")
    if first == LONG_STRING:
        n, cur = decode_at(data, pos + 1, depth + 1)
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise _err(f"long string length must be a non-negative integer, got {n!r}", pos)
        return _take(data, cur, n + 64, "string")
    raise _err(f"expected a string, got byte {first:02x}", pos)


def decode_at(data: bytes, pos: int, depth: int = 0) -> tuple[Value, int]:
    """Value starting at ``pos``; returns it and the position after it."""
    if depth > MAX_NESTING:
        raise _err(f"value nested deeper than {MAX_NESTING} levels", pos)
    if pos >= len(data):
        raise _err("input ends where a value was expected", pos)
    first = data[pos]
    if first & 0x01 == 0:  # small integer
        if first == 0x80:
            raise _err("negative zero is not a valid integer", pos)
        n = (first & 0x7E) >> 1
        return (-n if first & 0x80 else n), pos + 1
    if first in (POS_BIG_INT, NEG_BIG_INT):
        n, end = _rlp_uint_at(data, pos + 1)
        return ((n + 64) if first == POS_BIG_INT else -(n + 64)), end
    if first & 0x03 == 0x01:  # strings
        raw, end = _decode_raw_string(data, pos, depth)
        return string_value(raw), end
    if first == EMPTY_STRING:
        return "", pos + 1
    if first == TRUE:
        return True, pos + 1
    if first == FALSE:
        return False, pos + 1
    if first == UNIT_BYTE:
        return (), pos + 1
    if first & 0x0F == 0x0B:  # tuples
        if first == LONG_TUPLE:
            n, cur = _rlp_uint_at(data, pos + 1)
            n += 16
        else:
            n, cur = first >> 4, pos + 1
        items, cur = _decode_items(data, cur, n, depth)
        return tuple(items), cur
    if first & 0x0F == 0x03:  # short lists, 03..f3
        return _list_at(data, pos + 1, first >> 4, depth)
    if first == LONG_LIST:
        n, cur = _rlp_uint_at(data, pos + 1)
        return _list_at(data, cur, n + 16, depth)
    if first == MAP:
        return _map_at(data, pos, depth)
    if first == STORE_MAP:
        n, cur = _rlp_uint_at(data, pos + 1)
        return StoreMap(n), cur
    if first == POS_BITS:
        n, cur = _rlp_uint_at(data, pos + 1)
        return Bits(n), cur
    if first == NEG_BITS:
        n, cur = _rlp_uint_at(data, pos + 1)
        if n == 0:
            raise _err("negative bits must be below 0 (cf 00 is not canonical)", pos)
        return Bits(-n), cur
    if first == OBJECT:
        return _object_at(data, pos, depth)
    if first == VARIANT:
        return _variant_at(data, pos, depth)
    if first == CONTRACT_BYTEARRAY:
        n, cur = decode_at(data, pos + 1, depth + 1)
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise _err(f"contract bytearray size must be a non-negative integer, got {n!r}", pos)
        code, end = _take(data, cur, n, "contract bytearray")
        return ContractBytearray(code), end
    if first in TYPE_TAGS:
        return decode_type_at(data, pos, depth)
    raise _err(f"byte {first:02x} starts no FATE value", pos)


def _decode_items(data: bytes, pos: int, n: int, depth: int) -> tuple[list[Value], int]:
    items: list[Value] = []
    cur = pos
    for _ in range(n):  # each item takes at least one byte: n is bounded by the input
        if cur >= len(data):
            raise _err(f"container of {n} items runs past the end", pos)
        item, cur = decode_at(data, cur, depth + 1)
        items.append(item)
    return items, cur


def _list_at(data: bytes, pos: int, n: int, depth: int) -> tuple[list[Value], int]:
    return _decode_items(data, pos, n, depth)


def _map_at(data: bytes, pos: int, depth: int) -> tuple[FateMap, int]:
    n, cur = _rlp_uint_at(data, pos + 1)
    items, end = _decode_items(data, cur, 2 * n, depth)
    pairs = list(zip(items[0::2], items[1::2], strict=True))
    previous = None
    for key, _ in pairs:
        try:
            _check_key(key)
        except ValueError as exc:
            raise _err(str(exc), pos) from None
        k = order_key(key)
        if previous is not None and not previous < k:
            raise _err("map keys are not in strictly ascending FATE order", pos)
        previous = k
    return FateMap(pairs), end


def _object_at(data: bytes, pos: int, depth: int) -> tuple[Value, int]:
    if pos + 1 >= len(data):
        raise _err("object ends before its type byte", pos)
    kind = data[pos + 1]
    if kind == ObjectKind.BYTES:
        raw, end = _decode_raw_string(data, pos + 2, depth)
        return Bytes(raw), end
    if kind > ObjectKind.CHANNEL:
        raise _err(f"unknown object type {kind}", pos)
    raw, end = _rlp_bytes_at(data, pos + 2)
    return Address(ObjectKind(kind), raw), end


def _variant_at(data: bytes, pos: int, depth: int) -> tuple[Variant, int]:
    arities_raw, cur = _rlp_bytes_at(data, pos + 1)
    if cur >= len(data):
        raise _err("variant ends before its tag", pos)
    tag = data[cur]
    arities = tuple(arities_raw)
    if tag >= len(arities):
        raise _err(f"variant tag {tag} with only {len(arities)} constructors", pos)
    if cur + 1 >= len(data) or (data[cur + 1] & 0x0F != 0x0B and data[cur + 1] != UNIT_BYTE):
        raise _err("variant values must be a tuple", pos)
    values, end = decode_at(data, cur + 1, depth + 1)
    if len(values) != arities[tag]:
        raise _err(
            f"variant constructor {tag} has arity {arities[tag]} but {len(values)} values", pos
        )
    return Variant(arities, tag, values), end


__all__ = [
    "MAX_NESTING",
    "Address",
    "Bits",
    "Bytes",
    "ContractBytearray",
    "FateMap",
    "StoreMap",
    "Value",
    "Variant",
    "decode",
    "decode_at",
    "encode",
    "encode_fate_int",
    "none",
    "order_key",
    "some",
    "string_value",
]
