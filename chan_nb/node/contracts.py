"""Contracts in the embedded node's channels: the state they live in, the node's rules, the VM seam.

A channel state with contracts is the participants' (and contract accounts') balances
plus the contracts tree (objects, store marks, stores) and the calls tree of the round
(fate.md §6.5). :class:`ContractsState` holds the two trees; balances stay a plain
``dict`` so transfer-only channels keep their fast path (an empty ``ContractsState``
hashes exactly as before).

The node's own checks of the two contract updates (fate.md §6.3–§6.4: vm/abi pair,
participants, the reserve, the ``init`` function id, the stored abi) are made here, in
the node's order, before any code runs; running code is the VM's (:class:`ContractVm`),
which gets the full state trees and gives back the new trees and the call object.
What a call leaves for ``channels.get.contract_call`` (the per-FSM list that no hash
covers) is :class:`CallLog`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final, Protocol, TypeVar

from chan_nb import vm
from chan_nb.codec import contracts as ct
from chan_nb.codec import encoding, trees
from chan_nb.codec import state as codec_state
from chan_nb.codec.updates import (
    OffChainCallContract,
    OffChainMeta,
    OffChainNewContract,
    Update,
    unpack_ct_version,
)
from chan_nb.errors import ChanNbError, DecodeError
from chan_nb.protocol.codes import Reason
from chan_nb.protocol.methods import WS_GAS as WS_GAS  # one home: every WS contract update
from chan_nb.protocol.methods import WS_GAS_PRICE as WS_GAS_PRICE
from chan_nb.vm.calls import FATE_VMS
from chan_nb.vm.channel import AEVM_VMS

#: the contract update an apply function of the VM takes
U = TypeVar("U", OffChainNewContract, OffChainCallContract)

#: vm_version -> the abi it must be paired with (aect_contracts:is_legal_version; §0).
LEGAL_VM_ABI: Final[dict[int, int]] = {
    **{v: 1 for v in AEVM_VMS},
    **{v: 3 for v in FATE_VMS},
}

#: ``init``'s function id: the first 4 bytes of BLAKE2b("init") (call data starts ``2b 11``).
INIT_FUNCTION_ID: Final = bytes.fromhex("44d6441f")


def profile_of(era: str) -> vm.Profile:
    """The VM profile of an era (fate.md §0, §3.4): the 2020 (and 2019) builds → the
    recorded node's gas and rules, else Iris+."""
    return vm.RECORDED_2020 if era in ("recorded", "older") else vm.IRIS


class ContractRejected(ChanNbError):
    """A contract update breaks a node rule; ``reason`` is the node's (→ its error frame)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class NotSimulated(ContractRejected):
    """The embedded node cannot run this (no VM for it): answered with the generic −32603."""

    def __init__(self, detail: str) -> None:
        super().__init__(Reason.INTERNAL, detail)


def _frozen(entries: Mapping[bytes, bytes]) -> Mapping[bytes, bytes]:
    return MappingProxyType(dict(entries))


@dataclass(frozen=True)
class ContractsState:
    """The contracts tree and the round's calls tree of one channel state (key → bytes)."""

    contracts: Mapping[bytes, bytes] = field(default_factory=dict)
    calls: Mapping[bytes, bytes] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "contracts", _frozen(self.contracts))
        object.__setattr__(self, "calls", _frozen(self.calls))

    @property
    def empty(self) -> bool:
        return not self.contracts and not self.calls

    def pruned(self) -> ContractsState:
        """The state a new round starts from: the calls tree emptied (§6.5)."""
        return self if not self.calls else ContractsState(self.contracts, {})

    def has_contract(self, pubkey: bytes) -> bool:
        return len(pubkey) == 32 and pubkey in self.contracts

    def contract(self, pubkey: bytes) -> ct.ContractObject | None:
        raw = self.contracts.get(pubkey) if len(pubkey) == 32 else None
        return None if raw is None else ct.ContractObject.deserialize(raw)

    def store(self, pubkey: bytes) -> dict[bytes, bytes]:
        prefix = ct.store_prefix(pubkey)
        return {
            key[len(prefix) :]: value
            for key, value in self.contracts.items()
            if key.startswith(prefix) and len(key) > len(prefix)
        }

    def call_objects(self) -> list[ct.CallObject]:
        return [ct.CallObject.deserialize(raw) for raw in self.calls.values()]


EMPTY: Final = ContractsState()


# -- the state trees and their hash ------------------------------------------------------------


def state_trees(
    balances: Mapping[bytes, int], contracts: ContractsState = EMPTY
) -> trees.StateTrees:
    """The six trees of a state (accounts are nonce-0 v1 accounts, as the node keeps them)."""
    base = trees.StateTrees.from_balances(balances)
    if contracts.empty:
        return base
    return trees.StateTrees(
        accounts=base.accounts, calls=contracts.calls, contracts=contracts.contracts
    )


def channel_state_hash(balances: Mapping[bytes, int], contracts: ContractsState = EMPTY) -> bytes:
    """The state hash the off-chain tx signs; the accounts-only fast path without contracts."""
    if contracts.empty:
        return codec_state.state_hash(balances)
    return state_trees(balances, contracts).state_hash()


def split_trees(state: trees.StateTrees) -> tuple[dict[bytes, int], ContractsState]:
    """Balances and contracts of full state trees (what the VM gives back)."""
    return state.balances(), ContractsState(state.contracts, state.calls)


def poi_api(
    balances: Mapping[bytes, int],
    contracts: ContractsState,
    accounts: Iterable[bytes],
    contract_keys: Iterable[bytes],
) -> str:
    """``pi_`` of some accounts and contracts (each with its whole store); absent → not_found."""
    try:
        poi = state_trees(balances, contracts).poi(accounts=accounts, contracts=contract_keys)
    except trees.NotInTreeError as exc:
        raise ContractRejected(Reason.NOT_FOUND, str(exc)) from None
    return poi.to_api()


# -- the chain a contract sees -----------------------------------------------------------------


#: an AENS pointer: what it points at and its key
Pointer = tuple[vm.PointerKind, bytes]


@dataclass(frozen=True)
class PinnedBlock:
    """The pinned block a contract call sees (fate.md §5): read-only chain facts.

    ``accounts`` answers ``Chain.balance`` for accounts the channel does not hold;
    ``names`` AENS lookups: name → pointer key → (kind, pubkey).
    """

    height: int
    timestamp: int
    beneficiary: bytes
    difficulty: int = 0
    network_id: str = ""
    key_block_hashes: Mapping[int, bytes] = field(default_factory=dict)
    accounts: Mapping[bytes, int] = field(default_factory=dict)
    names: Mapping[bytes, Mapping[bytes, tuple[vm.PointerKind, bytes]]] = field(
        default_factory=dict
    )

    def account_balance(self, pubkey: bytes) -> int | None:
        return self.accounts.get(pubkey)

    def resolve_name(self, name: bytes, key: bytes) -> tuple[vm.PointerKind, bytes] | None:
        return self.names.get(name.lower(), {}).get(key)


# -- the VM seam -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Executed:
    """What running one contract update gave: the new trees and its call object."""

    state: trees.StateTrees
    call: ct.CallObject


class ContractVm(Protocol):
    """What the node needs from a VM: one contract update on the full state trees.

    Both run *after* the node's own checks; both raise :class:`ContractRejected` for what
    the VM refuses (``init`` failing → 1007) and :class:`NotSimulated` for what it does
    not model (AEVM code).
    """

    def create(
        self, state: trees.StateTrees, update: OffChainNewContract, ctx: RoundContext
    ) -> Executed: ...

    def call(
        self, state: trees.StateTrees, update: OffChainCallContract, ctx: RoundContext
    ) -> Executed: ...


#: the VM's refusal codes -> the node's reasons (None: the generic -32603)
_REFUSALS: Final[dict[int | None, Reason]] = {
    1001: Reason.INSUFFICIENT_BALANCE,
    1007: Reason.CONTRACT_INIT_FAILED,
    1019: Reason.WRONG_ABI_VERSION,
    1020: Reason.WRONG_VM_VERSION,
    None: Reason.INTERNAL,
}


@dataclass(frozen=True)
class _OnChain:
    """The pinned block's on-chain reads, as :mod:`chan_nb.vm` asks for them."""

    env: PinnedBlock

    def account_balance(self, pubkey: bytes) -> int | None:
        return self.env.account_balance(pubkey)

    def resolve_name(self, name: bytes, key: bytes) -> tuple[vm.PointerKind, bytes] | None:
        return self.env.resolve_name(name, key)

    def is_oracle(self, pubkey: bytes) -> bool:
        return False  # the embedded chain has no oracles

    def is_contract(self, pubkey: bytes) -> bool:
        return False  # nor on-chain contracts

    def is_payable(self, pubkey: bytes) -> bool:
        return True


class FateVm:
    """:mod:`chan_nb.vm`'s channel-level API behind :class:`ContractVm`."""

    @staticmethod
    def _context(ctx: RoundContext) -> vm.ChannelContext:
        env = ctx.env
        pinned = vm.ChainEnv(
            height=env.height,
            timestamp=env.timestamp,
            beneficiary=env.beneficiary,
            difficulty=env.difficulty,
            network_id=env.network_id or "ae_mainnet",
            key_block_hashes=env.key_block_hashes,
        )
        return vm.ChannelContext(pinned, _OnChain(env), ctx.profile, ctx.reserve)

    def create(
        self, state: trees.StateTrees, update: OffChainNewContract, ctx: RoundContext
    ) -> Executed:
        return self._apply(vm.apply_new_contract, state, update, ctx)

    def call(
        self, state: trees.StateTrees, update: OffChainCallContract, ctx: RoundContext
    ) -> Executed:
        return self._apply(vm.apply_call_contract, state, update, ctx)

    def _apply(
        self,
        apply: Callable[[trees.StateTrees, U, int, vm.ChannelContext], vm.ContractUpdate],
        state: trees.StateTrees,
        update: U,
        ctx: RoundContext,
    ) -> Executed:
        """Run one contract update in the VM; its refusals become the node's reasons."""
        try:
            done = apply(state, update, ctx.round, self._context(ctx))
        except vm.UpdateRefused as exc:
            raise ContractRejected(_REFUSALS.get(exc.code, Reason.INTERNAL), str(exc)) from None
        except vm.VmNotImplemented as exc:
            raise NotSimulated(str(exc)) from None
        return Executed(done.trees, done.call)


#: Whether this build runs contract code (the FATE VM is there).
VM_INSTALLED: Final = True


def default_vm() -> ContractVm:
    """The VM the node runs contracts with: the FATE VM."""
    return _FATE_VM


_FATE_VM: Final = FateVm()


# -- a round with contract updates -------------------------------------------------------------


@dataclass(frozen=True)
class RoundContext:
    """Everything a round's contract updates depend on besides the state."""

    participants: tuple[bytes, bytes]
    reserve: int
    round: int
    env: PinnedBlock
    profile: vm.Profile
    vm: ContractVm


def has_contract_updates(updates: Iterable[Update]) -> bool:
    return any(isinstance(u, OffChainNewContract | OffChainCallContract) for u in updates)


def apply_contract_round(
    balances: Mapping[bytes, int],
    contracts: ContractsState,
    updates: Sequence[Update],
    ctx: RoundContext,
) -> tuple[dict[bytes, int], ContractsState]:
    """The state after one round's updates (the calls tree pruned first, §6.5).

    Balance updates follow :mod:`chan_nb.codec.state`; contract updates the node's
    checks, then the VM. Raises :class:`ContractRejected` (or the balance rules'
    ``InvalidUpdate``) naming the node's reason.
    """
    out = dict(balances)
    current = contracts.pruned()
    for update in updates:
        if isinstance(update, OffChainNewContract):
            out, current = _new_contract(out, current, update, ctx)
        elif isinstance(update, OffChainCallContract):
            out, current, _ = call_contract(out, current, update, ctx)
        elif isinstance(update, OffChainMeta):
            continue
        else:
            out = codec_state.apply_updates(
                out,
                [update],
                codec_state.by_pubkey,
                participants=ctx.participants,
                reserve=ctx.reserve,
            )
    return out, current


def check_new_contract(
    balances: Mapping[bytes, int], update: OffChainNewContract, ctx: RoundContext
) -> None:
    """The node's checks before ``init`` runs (§6.3 steps 1, 3, 5)."""
    vm, abi = unpack_ct_version(update.ct_version)
    if LEGAL_VM_ABI.get(vm) != abi:
        raise ContractRejected(Reason.INTERNAL, f"illegal vm/abi pair {vm}/{abi}")
    owner = update.owner.value
    if owner not in ctx.participants:
        raise ContractRejected(Reason.INVALID_PUBKEYS, "the owner is not a participant")
    if update.deposit < 0:
        raise ContractRejected(Reason.NEGATIVE_AMOUNT, "the deposit is negative")
    if balances.get(owner, 0) - update.deposit < max(ctx.reserve, 0):
        raise ContractRejected(Reason.INSUFFICIENT_BALANCE, "the deposit breaks the reserve")
    if vm in FATE_VMS and update.call_data[2:6] != INIT_FUNCTION_ID:
        raise ContractRejected(Reason.CONTRACT_INIT_FAILED, "the call data does not call init")


def _new_contract(
    balances: dict[bytes, int],
    contracts: ContractsState,
    update: OffChainNewContract,
    ctx: RoundContext,
) -> tuple[dict[bytes, int], ContractsState]:
    check_new_contract(balances, update, ctx)
    pubkey = ct.contract_pubkey(update.owner.value, ctx.round)
    if contracts.has_contract(pubkey):
        raise ContractRejected(Reason.INTERNAL, "a contract with this id exists (one per round)")
    done = ctx.vm.create(state_trees(balances, contracts), update, ctx)
    if done.call.return_type != 0:
        raise ContractRejected(Reason.CONTRACT_INIT_FAILED, "init did not return ok")
    new_balances, new_contracts = split_trees(done.state)
    return new_balances, new_contracts


def check_call_contract(
    balances: Mapping[bytes, int],
    contracts: ContractsState,
    update: OffChainCallContract,
    ctx: RoundContext,
) -> ct.ContractObject:
    """The node's checks before a call runs (§6.4 steps 1–2); the called contract."""
    caller = update.caller.value
    if caller not in ctx.participants:
        raise ContractRejected(Reason.INVALID_PUBKEYS, "the caller is not a participant")
    if update.amount < 0:
        raise ContractRejected(Reason.NEGATIVE_AMOUNT, "the amount is negative")
    contract = contracts.contract(update.contract.value)
    if contract is None:
        raise ContractRejected(Reason.INTERNAL, "no such contract in the channel")
    if balances.get(caller, 0) - update.amount < max(ctx.reserve, 0):
        raise ContractRejected(Reason.INSUFFICIENT_BALANCE, "the amount breaks the reserve")
    vm, abi = unpack_ct_version(contract.ct_version)
    if abi != update.abi_version:
        raise ContractRejected(Reason.WRONG_ABI_VERSION, "the contract has another abi")
    if vm not in FATE_VMS | AEVM_VMS:
        raise ContractRejected(Reason.WRONG_VM_VERSION, "the contract's vm is unknown")
    return contract


def call_contract(
    balances: dict[bytes, int],
    contracts: ContractsState,
    update: OffChainCallContract,
    ctx: RoundContext,
) -> tuple[dict[bytes, int], ContractsState, ct.CallObject]:
    """One call: the node's checks, then the VM (a failing call still makes a state)."""
    check_call_contract(balances, contracts, update, ctx)
    done = ctx.vm.call(state_trees(balances, contracts), update, ctx)
    new_balances, new_contracts = split_trees(done.state)
    return new_balances, new_contracts, done.call


# -- what the node answers about contracts -----------------------------------------------------


def contract_json(contracts: ContractsState, pubkey: bytes) -> dict[str, Any]:
    """``channels.get.contract``'s reply (fate.md §6.6); an unknown id → not_found."""
    obj = contracts.contract(pubkey)
    if obj is None:
        raise ContractRejected(Reason.NOT_FOUND, "no such contract")
    vm, abi = unpack_ct_version(obj.ct_version)
    return {
        "contract": {
            "id": encoding.encode("ct", pubkey),
            "owner_id": obj.owner.api,
            "vm_version": vm,
            "abi_version": abi,
            "active": obj.active,
            "referrer_ids": [r.api for r in obj.referrers],
            "deposit": obj.deposit,
        },
        "contract_state": {
            encoding.encode("ck", key): encoding.encode("cv", value)
            for key, value in sorted(contracts.store(pubkey).items())
        },
    }


@dataclass
class CallLog:
    """The FSM's calls of co-signed rounds, for ``get.contract_call`` (in no hash, §6.5)."""

    calls: dict[bytes, bytes] = field(default_factory=dict)  # calls-tree key -> call object

    def add_round(self, contracts: ContractsState) -> None:
        self.calls.update(contracts.calls)

    def clear(self) -> None:
        self.calls.clear()

    def lookup(self, contract: bytes, caller: bytes, round_: int) -> ct.CallObject | None:
        raw = self.calls.get(ct.call_key(contract, caller, round_))
        return None if raw is None else ct.CallObject.deserialize(raw)


def decode_contract_id(text: str) -> bytes | None:
    try:
        return encoding.decode(text, "ct")
    except DecodeError:
        return None
