"""Tagged chain objects: ``RLP([tag, version, field…])`` and the tag registry.

Transactions (:mod:`chan_nb.codec.txs`) and off-chain updates
(:mod:`chan_nb.codec.updates`) are frozen dataclasses deriving from
:class:`TaggedObject`; their field tables drive serialization, decoding and
the API view, so each layout is written down exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, ClassVar, Self, TypeVar

from chan_nb.codec import encoding, rlp
from chan_nb.codec.fields import Field, Kind, decode_field, encode_field, json_of_field
from chan_nb.errors import DecodeError

_REGISTRY: dict[int, type[TaggedObject]] = {}

T = TypeVar("T", bound="type[TaggedObject]")


def register(cls: T) -> T:
    """Class decorator: make ``decode`` recognise the class's tag."""
    if cls.TAG in _REGISTRY:
        raise ValueError(f"tag {cls.TAG} registered twice")
    _REGISTRY[cls.TAG] = cls
    return cls


class TaggedObject:
    """Base of every serialized object with a tag and a version."""

    TAG: ClassVar[int]
    TYPE: ClassVar[str]  # the node's type name, e.g. "channel_offchain_tx"
    FIELDS: ClassVar[dict[int, tuple[Field, ...]]]  # version -> field table
    version: int

    # -- serialization -----------------------------------------------------
    def fields(self) -> tuple[Field, ...]:
        return self.FIELDS[self.version]

    def to_rlp(self) -> list[rlp.Item]:
        items: list[rlp.Item] = [rlp.encode_int(self.TAG), rlp.encode_int(self.version)]
        items.extend(encode_field(fd, getattr(self, fd.attr)) for fd in self.fields())
        return items

    def serialize(self) -> bytes:
        """The node's bytes for this object."""
        # Objects are frozen dataclasses, and one is serialized again and again (a
        # state goes out to both parties, is hashed, is stored): the bytes and the tx_
        # string are computed once per object, from its fields, and kept beside them.
        memo = self.__dict__
        out: bytes | None = memo.get("_serialized")
        if out is None:
            out = memo["_serialized"] = rlp.encode(self.to_rlp())
        return out

    def to_api(self) -> str:
        """``tx_`` string of the serialized object."""
        memo = self.__dict__
        out: str | None = memo.get("_api")
        if out is None:
            out = memo["_api"] = encoding.encode("tx", self.serialize())
        return out

    @classmethod
    def from_fields(cls, version: int, items: list[rlp.Item], where: str) -> Self:
        try:
            table = cls.FIELDS[version]
        except KeyError:
            known = ", ".join(str(v) for v in sorted(cls.FIELDS))
            raise DecodeError(
                f"unsupported {cls.TYPE} version {version} (known: {known})", where
            ) from None
        if len(items) != len(table):
            raise DecodeError(
                f"{cls.TYPE} v{version} has {len(table)} fields, got {len(items)}", where
            )
        # each field is located by its own name and the error, if any, one level out:
        # building "where.field" strings for every field of every decode costs more
        # than the decoding of most fields
        try:
            values = {
                fd.attr: decode_field(fd, raw, fd.name)
                for fd, raw in zip(table, items, strict=True)
            }
        except DecodeError as exc:
            raise exc.at(where) from None
        return cls._make(version, values)

    @classmethod
    def _make(cls, version: int, values: dict[str, Any]) -> Self:
        """Instantiate a concrete (dataclass) subclass from field values."""
        make: Callable[..., Self] = cls
        return make(version=version, **values)

    # -- views ----------------------------------------------------------------
    def to_dict(self, expand: bool = False) -> dict[str, Any]:
        """API view: the node's JSON field names and encodings.

        With ``expand=True`` nested payloads and updates are decoded in place
        and ``_type``/``_tag``/``_vsn`` keys name every object (handy to read a
        transaction at a glance; it is also the layout of the shared vectors).
        """
        out: dict[str, Any] = {}
        if expand:
            out = {"_type": self.TYPE, "_tag": self.TAG, "_vsn": self.version}
        hook = _expand if expand else None
        for fd in self.fields():
            out[fd.name] = json_of_field(fd, getattr(self, fd.attr), hook)
        return out

    def __str__(self) -> str:
        return f"{self.TYPE}(v{self.version})"


def _expand(field: Field, value: bytes) -> Any:
    """Nested rendering for ``to_dict(expand=True)``."""
    if not value:
        return encoding.encode(field.prefix or "tx", value)
    try:
        obj = decode(value, field.name)
    except DecodeError:
        return encoding.encode(field.prefix or "tx", value)
    return obj.to_dict(expand=True)


def decode(data: bytes, where: str = "tx") -> TaggedObject:
    """Any registered object from its serialized bytes."""
    if len(data) <= _CACHE_MAX_BYTES:
        try:
            return _decode_cached(bytes(data), where)
        except TypeError:  # unhashable input (e.g. a list): let the decoder say why
            pass
    return decode_item(rlp.decode(data), where)


# A session decodes the same transaction several times (the client's state
# machine, its signing policy, the node); objects are frozen, so one decoded
# instance can serve them all. Bounded, and only for transaction-sized inputs.
_CACHE_MAX_BYTES = 4096


@lru_cache(maxsize=1024)
def _decode_cached(data: bytes, where: str) -> TaggedObject:
    return decode_item(rlp.decode(data), where)


def decode_item(item: rlp.Item, where: str = "tx") -> TaggedObject:
    """Any registered object from its decoded RLP list."""
    items = rlp.expect_list(item, where)
    if len(items) < 2:
        raise DecodeError("object needs a tag and a version", where)
    tag = rlp.decode_int(items[0], f"{where}.tag")
    version = rlp.decode_int(items[1], f"{where}.version")
    cls = _REGISTRY.get(tag)
    if cls is None:
        raise DecodeError(f"unknown or unsupported object tag {tag}", where)
    return cls.from_fields(version, items[2:], where)


def decode_as(cls: Callable[..., Any], data: bytes, where: str) -> Any:
    """Decode and check the object is of the expected class."""
    obj = decode(data, where)
    if not isinstance(obj, cls):  # type: ignore[arg-type]
        name = getattr(cls, "TYPE", getattr(cls, "__name__", "?"))
        raise DecodeError(f"expected {name}, got {obj.TYPE}", where)
    return obj


__all__ = ["Kind", "TaggedObject", "decode", "decode_as", "decode_item", "register"]
