"""The node's ``id`` type: a kind tag byte followed by a 32-byte key or hash."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import Final

from chan_nb.codec import encoding
from chan_nb.errors import DecodeError


class IdKind(IntEnum):
    """Tag byte of an id; each kind prints with its own API prefix."""

    ACCOUNT = 1
    NAME = 2
    COMMITMENT = 3
    ORACLE = 4
    CONTRACT = 5
    CHANNEL = 6


PREFIX: Final[dict[IdKind, str]] = {
    IdKind.ACCOUNT: "ak",
    IdKind.NAME: "nm",
    IdKind.COMMITMENT: "cm",
    IdKind.ORACLE: "ok",
    IdKind.CONTRACT: "ct",
    IdKind.CHANNEL: "ch",
}
KIND_OF_PREFIX: Final[dict[str, IdKind]] = {v: k for k, v in PREFIX.items()}


@dataclass(frozen=True, slots=True)
class Id:
    """A typed 32-byte identifier (account, channel, contract …)."""

    kind: IdKind
    value: bytes

    def __post_init__(self) -> None:
        if len(self.value) != 32:
            raise DecodeError(f"id value must be 32 bytes, got {len(self.value)}")

    @classmethod
    def account(cls, pubkey: bytes) -> Id:
        return cls(IdKind.ACCOUNT, pubkey)

    @classmethod
    def channel(cls, pubkey: bytes) -> Id:
        return cls(IdKind.CHANNEL, pubkey)

    @classmethod
    def contract(cls, pubkey: bytes) -> Id:
        return cls(IdKind.CONTRACT, pubkey)

    @classmethod
    def from_api(cls, text: str) -> Id:
        """Parse ``ak_…``, ``ch_…``, ``ct_…`` etc."""
        prefix, payload = encoding.split(text)
        kind = KIND_OF_PREFIX.get(prefix)
        if kind is None:
            raise DecodeError(f"{prefix}_ is not an id prefix")
        return cls(kind, payload)

    @classmethod
    def from_bytes(cls, raw: bytes, where: str = "id") -> Id:
        """Parse the 33-byte serialized form."""
        try:
            return _id_of_bytes(bytes(raw))
        except DecodeError as exc:
            raise DecodeError(exc.reason, where) from None

    def to_bytes(self) -> bytes:
        return bytes((self.kind,)) + self.value

    @property
    def api(self) -> str:
        return encoding.encode(PREFIX[self.kind], self.value)

    def __str__(self) -> str:
        return self.api

    def __repr__(self) -> str:
        return f"Id({self.api})"


# The same few ids (the two parties, the channel) appear in every transaction and
# update of a session; Id is immutable, so a parsed one can be handed out again.
@lru_cache(maxsize=4096)
def _id_of_bytes(raw: bytes) -> Id:
    if len(raw) != 33:
        raise DecodeError(f"id must be 33 bytes, got {len(raw)}")
    try:
        kind = IdKind(raw[0])
    except ValueError:
        raise DecodeError(f"unknown id tag {raw[0]}") from None
    return Id(kind, raw[1:])
