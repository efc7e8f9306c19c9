"""The FATE virtual machine, pure Python and exact: contracts running inside a state channel.

Pure (no I/O); imports only :mod:`chan_nb.codec` and :mod:`chan_nb.errors`. Two node
profiles: :data:`RECORDED_2020` (the node that made the shared recordings: pre-Iris gas,
``init`` stripped from stored code, contract objects v1, Erlang term order, failed calls
keep the amount) and :data:`IRIS` (Iris-final / current nodes at protocol 5: Iris base
gas, traversal / store-read / code-load gas, FATE order, refunds). See ``docs/fate.md``.

The channel-level API (stable; what the embedded node and the client use)::

    ctx = ChannelContext(env=ChainEnv(height, timestamp, beneficiary), onchain=StaticOnChain(),
                         profile=IRIS, reserve=channel_reserve)

    new_round(trees: StateTrees) -> StateTrees
        # the calls tree emptied: apply a round's updates to this

    apply_new_contract(trees, update: OffChainNewContract, round_: int, ctx) -> ContractUpdate
    apply_call_contract(trees, update: OffChainCallContract, round_: int, ctx) -> ContractUpdate
        # ContractUpdate: .trees (new StateTrees, calls tree holds the call), .call (CallObject:
        # caller_nonce = height = round_), .contract (pubkey), .state_hash, .result (ExecResult)
        # a failed call (error/revert) still gives a ContractUpdate; a refused update raises
        # UpdateRefused(.reason, .code: the WS data code 1001/1007/1019/1020 or None = -32603)

    apply_round(trees, updates: Iterable[Update], round_: int, ctx) -> RoundResult
        # new_round + every update (transfers, deposits, withdrawals, contract updates);
        # RoundResult: .trees, .calls (tuple of CallObject), .state_hash

    dry_run(trees, update: OffChainCallContract, latest_round: int, ctx) -> CallObject
        # the call in round latest_round + 1 on a copy; trees are not changed

Lower level: :func:`execute` (one call against a :class:`World`, giving an
:class:`ExecResult`), :class:`CallSpec`. Interfaces: :class:`ChainEnv` (the pinned
block), :class:`OnChain` (names, oracles, on-chain accounts of the pinned block;
:class:`StaticOnChain` holds them in dicts). A case the VM does not model exactly raises
:class:`VmNotImplemented` — never a guessed result.
"""

from __future__ import annotations

from chan_nb.vm.chain import RECORDED_ENV, ChainEnv, OnChain, PointerKind, StaticOnChain
from chan_nb.vm.channel import (
    REFUSAL_CODES,
    ChannelContext,
    ContractUpdate,
    RoundResult,
    UpdateRefused,
    apply_call_contract,
    apply_new_contract,
    apply_round,
    dry_run,
    new_round,
)
from chan_nb.vm.crypto import keccak256
from chan_nb.vm.engine import CallSpec, ExecResult, execute
from chan_nb.vm.errors import VmNotImplemented
from chan_nb.vm.profile import IRIS, PROFILES, RECORDED_2020, Profile
from chan_nb.vm.world import World

__all__ = [
    "IRIS",
    "PROFILES",
    "RECORDED_2020",
    "RECORDED_ENV",
    "REFUSAL_CODES",
    "CallSpec",
    "ChainEnv",
    "ChannelContext",
    "ContractUpdate",
    "ExecResult",
    "OnChain",
    "PointerKind",
    "Profile",
    "RoundResult",
    "StaticOnChain",
    "UpdateRefused",
    "VmNotImplemented",
    "World",
    "apply_call_contract",
    "apply_new_contract",
    "apply_round",
    "dry_run",
    "execute",
    "keccak256",
    "new_round",
]
