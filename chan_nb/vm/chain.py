"""The chain as a channel's contract sees it (fate.md §5): the pinned block and on-chain reads.

:class:`ChainEnv` is the pinned block's environment (height, time, beneficiary …);
:class:`OnChain` is the read-only on-chain state of that block that FATE may consult
inside a channel — names, oracles, accounts — as an interface the embedded node (or a
test) implements; :class:`StaticOnChain` is a plain in-memory one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, Protocol

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


@dataclass
class StaticOnChain:
    """An :class:`OnChain` held in dicts (names map name → key → (kind, pubkey))."""

    accounts: dict[bytes, int] = field(default_factory=dict)
    names: dict[bytes, dict[bytes, tuple[PointerKind, bytes]]] = field(default_factory=dict)
    oracles: set[bytes] = field(default_factory=set)
    contracts: set[bytes] = field(default_factory=set)
    not_payable: set[bytes] = field(default_factory=set)

    def account_balance(self, pubkey: bytes) -> int | None:
        return self.accounts.get(pubkey)

    def resolve_name(self, name: bytes, key: bytes) -> tuple[PointerKind, bytes] | None:
        return self.names.get(name.lower(), {}).get(key)

    def is_oracle(self, pubkey: bytes) -> bool:
        return pubkey in self.oracles

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

__all__ = ["RECORDED_ENV", "ChainEnv", "OnChain", "PointerKind", "StaticOnChain"]
