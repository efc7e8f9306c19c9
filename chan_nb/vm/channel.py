"""Contracts in a channel: applying ``OffChainNewContract`` / ``OffChainCallContract`` to a state.

The API the embedded node and the client share (fate.md §6.3–6.5):

- :func:`new_round` — the calls tree is emptied before every round's updates;
- :func:`apply_new_contract`, :func:`apply_call_contract` — one update on a state of
  round ``round_`` → :class:`ContractUpdate` (new trees, the call object, the state hash);
- :func:`apply_round` — a whole round (transfers, deposits, withdrawals, contract updates);
- :func:`dry_run` — a call against the next round on a throw-away copy: its call object.

A refused update raises :class:`UpdateRefused` with the node's reason and WebSocket data
code; a failed call is not refused (it still makes a valid state, §6.4).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final

from chan_nb.codec import contracts as ct
from chan_nb.codec import state as balance_rules
from chan_nb.codec import updates as upd
from chan_nb.codec.fate.bytecode import FateCode, function_id
from chan_nb.codec.fate.code import CodeObject
from chan_nb.codec.ids import Id
from chan_nb.codec.trees import Account, StateTrees
from chan_nb.errors import ChanNbError, DecodeError
from chan_nb.vm.chain import ChainEnv, OnChain, StaticOnChain
from chan_nb.vm.engine import CallSpec, ExecResult, execute, valid_call
from chan_nb.vm.errors import VmNotImplemented
from chan_nb.vm.profile import IRIS, Profile
from chan_nb.vm.world import World

#: gas of the ``init`` run of a new contract (``aect_channel_contract``)
INIT_GAS: Final = 1_000_000
FATE_ABI: Final = 3
FATE_VMS: Final = frozenset({5, 7, 8})
AEVM_VMS: Final = frozenset({1, 3, 4, 6})
RETURN_TYPE_CODE: Final = {"ok": 0, "error": 1, "revert": 2}

#: reason -> WebSocket error data code (None: the node answers -32603)
REFUSAL_CODES: Final[dict[str, int | None]] = {
    "insufficient_balance": 1001,
    "contract_init_failed": 1007,
    "wrong_abi_version": 1019,
    "wrong_vm_version": 1020,
    "unknown_contract": None,
    "illegal_ct_version": None,
    "contract_exists": None,
}


class UpdateRefused(ChanNbError):
    """The node refuses the update (no new state); ``reason`` and ``code`` say why."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.code = REFUSAL_CODES[reason]


@dataclass(frozen=True)
class ChannelContext:
    """What a channel's contract runs against: pinned block, on-chain reads, node rules."""

    env: ChainEnv = field(default_factory=lambda: ChainEnv(1, 0, bytes(32)))
    onchain: OnChain = field(default_factory=StaticOnChain)
    profile: Profile = IRIS
    reserve: int = 0  # the channel reserve (participants must keep it)


@dataclass(frozen=True)
class ContractUpdate:
    """A contract update applied: the new trees (calls tree included) and its call."""

    trees: StateTrees
    call: ct.CallObject
    contract: bytes  # the contract's pubkey
    result: ExecResult

    @property
    def state_hash(self) -> bytes:
        return self.trees.state_hash()


@dataclass(frozen=True)
class RoundResult:
    """A round applied: its trees and the call objects it made, in update order."""

    trees: StateTrees
    calls: tuple[ct.CallObject, ...]

    @property
    def state_hash(self) -> bytes:
        return self.trees.state_hash()


def new_round(trees: StateTrees) -> StateTrees:
    """The trees a round's updates start from: the calls tree emptied (§6.5)."""
    return _with_calls(trees, {})


def _with_calls(trees: StateTrees, calls: dict[bytes, bytes]) -> StateTrees:
    return StateTrees(
        accounts=trees.accounts,
        calls=calls,
        channels=trees.channels,
        contracts=trees.contracts,
        ns=trees.ns,
        oracles=trees.oracles,
    )


def _pay(world: World, payer: bytes, payee: bytes, amount: int, reserve: int, what: str) -> None:
    if amount < 0:
        raise UpdateRefused("insufficient_balance", f"negative {what}")
    have = world.balance(payer)
    if have is None or have - amount < reserve:
        raise UpdateRefused("insufficient_balance", f"the {what} breaks the channel reserve")
    world.move(payer, payee, amount)


def _code(raw: bytes) -> tuple[CodeObject, FateCode]:
    try:
        obj = CodeObject.deserialize(raw)
        return obj, obj.fate()
    except DecodeError as exc:
        raise VmNotImplemented(f"contract code that does not decode as FATE: {exc}") from None


def _call_object(
    caller: Id, round_: int, contract: bytes, gas_price: int, result: ExecResult
) -> ct.CallObject:
    return ct.CallObject(
        caller=caller,
        caller_nonce=round_,
        height=round_,
        contract=Id.contract(contract),
        gas_price=gas_price,
        gas_used=result.gas_used,
        return_value=result.return_value,
        return_type=RETURN_TYPE_CODE[result.return_type],
        log=result.logs,
    )


def _add_call(trees: StateTrees, call: ct.CallObject) -> StateTrees:
    return _with_calls(trees, {**trees.calls, call.key: call.serialize()})


def apply_new_contract(
    trees: StateTrees, update: upd.OffChainNewContract, round_: int, ctx: ChannelContext
) -> ContractUpdate:
    """Create a contract in round ``round_`` and run its ``init`` (§6.3)."""
    vm, abi = upd.unpack_ct_version(update.ct_version)
    if vm in AEVM_VMS and abi == 1:
        raise VmNotImplemented("AEVM contracts (vm 1-6, abi 1) need an AEVM")
    if vm not in FATE_VMS or abi != FATE_ABI:
        raise UpdateRefused("illegal_ct_version", f"vm {vm} / abi {abi}")
    owner = update.owner.value
    pubkey = ct.contract_pubkey(owner, round_)
    world = World.from_trees(trees)
    if pubkey in world.contracts or pubkey in world.accounts:
        raise UpdateRefused("contract_exists", "a contract with this id exists (same owner, round)")
    code_obj, fate = _code(update.code)
    stored = code_obj.for_channel() if (ctx.profile.strip_init or vm == 5) else bytes(update.code)
    v2 = ctx.profile.contract_object_v2 and vm >= 7
    world.contracts[pubkey] = ct.ContractObject(
        update.owner, update.ct_version, stored, update.deposit, version=2 if v2 else 1
    )
    world.accounts[pubkey] = Account(0, 0)
    _pay(world, owner, pubkey, update.deposit, ctx.reserve, "deposit")
    parsed = valid_call(update.call_data)
    if parsed is None or parsed[0] != function_id("init"):
        raise UpdateRefused("contract_init_failed", "the call data does not call init")
    world.stores[pubkey] = ct.initial_store()
    spec = CallSpec(
        contract=pubkey,
        code=fate,
        vm_version=vm,
        call_data=update.call_data,
        caller=owner,
        origin=owner,
        value=0,
        gas=INIT_GAS,
        gas_price=1,
        allow_init=True,
    )
    result = execute(world, spec, ctx.env, ctx.onchain, ctx.profile)
    if result.world is None:
        raise UpdateRefused(
            "contract_init_failed",
            f"init ended in {result.return_type}: {result.return_value.decode('utf-8', 'replace')}",
        )
    call_obj = _call_object(update.owner, round_, pubkey, 0, result)
    new = _add_call(result.world.to_trees(), call_obj)
    return ContractUpdate(new, call_obj, pubkey, result)


def apply_call_contract(
    trees: StateTrees, update: upd.OffChainCallContract, round_: int, ctx: ChannelContext
) -> ContractUpdate:
    """Call a contract in round ``round_`` (§6.4); a failed call still makes a state."""
    world = World.from_trees(trees)
    pubkey = update.contract.value
    obj = world.contracts.get(pubkey)
    if obj is None:
        raise UpdateRefused("unknown_contract", f"no contract {update.contract.api}")
    vm, abi = upd.unpack_ct_version(obj.ct_version)
    if abi != update.abi_version:
        raise UpdateRefused("wrong_abi_version", f"the contract has abi {abi}")
    if vm in AEVM_VMS:
        raise VmNotImplemented("calls to AEVM contracts need an AEVM")
    if vm not in FATE_VMS:
        raise UpdateRefused("wrong_vm_version", f"vm {vm}")
    caller = update.caller.value
    _pay(world, caller, pubkey, update.amount, ctx.reserve, "amount")
    _, fate = _code(obj.code)
    spec = CallSpec(
        contract=pubkey,
        code=fate,
        vm_version=vm,
        call_data=update.call_data,
        caller=caller,
        origin=caller,
        value=update.amount,
        gas=update.gas,
        gas_price=update.gas_price,
    )
    result = execute(world, spec, ctx.env, ctx.onchain, ctx.profile)
    after = result.world
    if after is None:
        after = world
        if ctx.profile.refund_failed_call:
            after.move(pubkey, caller, update.amount)
    call_obj = _call_object(update.caller, round_, pubkey, update.gas_price, result)
    new = _add_call(after.to_trees(), call_obj)
    return ContractUpdate(new, call_obj, pubkey, result)


def apply_round(
    trees: StateTrees, updates: Iterable[upd.Update], round_: int, ctx: ChannelContext
) -> RoundResult:
    """All updates of round ``round_`` on the previous round's trees (calls tree emptied first).

    Transfers, deposits and withdrawals follow :func:`chan_nb.codec.state.apply_updates`
    (participants: the accounts that are not contracts).
    """
    current = new_round(trees)
    made: list[ct.CallObject] = []
    for update in updates:
        if isinstance(update, upd.OffChainNewContract):
            done = apply_new_contract(current, update, round_, ctx)
            current, call = done.trees, done.call
            made.append(call)
        elif isinstance(update, upd.OffChainCallContract):
            done = apply_call_contract(current, update, round_, ctx)
            current = done.trees
            made.append(done.call)
        else:
            current = _apply_balances(current, update, ctx)
    return RoundResult(current, tuple(made))


def _apply_balances(trees: StateTrees, update: upd.Update, ctx: ChannelContext) -> StateTrees:
    world = World.from_trees(trees)
    participants = {pk for pk in world.accounts if pk not in world.contracts}
    balances = {pk: acc.balance for pk, acc in world.accounts.items()}
    new = balance_rules.apply_updates(
        balances, [update], balance_rules.by_pubkey, participants=participants, reserve=ctx.reserve
    )
    for pk, balance in new.items():
        world.set_balance(pk, balance)
    return world.to_trees()


def dry_run(
    trees: StateTrees, update: upd.OffChainCallContract, latest_round: int, ctx: ChannelContext
) -> ct.CallObject:
    """The call object the call would make in the next round; the state is not changed."""
    return apply_call_contract(new_round(trees), update, latest_round + 1, ctx).call


__all__ = [
    "INIT_GAS",
    "REFUSAL_CODES",
    "ChannelContext",
    "ContractUpdate",
    "RoundResult",
    "UpdateRefused",
    "apply_call_contract",
    "apply_new_contract",
    "apply_round",
    "dry_run",
    "new_round",
]
