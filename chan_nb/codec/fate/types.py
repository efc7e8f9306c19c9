"""FATE types: the type language of function signatures and of ``typerep`` values (fate.md §1.8).

Types are small frozen dataclasses; :func:`type_text` and :func:`parse_type` give and read
a short text form (``int``, ``list(string)``, ``map(address, int)``, ``tuple(int, bool)``,
``unit``, ``variant(unit, tuple(int))``, ``bytes(32)``, ``bytes()``, ``tvar(0)`` …) used
by the disassembler and the assembler.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import IntEnum
from typing import Final, Literal

from chan_nb.errors import DecodeError


class ObjectKind(IntEnum):
    """Object-type byte of address-like values and of their types (after ``9f``/``47``)."""

    ADDRESS = 0
    BYTES = 1  # only for values: bytes(n) objects
    CONTRACT = 2
    ORACLE = 3
    ORACLE_QUERY = 4
    CHANNEL = 5


class FateType:
    """Base of every FATE type."""

    __slots__ = ()

    def __str__(self) -> str:
        return type_text(self)


PrimName = Literal["int", "bool", "string", "bits", "any", "contract_bytearray"]


@dataclass(frozen=True, slots=True)
class Prim(FateType):
    """A type without parameters."""

    name: PrimName


@dataclass(frozen=True, slots=True)
class TObject(FateType):
    """address, contract, oracle, oracle_query or channel."""

    kind: ObjectKind

    def __post_init__(self) -> None:
        if self.kind is ObjectKind.BYTES:
            raise ValueError("bytes is TBytes(n), not an object type")


@dataclass(frozen=True, slots=True)
class TBytes(FateType):
    """bytes(n); n = -1 is arbitrary-size ``bytes()`` (vm 8)."""

    size: int


@dataclass(frozen=True, slots=True)
class TList(FateType):
    elem: FateType


@dataclass(frozen=True, slots=True)
class TTuple(FateType):
    elems: tuple[FateType, ...]


@dataclass(frozen=True, slots=True)
class TMap(FateType):
    key: FateType
    value: FateType


@dataclass(frozen=True, slots=True)
class TVariant(FateType):
    """One type per constructor (normally the tuple type of its fields)."""

    constructors: tuple[FateType, ...]


@dataclass(frozen=True, slots=True)
class TVar(FateType):
    """Type variable n (0..255) of a polymorphic signature."""

    index: int


INT: Final = Prim("int")
BOOL: Final = Prim("bool")
STRING: Final = Prim("string")
BITS: Final = Prim("bits")
ANY: Final = Prim("any")
CONTRACT_BYTEARRAY: Final = Prim("contract_bytearray")
UNIT: Final = TTuple(())
ADDRESS: Final = TObject(ObjectKind.ADDRESS)
CONTRACT: Final = TObject(ObjectKind.CONTRACT)
ORACLE: Final = TObject(ObjectKind.ORACLE)
ORACLE_QUERY: Final = TObject(ObjectKind.ORACLE_QUERY)
CHANNEL: Final = TObject(ObjectKind.CHANNEL)


def option(t: FateType) -> TVariant:
    """Sophia's ``option(t)`` = variant(unit, tuple(t))."""
    return TVariant((UNIT, TTuple((t,))))


# -- binary form --------------------------------------------------------------------------

_PRIM_TAG: Final[dict[str, int]] = {
    "int": 0x07,
    "bool": 0x17,
    "bits": 0x57,
    "string": 0x77,
    "contract_bytearray": 0xA7,
    "any": 0xF7,
}
_TAG_PRIM: Final[dict[int, Prim]] = {tag: Prim(name) for name, tag in _PRIM_TAG.items()}  # type: ignore[arg-type]
T_LIST, T_TUPLE, T_OBJECT, T_MAP, T_VARIANT, T_BYTES, T_VAR = (
    0x27,
    0x37,
    0x47,
    0x67,
    0x87,
    0x97,
    0xE7,
)
#: Every first byte that starts a type (and hence a typerep value).
TYPE_TAGS: Final = frozenset(
    {*_TAG_PRIM, T_LIST, T_TUPLE, T_OBJECT, T_MAP, T_VARIANT, T_BYTES, T_VAR}
)


def encode_type(t: FateType, out: bytearray, depth: int = 0) -> None:
    """Append the binary encoding of type ``t``."""
    from chan_nb.codec.fate.values import MAX_NESTING, encode_fate_int

    if depth > MAX_NESTING:
        raise ValueError(f"type nested deeper than {MAX_NESTING} levels")
    if isinstance(t, Prim):
        out.append(_PRIM_TAG[t.name])
    elif isinstance(t, TObject):
        out += bytes((T_OBJECT, t.kind))
    elif isinstance(t, TList):
        out.append(T_LIST)
        encode_type(t.elem, out, depth + 1)
    elif isinstance(t, TTuple | TVariant):
        parts = t.elems if isinstance(t, TTuple) else t.constructors
        if len(parts) > 255:
            raise ValueError(f"a tuple or variant type has at most 255 parts, got {len(parts)}")
        out += bytes((T_TUPLE if isinstance(t, TTuple) else T_VARIANT, len(parts)))
        for part in parts:
            encode_type(part, out, depth + 1)
    elif isinstance(t, TMap):
        out.append(T_MAP)
        encode_type(t.key, out, depth + 1)
        encode_type(t.value, out, depth + 1)
    elif isinstance(t, TBytes):
        if t.size < -1:
            raise ValueError(f"bytes size must be >= 0 (or -1 for any size), got {t.size}")
        out.append(T_BYTES)
        out += encode_fate_int(t.size)
    elif isinstance(t, TVar):
        if not 0 <= t.index <= 255:
            raise ValueError(f"type variable index must be 0..255, got {t.index}")
        out += bytes((T_VAR, t.index))
    else:
        raise TypeError(f"not a FATE type: {t!r}")


def type_bytes(t: FateType) -> bytes:
    """The binary encoding of a type."""
    out = bytearray()
    encode_type(t, out)
    return bytes(out)


def decode_type_at(data: bytes, pos: int, depth: int = 0) -> tuple[FateType, int]:
    """Type starting at ``pos``; returns it and the position after it."""
    from chan_nb.codec.fate.values import MAX_NESTING, decode_at

    if depth > MAX_NESTING:
        raise DecodeError(f"type nested deeper than {MAX_NESTING} levels", f"fate@{pos}")
    if pos >= len(data):
        raise DecodeError("input ends where a type was expected", f"fate@{pos}")
    tag = data[pos]
    prim = _TAG_PRIM.get(tag)
    if prim is not None:
        return prim, pos + 1
    if tag == T_LIST:
        elem, end = decode_type_at(data, pos + 1, depth + 1)
        return TList(elem), end
    if tag in (T_TUPLE, T_VARIANT, T_OBJECT, T_VAR):
        if pos + 1 >= len(data):
            raise DecodeError("type ends before its size or kind byte", f"fate@{pos}")
        n = data[pos + 1]
        if tag == T_VAR:
            return TVar(n), pos + 2
        if tag == T_OBJECT:
            if n == ObjectKind.BYTES or n > ObjectKind.CHANNEL:
                raise DecodeError(f"unknown object type {n} in a type", f"fate@{pos}")
            return TObject(ObjectKind(n)), pos + 2
        parts: list[FateType] = []
        cur = pos + 2
        for _ in range(n):
            part, cur = decode_type_at(data, cur, depth + 1)
            parts.append(part)
        return (TTuple if tag == T_TUPLE else TVariant)(tuple(parts)), cur
    if tag == T_MAP:
        key, cur = decode_type_at(data, pos + 1, depth + 1)
        value, cur = decode_type_at(data, cur, depth + 1)
        return TMap(key, value), cur
    if tag == T_BYTES:
        size, cur = decode_at(data, pos + 1, depth + 1)
        if not isinstance(size, int) or isinstance(size, bool) or size < -1:
            raise DecodeError(
                f"bytes type size must be an integer >= -1, got {size!r}", f"fate@{pos}"
            )
        return TBytes(size), cur
    raise DecodeError(f"byte {tag:02x} does not start a type", f"fate@{pos}")


# -- text form ------------------------------------------------------------------------------

_OBJECT_NAMES: Final[dict[ObjectKind, str]] = {
    ObjectKind.ADDRESS: "address",
    ObjectKind.CONTRACT: "contract",
    ObjectKind.ORACLE: "oracle",
    ObjectKind.ORACLE_QUERY: "oracle_query",
    ObjectKind.CHANNEL: "channel",
}
_NAMED: Final[dict[str, FateType]] = {
    **{name: Prim(name) for name in _PRIM_TAG},  # type: ignore[arg-type]
    **{name: TObject(kind) for kind, name in _OBJECT_NAMES.items()},
    "unit": UNIT,
}


def type_text(t: FateType) -> str:
    """Short text form of a type (read back by :func:`parse_type`)."""
    if isinstance(t, Prim):
        return t.name
    if isinstance(t, TObject):
        return _OBJECT_NAMES[t.kind]
    if isinstance(t, TList):
        return f"list({type_text(t.elem)})"
    if isinstance(t, TTuple):
        return "unit" if not t.elems else f"tuple({', '.join(type_text(e) for e in t.elems)})"
    if isinstance(t, TMap):
        return f"map({type_text(t.key)}, {type_text(t.value)})"
    if isinstance(t, TVariant):
        return f"variant({', '.join(type_text(c) for c in t.constructors)})"
    if isinstance(t, TBytes):
        return "bytes()" if t.size == -1 else f"bytes({t.size})"
    if isinstance(t, TVar):
        return f"tvar({t.index})"
    raise TypeError(f"not a FATE type: {t!r}")


_TOKEN = re.compile(r"\s*([A-Za-z_][A-Za-z_0-9]*|-?\d+|[(),])")


def parse_type(text: str) -> FateType:
    """A type from its text form; a malformed text raises DecodeError."""
    tokens = _tokens(text)
    t, pos = _parse(tokens, 0, text, 0)
    if pos != len(tokens):
        raise DecodeError(f"unexpected {tokens[pos]!r} after the type in {text!r}")
    return t


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        m = _TOKEN.match(text, pos)
        if m is None:
            raise DecodeError(f"cannot read a type at {text[pos:]!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def _parse(tokens: list[str], pos: int, text: str, depth: int) -> tuple[FateType, int]:
    if depth > 64:
        raise DecodeError(f"type text nested too deep: {text!r}")
    if pos >= len(tokens):
        raise DecodeError(f"type text ends early: {text!r}")
    word = tokens[pos]
    has_args = pos + 1 < len(tokens) and tokens[pos + 1] == "("
    if word in _NAMED and not has_args:
        return _NAMED[word], pos + 1
    if not has_args:
        raise DecodeError(f"unknown type {word!r} in {text!r}")
    args: list[str | FateType] = []
    cur = pos + 2
    while tokens[cur : cur + 1] != [")"]:
        if cur >= len(tokens):
            raise DecodeError(f"missing ')' in {text!r}")
        if tokens[cur].lstrip("-").isdigit():
            args.append(tokens[cur])
            cur += 1
        else:
            sub, cur = _parse(tokens, cur, text, depth + 1)
            args.append(sub)
        if tokens[cur : cur + 1] == [","]:
            cur += 1
        elif tokens[cur : cur + 1] != [")"]:
            raise DecodeError(f"expected ',' or ')' in {text!r}")
    cur += 1
    types = [a for a in args if isinstance(a, FateType)]
    nums = [int(a) for a in args if isinstance(a, str)]
    if word in ("tuple", "variant") and not nums:
        return (TTuple if word == "tuple" else TVariant)(tuple(types)), cur
    if word == "list" and len(types) == 1 and not nums:
        return TList(types[0]), cur
    if word == "map" and len(types) == 2 and not nums:
        return TMap(types[0], types[1]), cur
    if word == "bytes" and not types and len(nums) <= 1:
        return TBytes(nums[0] if nums else -1), cur
    if word == "tvar" and not types and len(nums) == 1 and 0 <= nums[0] <= 255:
        return TVar(nums[0]), cur
    raise DecodeError(f"bad arguments to {word!r} in {text!r}")


__all__ = [
    "ADDRESS",
    "ANY",
    "BITS",
    "BOOL",
    "CHANNEL",
    "CONTRACT",
    "CONTRACT_BYTEARRAY",
    "INT",
    "ORACLE",
    "ORACLE_QUERY",
    "STRING",
    "UNIT",
    "FateType",
    "ObjectKind",
    "Prim",
    "TBytes",
    "TList",
    "TMap",
    "TObject",
    "TTuple",
    "TVar",
    "TVariant",
    "decode_type_at",
    "encode_type",
    "option",
    "parse_type",
    "type_bytes",
    "type_text",
]
