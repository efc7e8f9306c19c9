"""Balances of a channel as a client can know them (pure).

The node never states balances in its notifications: a co-signed state carries only a
state hash. A client learns them from the round-1 create tx (amounts plus push), then
by applying the updates it saw in each round's signing request when that round becomes
co-signed — checked against the state hash — and from ``get.balances`` replies. When a
round's updates were not seen (the client was away) or the hash does not match
(contracts), the balances are unknown (``None``) until the next balance reply.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from chan_nb.codec import encoding, trees, txs
from chan_nb.codec import updates as upd
from chan_nb.errors import DecodeError


def _pubkey(address: str) -> bytes:
    return encoding.decode(address, "ak")


def state_hash_of(balances: Mapping[str, int]) -> bytes:
    """State hash of an accounts-only channel with these ``ak_`` balances."""
    return _state_hash_of(tuple(sorted(balances.items())))


# A signing check and the co-signed state that follows hash the same balances: the
# second one (and the peer session's, in the same process) is a cache hit.
@lru_cache(maxsize=256)
def _state_hash_of(balances: tuple[tuple[str, int], ...]) -> bytes:
    return trees.state_hash_of_balances({_pubkey(k): v for k, v in balances})


def apply_updates(balances: Mapping[str, int], updates: Iterable[upd.Update]) -> dict[str, int]:
    """Balances after the updates; raises ValueError for updates that need a VM."""
    out = dict(balances)
    for update in updates:
        if isinstance(update, upd.OffChainTransfer):
            source, target = update.from_id.api, update.to_id.api
            out[source] = out.get(source, 0) - update.amount
            out[target] = out.get(target, 0) + update.amount
        elif isinstance(update, upd.OffChainDeposit):
            out[update.from_id.api] = out.get(update.from_id.api, 0) + update.amount
        elif isinstance(update, upd.OffChainWithdrawal):
            out[update.to_id.api] = out.get(update.to_id.api, 0) - update.amount
        elif isinstance(update, upd.OffChainMeta):
            continue
        else:
            raise ValueError(f"{update.OP} changes balances only a VM can compute")
    return out


def parse_updates(items: Iterable[object], where: str = "updates") -> tuple[upd.Update, ...]:
    """Updates from the JSON list of a signing request."""
    return tuple(upd.from_dict(item, f"{where}[{i}]") for i, item in enumerate(items))


@dataclass
class Ledger:
    """Known balances (``None``: unknown) and the updates proposed for coming rounds."""

    balances: dict[str, int] | None = None
    round: int | None = None
    proposals: dict[int, tuple[upd.Update, ...]] = field(default_factory=dict)
    initial: dict[str, int] | None = None  # round-1 balances from the open params

    def propose(self, round_: int, updates: tuple[upd.Update, ...]) -> None:
        """Remember what a round will change (from a signing request)."""
        self.proposals[round_] = updates

    def co_signed(self, tx: txs.Tx) -> None:
        """A state became co-signed: move the balances to it (or forget them)."""
        inner = tx.innermost if isinstance(tx, txs.SignedTx) else tx
        if isinstance(inner, txs.ChannelCreateTx):
            self.round = 1
            self.balances = self._create_balances(inner)
            self.proposals = {r: u for r, u in self.proposals.items() if r > 1}
            return
        round_ = getattr(inner, "round", None)
        state_hash = getattr(inner, "state_hash", None)
        if not isinstance(round_, int):
            return
        previous, self.round = self.round, round_
        same_state = (
            previous == round_
            and self.balances is not None
            and isinstance(state_hash, bytes)
            and self._hash_matches(self.balances, state_hash)
        )
        if same_state:  # the same state again (after a reestablish): keep the balances
            return
        updates = self.proposals.pop(round_, None)
        self.proposals = {r: u for r, u in self.proposals.items() if r > round_}
        if self.balances is None or updates is None or previous != round_ - 1:
            self.balances = None
            return
        try:
            after = apply_updates(self.balances, updates)
        except ValueError:
            self.balances = None
            return
        if isinstance(state_hash, bytes) and state_hash_of(after) != state_hash:
            self.balances = None
            return
        self.balances = after

    @staticmethod
    def _hash_matches(balances: Mapping[str, int], state_hash: bytes) -> bool:
        try:
            return state_hash_of(balances) == state_hash
        except (DecodeError, ValueError):
            return False

    def _create_balances(self, create: txs.ChannelCreateTx) -> dict[str, int] | None:
        if self.initial is not None:
            candidate = dict(self.initial)
        else:  # without the open params the push is unknown: try "no push"
            candidate = {
                create.initiator_id.api: create.initiator_amount,
                create.responder_id.api: create.responder_amount,
            }
        try:
            matches = state_hash_of(candidate) == create.state_hash
        except (DecodeError, ValueError):
            return None
        return candidate if matches else None

    def rolled_back(self, round_: int | None) -> None:
        """A conflict: nothing after ``round_`` happened."""
        if round_ is not None:
            self.proposals = {r: u for r, u in self.proposals.items() if r <= round_}

    def reported(self, entries: Iterable[tuple[str, int]]) -> None:
        """A ``get.balances`` reply: the node's word for these accounts."""
        known = dict(self.balances or {})
        known.update(entries)
        self.balances = known
