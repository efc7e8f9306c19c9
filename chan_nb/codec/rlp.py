"""Strict RLP, as the node's ``aeser_rlp`` reads and writes it.

Hand-written rather than taken from ``rlp`` (pyrlp): that package drags in the
eth-utils stack and is lenient in places the node is not. Here decoding rejects
trailing bytes, non-minimal length prefixes, single bytes wrapped as strings
and lengths that run past the end, so that decode → encode is bit-identical.
"""

from __future__ import annotations

from typing import TypeAlias

from chan_nb.errors import DecodeError

Item: TypeAlias = bytes | list["Item"]

#: Deepest list nesting accepted. The node's objects nest a few levels (a PoI
#: about six); a crafted input nested thousands deep must raise DecodeError,
#: not RecursionError.
MAX_DEPTH = 64


def encode(item: Item) -> bytes:
    """RLP bytes of a byte string or a (nested) list of them."""
    out = bytearray()
    _encode_into(item, out)
    return bytes(out)


def _length_prefix(length: int, offset: int) -> bytes:
    if length < 56:
        return bytes((offset + length,))
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes((offset + 55 + len(size),)) + size


def _encode_into(item: Item, out: bytearray) -> None:
    if isinstance(item, (bytes, bytearray)):
        if len(item) == 1 and item[0] < 0x80:
            out += item
        else:
            out += _length_prefix(len(item), 0x80)
            out += item
    elif isinstance(item, list):
        body = bytearray()
        for sub in item:
            _encode_into(sub, body)
        out += _length_prefix(len(body), 0xC0)
        out += body
    else:
        raise TypeError(f"RLP can only encode bytes and lists, not {type(item).__name__}")


def decode(data: bytes) -> Item:
    """The single item in ``data``; anything malformed raises DecodeError."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise DecodeError(f"RLP input must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise DecodeError("empty input", "rlp@0")
    item, end = _decode_at(data, 0, 0)
    if end != len(data):
        raise DecodeError(f"{len(data) - end} trailing bytes after the top item", f"rlp@{end}")
    return item


def _read_long_length(data: bytes, pos: int, size: int) -> int:
    start = pos + 1
    if start + size > len(data):
        raise DecodeError("length-of-length runs past the end", f"rlp@{pos}")
    if data[start] == 0:
        raise DecodeError("long-form length has a leading zero byte", f"rlp@{pos}")
    length = int.from_bytes(data[start : start + size], "big")
    if length < 56:
        raise DecodeError(f"long form used for a short length {length}", f"rlp@{pos}")
    return length


def _decode_at(data: bytes, pos: int, depth: int) -> tuple[Item, int]:
    first = data[pos]
    if first < 0x80:
        return data[pos : pos + 1], pos + 1
    if first < 0xB8:
        length = first - 0x80
        start = pos + 1
        end = start + length
        if end > len(data):
            raise DecodeError(f"string of {length} bytes runs past the end", f"rlp@{pos}")
        if length == 1 and data[start] < 0x80:
            raise DecodeError("single byte < 0x80 must not be wrapped as a string", f"rlp@{pos}")
        return data[start:end], end
    if first < 0xC0:
        size = first - 0xB7
        length = _read_long_length(data, pos, size)
        start = pos + 1 + size
        end = start + length
        if end > len(data):
            raise DecodeError(f"string of {length} bytes runs past the end", f"rlp@{pos}")
        return data[start:end], end
    if first < 0xF8:
        length = first - 0xC0
        start = pos + 1
    else:
        size = first - 0xF7
        length = _read_long_length(data, pos, size)
        start = pos + 1 + size
    end = start + length
    if end > len(data):
        raise DecodeError(f"list of {length} bytes runs past the end", f"rlp@{pos}")
    if depth >= MAX_DEPTH:
        raise DecodeError(f"lists nested deeper than {MAX_DEPTH} levels", f"rlp@{pos}")
    items: list[Item] = []
    cur = start
    while cur < end:
        item, cur = _decode_at(data, cur, depth + 1)
        items.append(item)
    if cur != end:
        raise DecodeError("list items overrun the list length", f"rlp@{pos}")
    return items, end


def encode_int(value: int) -> bytes:
    """Field bytes of a non-negative int: big-endian, minimal, and 0 is ``b"\\x00"``."""
    if value < 0:
        raise ValueError(f"RLP ints are non-negative, got {value}")
    if value == 0:
        return b"\x00"
    return value.to_bytes((value.bit_length() + 7) // 8, "big")


def decode_int(raw: Item, where: str = "int") -> int:
    """Int field, canonical only: big-endian, no leading zero, 0 written as ``00``.

    The node also reads an empty string as 0, but never writes one; refusing it
    keeps decode → encode bit-identical.
    """
    if not isinstance(raw, bytes):
        raise DecodeError("expected an integer, got a list", where)
    if not raw:
        raise DecodeError("empty integer (the node writes 0 as the byte 00)", where)
    if len(raw) > 1 and raw[0] == 0:
        raise DecodeError("integer has a leading zero byte", where)
    return int.from_bytes(raw, "big")


def expect_bytes(raw: Item, where: str) -> bytes:
    """A field that must be a byte string."""
    if not isinstance(raw, bytes):
        raise DecodeError("expected a byte string, got a list", where)
    return raw


def expect_list(raw: Item, where: str) -> list[Item]:
    """A field that must be a list."""
    if not isinstance(raw, list):
        raise DecodeError("expected a list, got a byte string", where)
    return raw
