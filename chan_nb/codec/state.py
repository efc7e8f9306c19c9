"""Off-chain state arithmetic: balances after updates, and the state hash they give.

One home for "what a round does to the balances" (aesc_offchain_update's rules): the
embedded node, the client's own view of the channel, the audit and the recording's
balance table all apply updates here, so they cannot disagree. Balances are keyed by
whatever the caller uses for an account (``bytes`` pubkeys, ``ak_`` strings): ``key``
says how to get that key from an update's :class:`~chan_nb.codec.ids.Id`.

A transfer needs two different participants and a non-negative amount, and may not
take the payer below the channel reserve (or below zero); a withdrawal likewise;
``OffChainMeta`` changes nothing; contract updates need a VM and are refused here
(:attr:`UpdateRule.NEEDS_VM`), so a caller knows the balances cannot be computed without one.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from enum import StrEnum
from functools import lru_cache
from typing import Final, TypeVar

from chan_nb.codec import encoding, trees
from chan_nb.codec import updates as upd
from chan_nb.codec.ids import Id
from chan_nb.errors import ChanNbError

K = TypeVar("K", bytes, str)


class UpdateRule(StrEnum):
    """Which rule an update breaks (the values are the node's error reasons)."""

    NEGATIVE_AMOUNT = "negative_amount"
    INVALID_PUBKEYS = "invalid_pubkeys"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    NEEDS_VM = "needs_vm"


class InvalidUpdate(ChanNbError, ValueError):
    """An update cannot be applied: ``rule`` says which rule it breaks."""

    def __init__(self, rule: UpdateRule, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule


def by_pubkey(account: Id) -> bytes:
    """Balances keyed by 32-byte public keys (the node, the audit)."""
    return account.value


def by_address(account: Id) -> str:
    """Balances keyed by ``ak_`` strings (the client, recordings)."""
    return account.api


#: The updates whose effect on balances is known without a VM.
BALANCE_UPDATES: Final = (
    upd.OffChainTransfer,
    upd.OffChainDeposit,
    upd.OffChainWithdrawal,
    upd.OffChainMeta,
)


def apply_updates(
    balances: Mapping[K, int],
    updates: Iterable[upd.Update],
    key: Callable[[Id], K],
    *,
    participants: Collection[K] | None = None,
    reserve: int = 0,
) -> dict[K, int]:
    """Balances after ``updates``; raises :class:`InvalidUpdate` naming the broken rule.

    Without ``participants`` every account an update names must already hold a balance.
    """
    out = dict(balances)
    members = out.keys() if participants is None else participants
    for update in updates:
        if isinstance(update, upd.OffChainTransfer):
            payer, payee = key(update.from_id), key(update.to_id)
            _check_amount(update.amount)
            if payer == payee or payer not in members or payee not in members:
                raise InvalidUpdate(
                    UpdateRule.INVALID_PUBKEYS, "from/to must be the two participants"
                )
            _take(out, payer, update.amount, reserve, "transfer")
            out[payee] = out.get(payee, 0) + update.amount
        elif isinstance(update, upd.OffChainDeposit):
            who = key(update.from_id)
            _check_amount(update.amount)
            if who not in members:
                raise InvalidUpdate(UpdateRule.INVALID_PUBKEYS, "depositor is not a participant")
            out[who] = out.get(who, 0) + update.amount
        elif isinstance(update, upd.OffChainWithdrawal):
            who = key(update.to_id)
            _check_amount(update.amount)
            if who not in members:
                raise InvalidUpdate(UpdateRule.INVALID_PUBKEYS, "withdrawer is not a participant")
            _take(out, who, update.amount, reserve, "withdrawal")
        elif isinstance(update, upd.OffChainMeta):
            continue
        else:
            raise InvalidUpdate(
                UpdateRule.NEEDS_VM, f"{update.OP} changes balances only a VM can compute"
            )
    return out


def _check_amount(amount: int) -> None:
    if amount < 0:
        raise InvalidUpdate(UpdateRule.NEGATIVE_AMOUNT, "amount is negative")


def _take(out: dict[K, int], who: K, amount: int, reserve: int, what: str) -> None:
    left = out.get(who, 0) - amount
    if left < max(reserve, 0):
        raise InvalidUpdate(UpdateRule.INSUFFICIENT_BALANCE, f"{what} breaks the reserve")
    out[who] = left


def state_hash(balances: Mapping[bytes, int]) -> bytes:
    """State hash of an accounts-only channel holding these balances (pubkey keys)."""
    return _state_hash(tuple(sorted(balances.items())))


# A signing check, the co-signed state that follows and the peer's side (in the same
# process) hash the same balances: all but the first are cache hits.
@lru_cache(maxsize=1024)
def _state_hash(balances: tuple[tuple[bytes, int], ...]) -> bytes:
    return trees.state_hash_of_balances(dict(balances))


def state_hash_of_addresses(balances: Mapping[str, int]) -> bytes:
    """:func:`state_hash` for balances keyed by ``ak_`` strings."""
    return _state_hash_of_addresses(tuple(sorted(balances.items())))


# The client's policy (before signing) and its ledger (the co-signed state), in both
# sessions, hash the same ak_ balances: one decode of the keys for all of them.
@lru_cache(maxsize=1024)
def _state_hash_of_addresses(balances: tuple[tuple[str, int], ...]) -> bytes:
    return state_hash({encoding.decode(k, "ak"): v for k, v in balances})


def initial_balances(
    initiator: K, initiator_amount: int, responder: K, responder_amount: int, push: int = 0
) -> dict[K, int]:
    """Round-1 balances: the create tx amounts with the push moved initiator → responder."""
    return {initiator: initiator_amount - push, responder: responder_amount + push}
