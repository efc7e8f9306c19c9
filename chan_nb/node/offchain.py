"""Off-chain state of a channel: balances, rounds, and the rules updates must obey.

The state trees come from :mod:`chan_nb.codec.trees` (every hash, ``ss_`` and
``pi_`` here is the node's, bit for bit); this module is the one place the
node calls into them. Update rules follow aesc_offchain_update: a transfer
needs two different participants, a non-negative amount, and must leave the
payer with at least the channel reserve.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from chan_nb.codec import state as codec_state
from chan_nb.codec.txs import SignedTx
from chan_nb.codec.updates import Update
from chan_nb.errors import ChanNbError
from chan_nb.node import contracts as node_contracts
from chan_nb.node.contracts import ContractsState
from chan_nb.protocol.codes import Reason

Balances = Mapping[bytes, int]


class UpdateRejected(ChanNbError):
    """An update breaks a rule; ``reason`` is the node's reason (→ its error frame)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


#: Hash of the accounts-only state trees holding these balances.
state_hash = codec_state.state_hash


def apply_updates(
    balances: Balances,
    updates: Sequence[Update],
    participants: tuple[bytes, bytes],
    channel_reserve: int,
) -> dict[bytes, int]:
    """Balances after the updates, or UpdateRejected with the node's reason."""
    try:
        return codec_state.apply_updates(
            balances,
            updates,
            codec_state.by_pubkey,
            participants=participants,
            reserve=channel_reserve,
        )
    except codec_state.InvalidUpdate as exc:
        reason = (
            Reason.INTERNAL if exc.rule is codec_state.UpdateRule.NEEDS_VM else Reason(exc.rule)
        )
        raise UpdateRejected(reason, str(exc)) from None


def next_state(
    balances: Balances,
    contracts: ContractsState,
    updates: Sequence[Update],
    ctx: Callable[[], node_contracts.RoundContext],
    participants: tuple[bytes, bytes],
    channel_reserve: int,
) -> tuple[dict[bytes, int], ContractsState]:
    """The state after a round: balances and contracts (the calls tree pruned first).

    A channel without contracts and a round without contract updates take the
    balances-only path; ``ctx`` (made only when needed) gives the VM its round.
    """
    if contracts.empty and not node_contracts.has_contract_updates(updates):
        return apply_updates(balances, updates, participants, channel_reserve), contracts
    try:
        return node_contracts.apply_contract_round(balances, contracts, updates, ctx())
    except node_contracts.ContractRejected as exc:
        raise UpdateRejected(exc.reason, str(exc)) from None
    except codec_state.InvalidUpdate as exc:
        raise UpdateRejected(Reason(exc.rule), str(exc)) from None


@dataclass(frozen=True)
class CoSigned:
    """The latest state both parties signed: tx, round, and the balances and contracts
    behind its hash."""

    signed: SignedTx
    round: int
    balances: Mapping[bytes, int]
    contracts: ContractsState = node_contracts.EMPTY

    def balance(self, pubkey: bytes) -> int | None:
        return self.balances.get(pubkey)
