"""Strings, bytes and bit sets (fate.md §3.1)."""

from __future__ import annotations

import unicodedata

from chan_nb.codec import encoding
from chan_nb.codec.fate.bytecode import Operand
from chan_nb.codec.fate.types import ObjectKind
from chan_nb.codec.fate.values import (
    Address,
    Bits,
    Bytes,
    Value,
    none,
    some,
    string_value,
)
from chan_nb.vm import erlang
from chan_nb.vm.errors import VmNotImplemented
from chan_nb.vm.machine import NEXT, Machine
from chan_nb.vm.ops_data import Handler, is_int


def _is_str(v: Value) -> bool:
    return isinstance(v, str | bytes)


def _cells(raw: bytes) -> int:
    return len(raw) // 8


def _chars(m: Machine, value: Value) -> list[str]:
    """The code points (NFC) of a string; not UTF-8 aborts."""
    raw = erlang.raw_string(value)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise m.type_error(value, "string_utf8") from None
    return list(unicodedata.normalize("NFC", text))


def _str_join(m: Machine, a: tuple[Operand, ...]) -> int:
    x = m.read(a[1])
    y = m.read(a[2])
    if not (_is_str(x) and _is_str(y)):
        raise m.bad_args("str_join", x, y)
    raw = erlang.raw_string(x) + erlang.raw_string(y)
    m.spend_cells(_cells(raw) + 1)
    m.write(a[0], string_value(raw))
    return NEXT


def _int_to_str(m: Machine, a: tuple[Operand, ...]) -> int:
    x = m.read(a[1])
    if not is_int(x):
        raise m.bad_args("int_to_str", x)
    raw = str(x).encode()
    m.spend_cells(_cells(raw) + 1)
    m.write(a[0], raw.decode())
    return NEXT


def _addr_to_str(m: Machine, a: tuple[Operand, ...]) -> int:
    x = m.read(a[1])
    if not (isinstance(x, Address) and x.kind is ObjectKind.ADDRESS):
        raise m.bad_args("addr_to_str", x)
    text = encoding.encode("ak", x.pubkey)
    m.spend_cells(_cells(text.encode()) + 1)
    m.write(a[0], text)
    return NEXT


def _str_reverse(m: Machine, a: tuple[Operand, ...]) -> int:
    x = m.read(a[1])
    if not _is_str(x):
        raise m.bad_args("str_reverse", x)
    if m.vm_version == 5 or not m.profile.strict_types:  # the 2020 node reversed bytes
        raw = erlang.raw_string(x)[::-1]
    else:
        raw = "".join(reversed(_chars(m, x))).encode("utf-8")
    m.spend_cells(_cells(raw) + 1)
    m.write(a[0], string_value(raw))
    return NEXT


def _str_length(m: Machine, a: tuple[Operand, ...]) -> int:
    x = m.read(a[1])
    if not _is_str(x):
        raise m.type_error(x, "string")
    if m.vm_version == 5:
        m.write(a[0], len(erlang.raw_string(x)))
        return NEXT
    chars = _chars(m, x)
    m.spend_cells(len(chars))
    m.write(a[0], len(chars))
    return NEXT


def _str_to_list(m: Machine, a: tuple[Operand, ...]) -> int:
    x = m.read(a[1])
    if not _is_str(x):
        raise m.type_error(x, "string")
    chars = [ord(c) for c in _chars(m, x)]
    m.spend_cells(len(chars) * 2 + 1)
    m.write(a[0], chars)
    return NEXT


def _str_from_list(m: Machine, a: tuple[Operand, ...]) -> int:
    x = m.read(a[1])
    if not isinstance(x, list) or not all(is_int(c) and 0 <= c <= 0x10FFFF for c in x):
        raise VmNotImplemented("STR_FROM_LIST of a non-character list is not modelled")
    if any(0xD800 <= c <= 0xDFFF for c in x):
        raise VmNotImplemented("STR_FROM_LIST with surrogates is not modelled")
    m.traverse(x, "simple")
    raw = unicodedata.normalize("NFC", "".join(chr(c) for c in x)).encode("utf-8")
    m.spend_cells(_cells(raw) + 1)
    m.write(a[0], raw.decode("utf-8"))
    return NEXT


def _case(upper: bool) -> Handler:
    def handler(m: Machine, a: tuple[Operand, ...]) -> int:
        x = m.read(a[1])
        if not _is_str(x):
            raise m.type_error(x, "string")
        if not erlang.raw_string(x).isascii():
            raise VmNotImplemented("Unicode case mapping (Erlang's string module) is not modelled")
        text = erlang.raw_string(x).decode()
        raw = (text.upper() if upper else text.lower()).encode()
        m.spend_cells(len(raw))
        m.write(a[0], raw.decode())
        return NEXT

    return handler


def _char_to_int(m: Machine, a: tuple[Operand, ...]) -> int:
    x = m.read(a[1])
    if not is_int(x):
        raise m.type_error(x, "char")
    m.write(a[0], x)
    return NEXT


def _char_from_int(m: Machine, a: tuple[Operand, ...]) -> int:
    x = m.read(a[1])
    if not is_int(x):
        raise m.type_error(x, "int")
    if m.profile.strict_types and not 0 <= x <= 0x10FFFF:
        raise m.type_error(x, "char")
    if 0xD800 <= x <= 0xDFFF:
        raise VmNotImplemented("CHAR_FROM_INT of a surrogate is not modelled")
    if 0 <= x <= 0x10FFFF:
        if unicodedata.normalize("NFC", chr(x)) != chr(x):
            raise VmNotImplemented("CHAR_FROM_INT of a character NFC changes is not modelled")
        m.spend_cells(9)
        m.write(a[0], some(x))
    else:
        m.spend_cells(8)
        m.write(a[0], none())
    return NEXT


# -- bytes ---------------------------------------------------------------------------------


def _bytes_to_int(m: Machine, a: tuple[Operand, ...]) -> int:
    x = m.read(a[1])
    if not isinstance(x, Bytes):
        raise m.bad_args("bytes_to_int", x)
    m.write(a[0], int.from_bytes(x.value, "big"))
    return NEXT


def _bytes_to_str(m: Machine, a: tuple[Operand, ...]) -> int:
    x = m.read(a[1])
    if not isinstance(x, Bytes):
        raise m.bad_args("bytes_to_str", x)
    raw = x.value.hex().upper().encode()
    m.spend_cells(_cells(raw) + 1)
    m.write(a[0], raw.decode())
    return NEXT


def _bytes_concat(m: Machine, a: tuple[Operand, ...]) -> int:
    x = m.read(a[1])
    y = m.read(a[2])
    if not (isinstance(x, Bytes) and isinstance(y, Bytes)):
        raise m.bad_args("bytes_concat", x, y)
    raw = x.value + y.value
    m.spend_cells(_cells(raw))
    m.write(a[0], Bytes(raw))
    return NEXT


def _bytes_split(m: Machine, a: tuple[Operand, ...]) -> int:
    x = m.read(a[1])
    n = m.read(a[2])
    if not (isinstance(x, Bytes) and is_int(n)) or not 0 <= n <= len(x.value):
        raise m.bad_args("bytes_split", x, n)
    m.write(a[0], (Bytes(x.value[:n]), Bytes(x.value[n:])))
    m.spend_cells(4)
    return NEXT


# -- bits ------------------------------------------------------------------------------------


def _const_bits(value: int, to_stack: bool) -> Handler:
    def handler(m: Machine, a: tuple[Operand, ...]) -> int:
        m.spend_cells(1)
        m.write(Operand.stack() if to_stack else a[0], Bits(value))
        return NEXT

    return handler


def _bit_cells(m: Machine, i: Value) -> None:
    if not is_int(i):
        raise VmNotImplemented("a bit index that is not an integer (a crash) is not modelled")
    if i < 0:
        raise VmNotImplemented("gas for a negative bit index is not modelled")
    m.spend_cells(i // 64 + 1)


def _bits_all_n(m: Machine, a: tuple[Operand, ...]) -> int:
    n = m.read(a[1])
    _bit_cells(m, n)
    m.write(a[0], Bits((1 << n) - 1))
    return NEXT


def _bit_op(name: str) -> Handler:
    def handler(m: Machine, a: tuple[Operand, ...]) -> int:
        bits = m.read(a[1])
        i = m.read(a[2])
        _bit_cells(m, i)
        if not isinstance(bits, Bits):
            raise m.bad_args(name, bits, i)
        mask = 1 << i
        if name == "bits_set":
            m.write(a[0], Bits(bits.value | mask))
        elif name == "bits_clear":
            m.write(a[0], Bits(bits.value & ~mask))
        else:
            m.write(a[0], bits.value & mask > 0)
        return NEXT

    return handler


def _bits_sum(m: Machine, a: tuple[Operand, ...]) -> int:
    bits = m.read(a[1])
    if not isinstance(bits, Bits):
        raise m.bad_args("bits_sum", bits)
    if bits.value < 0:
        raise m.error("Arithmetic error: ~p", ("p", erlang.Atom("bits_sum_on_infinite_set")))
    m.write(a[0], bin(bits.value).count("1"))
    return NEXT


def _bits_binop(name: str) -> Handler:
    def handler(m: Machine, a: tuple[Operand, ...]) -> int:
        x = m.read(a[1])
        y = m.read(a[2])
        if not (isinstance(x, Bits) and isinstance(y, Bits)):
            raise m.bad_args(name, x, y)
        if name == "bits_union":
            m.write(a[0], Bits(x.value | y.value))
        elif name == "bits_intersection":
            m.write(a[0], Bits(x.value & y.value))
        else:
            m.write(a[0], Bits((x.value & y.value) ^ x.value))
        return NEXT

    return handler


HANDLERS: dict[str, Handler] = {
    "STR_JOIN": _str_join,
    "INT_TO_STR": _int_to_str,
    "ADDR_TO_STR": _addr_to_str,
    "STR_REVERSE": _str_reverse,
    "STR_LENGTH": _str_length,
    "STR_TO_LIST": _str_to_list,
    "STR_FROM_LIST": _str_from_list,
    "STR_TO_UPPER": _case(True),
    "STR_TO_LOWER": _case(False),
    "CHAR_TO_INT": _char_to_int,
    "CHAR_FROM_INT": _char_from_int,
    "BYTES_TO_INT": _bytes_to_int,
    "BYTES_TO_STR": _bytes_to_str,
    "BYTES_CONCAT": _bytes_concat,
    "BYTES_SPLIT": _bytes_split,
    "BITS_NONEA": _const_bits(0, True),
    "BITS_NONE": _const_bits(0, False),
    "BITS_ALLA": _const_bits(-1, True),
    "BITS_ALL": _const_bits(-1, False),
    "BITS_ALL_N": _bits_all_n,
    "BITS_SET": _bit_op("bits_set"),
    "BITS_CLEAR": _bit_op("bits_clear"),
    "BITS_TEST": _bit_op("bits_test"),
    "BITS_SUM": _bits_sum,
    "BITS_OR": _bits_binop("bits_union"),
    "BITS_AND": _bits_binop("bits_intersection"),
    "BITS_DIFF": _bits_binop("bits_difference"),
}

__all__ = ["HANDLERS"]
