"""Contracts in a channel's state: ids, contract objects (tag 40), call objects (tag 41), stores.

A channel state holds contracts in its contracts tree (the object at the contract's
pubkey, ``pubkey ‖ 10`` ⇒ ``00`` marking its store, and the FATE store under
``pubkey ‖ 10 ‖ key``) and the calls of the round in its calls tree (keyed by contract
pubkey ‖ call id) — fate.md §6. The contract pubkey comes from the owner and the
round that created it (the round plays the role of the on-chain nonce).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from chan_nb.codec import encoding, rlp
from chan_nb.codec.hashing import blake2b_256
from chan_nb.codec.ids import Id, IdKind
from chan_nb.errors import DecodeError

TAG_CONTRACT: Final = 40
TAG_CALL: Final = 41
CALL_VERSION: Final = 2
#: byte after a contract pubkey that starts its store's keys (``aect_contracts:store_id``)
STORE_MARK: Final = b"\x10"
#: FATE store register 0: the store-map metadata; empty (``2f 00``) with no store maps
META_REGISTER_KEY: Final = b"\x00\x00"
EMPTY_META: Final = b"\x2f\x00"

RETURN_TYPE_NAMES: Final = ("ok", "error", "revert")


def contract_pubkey(owner: bytes, nonce: int) -> bytes:
    """Pubkey of the contract ``owner`` creates with ``nonce`` (in a channel: the round).

    The nonce is appended as minimal unsigned big-endian bytes (Erlang's
    ``encode_unsigned``, the same bytes as an RLP int field).
    """
    return blake2b_256(bytes(owner) + rlp.encode_int(nonce))


def call_id(caller: bytes, nonce: int, contract: bytes) -> bytes:
    """Id of a call: BLAKE2b(caller ‖ nonce as 32 bytes big-endian ‖ contract)."""
    return blake2b_256(bytes(caller) + nonce.to_bytes(32, "big") + bytes(contract))


def call_key(contract: bytes, caller: bytes, nonce: int) -> bytes:
    """Key of a call object in the calls tree: contract pubkey ‖ call id."""
    return bytes(contract) + call_id(caller, nonce, contract)


def register_key(n: int) -> bytes:
    """Store key of FATE store register ``n`` (register 1 = the Sophia state)."""
    return b"\x00" + rlp.encode_int(n)


def initial_store() -> dict[bytes, bytes]:
    """The FATE store every contract starts with, before ``init`` runs."""
    return {META_REGISTER_KEY: EMPTY_META}


def store_prefix(contract: bytes) -> bytes:
    return bytes(contract) + STORE_MARK


@dataclass(frozen=True, slots=True)
class ContractObject:
    """A contract object; version 1 in the recorded node (version 2 adds ``code_ref``)."""

    owner: Id
    ct_version: int
    code: bytes
    deposit: int
    log: bytes = b""
    active: bool = True
    referrers: tuple[Id, ...] = ()
    code_ref: tuple[Id, ...] = ()
    version: int = 1

    def serialize(self) -> bytes:
        head: list[rlp.Item] = [
            rlp.encode_int(TAG_CONTRACT),
            rlp.encode_int(self.version),
            self.owner.to_bytes(),
            rlp.encode_int(self.ct_version),
            self.code,
        ]
        if self.version == 2:
            head.append([i.to_bytes() for i in self.code_ref])
        elif self.code_ref:
            raise ValueError("code_ref needs contract object version 2")
        return rlp.encode(
            [
                *head,
                self.log,
                b"\x01" if self.active else b"\x00",
                [i.to_bytes() for i in self.referrers],
                rlp.encode_int(self.deposit),
            ]
        )

    @classmethod
    def deserialize(cls, data: bytes, where: str = "contract") -> ContractObject:
        try:
            fields = rlp.expect_list(rlp.decode(data), where)
        except DecodeError as exc:
            raise exc if exc.where and exc.where.startswith(where) else exc.at(where) from None
        if len(fields) < 2:
            raise DecodeError("contract object needs a tag and a version", where)
        if rlp.decode_int(fields[0], f"{where}.tag") != TAG_CONTRACT:
            raise DecodeError("not a contract object (tag 40)", where)
        version = rlp.decode_int(fields[1], f"{where}.version")
        count = {1: 9, 2: 10}.get(version)
        if count is None:
            raise DecodeError(f"unsupported contract object version {version}", where)
        if len(fields) != count:
            raise DecodeError(f"contract object v{version} has {count - 2} fields", where)

        def ids(raw: rlp.Item, at: str) -> tuple[Id, ...]:
            return tuple(
                Id.from_bytes(rlp.expect_bytes(x, at), at) for x in rlp.expect_list(raw, at)
            )

        rest = fields[6:] if version == 2 else fields[5:]
        active = rlp.expect_bytes(rest[1], f"{where}.active")
        if active not in (b"\x00", b"\x01"):
            raise DecodeError("active must be 00 or 01", f"{where}.active")
        return cls(
            owner=Id.from_bytes(rlp.expect_bytes(fields[2], f"{where}.owner"), f"{where}.owner"),
            ct_version=rlp.decode_int(fields[3], f"{where}.ct_version"),
            code=rlp.expect_bytes(fields[4], f"{where}.code"),
            code_ref=ids(fields[5], f"{where}.code_ref") if version == 2 else (),
            log=rlp.expect_bytes(rest[0], f"{where}.log"),
            active=active == b"\x01",
            referrers=ids(rest[2], f"{where}.referrers"),
            deposit=rlp.decode_int(rest[3], f"{where}.deposit"),
            version=version,
        )


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One event of a call: the emitting contract, its 32-byte topics, its payload."""

    address: bytes
    topics: tuple[int, ...]
    data: bytes

    def to_rlp(self) -> rlp.Item:
        return [self.address, [t.to_bytes(32, "big") for t in self.topics], self.data]

    def to_dict(self) -> dict[str, Any]:
        return {
            "address": encoding.encode("ct", self.address),
            "topics": list(self.topics),
            "data": encoding.encode("cb", self.data),
        }


@dataclass(frozen=True, slots=True)
class CallObject:
    """The result of one contract call, as kept in the calls tree (version 2)."""

    caller: Id
    caller_nonce: int
    height: int
    contract: Id
    gas_price: int
    gas_used: int
    return_value: bytes
    return_type: int  # 0 ok, 1 error, 2 revert
    log: tuple[LogEntry, ...] = ()

    def __post_init__(self) -> None:
        if self.return_type not in (0, 1, 2):
            raise ValueError(f"return_type must be 0, 1 or 2, got {self.return_type}")

    @property
    def return_type_name(self) -> str:
        return RETURN_TYPE_NAMES[self.return_type]

    @property
    def key(self) -> bytes:
        """Key in the calls tree."""
        return call_key(self.contract.value, self.caller.value, self.caller_nonce)

    def serialize(self) -> bytes:
        return rlp.encode(
            [
                rlp.encode_int(TAG_CALL),
                rlp.encode_int(CALL_VERSION),
                self.caller.to_bytes(),
                rlp.encode_int(self.caller_nonce),
                rlp.encode_int(self.height),
                self.contract.to_bytes(),
                rlp.encode_int(self.gas_price),
                rlp.encode_int(self.gas_used),
                self.return_value,
                rlp.encode_int(self.return_type),
                [entry.to_rlp() for entry in self.log],
            ]
        )

    @classmethod
    def deserialize(cls, data: bytes, where: str = "call") -> CallObject:
        try:
            fields = rlp.expect_list(rlp.decode(data), where)
        except DecodeError as exc:
            raise exc.at(where) from None
        if len(fields) != 11:
            raise DecodeError(f"call object v2 has 9 fields, got {len(fields) - 2}", where)
        if rlp.decode_int(fields[0], f"{where}.tag") != TAG_CALL:
            raise DecodeError("not a call object (tag 41)", where)
        if rlp.decode_int(fields[1], f"{where}.version") != CALL_VERSION:
            raise DecodeError("only call object version 2 is used in channels", where)
        log = []
        for i, raw in enumerate(rlp.expect_list(fields[10], f"{where}.log")):
            at = f"{where}.log[{i}]"
            parts = rlp.expect_list(raw, at)
            if len(parts) != 3:
                raise DecodeError("a log entry is [address, topics, data]", at)
            topics = tuple(
                int.from_bytes(rlp.expect_bytes(t, at), "big")
                for t in rlp.expect_list(parts[1], at)
            )
            log.append(
                LogEntry(rlp.expect_bytes(parts[0], at), topics, rlp.expect_bytes(parts[2], at))
            )
        return_type = rlp.decode_int(fields[9], f"{where}.return_type")
        if return_type > 2:
            raise DecodeError(f"unknown return type {return_type}", f"{where}.return_type")
        contract = Id.from_bytes(rlp.expect_bytes(fields[5], f"{where}.contract_id"))
        if contract.kind is not IdKind.CONTRACT:
            raise DecodeError("contract_id is not a contract id", f"{where}.contract_id")
        return cls(
            caller=Id.from_bytes(rlp.expect_bytes(fields[2], f"{where}.caller_id")),
            caller_nonce=rlp.decode_int(fields[3], f"{where}.caller_nonce"),
            height=rlp.decode_int(fields[4], f"{where}.height"),
            contract=contract,
            gas_price=rlp.decode_int(fields[6], f"{where}.gas_price"),
            gas_used=rlp.decode_int(fields[7], f"{where}.gas_used"),
            return_value=rlp.expect_bytes(fields[8], f"{where}.return_value"),
            return_type=return_type,
            log=tuple(log),
        )

    def to_dict(self) -> dict[str, Any]:
        """The node's JSON (``get.contract_call`` / ``dry_run.call_contract`` replies)."""
        return {
            "caller_id": self.caller.api,
            "caller_nonce": self.caller_nonce,
            "contract_id": self.contract.api,
            "gas_price": self.gas_price,
            "gas_used": self.gas_used,
            "height": self.height,
            "log": [entry.to_dict() for entry in self.log],
            "return_type": self.return_type_name,
            "return_value": encoding.encode("cb", self.return_value),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "call") -> CallObject:
        """Read the node's JSON form; malformed input raises DecodeError."""
        if not isinstance(data, Mapping):
            raise DecodeError("a call object is a JSON object", where)
        expected = {
            "caller_id",
            "caller_nonce",
            "contract_id",
            "gas_price",
            "gas_used",
            "height",
            "log",
            "return_type",
            "return_value",
        }
        if set(data) != expected:
            raise DecodeError(f"call object fields differ: {sorted(set(data) ^ expected)}", where)
        ints = {}
        for name in ("caller_nonce", "height", "gas_price", "gas_used"):
            value = data[name]
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise DecodeError(f"{name} must be a non-negative integer", where)
            ints[name] = value
        if data["return_type"] not in RETURN_TYPE_NAMES:
            raise DecodeError(f"unknown return_type {data['return_type']!r}", where)
        log = data["log"]
        if not isinstance(log, list):
            raise DecodeError("log must be a list", where)
        entries = []
        for entry in log:
            if not isinstance(entry, Mapping) or set(entry) != {"address", "topics", "data"}:
                raise DecodeError("a log entry has address, topics and data", where)
            topics = entry["topics"]
            if not isinstance(topics, list) or not all(
                isinstance(t, int) and not isinstance(t, bool) and 0 <= t < 1 << 256 for t in topics
            ):
                raise DecodeError("log topics are 256-bit integers", where)
            entries.append(
                LogEntry(
                    encoding.decode(entry["address"], "ct"),
                    tuple(topics),
                    encoding.decode(entry["data"], "cb"),
                )
            )
        try:
            caller = Id.from_api(data["caller_id"])
            contract = Id.from_api(data["contract_id"])
            value = encoding.decode(data["return_value"], "cb")
        except DecodeError as exc:
            raise DecodeError(exc.reason, where) from None
        if contract.kind is not IdKind.CONTRACT:
            raise DecodeError("contract_id must be a ct_ id", where)
        return cls(
            caller=caller,
            contract=contract,
            return_value=value,
            return_type=RETURN_TYPE_NAMES.index(data["return_type"]),
            log=tuple(entries),
            **ints,
        )


def contract_entries(
    pubkey: bytes, contract: ContractObject | bytes, store: Mapping[bytes, bytes]
) -> dict[bytes, bytes]:
    """The contracts-tree entries of one contract: its object, the store mark, its store."""
    obj = contract.serialize() if isinstance(contract, ContractObject) else bytes(contract)
    prefix = store_prefix(pubkey)
    out = {bytes(pubkey): obj, prefix: b"\x00"}
    for key, value in store.items():
        if not key:
            raise ValueError("store keys are non-empty")
        if value:  # writing an empty value deletes a key
            out[prefix + key] = value
    return out


def split_contracts_tree(
    entries: Mapping[bytes, bytes],
) -> dict[bytes, tuple[bytes, dict[bytes, bytes]]]:
    """Contract pubkey -> (serialized object, store) of a contracts tree's entries."""
    out: dict[bytes, tuple[bytes, dict[bytes, bytes]]] = {}
    for key, value in entries.items():
        if len(key) == 32:
            out.setdefault(key, (value, {}))
            out[key] = (value, out[key][1])
    for key, value in entries.items():
        if len(key) > 33 and key[32:33] == STORE_MARK and key[:32] in out:
            out[key[:32]][1][key[33:]] = value
    return out


__all__ = [
    "EMPTY_META",
    "META_REGISTER_KEY",
    "STORE_MARK",
    "TAG_CALL",
    "TAG_CONTRACT",
    "CallObject",
    "ContractObject",
    "LogEntry",
    "call_id",
    "call_key",
    "contract_entries",
    "contract_pubkey",
    "initial_store",
    "register_key",
    "split_contracts_tree",
    "store_prefix",
]
