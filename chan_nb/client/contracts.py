"""Contracts as a session sees them: typed results and what a contract request must be (pure).

The node answers contract requests with JSON (call objects, ``get.contract``); a
notebook wants values. :class:`ContractCall` is one call object with its return value
decoded (:func:`chan_nb.codec.fate.calldata.decode_result`) and its events;
:class:`ContractState` is ``get.contract``'s answer with the store as bytes;
:class:`ContractCreated` is what :meth:`Session.create_contract` returns. Call data is
given as bytes or as a function name and FATE values (:func:`call_data`).

The updates a contract request leads to are fixed by the protocol (fate.md §6.1: the
WS API always sets gas 1,000,000 and gas price 1), so the client knows *exactly* which
update to find in the signing request (:func:`new_contract_update`,
:func:`call_contract_update`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from chan_nb.codec import encoding
from chan_nb.codec import updates as upd
from chan_nb.codec.contracts import CallObject, LogEntry
from chan_nb.codec.fate import CallReturn, CodeObject, FateCode, Value, decode_result, encode_call
from chan_nb.codec.hashing import blake2b_256
from chan_nb.codec.ids import Id
from chan_nb.codec.updates import pack_ct_version
from chan_nb.errors import DecodeError
from chan_nb.protocol.methods import WS_GAS, WS_GAS_PRICE
from chan_nb.vm.channel import FATE_ABI

#: FATE's vm version in the recorded Iris node (``vm 7``; its ABI is ``FATE_ABI``, 3).
FATE_VM: Final = 7

Json = Any


#: compiler version written into code objects made from assembly (any bytes are legal)
ASM_COMPILER: Final = b"chan_nb-asm"


def code_bytes(code: FateCode | CodeObject | bytes, *, payable: bool = True) -> bytes:
    """A serialized code object (what ``code`` carries) from assembled FATE code.

    The source hash of assembled code is the hash of its byte code (there is no
    source); bytes are taken as an already serialized code object.
    """
    if isinstance(code, bytes):
        return code
    if isinstance(code, CodeObject):
        return code.serialize()
    byte_code = code.serialize()
    return CodeObject(blake2b_256(byte_code), (), byte_code, ASM_COMPILER, payable).serialize()


def call_data(function: str | bytes, args: Sequence[Value] = ()) -> bytes:
    """Call data bytes: ``function`` is a name (or data already encoded, given as bytes)."""
    if isinstance(function, bytes):
        if args:
            raise ValueError("call data given as bytes takes no arguments")
        return function
    return encode_call(function, args)


def new_contract_update(
    owner: str,
    code: bytes,
    init_data: bytes,
    deposit: int,
    vm_version: int = FATE_VM,
    abi_version: int = FATE_ABI,
) -> upd.OffChainNewContract:
    """The ``OffChainNewContract`` a ``new_contract`` request by ``owner`` must become."""
    return upd.OffChainNewContract(
        Id.from_api(owner), pack_ct_version(vm_version, abi_version), code, deposit, init_data
    )


def call_contract_update(
    caller: str,
    contract: str,
    data: bytes,
    amount: int,
    abi_version: int = FATE_ABI,
    gas: int = WS_GAS,
    gas_price: int = WS_GAS_PRICE,
) -> upd.OffChainCallContract:
    """The ``OffChainCallContract`` a ``call_contract`` request by ``caller`` must become."""
    return upd.OffChainCallContract(
        caller=Id.from_api(caller),
        contract=Id.from_api(contract),
        abi_version=abi_version,
        amount=amount,
        gas=gas,
        gas_price=gas_price,
        call_data=data,
        call_stack=(),
    )


@dataclass(frozen=True)
class ContractCall:
    """One contract call's result: the call object with its return value decoded.

    ``verified`` says where it comes from: True when this client computed it itself
    (its own VM run on its verified state), False when only the node said so.
    """

    call: CallObject
    result: CallReturn
    verified: bool = False

    @classmethod
    def of(cls, call: CallObject, *, verified: bool = False) -> ContractCall:
        try:
            result = decode_result(call.return_type, call.return_value)
        except DecodeError:  # a value our decoder cannot read: keep the bytes
            result = CallReturn(call.return_type_name, call.return_value, "undecodable")  # type: ignore[arg-type]
        return cls(call, result, verified)

    @classmethod
    def from_json(cls, data: Json, where: str = "call object") -> ContractCall:
        """The node's JSON call object (``dry_run``, ``get.contract_call``), unverified."""
        return cls.of(CallObject.from_dict(data, where))

    @property
    def ok(self) -> bool:
        return self.result.return_type == "ok"

    @property
    def value(self) -> Value:
        """The returned value (ok), the revert message, or the error bytes."""
        return self.result.value

    @property
    def return_type(self) -> str:
        return self.result.return_type

    @property
    def gas_used(self) -> int:
        return self.call.gas_used

    @property
    def round(self) -> int:
        return self.call.height

    @property
    def contract_id(self) -> str:
        return self.call.contract.api

    @property
    def caller_id(self) -> str:
        return self.call.caller.api

    @property
    def events(self) -> tuple[LogEntry, ...]:
        return self.call.log

    def __str__(self) -> str:
        return f"{self.result} (gas {self.gas_used:,}, round {self.round})"


@dataclass(frozen=True)
class ContractState:
    """``get.contract``: the contract object's fields and its store (raw FATE keys/values)."""

    contract_id: str
    owner_id: str
    vm_version: int
    abi_version: int
    active: bool
    deposit: int
    referrer_ids: tuple[str, ...] = ()
    store: Mapping[bytes, bytes] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Json) -> ContractState:
        """The ``get.contract`` reply; malformed input raises DecodeError."""
        if not isinstance(data, Mapping) or not isinstance(data.get("contract"), Mapping):
            raise DecodeError("a get.contract reply holds a 'contract' object", "get.contract")
        obj = data["contract"]
        try:
            ints = {k: obj[k] for k in ("vm_version", "abi_version", "deposit")}
            ids = (str(obj["id"]), str(obj["owner_id"]))
            active = obj["active"]
            referrers = tuple(str(r) for r in obj.get("referrer_ids", ()))
        except (KeyError, TypeError):
            raise DecodeError("contract fields missing", "get.contract") from None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in ints.values()):
            raise DecodeError("vm_version, abi_version and deposit are integers", "get.contract")
        if not isinstance(active, bool):
            raise DecodeError("active is a boolean", "get.contract")
        raw_store = data.get("contract_state", {})
        if not isinstance(raw_store, Mapping):
            raise DecodeError("contract_state is an object", "get.contract")
        store = {
            encoding.decode(str(k), "ck"): encoding.decode(str(v), "cv")
            for k, v in raw_store.items()
        }
        return cls(
            ids[0],
            ids[1],
            ints["vm_version"],
            ints["abi_version"],
            active,
            ints["deposit"],
            referrers,
            store,
        )


@dataclass(frozen=True)
class ContractCreated:
    """What :meth:`Session.create_contract` gives: the new contract, its round, ``init``."""

    contract_id: str
    round: int
    state: str  # the co-signed ``tx_`` of the round that created it
    init: ContractCall | None = None

    def __str__(self) -> str:
        return f"{self.contract_id} (round {self.round})"


__all__ = [
    "FATE_ABI",
    "FATE_VM",
    "WS_GAS",
    "WS_GAS_PRICE",
    "ContractCall",
    "ContractCreated",
    "ContractState",
    "call_contract_update",
    "call_data",
    "code_bytes",
    "new_contract_update",
]
