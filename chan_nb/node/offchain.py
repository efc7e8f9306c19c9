"""Off-chain state of a channel: balances, rounds, and the rules updates must obey.

The state trees come from :mod:`chan_nb.codec.trees` (every hash, ``ss_`` and
``pi_`` here is the node's, bit for bit); this module is the one place the
node calls into them. Update rules follow aesc_offchain_update: a transfer
needs two different participants, a non-negative amount, and must leave the
payer with at least the channel reserve.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from chan_nb.codec import trees
from chan_nb.codec.txs import SignedTx
from chan_nb.codec.updates import (
    OffChainDeposit,
    OffChainMeta,
    OffChainTransfer,
    OffChainWithdrawal,
    Update,
)
from chan_nb.errors import ChanNbError
from chan_nb.protocol.codes import Reason

#: ``calls`` of a channel without contracts: an empty calls tree.
EMPTY_CALLS_API: Final = trees.calls_to_api({})

Balances = Mapping[bytes, int]


class UpdateRejected(ChanNbError):
    """An update breaks a rule; ``reason`` is the node's reason (→ its error frame)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def state_hash(balances: Balances) -> bytes:
    """Hash of the accounts-only state trees holding these balances."""
    return _state_hash(tuple(sorted(balances.items())))


@lru_cache(maxsize=1024)
def _state_hash(balances: tuple[tuple[bytes, int], ...]) -> bytes:
    # cached: the proposer and the acknowledger compute the same hash for each round
    return trees.state_hash_of_balances(dict(balances))


def trees_api(balances: Balances) -> str:
    """``ss_`` of the state (``channels.get.offchain_state`` → ``trees``)."""
    return trees.StateTrees.from_balances(balances).to_api()


def poi_api(balances: Balances, accounts: Iterable[bytes]) -> str:
    """``pi_`` proof for some accounts; an absent one raises UpdateRejected(not_found)."""
    try:
        return trees.StateTrees.from_balances(balances).poi(accounts=accounts).to_api()
    except trees.NotInTreeError as exc:
        raise UpdateRejected(Reason.NOT_FOUND, str(exc)) from None


def apply_updates(
    balances: Balances,
    updates: Sequence[Update],
    participants: tuple[bytes, bytes],
    channel_reserve: int,
) -> dict[bytes, int]:
    """Balances after the updates, or UpdateRejected with the node's reason."""
    out = dict(balances)
    for update in updates:
        if isinstance(update, OffChainTransfer):
            payer, payee, amount = update.from_id.value, update.to_id.value, update.amount
            _check_amount(amount)
            if payer == payee or payer not in participants or payee not in participants:
                raise UpdateRejected(Reason.INVALID_PUBKEYS, "from/to must be the two participants")
            if out[payer] - amount < channel_reserve:
                raise UpdateRejected(Reason.INSUFFICIENT_BALANCE, "transfer breaks the reserve")
            out[payer] -= amount
            out[payee] += amount
        elif isinstance(update, OffChainDeposit):
            who, amount = update.from_id.value, update.amount
            _check_amount(amount)
            if who not in participants:
                raise UpdateRejected(Reason.INVALID_PUBKEYS, "depositor is not a participant")
            out[who] += amount
        elif isinstance(update, OffChainWithdrawal):
            who, amount = update.to_id.value, update.amount
            _check_amount(amount)
            if who not in participants:
                raise UpdateRejected(Reason.INVALID_PUBKEYS, "withdrawer is not a participant")
            if out[who] - amount < channel_reserve:
                raise UpdateRejected(Reason.INSUFFICIENT_BALANCE, "withdrawal breaks the reserve")
            out[who] -= amount
        elif isinstance(update, OffChainMeta):
            continue
        else:
            raise UpdateRejected(Reason.INTERNAL, f"{update.OP} updates are not supported")
    return out


def _check_amount(amount: int) -> None:
    if amount < 0:
        raise UpdateRejected(Reason.NEGATIVE_AMOUNT, "amount is negative")


@dataclass(frozen=True)
class CoSigned:
    """The latest state both parties signed: tx, round, and the balances behind its hash."""

    signed: SignedTx
    round: int
    balances: Mapping[bytes, int]

    def balance(self, pubkey: bytes) -> int | None:
        return self.balances.get(pubkey)
