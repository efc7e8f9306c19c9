"""The client's own copy of the channel state, run forward round by round (pure).

A state with contracts is not determined by the balances: its hash covers the contract
accounts, the contracts tree (code, stores) and the round's calls. So once a channel
holds a contract the client keeps the whole :class:`~chan_nb.codec.trees.StateTrees`
of its verified state and applies each proposed round to it itself — transfers,
deposits and withdrawals with :mod:`chan_nb.codec.state`'s rules, contract creation and
calls with the FATE VM (:mod:`chan_nb.vm`) — then compares the state hash it gets with
the one the node asks it to sign. Nothing the node says about a contract's result is
taken: the call objects come from this client's own VM run.

Each round starts with the calls tree emptied (fate.md §6.5).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from chan_nb.codec import encoding, trees
from chan_nb.codec import state as codec_state
from chan_nb.codec import updates as upd
from chan_nb.codec.contracts import CallObject
from chan_nb.codec.trees import StateTrees
from chan_nb.errors import DecodeError

InvalidUpdate = codec_state.InvalidUpdate
UpdateRule = codec_state.UpdateRule


@dataclass(frozen=True)
class RoundOutcome:
    """The trees after a round and the calls it made (in the order of its updates)."""

    trees: StateTrees
    calls: tuple[CallObject, ...] = ()

    @property
    def state_hash(self) -> bytes:
        return self.trees.state_hash()


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


def apply_round(
    state: StateTrees,
    updates: Sequence[upd.Update],
    round_: int,
    *,
    parties: Sequence[str],
    reserve: int = 0,
) -> RoundOutcome:
    """The trees after round ``round_``'s ``updates``; :class:`InvalidUpdate` when one fails.

    A contract call that reverts or errors is not a failure: it makes a round (its call
    object says how it ended).
    """
    current = StateTrees(
        accounts=state.accounts,
        channels=state.channels,
        contracts=state.contracts,
        ns=state.ns,
        oracles=state.oracles,
    )
    calls: list[CallObject] = []
    for update in updates:
        if isinstance(update, codec_state.BALANCE_UPDATES):
            current = _move_coins(current, update, parties, reserve)
        else:
            current, call = _run_contract(current, update, round_, reserve)
            calls.append(call)
    return RoundOutcome(current, tuple(calls))


def dry_run(
    state: StateTrees, update: upd.OffChainCallContract, round_: int, *, reserve: int = 0
) -> CallObject:
    """The call object ``update`` would give in round ``round_`` (the state is not changed)."""
    _, call = _run_contract(StateTrees(**_parts(state)), update, round_, reserve)
    return call


def _parts(state: StateTrees) -> dict[str, Mapping[bytes, bytes]]:
    return {
        "accounts": state.accounts,
        "channels": state.channels,
        "contracts": state.contracts,
        "ns": state.ns,
        "oracles": state.oracles,
    }


def _move_coins(
    state: StateTrees, update: upd.Update, parties: Sequence[str], reserve: int
) -> StateTrees:
    """A transfer, deposit, withdrawal or meta on the participants' accounts."""
    keys = [encoding.decode(p, "ak") for p in parties]
    accounts = dict(state.accounts)
    decoded = {k: trees.Account.decode(accounts[k]) for k in keys if k in accounts}
    before = {k: a.balance for k, a in decoded.items()}
    after = codec_state.apply_updates(
        before, (update,), codec_state.by_pubkey, participants=keys, reserve=reserve
    )
    for key, balance in after.items():
        old = decoded.get(key)
        account = (
            trees.Account(0, balance)
            if old is None
            else trees.Account(old.nonce, balance, old.flags, old.ga_contract, old.ga_auth_fun)
        )
        accounts[key] = account.serialize()
    return StateTrees(**{**_parts(state), "accounts": accounts})


def _run_contract(
    state: StateTrees, update: upd.Update, round_: int, reserve: int
) -> tuple[StateTrees, CallObject]:
    """A contract update run by the VM: the trees after it and its call object."""
    raise InvalidUpdate(UpdateRule.NEEDS_VM, f"{update.OP} changes balances only a VM can compute")


def decode_trees(text: str) -> StateTrees | None:
    """``ss_…`` trees, or None when they do not decode."""
    try:
        return StateTrees.from_api(text)
    except (DecodeError, ValueError):
        return None


__all__ = [
    "InvalidUpdate",
    "RoundOutcome",
    "UpdateRule",
    "apply_round",
    "decode_trees",
    "dry_run",
    "has_contracts",
    "participant_balances",
    "trees_of_balances",
]
