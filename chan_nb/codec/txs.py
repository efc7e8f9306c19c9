"""Channel transactions, signed_tx and GA meta wrapping (serialization.md §5–§8).

Every class is a frozen dataclass whose attributes are the API field names
(``from`` is ``from_id``); :func:`decode` reads any of them from bytes and
:func:`decode_api` from a ``tx_`` string. Decoding is strict, so
``decode(b).serialize() == b`` for everything accepted.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, ClassVar

from chan_nb.codec import encoding, rlp
from chan_nb.codec.fields import Kind, f
from chan_nb.codec.hashing import blake2b_256, tx_hash
from chan_nb.codec.ids import Id
from chan_nb.codec.objects import TaggedObject, decode_as, register
from chan_nb.codec.objects import decode as decode_object
from chan_nb.codec.updates import Update
from chan_nb.codec.updates import decode as decode_update
from chan_nb.errors import DecodeError


class Tx(TaggedObject):
    """Base of every transaction object."""


def _ids() -> tuple[Id, ...]:
    return ()


@register
@dataclass(frozen=True)
class SignedTx(Tx):
    """A transaction with its signatures (sorted bytewise by the node).

    ``tx_bytes`` is the inner transaction exactly as serialized — the bytes
    that are signed. The decoded ``tx`` is derived from them on first use.
    """

    signatures: tuple[bytes, ...]
    tx_bytes: bytes
    version: int = 1
    TAG: ClassVar[int] = 11
    TYPE: ClassVar[str] = "signed_tx"
    FIELDS: ClassVar = {1: (f("signatures", Kind.SIGS), f("tx_bytes", Kind.TX, "transaction"))}

    @classmethod
    def wrap(cls, tx: Tx, signatures: tuple[bytes, ...] = ()) -> SignedTx:
        """A signed_tx around ``tx`` (no signatures unless given)."""
        return cls(tuple(sorted(signatures)), tx.serialize())

    @cached_property
    def tx(self) -> Tx:
        """The decoded inner transaction."""
        result: Tx = decode_as(Tx, self.tx_bytes, "signed_tx.transaction")
        return result

    @property
    def innermost(self) -> Tx:
        """The channel tx, looking through GA meta and nested signed_tx layers."""
        inner = self.tx
        while True:
            if isinstance(inner, GaMetaTx):
                inner = inner.signed_tx.tx
            elif isinstance(inner, SignedTx):
                inner = inner.tx
            else:
                return inner

    def with_signature(self, signature: bytes) -> SignedTx:
        """The same tx with one more signature, keeping the node's sorted order."""
        if len(signature) != 64:
            raise ValueError(f"a signature is 64 bytes, got {len(signature)}")
        return SignedTx(tuple(sorted((*self.signatures, signature))), self.tx_bytes)

    @property
    def hash(self) -> str:
        """``th_`` transaction hash (covers the signatures)."""
        return tx_hash(self.serialize())

    def to_dict(self, expand: bool = False) -> dict[str, Any]:
        out = super().to_dict(expand)
        if not expand:
            out["tx"] = self.tx.to_dict()
            del out["transaction"]
        return out


@register
@dataclass(frozen=True)
class ChannelCreateTx(Tx):
    """Opens a channel; v1 before Iris, v2 (split delegate lists) from Iris on."""

    initiator_id: Id
    initiator_amount: int
    responder_id: Id
    responder_amount: int
    channel_reserve: int
    lock_period: int
    ttl: int
    fee: int
    state_hash: bytes
    nonce: int
    initiator_delegate_ids: tuple[Id, ...] = field(default_factory=_ids)
    responder_delegate_ids: tuple[Id, ...] = field(default_factory=_ids)
    delegate_ids: tuple[Id, ...] = field(default_factory=_ids)
    version: int = 2
    TAG: ClassVar[int] = 50
    TYPE: ClassVar[str] = "channel_create_tx"
    _HEAD: ClassVar = (
        f("initiator_id", Kind.ID),
        f("initiator_amount", Kind.INT),
        f("responder_id", Kind.ID),
        f("responder_amount", Kind.INT),
        f("channel_reserve", Kind.INT),
        f("lock_period", Kind.INT),
        f("ttl", Kind.INT),
        f("fee", Kind.INT),
    )
    FIELDS: ClassVar = {
        1: (
            *_HEAD,
            f("delegate_ids", Kind.IDS),
            f("state_hash", Kind.HASH),
            f("nonce", Kind.INT),
        ),
        2: (
            *_HEAD,
            f("initiator_delegate_ids", Kind.IDS),
            f("responder_delegate_ids", Kind.IDS),
            f("state_hash", Kind.HASH),
            f("nonce", Kind.INT),
        ),
    }

    def channel_pubkey(self) -> bytes:
        """The channel key this create tx opens (serialization.md §11, non-GA)."""
        from chan_nb.codec.hashing import channel_pubkey

        return channel_pubkey(self.initiator_id.value, self.nonce, self.responder_id.value)


def _channel_head(who: str) -> tuple[Any, ...]:
    return (f("channel_id", Kind.ID), f(who, Kind.ID))


@register
@dataclass(frozen=True)
class ChannelDepositTx(Tx):
    channel_id: Id
    from_id: Id
    amount: int
    ttl: int
    fee: int
    state_hash: bytes
    round: int
    nonce: int
    version: int = 1
    TAG: ClassVar[int] = 51
    TYPE: ClassVar[str] = "channel_deposit_tx"
    FIELDS: ClassVar = {
        1: (
            *_channel_head("from_id"),
            f("amount", Kind.INT),
            f("ttl", Kind.INT),
            f("fee", Kind.INT),
            f("state_hash", Kind.HASH),
            f("round", Kind.INT),
            f("nonce", Kind.INT),
        )
    }


@register
@dataclass(frozen=True)
class ChannelWithdrawTx(Tx):
    channel_id: Id
    to_id: Id
    amount: int
    ttl: int
    fee: int
    state_hash: bytes
    round: int
    nonce: int
    version: int = 1
    TAG: ClassVar[int] = 52
    TYPE: ClassVar[str] = "channel_withdraw_tx"
    FIELDS: ClassVar = {
        1: (
            *_channel_head("to_id"),
            f("amount", Kind.INT),
            f("ttl", Kind.INT),
            f("fee", Kind.INT),
            f("state_hash", Kind.HASH),
            f("round", Kind.INT),
            f("nonce", Kind.INT),
        )
    }


_FINAL_AMOUNTS = (
    *_channel_head("from_id"),
    f("initiator_amount_final", Kind.INT),
    f("responder_amount_final", Kind.INT),
    f("ttl", Kind.INT),
    f("fee", Kind.INT),
    f("nonce", Kind.INT),
)


@dataclass(frozen=True)
class _FinalAmountsTx(Tx):
    """The layout close_mutual and settle share: final amounts of both parties."""

    channel_id: Id
    from_id: Id
    initiator_amount_final: int
    responder_amount_final: int
    ttl: int
    fee: int
    nonce: int
    version: int = 1
    FIELDS: ClassVar = {1: _FINAL_AMOUNTS}


@register
@dataclass(frozen=True)
class ChannelCloseMutualTx(_FinalAmountsTx):
    TAG: ClassVar[int] = 53
    TYPE: ClassVar[str] = "channel_close_mutual_tx"


@register
@dataclass(frozen=True)
class ChannelSettleTx(_FinalAmountsTx):
    TAG: ClassVar[int] = 56
    TYPE: ClassVar[str] = "channel_settle_tx"


_SOLO = (
    *_channel_head("from_id"),
    f("payload", Kind.TX),
    f("poi", Kind.BYTES, prefix="pi"),
    f("ttl", Kind.INT),
    f("fee", Kind.INT),
    f("nonce", Kind.INT),
)


class _PayloadMixin:
    payload: bytes

    def payload_tx(self) -> SignedTx | None:
        """The co-signed off-chain state carried as payload (None when empty)."""
        if not self.payload:
            return None
        result: SignedTx = decode_as(SignedTx, self.payload, "payload")
        return result


@dataclass(frozen=True)
class _SoloTx(_PayloadMixin, Tx):
    """The layout close_solo and slash share: a co-signed state (or none) and its proof."""

    channel_id: Id
    from_id: Id
    payload: bytes
    poi: bytes
    ttl: int
    fee: int
    nonce: int
    version: int = 1
    FIELDS: ClassVar = {1: _SOLO}


@register
@dataclass(frozen=True)
class ChannelCloseSoloTx(_SoloTx):
    TAG: ClassVar[int] = 54
    TYPE: ClassVar[str] = "channel_close_solo_tx"


@register
@dataclass(frozen=True)
class ChannelSlashTx(_SoloTx):
    TAG: ClassVar[int] = 55
    TYPE: ClassVar[str] = "channel_slash_tx"


@register
@dataclass(frozen=True)
class ChannelSnapshotSoloTx(_PayloadMixin, Tx):
    channel_id: Id
    from_id: Id
    payload: bytes
    ttl: int
    fee: int
    nonce: int
    version: int = 1
    TAG: ClassVar[int] = 59
    TYPE: ClassVar[str] = "channel_snapshot_solo_tx"
    FIELDS: ClassVar = {
        1: (
            *_channel_head("from_id"),
            f("payload", Kind.TX),
            f("ttl", Kind.INT),
            f("fee", Kind.INT),
            f("nonce", Kind.INT),
        )
    }


@register
@dataclass(frozen=True)
class ChannelForceProgressTx(_PayloadMixin, Tx):
    channel_id: Id
    from_id: Id
    payload: bytes
    round: int
    update: bytes
    state_hash: bytes
    offchain_trees: bytes
    ttl: int
    fee: int
    nonce: int
    version: int = 1
    TAG: ClassVar[int] = 521
    TYPE: ClassVar[str] = "channel_force_progress_tx"
    FIELDS: ClassVar = {
        1: (
            *_channel_head("from_id"),
            f("payload", Kind.TX),
            f("round", Kind.INT),
            f("update", Kind.UPDATE),
            f("state_hash", Kind.HASH),
            f("offchain_trees", Kind.BYTES, prefix="ss"),
            f("ttl", Kind.INT),
            f("fee", Kind.INT),
            f("nonce", Kind.INT),
        )
    }

    def decoded_update(self) -> Update:
        return decode_update(self.update, "update")

    def to_dict(self, expand: bool = False) -> dict[str, Any]:
        out = super().to_dict(expand)
        if not expand:
            out["update"] = self.decoded_update().to_dict()
        return out


@register
@dataclass(frozen=True)
class ChannelSetDelegatesTx(_PayloadMixin, Tx):
    channel_id: Id
    from_id: Id
    initiator_delegate_ids: tuple[Id, ...]
    responder_delegate_ids: tuple[Id, ...]
    payload: bytes
    state_hash: bytes
    round: int
    ttl: int
    fee: int
    nonce: int
    version: int = 1
    TAG: ClassVar[int] = 501
    TYPE: ClassVar[str] = "channel_set_delegates_tx"
    FIELDS: ClassVar = {
        1: (
            *_channel_head("from_id"),
            f("initiator_delegate_ids", Kind.IDS),
            f("responder_delegate_ids", Kind.IDS),
            f("payload", Kind.TX),
            f("state_hash", Kind.HASH),
            f("round", Kind.INT),
            f("ttl", Kind.INT),
            f("fee", Kind.INT),
            f("nonce", Kind.INT),
        )
    }


@register
@dataclass(frozen=True)
class ChannelOffchainTx(Tx):
    """A co-signed off-chain state: v2 signs only the state hash (updates travel beside)."""

    channel_id: Id
    round: int
    state_hash: bytes
    updates: tuple[bytes, ...] = ()
    version: int = 2
    TAG: ClassVar[int] = 57
    TYPE: ClassVar[str] = "channel_offchain_tx"
    FIELDS: ClassVar = {
        1: (
            f("channel_id", Kind.ID),
            f("round", Kind.INT),
            f("updates", Kind.UPDATES),
            f("state_hash", Kind.HASH),
        ),
        2: (f("channel_id", Kind.ID), f("round", Kind.INT), f("state_hash", Kind.HASH)),
    }


@register
@dataclass(frozen=True)
class SpendTx(Tx):
    """A plain coin transfer (used by the embedded node's chain model)."""

    sender_id: Id
    recipient_id: Id
    amount: int
    fee: int
    ttl: int
    nonce: int
    payload: bytes
    version: int = 1
    TAG: ClassVar[int] = 12
    TYPE: ClassVar[str] = "spend_tx"
    FIELDS: ClassVar = {
        1: (
            f("sender_id", Kind.ID),
            f("recipient_id", Kind.ID),
            f("amount", Kind.INT),
            f("fee", Kind.INT),
            f("ttl", Kind.INT),
            f("nonce", Kind.INT),
            f("payload", Kind.BYTES, prefix="ba"),
        )
    }


@register
@dataclass(frozen=True)
class GaMetaTx(Tx):
    """Generalized-account authorisation around a signed_tx (v1 has a ttl, v2 not)."""

    ga_id: Id
    auth_data: bytes
    abi_version: int
    fee: int
    gas: int
    gas_price: int
    tx: bytes
    ttl: int = 0
    version: int = 2
    TAG: ClassVar[int] = 81
    TYPE: ClassVar[str] = "ga_meta_tx"
    _HEAD: ClassVar = (
        f("ga_id", Kind.ID),
        f("auth_data", Kind.BYTES, prefix="cb"),
        f("abi_version", Kind.INT),
        f("fee", Kind.INT),
        f("gas", Kind.INT),
        f("gas_price", Kind.INT),
    )
    FIELDS: ClassVar = {
        1: (*_HEAD, f("ttl", Kind.INT), f("tx", Kind.TX)),
        2: (*_HEAD, f("tx", Kind.TX)),
    }

    @cached_property
    def signed_tx(self) -> SignedTx:
        """The wrapped signed_tx."""
        result: SignedTx = decode_as(SignedTx, self.tx, "ga_meta_tx.tx")
        return result

    def auth_id(self) -> bytes:
        """blake2b(ga pubkey ‖ auth_data): the GA's stand-in for a nonce."""
        return blake2b_256(self.ga_id.value + self.auth_data)


# -- entry points -------------------------------------------------------------


def decode(data: bytes, where: str = "tx") -> Tx:
    """Any transaction from its serialized bytes."""
    result: Tx = decode_as(Tx, data, where)
    return result


def decode_api(text: str, where: str = "tx") -> Tx:
    """Any transaction from a ``tx_`` string."""
    if isinstance(text, str) and len(text) <= _TEXT_CACHE_MAX:
        return _decode_api_cached(text, where)
    return _decode_api(text, where)


def _decode_api(text: str, where: str) -> Tx:
    try:
        data = encoding.decode(text, "tx")
    except DecodeError as exc:
        raise exc.at(where) from None
    return decode(data, where)


# The same tx_ string passes through a session several times (a sign request is
# read by the client's state machine, its policy and its signer; the co-signed
# state comes back in the update). Base64 and its checksum are then paid once.
# Objects are frozen, errors are not cached.
_TEXT_CACHE_MAX = 8192


@lru_cache(maxsize=512)
def _decode_api_cached(text: str, where: str) -> Tx:
    return _decode_api(text, where)


def decode_signed(text_or_bytes: str | bytes, where: str = "tx") -> SignedTx:
    """A signed_tx from a ``tx_`` string or bytes (what sign requests carry)."""
    if isinstance(text_or_bytes, str):
        obj = decode_api(text_or_bytes, where)
        if not isinstance(obj, SignedTx):
            raise DecodeError(f"expected {SignedTx.TYPE}, got {obj.TYPE}", where)
        return obj
    result: SignedTx = decode_as(SignedTx, text_or_bytes, where)
    return result


def inner_type(text: str) -> str:
    """Type name of the innermost channel tx in a ``tx_`` string."""
    obj = decode_api(text)
    if isinstance(obj, SignedTx):
        return obj.innermost.TYPE
    return obj.TYPE


@dataclass(frozen=True, slots=True)
class SignatureLayer:
    """One signed_tx layer: its signatures and the exact bytes they sign."""

    path: str  # where the layer sits, e.g. "tx", "tx.ga_meta_tx.tx", "tx.payload"
    signatures: tuple[bytes, ...]
    tx_bytes: bytes
    inner: Tx


def signature_layers(signed: SignedTx, path: str = "tx") -> Iterator[SignatureLayer]:
    """Every signed_tx layer: outer, GA-wrapped inner ones, and payloads of solo txs."""
    inner = signed.tx
    yield SignatureLayer(path, signed.signatures, signed.tx_bytes, inner)
    if isinstance(inner, GaMetaTx):
        yield from signature_layers(inner.signed_tx, f"{path}.ga_meta_tx.tx")
    elif isinstance(inner, SignedTx):
        yield from signature_layers(inner, f"{path}.transaction")
    elif isinstance(inner, _PayloadMixin):
        payload = inner.payload_tx()
        if payload is not None:
            yield from signature_layers(payload, f"{path}.payload")


def innermost_signers_needed(tx: Tx) -> tuple[str, ...]:
    """Which parties must sign (by role name) — the node's rule per tx type."""
    if isinstance(
        tx,
        ChannelCreateTx
        | ChannelDepositTx
        | ChannelWithdrawTx
        | ChannelCloseMutualTx
        | ChannelOffchainTx,
    ):
        return ("initiator", "responder")
    return ("from",)


__all__ = [
    "ChannelCloseMutualTx",
    "ChannelCloseSoloTx",
    "ChannelCreateTx",
    "ChannelDepositTx",
    "ChannelForceProgressTx",
    "ChannelOffchainTx",
    "ChannelSetDelegatesTx",
    "ChannelSettleTx",
    "ChannelSlashTx",
    "ChannelSnapshotSoloTx",
    "ChannelWithdrawTx",
    "GaMetaTx",
    "SignatureLayer",
    "SignedTx",
    "SpendTx",
    "Tx",
    "decode",
    "decode_api",
    "decode_object",
    "decode_signed",
    "inner_type",
    "rlp",
    "signature_layers",
]
