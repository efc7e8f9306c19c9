"""Field kinds shared by transactions and off-chain updates.

A tagged object is ``RLP([tag, version, field…])``. Each class lists its
fields as :class:`Field` specs (attribute name, JSON name, kind), and the
generic code here turns a field between its RLP item, its Python value and
its JSON (API) form — one table per class instead of hand-written
(de)serializers that drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from chan_nb.codec import encoding, rlp
from chan_nb.codec.ids import Id
from chan_nb.errors import DecodeError


class Kind(Enum):
    """How a field is serialized and shown."""

    INT = "int"  # non-negative int
    BOOL = "bool"
    ID = "id"  # typed 33-byte id → ak_/ch_/ct_ …
    IDS = "ids"  # list of ids
    HASH = "hash"  # 32-byte state hash → st_
    BYTES = "bytes"  # binary shown with the field's prefix (cb_, pi_, ss_ …)
    TX = "tx"  # binary holding a serialized object (payload) → tx_
    UPDATE = "update"  # binary holding one serialized off-chain update
    UPDATES = "updates"  # list of binaries, each a serialized update
    INTS = "ints"  # list of ints
    SIGS = "sigs"  # list of 64-byte signatures → sg_
    TEXT = "text"  # binary shown as UTF-8 text (meta update data)


@dataclass(frozen=True, slots=True)
class Field:
    """One serialized field: attribute name, JSON name, kind, API prefix."""

    attr: str
    kind: Kind
    json: str = ""
    prefix: str = ""

    @property
    def name(self) -> str:
        return self.json or self.attr


def f(attr: str, kind: Kind, json: str = "", prefix: str = "") -> Field:
    """Short constructor for field tables."""
    return Field(attr, kind, json, prefix)


def _int(raw: rlp.Item, where: str) -> int:
    return rlp.decode_int(raw, where)


def decode_field(field: Field, raw: rlp.Item, where: str) -> Any:
    """Python value of one field from its RLP item."""
    kind = field.kind
    if kind is Kind.INT:
        return _int(raw, where)
    if kind is Kind.BOOL:
        value = rlp.expect_bytes(raw, where)
        if value not in (b"\x00", b"\x01"):
            raise DecodeError(f"boolean must be 00 or 01, got {value.hex() or 'empty'}", where)
        return value == b"\x01"
    if kind is Kind.ID:
        return Id.from_bytes(rlp.expect_bytes(raw, where), where)
    if kind is Kind.IDS:
        items = rlp.expect_list(raw, where)
        return tuple(
            Id.from_bytes(rlp.expect_bytes(x, f"{where}[{i}]"), f"{where}[{i}]")
            for i, x in enumerate(items)
        )
    if kind is Kind.HASH:
        value = rlp.expect_bytes(raw, where)
        if len(value) != 32:
            raise DecodeError(f"hash must be 32 bytes, got {len(value)}", where)
        return value
    if kind in (Kind.BYTES, Kind.TX, Kind.UPDATE, Kind.TEXT):
        return rlp.expect_bytes(raw, where)
    if kind is Kind.UPDATES:
        items = rlp.expect_list(raw, where)
        return tuple(rlp.expect_bytes(x, f"{where}[{i}]") for i, x in enumerate(items))
    if kind is Kind.INTS:
        items = rlp.expect_list(raw, where)
        return tuple(_int(x, f"{where}[{i}]") for i, x in enumerate(items))
    if kind is Kind.SIGS:
        items = rlp.expect_list(raw, where)
        sigs = tuple(rlp.expect_bytes(x, f"{where}[{i}]") for i, x in enumerate(items))
        for i, sig in enumerate(sigs):
            if len(sig) != 64:
                raise DecodeError(f"signature must be 64 bytes, got {len(sig)}", f"{where}[{i}]")
        return sigs
    raise AssertionError(kind)  # pragma: no cover - exhaustive


def encode_field(field: Field, value: Any) -> rlp.Item:
    """RLP item of one field's Python value."""
    kind = field.kind
    if kind is Kind.INT:
        return rlp.encode_int(value)
    if kind is Kind.BOOL:
        return b"\x01" if value else b"\x00"
    if kind is Kind.ID:
        return bytes(value.to_bytes())
    if kind is Kind.IDS:
        return [i.to_bytes() for i in value]
    if kind in (Kind.HASH, Kind.BYTES, Kind.TX, Kind.UPDATE, Kind.TEXT):
        return bytes(value)
    if kind in (Kind.UPDATES, Kind.SIGS):
        return [bytes(x) for x in value]
    if kind is Kind.INTS:
        return [rlp.encode_int(x) for x in value]
    raise AssertionError(kind)  # pragma: no cover - exhaustive


def json_of_field(
    field: Field, value: Any, expand: Callable[[Field, bytes], Any] | None = None
) -> Any:
    """API (JSON) form of one field's value; ``expand`` may render nested objects."""
    kind = field.kind
    if kind in (Kind.INT, Kind.BOOL):
        return value
    if kind is Kind.ID:
        return value.api
    if kind is Kind.IDS:
        return [i.api for i in value]
    if kind is Kind.HASH:
        return encoding.encode(field.prefix or "st", value)
    if kind is Kind.BYTES:
        return encoding.encode(field.prefix or "ba", value)
    if kind in (Kind.TX, Kind.UPDATE):
        if expand is not None:
            return expand(field, value)
        return encoding.encode(field.prefix or "tx", value)
    if kind is Kind.UPDATES:
        if expand is not None:
            return [expand(field, x) for x in value]
        return [encoding.encode("tx", x) for x in value]
    if kind is Kind.INTS:
        return list(value)
    if kind is Kind.SIGS:
        return [encoding.encode("sg", s) for s in value]
    if kind is Kind.TEXT:
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return encoding.encode("ba", value)
    raise AssertionError(kind)  # pragma: no cover - exhaustive


def value_of_json(field: Field, value: Any, where: str) -> Any:
    """Python value of a field from its API (JSON) form."""
    kind = field.kind
    try:
        if kind is Kind.INT:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise DecodeError(f"expected a non-negative integer, got {value!r}", where)
            return value
        if kind is Kind.BOOL:
            if not isinstance(value, bool):
                raise DecodeError(f"expected a boolean, got {value!r}", where)
            return value
        if kind is Kind.ID:
            return Id.from_api(value)
        if kind is Kind.IDS:
            return tuple(Id.from_api(x) for x in _list(value, where))
        if kind is Kind.HASH:
            return encoding.decode(value, field.prefix or "st")
        if kind is Kind.BYTES:
            return encoding.decode(value, field.prefix or None)
        if kind in (Kind.TX, Kind.UPDATE):
            return encoding.decode(value, field.prefix or "tx")
        if kind is Kind.UPDATES:
            return tuple(encoding.decode(x, "tx") for x in _list(value, where))
        if kind is Kind.INTS:
            items = _list(value, where)
            if not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in items):
                raise DecodeError("expected a list of non-negative integers", where)
            return tuple(items)
        if kind is Kind.SIGS:
            return tuple(encoding.decode(x, "sg") for x in _list(value, where))
        if kind is Kind.TEXT:
            if not isinstance(value, str):
                raise DecodeError(f"expected text, got {value!r}", where)
            return value.encode("utf-8")
    except DecodeError as exc:
        raise exc if exc.where else DecodeError(exc.reason, where) from None
    raise AssertionError(kind)  # pragma: no cover - exhaustive


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise DecodeError(f"expected a list, got {type(value).__name__}", where)
    return value
