"""The client's own copy of the channel state, run forward round by round (pure).

A state with contracts is not determined by the balances: its hash covers the contract
accounts, the contracts tree (code, stores) and the round's calls. So once a channel
holds a contract the client keeps the whole :class:`~chan_nb.codec.trees.StateTrees`
of its verified state and applies each proposed round to it itself — contract creation
and calls with the FATE VM (:mod:`chan_nb.vm`, the same channel-level rules the
embedded node runs) — then compares the state hash it gets with the one the node asks
it to sign. Nothing the node says about a contract's result is taken: the call objects
come from this client's own VM run.

What the VM runs against besides the state — the pinned block's environment, on-chain
reads, the node's gas profile — cannot be checked by the client: :class:`ClientVm` takes
them as given (by default the embedded node's current-era rules and a fixed block), so a
call whose result depends on them (``Chain.timestamp``, on-chain balances) is verified
only when those agree with the node's, and refused otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from chan_nb import vm
from chan_nb.codec import encoding, trees
from chan_nb.codec import state as codec_state
from chan_nb.codec import updates as upd
from chan_nb.codec.contracts import CallObject
from chan_nb.codec.state import InvalidUpdate, UpdateRule
from chan_nb.codec.trees import StateTrees
from chan_nb.errors import DecodeError


@dataclass(frozen=True)
class RanRound:
    """The trees after a round and the calls it made (in the order of its updates)."""

    trees: StateTrees
    calls: tuple[CallObject, ...] = ()

    @property
    def state_hash(self) -> bytes:
        return self.trees.state_hash()


class ContractRunner(Protocol):
    """What the client needs from a VM: a round on the full trees, and a dry run.

    An update that cannot be applied raises :class:`InvalidUpdate` (a call that
    reverts is not one: it still makes a round, its call object says how it ended).
    """

    def apply_round(
        self, state: StateTrees, updates: Sequence[upd.Update], round_: int, *, reserve: int
    ) -> RanRound: ...

    def dry_run(
        self, state: StateTrees, update: upd.OffChainCallContract, latest: int, *, reserve: int
    ) -> CallObject: ...


class BalancesOnly:
    """No VM: balance updates only; every contract update is one the client cannot check."""

    def apply_round(
        self, state: StateTrees, updates: Sequence[upd.Update], round_: int, *, reserve: int
    ) -> RanRound:
        accounts = dict(state.accounts)
        parties = [k for k in accounts if k not in state.contracts]
        for update in updates:
            if not isinstance(update, codec_state.BALANCE_UPDATES):
                raise _needs_vm(update)
            decoded = {k: trees.Account.decode(accounts[k]) for k in parties}
            after = codec_state.apply_updates(
                {k: a.balance for k, a in decoded.items()},
                (update,),
                codec_state.by_pubkey,
                participants=parties,
                reserve=reserve,
            )
            for key, balance in after.items():
                old = decoded[key]
                account = trees.Account(
                    old.nonce, balance, old.flags, old.ga_contract, old.ga_auth_fun
                )
                accounts[key] = account.serialize()
        return RanRound(_with(state, accounts=accounts, calls={}))

    def dry_run(
        self, state: StateTrees, update: upd.OffChainCallContract, latest: int, *, reserve: int
    ) -> CallObject:
        raise _needs_vm(update)


def _needs_vm(update: upd.Update) -> InvalidUpdate:
    return InvalidUpdate(UpdateRule.NEEDS_VM, f"{update.OP} changes balances only a VM can compute")


def _with(state: StateTrees, **parts: Mapping[bytes, bytes]) -> StateTrees:
    names = ("accounts", "calls", "channels", "contracts", "ns", "oracles")
    return StateTrees(**{name: parts.get(name, getattr(state, name)) for name in names})


@dataclass(frozen=True)
class ClientVm:
    """The FATE VM (:mod:`chan_nb.vm`'s channel API, the rules the embedded node runs).

    ``profile`` is the node's gas and behaviour profile (:data:`chan_nb.vm.IRIS`: a
    current node and the embedded node's default era; :data:`~chan_nb.vm.RECORDED_2020`
    the recordings' node); ``env``/``onchain`` what a call may read of the chain.
    """

    profile: vm.Profile = vm.IRIS
    env: vm.ChainEnv | None = None
    onchain: vm.OnChain | None = None

    def context(self, reserve: int) -> vm.ChannelContext:
        base = vm.ChannelContext(profile=self.profile, reserve=reserve)
        if self.env is not None:
            base = replace(base, env=self.env)
        if self.onchain is not None:
            base = replace(base, onchain=self.onchain)
        return base

    def apply_round(
        self, state: StateTrees, updates: Sequence[upd.Update], round_: int, *, reserve: int
    ) -> RanRound:
        try:
            done = vm.apply_round(state, updates, round_, self.context(reserve))
        except vm.UpdateRefused as exc:
            raise _refused(exc) from None
        except vm.VmNotImplemented as exc:
            raise InvalidUpdate(UpdateRule.NEEDS_VM, f"the VM cannot run it: {exc}") from None
        return RanRound(done.trees, done.calls)

    def dry_run(
        self, state: StateTrees, update: upd.OffChainCallContract, latest: int, *, reserve: int
    ) -> CallObject:
        try:
            return vm.dry_run(state, update, latest, self.context(reserve))
        except vm.UpdateRefused as exc:
            raise _refused(exc) from None
        except vm.VmNotImplemented as exc:
            raise InvalidUpdate(UpdateRule.NEEDS_VM, f"the VM cannot run it: {exc}") from None


def _refused(exc: vm.UpdateRefused) -> InvalidUpdate:
    rule = (
        UpdateRule.INSUFFICIENT_BALANCE
        if exc.reason == "insufficient_balance"
        else UpdateRule.INVALID_PUBKEYS
    )
    return InvalidUpdate(rule, str(exc))


#: The runner a ledger or policy uses when given none.
DEFAULT_VM: ContractRunner = ClientVm()


def default_runner() -> ContractRunner:
    """The FATE VM with the embedded node's default (current-era) rules."""
    return DEFAULT_VM


def trees_of_balances(balances: Mapping[str, int]) -> StateTrees:
    """The trees of an accounts-only state from ``ak_`` balances."""
    return StateTrees.from_balances({encoding.decode(k, "ak"): v for k, v in balances.items()})


def participant_balances(state: StateTrees, parties: Iterable[str]) -> dict[str, int]:
    """The parties' balances in ``state`` (``ak_`` keys; absent accounts hold 0)."""
    accounts = state.accounts
    out: dict[str, int] = {}
    for party in parties:
        raw = accounts.get(encoding.decode(party, "ak"))
        out[party] = 0 if raw is None else trees.Account.decode(raw).balance
    return out


def has_contracts(state: StateTrees) -> bool:
    return bool(state.contracts)


def run_round(
    state: StateTrees,
    updates: Sequence[upd.Update],
    round_: int,
    *,
    parties: Sequence[str],
    reserve: int = 0,
    vm: ContractRunner | None = None,
) -> RanRound:
    """The trees after round ``round_``'s ``updates``; :class:`InvalidUpdate` when one fails.

    Contract updates must come from a participant (an owner or caller that is not one
    is refused here, before any code runs).
    """
    for update in updates:
        payer = _payer(update)
        if payer is not None and payer not in parties:
            raise InvalidUpdate(UpdateRule.INVALID_PUBKEYS, f"{payer} is not a participant")
    runner = vm or default_runner()
    # the signing check and the co-signed state that follows run the same round: once
    key = (state.state_hash(), tuple(updates), round_, reserve, runner)
    done = _RAN.get(key)
    if done is None:
        done = runner.apply_round(state, updates, round_, reserve=reserve)
        _RAN[key] = done
        while len(_RAN) > _RAN_KEPT:
            del _RAN[next(iter(_RAN))]
    return done


#: the latest rounds run (a round is a pure function of its state, updates and rules)
_RAN: dict[tuple[object, ...], RanRound] = {}
_RAN_KEPT = 16


def run_dry(
    state: StateTrees,
    update: upd.OffChainCallContract,
    latest: int,
    *,
    parties: Sequence[str],
    reserve: int = 0,
    vm: ContractRunner | None = None,
) -> CallObject:
    """The call object ``update`` would give in the round after ``latest`` (state unchanged)."""
    if update.caller.api not in parties:
        raise InvalidUpdate(UpdateRule.INVALID_PUBKEYS, "the caller is not a participant")
    return (vm or default_runner()).dry_run(state, update, latest, reserve=reserve)


def _payer(update: upd.Update) -> str | None:
    if isinstance(update, upd.OffChainNewContract):
        return update.owner.api
    if isinstance(update, upd.OffChainCallContract):
        return update.caller.api
    return None


def decode_trees(text: str) -> StateTrees | None:
    """``ss_…`` trees, or None when they do not decode."""
    try:
        return StateTrees.from_api(text)
    except (DecodeError, ValueError):
        return None


__all__ = [
    "DEFAULT_VM",
    "BalancesOnly",
    "ClientVm",
    "ContractRunner",
    "RanRound",
    "decode_trees",
    "default_runner",
    "has_contracts",
    "participant_balances",
    "run_dry",
    "run_round",
    "trees_of_balances",
]
