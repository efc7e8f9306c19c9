"""The client's own view of its channel: the last co-signed state it verified (pure).

The node never states balances in its notifications: a co-signed state carries only a
state hash, and neither the node nor the peer is trusted. So the client keeps, for
itself, the last state it has *verified*: both participants' signatures (checked by the
caller), its round, and its balances — the round-1 create tx amounts plus the push, then
each round's updates (seen in that round's signing request) applied to the previous
balances with :func:`chan_nb.codec.state.apply_updates`, the state hash recomputed and
compared. A state is taken only when it moves forward (a higher round) or is the same
state again; an older round or a second state for our round is refused with a reason,
and changes nothing.

Once a round involves a contract, balances no longer determine the state hash: the
ledger then keeps the verified state's whole trees (``trees``) and runs each proposed
round on them itself (:mod:`chan_nb.client.vmstate`: the contract updates with the FATE
VM), so the balances stay known and each round's call objects (``calls``) are the ones
this client computed, not the node's word.

When a round's updates were not seen (the client was away) the balances are unknown
(``None``) until a ``get.balances`` reply *that hashes to the verified state's hash*
restores them — or, with contracts, ``get.offchain_state`` trees that hash to it
(:meth:`Ledger.adopt_trees`): nothing the node says without signatures changes what the
client believes its balances are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from chan_nb.client import vmstate
from chan_nb.codec import encoding, signing, txs
from chan_nb.codec import state as codec_state
from chan_nb.codec import updates as upd
from chan_nb.codec.contracts import CallObject, ContractObject
from chan_nb.codec.trees import StateTrees
from chan_nb.errors import DecodeError

#: How many rounds' verified calls are kept (for ``get.contract_call`` answers).
CALL_ROUNDS_KEPT = 256

#: State hash of an accounts-only channel with these ``ak_`` balances.
state_hash_of = codec_state.state_hash_of_addresses


def parse_updates(items: Iterable[object], where: str = "updates") -> tuple[upd.Update, ...]:
    """Updates from the JSON list of a signing request."""
    return tuple(upd.from_dict(item, f"{where}[{i}]") for i, item in enumerate(items))


def signed_by(
    signed: txs.SignedTx, account: str, network_id: str, generalized: Iterable[str] = ()
) -> bool:
    """Whether ``account`` signed ``signed`` (at any layer).

    A meta tx naming the account stands for its signature only when the user said the
    account is generalized (``generalized``): its auth contract runs on chain, not
    here, so for any other account a meta-tx wrapper is just bytes anyone can write.
    """
    try:
        pubkey = encoding.decode(account, "ak")
    except DecodeError:
        return False
    for layer in txs.signature_layers(signed):
        inner = layer.inner
        if (
            isinstance(inner, txs.GaMetaTx)
            and inner.ga_id.value == pubkey
            and account in generalized
        ):
            return True  # authorised by its contract, which the chain runs
        for signature in _likely_first(layer.signatures, pubkey):
            if signing.verify(signature, pubkey, layer.tx_bytes, network_id) is not None:
                return True
    return False


def _likely_first(signatures: tuple[bytes, ...], pubkey: bytes) -> Sequence[bytes]:
    """The signatures, those already seen to verify for ``pubkey`` first, another key's last.

    Every signature is still tried (any order gives the same answer); the order only
    spares failed checks of the other participant's signature under both preimages.
    """
    if len(signatures) < 2 or signing.verified_signer(signatures[0]) == pubkey:
        return signatures

    def rank(signature: bytes) -> int:
        known = signing.verified_signer(signature)
        return 1 if known is None else 0 if known == pubkey else 2

    return sorted(signatures, key=rank)


def state_round(tx: txs.Tx) -> tuple[int, bytes] | None:
    """(round, state hash) of a channel state tx (create: round 1); None for others."""
    if isinstance(tx, txs.ChannelCreateTx):
        return 1, tx.state_hash
    if isinstance(tx, txs.ChannelOffchainTx | txs.ChannelDepositTx | txs.ChannelWithdrawTx):
        return tx.round, tx.state_hash
    return None


@dataclass
class Ledger:
    """The verified state (round, hash, ``tx_``), its balances (``None``: unknown), proposals."""

    balances: dict[str, int] | None = None
    round: int | None = None
    #: per round, every update list a signing request proposed (a hostile request for a
    #: round cannot displace the real one: the state hash picks the right one)
    proposals: dict[int, list[tuple[upd.Update, ...]]] = field(default_factory=dict)
    initial: dict[str, int] | None = None  # round-1 balances from the open params
    state: str | None = None  # the verified co-signed tx_
    state_hash: bytes | None = None
    reserve: int = 0
    #: the verified state's trees, once a round held a contract (None: accounts only,
    #: or unknown when ``balances`` is None too)
    trees: StateTrees | None = None
    #: per round, the call objects this client computed for it (latest rounds only)
    calls: dict[int, tuple[CallObject, ...]] = field(default_factory=dict)
    #: runs contract code (None: the FATE VM when this build has one)
    vm: vmstate.ContractRunner | None = None

    @property
    def parties(self) -> tuple[str, ...]:
        return tuple(self.initial or self.balances or ())

    def state_trees(self) -> StateTrees | None:
        """The verified state's trees (built from the balances for an accounts-only state)."""
        if self.trees is not None:
            return self.trees
        if self.balances is None:
            return None
        return vmstate.trees_of_balances(self.balances)

    def propose(self, round_: int, updates: tuple[upd.Update, ...]) -> None:
        """Remember what a round will change (from a signing request)."""
        known = self.proposals.setdefault(round_, [])
        if updates not in known:
            known.append(updates)
            del known[:-8]

    def co_signed(self, signed: txs.SignedTx, text: str) -> str | None:
        """Take a state whose signatures were verified; the reason when it is refused."""
        inner = signed.innermost
        found = state_round(inner)
        if found is None:
            return f"a {inner.TYPE} is not a channel state"
        round_, state_hash = found
        if self.round is not None:
            if round_ < self.round:
                return f"round {round_} is behind our round {self.round} (a replayed state)"
            if round_ == self.round:
                if state_hash != self.state_hash:
                    return f"a second round {round_} state with another state hash"
                self.state = text  # the same state again (after a reestablish)
                return None
        trees: StateTrees | None = None
        if isinstance(inner, txs.ChannelCreateTx):
            balances = self._create_balances(inner)
        else:
            balances, trees = self._next_state(round_, state_hash)
        self.round, self.state, self.state_hash, self.balances = round_, text, state_hash, balances
        self.trees = trees
        self.proposals = {r: u for r, u in self.proposals.items() if r > round_}
        return None

    def _next_state(
        self, round_: int, state_hash: bytes
    ) -> tuple[dict[str, int] | None, StateTrees | None]:
        """Balances (and trees, with contracts) of the next round, when its updates were seen."""
        proposals = self.proposals.get(round_, ())
        if self.trees is None and all(_balance_only(u) for u in proposals):
            return self._next_balances(round_, state_hash), None
        base = self.state_trees()
        if base is None or self.round != round_ - 1:
            return None, None
        for updates in proposals:
            try:
                outcome = vmstate.run_round(
                    base, updates, round_, parties=self.parties, reserve=self.reserve, vm=self.vm
                )
            except codec_state.InvalidUpdate:
                continue
            if outcome.state_hash == state_hash:
                self._keep_calls(round_, outcome.calls)
                balances = vmstate.participant_balances(outcome.trees, self.parties)
                return balances, outcome.trees
        return None, None

    def _keep_calls(self, round_: int, calls: tuple[CallObject, ...]) -> None:
        self.calls[round_] = calls
        for old in sorted(self.calls)[:-CALL_ROUNDS_KEPT]:
            del self.calls[old]

    def _next_balances(self, round_: int, state_hash: bytes) -> dict[str, int] | None:
        balances = self.balances
        if balances is None or self.round != round_ - 1:
            return None
        for updates in self.proposals.get(round_, ()):
            try:
                after = codec_state.apply_updates(
                    balances, updates, codec_state.by_address, reserve=self.reserve
                )
            except codec_state.InvalidUpdate:
                continue
            if _hash_matches(after, state_hash):
                return after
        return None

    def _create_balances(self, create: txs.ChannelCreateTx) -> dict[str, int] | None:
        if self.initial is not None:
            candidate = dict(self.initial)
        else:  # without the open params the push is unknown: try "no push"
            candidate = codec_state.initial_balances(
                create.initiator_id.api,
                create.initiator_amount,
                create.responder_id.api,
                create.responder_amount,
            )
        return candidate if _hash_matches(candidate, create.state_hash) else None

    def rolled_back(self, round_: int | None) -> None:
        """A conflict: nothing after ``round_`` happened."""
        if round_ is not None:
            self.proposals = {r: u for r, u in self.proposals.items() if r <= round_}

    def adopt_trees(self, state: StateTrees) -> bool:
        """Trees the node sent (``get.offchain_state``): taken only when they hash to our state."""
        if self.state_hash is None or self.balances is not None:
            return False
        try:
            if state.state_hash() != self.state_hash:
                return False
            balances = vmstate.participant_balances(state, self.parties)
        except (DecodeError, ValueError):
            return False
        self.balances = balances
        self.trees = state if vmstate.has_contracts(state) else None
        return True

    def forced(self, tx: txs.ChannelForceProgressTx) -> str | None:
        """A force progress on chain: taken when it runs on our latest state to its hash.

        Its trees must hash to our latest state and our own run of its call on them must
        give its state hash; the round then moves on (the co-signed ``state`` stays: it is
        what a dispute would post). The reason when it is not taken.
        """
        if self.round is None or tx.round != self.round + 1:
            return f"force progress round {tx.round} does not follow our round {self.round}"
        try:
            base = StateTrees.decode(tx.offchain_trees)
            update = tx.decoded_update()
        except (DecodeError, ValueError) as exc:
            return f"undecodable force progress: {exc}"
        if base.state_hash() != self.state_hash:
            return "force progress trees do not hash to our latest state"
        try:
            outcome = vmstate.run_round(
                base, (update,), tx.round, parties=self.parties, reserve=self.reserve, vm=self.vm
            )
        except codec_state.InvalidUpdate as exc:
            return f"force progress update cannot be run: {exc}"
        if outcome.state_hash != tx.state_hash:
            return "force progress state hash is not what its call gives"
        self.round, self.state_hash = tx.round, tx.state_hash
        self.trees = outcome.trees
        self.balances = vmstate.participant_balances(outcome.trees, self.parties)
        self._keep_calls(tx.round, outcome.calls)
        return None

    # -- contracts -------------------------------------------------------------------------
    def verified_call(self, contract: bytes, caller: bytes, round_: int) -> CallObject | None:
        """The call ``caller`` made on ``contract`` in ``round_``, as this client computed it."""
        for call in self.calls.get(round_, ()):
            if call.contract.value == contract and call.caller.value == caller:
                return call
        return None

    def contract(self, pubkey: bytes) -> tuple[ContractObject, dict[bytes, bytes]] | None:
        """A contract of the verified state and its store (None: no verified trees hold it)."""
        state = self.trees
        if state is None or pubkey not in state.contracts:
            return None
        return state.contract_objects()[pubkey], state.contract_store(pubkey)

    def dry_run(self, update: upd.OffChainCallContract) -> CallObject | None:
        """Our own run of ``update`` on the verified state (None: no trees or no VM)."""
        state = self.trees
        if state is None or self.round is None:
            return None
        try:
            return vmstate.run_dry(
                state,
                update,
                self.round,
                parties=self.parties,
                reserve=self.reserve,
                vm=self.vm,
            )
        except codec_state.InvalidUpdate:
            return None

    def reported(self, entries: Iterable[tuple[str, int]]) -> bool:
        """A ``get.balances`` reply: taken only when it hashes to the verified state."""
        if self.trees is not None:  # with contracts, balances alone do not give the hash
            own = self.balances or {}
            return all(own.get(account, balance) == balance for account, balance in entries)
        known = dict(self.balances or {})
        known.update(entries)
        if self.state_hash is None or not _hash_matches(known, self.state_hash):
            return False
        self.balances = known
        return True


def _balance_only(updates: tuple[upd.Update, ...]) -> bool:
    return all(isinstance(u, codec_state.BALANCE_UPDATES) for u in updates)


def _hash_matches(balances: Mapping[str, int], state_hash: bytes) -> bool:
    try:
        return state_hash_of(balances) == state_hash
    except (DecodeError, ValueError):
        return False
