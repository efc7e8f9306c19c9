"""The chain as a channel's contract sees it (fate.md §5): the pinned block and on-chain reads.

:class:`ChainEnv` is the pinned block's environment (height, time, beneficiary …);
:class:`OnChain` is the read-only on-chain state of that block that FATE may consult
inside a channel — names, oracles and their queries, accounts — as an interface the
embedded node (or a test) implements; :class:`StaticOnChain` is a plain in-memory one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol, runtime_checkable

from chan_nb.codec import encoding
from chan_nb.vm.gas import BLOCK_GAS_LIMIT

#: what a name pointer points at (``aeser_id:specialize``)
PointerKind = Literal["account", "oracle", "contract", "channel"]


@dataclass(frozen=True, slots=True)
class ChainEnv:
    """The pinned block: GENERATION, TIMESTAMP (ms), BENEFICIARY, DIFFICULTY, GASLIMIT …"""

    height: int
    timestamp: int
    beneficiary: bytes
    difficulty: int = 0
    gas_limit: int = BLOCK_GAS_LIMIT
    network_id: str = "ae_mainnet"
    key_block_hashes: Mapping[int, bytes] = field(default_factory=dict)  # for BLOCKHASH


@dataclass(frozen=True, slots=True)
class OracleInfo:
    """An on-chain oracle as FATE reads it (``aeo_oracles``)."""

    query_format: bytes  # FATE: the serialized typerep of the question type
    response_format: bytes
    query_fee: int
    ttl: int  # absolute expiry height
    abi_version: int = 3  # 3 FATE; 0 a "no VM" oracle (string questions and answers)


@dataclass(frozen=True, slots=True)
class OracleQuery:
    """An on-chain oracle query (``aeo_query``): the raw question and response bytes."""

    question: bytes
    response: bytes | None = None  # None: not answered yet


@dataclass(frozen=True, slots=True)
class NameEntry:
    """A claimed on-chain name as ``AENS.lookup`` shows it (revoked names have none)."""

    owner: bytes
    ttl: int  # absolute expiry height
    pointers: tuple[tuple[bytes, PointerKind, bytes], ...]  # (key, kind, pubkey) in order


class OnChain(Protocol):
    """On-chain state of the pinned block (read only)."""

    def account_balance(self, pubkey: bytes) -> int | None:
        """Balance of an on-chain account (None: no such account)."""
        ...

    def resolve_name(self, name: bytes, key: bytes) -> tuple[PointerKind, bytes] | None:
        """The pointer ``key`` of name ``name`` (None: no name, revoked, no such key)."""
        ...

    def is_oracle(self, pubkey: bytes) -> bool: ...

    def is_contract(self, pubkey: bytes) -> bool: ...

    def is_payable(self, pubkey: bytes) -> bool: ...


@runtime_checkable
class OnChainOracles(Protocol):
    """Optional: an :class:`OnChain` that can also show oracles and their queries.

    The oracle-reading instructions need it; with an :class:`OnChain` that lacks it they
    raise VmNotImplemented (the embedded node's chain has no oracles).
    """

    def oracle(self, pubkey: bytes) -> OracleInfo | None:
        """The oracle registered at ``pubkey`` (None: none)."""
        ...

    def oracle_query(self, oracle: bytes, query_id: bytes) -> OracleQuery | None:
        """Query ``query_id`` of oracle ``oracle`` (None: no such query)."""
        ...


@runtime_checkable
class OnChainNames(Protocol):
    """Optional: an :class:`OnChain` that can also show whole name entries (AENS_LOOKUP)."""

    def name_entry(self, name: bytes) -> NameEntry | None:
        """The claimed name ``name`` (None: unknown, revoked or not a valid name)."""
        ...


@dataclass
class StaticOnChain:
    """An :class:`OnChain` (and :class:`OnChainOracles`, :class:`OnChainNames`) held in
    dicts: ``names`` maps name → key → (kind, pubkey); a name in ``name_owners``
    (name → (owner, ttl)) is also a whole entry for AENS_LOOKUP."""

    accounts: dict[bytes, int] = field(default_factory=dict)
    names: dict[bytes, dict[bytes, tuple[PointerKind, bytes]]] = field(default_factory=dict)
    oracles: dict[bytes, OracleInfo] = field(default_factory=dict)
    queries: dict[tuple[bytes, bytes], OracleQuery] = field(default_factory=dict)
    contracts: set[bytes] = field(default_factory=set)
    not_payable: set[bytes] = field(default_factory=set)
    name_owners: dict[bytes, tuple[bytes, int]] = field(default_factory=dict)  # owner, ttl

    def account_balance(self, pubkey: bytes) -> int | None:
        return self.accounts.get(pubkey)

    def resolve_name(self, name: bytes, key: bytes) -> tuple[PointerKind, bytes] | None:
        return self.names.get(name.lower(), {}).get(key)

    def is_oracle(self, pubkey: bytes) -> bool:
        return pubkey in self.oracles

    def name_entry(self, name: bytes) -> NameEntry | None:
        owner = self.name_owners.get(name.lower())
        if owner is None:
            return None
        pointers = self.names.get(name.lower(), {})
        return NameEntry(owner[0], owner[1], tuple((k, *v) for k, v in pointers.items()))

    def oracle(self, pubkey: bytes) -> OracleInfo | None:
        return self.oracles.get(pubkey)

    def oracle_query(self, oracle: bytes, query_id: bytes) -> OracleQuery | None:
        return self.queries.get((oracle, query_id))

    def is_contract(self, pubkey: bytes) -> bool:
        return pubkey in self.contracts

    def is_payable(self, pubkey: bytes) -> bool:
        return pubkey not in self.not_payable


#: The block the recorded environment test pinned (``sc_ws_environment_contract.md``).
RECORDED_ENV: Final = ChainEnv(
    height=1903,
    timestamp=1585147276254,
    beneficiary=encoding.decode("ak_2evAxTKozswMyw9kXkvjJt3MbomCR1nLrf91BduXKdJLrvaaZt", "ak"),
)

__all__ = [
    "RECORDED_ENV",
    "ChainEnv",
    "NameEntry",
    "OnChain",
    "OnChainNames",
    "OnChainOracles",
    "OracleInfo",
    "OracleQuery",
    "PointerKind",
    "StaticOnChain",
]
