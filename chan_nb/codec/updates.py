"""Off-chain updates: what a round changes (serialization.md §7).

Updates travel beside the signed off-chain tx (``params.data.updates`` in
JSON); only the resulting state hash is signed. ``to_dict()`` gives the
node's JSON form (``{"op": "OffChainTransfer", …}``), :func:`from_dict` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final

from chan_nb.codec.fields import Kind, f, value_of_json
from chan_nb.codec.ids import Id, IdKind
from chan_nb.codec.objects import TaggedObject, decode_as, register
from chan_nb.errors import DecodeError

if TYPE_CHECKING:
    from chan_nb.codec.fate.bytecode import FateCode
    from chan_nb.codec.fate.calldata import FunctionCall
    from chan_nb.codec.fate.code import CodeObject


class Update(TaggedObject):
    """Base of the off-chain update objects."""

    OP: ClassVar[str]  # the JSON "op" name

    def to_dict(self, expand: bool = False) -> dict[str, Any]:
        out = super().to_dict(expand)
        if not expand:
            out = {"op": self.OP, **out}
        return out


@register
@dataclass(frozen=True)
class OffChainTransfer(Update):
    """Move ``amount`` from one participant to the other."""

    from_id: Id
    to_id: Id
    amount: int
    version: int = 1
    TAG: ClassVar[int] = 570
    TYPE: ClassVar[str] = "channel_offchain_update_transfer"
    OP: ClassVar[str] = "OffChainTransfer"
    FIELDS: ClassVar = {
        1: (f("from_id", Kind.ID, "from"), f("to_id", Kind.ID, "to"), f("amount", Kind.INT))
    }


@register
@dataclass(frozen=True)
class OffChainDeposit(Update):
    """Add on-chain coins to a participant's channel balance."""

    from_id: Id
    amount: int
    version: int = 1
    TAG: ClassVar[int] = 571
    TYPE: ClassVar[str] = "channel_offchain_update_deposit"
    OP: ClassVar[str] = "OffChainDeposit"
    FIELDS: ClassVar = {1: (f("from_id", Kind.ID, "from"), f("amount", Kind.INT))}


@register
@dataclass(frozen=True)
class OffChainWithdrawal(Update):
    """Take coins out of a participant's channel balance."""

    to_id: Id
    amount: int
    version: int = 1
    TAG: ClassVar[int] = 572
    TYPE: ClassVar[str] = "channel_offchain_update_withdraw"
    OP: ClassVar[str] = "OffChainWithdrawal"
    FIELDS: ClassVar = {1: (f("to_id", Kind.ID, "to"), f("amount", Kind.INT))}


@register
@dataclass(frozen=True)
class OffChainNewContract(Update):
    """Create a contract in the channel (runs the VM; not replayable here)."""

    owner: Id
    ct_version: int
    code: bytes
    deposit: int
    call_data: bytes
    version: int = 1
    TAG: ClassVar[int] = 573
    TYPE: ClassVar[str] = "channel_offchain_update_create_contract"
    OP: ClassVar[str] = "OffChainNewContract"
    FIELDS: ClassVar = {
        1: (
            f("owner", Kind.ID),
            f("ct_version", Kind.INT),
            f("code", Kind.BYTES, prefix="cb"),
            f("deposit", Kind.INT),
            f("call_data", Kind.BYTES, prefix="cb"),
        )
    }

    @property
    def vm_version(self) -> int:
        return unpack_ct_version(self.ct_version)[0]

    @property
    def abi_version(self) -> int:
        return unpack_ct_version(self.ct_version)[1]

    def to_dict(self, expand: bool = False) -> dict[str, Any]:
        out = super().to_dict(expand)
        if not expand:
            out.pop("ct_version")
            out["vm_version"], out["abi_version"] = unpack_ct_version(self.ct_version)
        return out

    def contract_id(self, round_: int) -> Id:
        """The contract this update creates when it is applied in round ``round_``."""
        from chan_nb.codec.contracts import contract_pubkey

        return Id.contract(contract_pubkey(self.owner.value, round_))

    def code_object(self) -> CodeObject:
        """The decoded ``code`` (DecodeError if it is not a contract code object)."""
        from chan_nb.codec.fate.code import CodeObject

        return CodeObject.deserialize(self.code, "code")

    def call(self) -> FunctionCall:
        """The decoded ``init`` call data (FATE; DecodeError otherwise)."""
        from chan_nb.codec.fate.calldata import decode_call

        code = self.code_object()
        return decode_call(self.call_data, code.fate() if code.is_fate else None)


@register
@dataclass(frozen=True)
class OffChainCallContract(Update):
    """Call a contract in the channel (node field order, serialization.md §13)."""

    caller: Id
    contract: Id
    abi_version: int
    amount: int
    gas: int
    gas_price: int
    call_data: bytes
    call_stack: tuple[int, ...]
    version: int = 1
    TAG: ClassVar[int] = 574
    TYPE: ClassVar[str] = "channel_offchain_update_call_contract"
    OP: ClassVar[str] = "OffChainCallContract"
    FIELDS: ClassVar = {
        1: (
            f("caller", Kind.ID),
            f("contract", Kind.ID),
            f("abi_version", Kind.INT),
            f("amount", Kind.INT),
            f("gas", Kind.INT),
            f("gas_price", Kind.INT),
            f("call_data", Kind.BYTES, prefix="cb"),
            f("call_stack", Kind.INTS),
        )
    }

    def to_dict(self, expand: bool = False) -> dict[str, Any]:
        out = super().to_dict(expand)
        if not expand:
            out["caller_id"] = out.pop("caller")
            out["contract_id"] = out.pop("contract")
        return out

    def call(self, code: FateCode | None = None) -> FunctionCall:
        """The decoded call data (FATE; DecodeError otherwise); ``code`` names the function."""
        from chan_nb.codec.fate.calldata import decode_call

        return decode_call(self.call_data, code)


@register
@dataclass(frozen=True)
class OffChainMeta(Update):
    """Free-form data attached to a round; changes no balance."""

    data: bytes
    version: int = 2
    TAG: ClassVar[int] = 576
    TYPE: ClassVar[str] = "channel_offchain_update_meta"
    OP: ClassVar[str] = "OffChainMeta"
    FIELDS: ClassVar = {2: (f("data", Kind.TEXT),)}


def pack_ct_version(vm_version: int, abi_version: int) -> int:
    """``(vm << 16) | abi``; the legacy pair vm = abi ≤ 2 is stored as the bare abi."""
    if vm_version == abi_version and abi_version <= 2:
        return abi_version
    return (vm_version << 16) | abi_version


def unpack_ct_version(ct_version: int) -> tuple[int, int]:
    """(vm_version, abi_version) of a packed contract version."""
    if ct_version <= 2:
        return ct_version, ct_version
    return ct_version >> 16, ct_version & 0xFFFF


_BY_OP: Final[dict[str, type[Update]]] = {
    cls.OP: cls
    for cls in (
        OffChainTransfer,
        OffChainDeposit,
        OffChainWithdrawal,
        OffChainNewContract,
        OffChainCallContract,
        OffChainMeta,
    )
}

#: JSON key -> attribute, where they differ
_JSON_RENAMES: Final[dict[str, dict[str, str]]] = {
    "OffChainCallContract": {"caller_id": "caller", "contract_id": "contract"},
}


def from_dict(data: Any, where: str = "update") -> Update:
    """An update from the node's JSON form (``{"op": …, …}``)."""
    if not isinstance(data, dict):
        raise DecodeError(f"an update is a JSON object, got {type(data).__name__}", where)
    op = data.get("op")
    cls = _BY_OP.get(op) if isinstance(op, str) else None
    if cls is None:
        raise DecodeError(f"unknown update op {op!r}", where)
    body = {k: v for k, v in data.items() if k != "op"}
    for json_key, attr in _JSON_RENAMES.get(cls.OP, {}).items():
        if json_key in body:
            body[attr] = body.pop(json_key)
    if cls is OffChainNewContract:
        vm, abi = body.pop("vm_version", None), body.pop("abi_version", None)
        if not isinstance(vm, int) or not isinstance(abi, int):
            raise DecodeError("vm_version and abi_version must be integers", where)
        body["ct_version"] = pack_ct_version(vm, abi)
    (version,) = cls.FIELDS
    values: dict[str, Any] = {}
    for fd in cls.FIELDS[version]:
        key = fd.attr if fd.attr in body else fd.name
        if key not in body:
            raise DecodeError(f"missing field {fd.name!r}", where)
        values[fd.attr] = value_of_json(fd, body.pop(key), f"{where}.{fd.name}")
    if body:
        raise DecodeError(f"unexpected fields {sorted(body)}", where)
    return cls._make(version, values)


def decode(data: bytes, where: str = "update") -> Update:
    """An update from its serialized bytes."""
    result: Update = decode_as(Update, data, where)
    return result


def participants_touched(update: Update) -> tuple[Id, ...]:
    """Account ids whose balance an update changes directly."""
    if isinstance(update, OffChainTransfer):
        return (update.from_id, update.to_id)
    if isinstance(update, OffChainDeposit):
        return (update.from_id,)
    if isinstance(update, OffChainWithdrawal):
        return (update.to_id,)
    return ()


__all__ = [
    "IdKind",
    "OffChainCallContract",
    "OffChainDeposit",
    "OffChainMeta",
    "OffChainNewContract",
    "OffChainTransfer",
    "OffChainWithdrawal",
    "Update",
    "decode",
    "from_dict",
    "pack_ct_version",
    "unpack_ct_version",
]
