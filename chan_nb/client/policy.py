"""Deciding whether to sign what the node asks to be signed (pure, no event loop).

A signing request carries a transaction built by the node — which, like the peer, is
not trusted. Before a key touches it, :func:`check` decodes it and runs the rules of
its sign tag (:data:`RULES`, one row per tag) against what this participant knows for
itself (:class:`Context`: its own verified view of the channel and what it asked for):

* **what we asked for** (``update``, ``deposit_tx``, ``withdraw_tx``, ``shutdown_sign``,
  ``initiator_sign`` and the dispute tags): the tx must be exactly our request —
  updates, amounts, parties, channel id, round = our latest + 1, the state hash we
  recompute, fee within the cap, nonce and ttl as we set them;
* **what the peer proposes** (``update_ack``, ``deposit_ack``, ``withdraw_ack``,
  ``shutdown_sign_ack``, ``responder_sign``): structurally sound, signed by the peer,
  and by default nothing that lowers our balance; a mutual close only when we get
  our balance minus at most our share of a capped fee.

The answer (:class:`SigningVerdict`) separates *problems* (never signed: the tx is not what it
claims, or not what we asked) from *concerns* (a valid proposal that costs us: signed
only when a user rule — :attr:`SigningPolicy.allow`, given the decoded :class:`Change` —
says so, or a person approves it). Each reason is one line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Final, Literal

from chan_nb.client import vmstate
from chan_nb.client.events import SignRequest
from chan_nb.client.ledger import signed_by, state_round
from chan_nb.client.params import ChannelParams, Role
from chan_nb.codec import hashing, txs
from chan_nb.codec import state as codec_state
from chan_nb.codec import updates as upd
from chan_nb.codec.contracts import CallObject
from chan_nb.codec.fate import decode_result
from chan_nb.codec.gas import gas_of
from chan_nb.codec.ids import Id
from chan_nb.codec.trees import StateTrees
from chan_nb.errors import DecodeError
from chan_nb.protocol import methods

#: Abort code sent when the auto policy refuses a request (≥ 128: "user-defined").
POLICY_ABORT_CODE: Final = 147

#: Default cap on the gas price a fee may amount to (fee / the tx's gas): 10 × the
#: node's minimum of 10^9 — about 1.8·10^14 for a close tx. A fee we set ourselves is
#: taken as set. The same cap holds for the gas price of contract calls.
DEFAULT_MAX_GAS_PRICE: Final = 10 * 10**9
#: Default absolute cap on any fee (None: only the gas price cap).
DEFAULT_MAX_FEE: Final[int | None] = None

#: Requests answering the peer's proposal (the peer has signed already).
ACK_TAGS: Final = frozenset(k.request for k in methods.SIGN_KINDS if not k.own)
#: Requests for something this participant started.
OWN_TAGS: Final = methods.OWN_SIGN_REQUESTS

RoundTx = txs.ChannelOffchainTx | txs.ChannelDepositTx | txs.ChannelWithdrawTx


@dataclass(frozen=True)
class Expectation:
    """What this participant asked the node for, to be found in the tx it gets back.

    ``fee``/``nonce``/``ttl`` are what the request set (None: the node chooses; the
    fee is then only capped).
    """

    tag: str
    updates: tuple[upd.Update, ...] = ()
    fee: int | None = None
    nonce: int | None = None
    ttl: int | None = None

    @classmethod
    def transfer(
        cls, from_id: str, to_id: str, amount: int, meta: tuple[str, ...] = ()
    ) -> Expectation:
        moves: list[upd.Update] = [
            upd.OffChainTransfer(_id(from_id), _id(to_id), amount),
        ]
        moves += [upd.OffChainMeta(text.encode()) for text in meta]
        return cls("update", tuple(moves))

    @classmethod
    def deposit(cls, from_id: str, amount: int, **options: int) -> Expectation:
        return _expect("deposit_tx", (upd.OffChainDeposit(_id(from_id), amount),), options)

    @classmethod
    def withdraw(cls, to_id: str, amount: int, **options: int) -> Expectation:
        return _expect("withdraw_tx", (upd.OffChainWithdrawal(_id(to_id), amount),), options)

    @classmethod
    def shutdown(cls, **options: int) -> Expectation:
        return _expect("shutdown_sign", (), options)


def _opts(options: Mapping[str, int]) -> dict[str, int | None]:
    return {name: options.get(name) for name in ("fee", "nonce", "ttl")}


def _expect(tag: str, moves: tuple[upd.Update, ...], options: Mapping[str, int]) -> Expectation:
    o = _opts(options)
    return Expectation(tag, moves, fee=o["fee"], nonce=o["nonce"], ttl=o["ttl"])


def _id(address: str) -> Id:
    return Id.from_api(address)


@dataclass(frozen=True)
class Context:
    """What the participant knows when a request arrives (its own verified view)."""

    role: Role
    own: str  # ak_ of this participant
    network_id: str
    params: ChannelParams | None = None
    channel_id: str | None = None
    round: int | None = None
    balances: Mapping[str, int] | None = None
    expected: Mapping[str, Expectation] = field(default_factory=dict)
    #: the latest co-signed state (``tx_…``), for the dispute txs' payloads
    state: str | None = None
    max_fee: int | None = DEFAULT_MAX_FEE
    max_gas_price: int = DEFAULT_MAX_GAS_PRICE
    #: accounts whose meta tx counts as their signature (see SigningPolicy.generalized)
    generalized: frozenset[str] = frozenset()
    #: the verified state's trees once the channel holds a contract (None: accounts only,
    #: built from ``balances`` when a round needs them)
    trees: StateTrees | None = None
    #: runs contract code (None: the FATE VM when this build has one)
    vm: vmstate.ContractRunner | None = None

    def fee_cap(self, tx: txs.Tx) -> int:
        """The largest fee we sign for ``tx``: its gas at our gas price cap, and ``max_fee``."""
        cap = gas_of(tx) * self.max_gas_price
        return cap if self.max_fee is None else min(cap, self.max_fee)

    @property
    def peer(self) -> str | None:
        if self.params is None:
            return None
        return self.params.responder_id if self.role == "initiator" else self.params.initiator_id

    @property
    def parties(self) -> tuple[str, ...]:
        if self.params is None:
            return ()
        return (self.params.initiator_id, self.params.responder_id)


# -- what signing would do -------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """What signing a request would do, decoded and typed (given to user rules and people).

    ``before``/``after`` are our balance now and after the tx (None: unknown); ``moves``
    are one-line descriptions of each effect ("you pay 1,000 to ak_…").
    """

    tag: str
    own: bool  # this participant asked for it
    tx_type: str
    updates: tuple[upd.Update, ...]
    moves: tuple[str, ...]
    before: int | None
    after: int | None
    fee: int
    fee_ours: int  # the part of the fee paid from our side (upper bound)
    tx: txs.Tx | None = field(default=None, repr=False, compare=False)
    #: the round's contract calls as our own VM run made them (results, gas, events)
    calls: tuple[CallObject, ...] = field(default=(), compare=False)

    @property
    def lowers_our_balance(self) -> bool:
        return self.before is not None and self.after is not None and self.after < self.before

    def describe(self) -> str:
        """One line: "you pay 1,000 to ak_…: your balance 40,000 → 39,000; fee 0"."""
        what = ", ".join(self.moves) or f"{self.tag} ({self.tx_type})"
        if self.before is not None and self.after is not None:
            balance = f"your balance {_n(self.before)} → {_n(self.after)}"
        else:
            balance = "your balance unknown"
        return f"{what}: {balance}; fee {_n(self.fee)}"


def _n(amount: int) -> str:
    return f"{amount:,}"


def _short(address: str) -> str:
    return address if len(address) <= 14 else address[:10] + "…"


# -- the verdict -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SigningVerdict:
    """Why not to sign: ``problems`` (never), ``concerns`` (only with a rule or by hand)."""

    problems: tuple[str, ...]
    concerns: tuple[str, ...] = ()
    change: Change | None = None

    @property
    def reasons(self) -> tuple[str, ...]:
        return self.problems + self.concerns

    @property
    def clean(self) -> bool:
        return not self.problems and not self.concerns


@dataclass
class _Check:
    """One request being checked: the decoded tx and what the rules found."""

    request: SignRequest
    context: Context
    signed: txs.SignedTx
    inner: txs.Tx
    proposed: tuple[upd.Update, ...]
    problems: list[str] = field(default_factory=list)
    concerns: list[str] = field(default_factory=list)
    after: dict[str, int] | None = None  # balances after the tx, when computed
    fee_ours: int = 0
    calls: tuple[CallObject, ...] = ()  # the round's calls, as our own VM run made them

    @property
    def tag(self) -> str:
        return self.request.tag

    @property
    def expected(self) -> Expectation | None:
        return self.context.expected.get(self.tag)

    def problem(self, text: str) -> None:
        self.problems.append(text)


Checker = Callable[[_Check], None]


@dataclass(frozen=True)
class TagRule:
    """The rules of one sign tag: the tx type it must carry and the checks it runs."""

    tx_type: type[txs.Tx]
    own: bool
    checks: tuple[Checker, ...]


def check(request: SignRequest, context: Context) -> tuple[str, ...]:
    """Every reason not to sign ``request`` automatically (empty: safe to sign)."""
    return verdict(request, context).reasons


def verdict(request: SignRequest, context: Context) -> SigningVerdict:
    """The rules of ``request``'s tag run against ``context`` (see :data:`RULES`)."""
    try:
        signed = request.decoded()
        inner = signed.innermost
        proposed = request.proposed()
    except DecodeError as exc:
        return SigningVerdict((f"undecodable request: {exc}",))
    rule = RULES.get(request.tag)
    if rule is None:
        return SigningVerdict((f"unknown signing request {request.tag!r}",))
    if not isinstance(inner, rule.tx_type):
        return SigningVerdict(
            (f"{request.tag} must carry a {rule.tx_type.TYPE}, got {inner.TYPE}",)
        )
    state = _Check(request, context, signed, inner, proposed)
    for checker in rule.checks:
        checker(state)
        if state.problems:
            break
    change = _change(state, rule.own)
    return SigningVerdict(tuple(state.problems), tuple(state.concerns), change)


# -- checks ----------------------------------------------------------------------------------


def _asked(c: _Check) -> None:
    """Our own requests: only when we asked (nothing unasked is signed)."""
    if c.expected is None:
        c.problem(f"nothing was asked that needs {c.tag}")


def _no_updates(c: _Check) -> None:
    """Txs that carry no round (create, close, disputes) come with no updates to show."""
    if c.proposed:
        c.problem(f"{c.tag} lists updates {_show(c.proposed)}, its tx has none")


def _channel(c: _Check) -> None:
    channel = getattr(c.inner, "channel_id", None)
    known = c.context.channel_id
    if known is None:
        c.problem(f"{c.tag} before the channel id is known")
    elif isinstance(channel, Id) and channel.api != known:
        c.problem(f"channel id {channel.api} is not this channel {known}")


def _round(c: _Check) -> None:
    inner = c.inner
    assert isinstance(inner, RoundTx)
    latest = c.context.round
    if latest is None:
        c.problem(f"round {inner.round} proposed while our round is unknown")
    elif inner.round != latest + 1:
        c.problem(f"round {inner.round} does not follow our round {latest}")


def _asked_updates(c: _Check) -> None:
    expected = c.expected
    if expected is None:
        c.problem(f"nothing was asked that needs {c.tag}")
    elif c.proposed != expected.updates:
        c.problem(f"updates {_show(c.proposed)} are not the requested {_show(expected.updates)}")


def _peer_updates(c: _Check) -> None:
    """The peer's proposal may move coins between the parties only (no contracts)."""
    parties = set(c.context.parties)
    for update in c.proposed:
        if isinstance(update, upd.OffChainTransfer):
            ends = {update.from_id.api, update.to_id.api}
            if parties and not ends <= parties:
                c.problem(f"transfer touches a non-participant: {sorted(ends - parties)}")
        elif isinstance(update, upd.OffChainDeposit | upd.OffChainWithdrawal):
            # coins enter and leave only with an on-chain deposit/withdraw tx
            c.problem(f"{update.OP} in an off-chain round (only a deposit/withdraw tx moves coins)")
        elif isinstance(update, upd.OffChainNewContract):
            if update.owner.api != c.context.peer:
                c.problem(f"the peer's new contract names {update.owner.api} as owner (the payer)")
        elif isinstance(update, upd.OffChainCallContract):
            if update.caller.api != c.context.peer:
                c.problem(f"the peer's contract call names {update.caller.api} as caller")
            _gas_price(c, update.gas_price)
        elif not isinstance(update, upd.OffChainMeta):
            c.concerns.append(f"{update.OP} from the peer needs a user rule or approval")


def _flow(c: _Check) -> None:
    """A deposit/withdraw tx holds exactly its one update, which matches the tx."""
    inner = c.inner
    assert isinstance(inner, txs.ChannelDepositTx | txs.ChannelWithdrawTx)
    who = inner.from_id if isinstance(inner, txs.ChannelDepositTx) else inner.to_id
    kind = (
        upd.OffChainDeposit if isinstance(inner, txs.ChannelDepositTx) else upd.OffChainWithdrawal
    )
    moves = [u for u in c.proposed if not isinstance(u, upd.OffChainMeta)]
    if len(moves) != 1 or not isinstance(moves[0], kind):
        c.problem(f"{c.tag} must hold exactly one {kind.OP} update, got {_show(c.proposed)}")
        return
    flow = moves[0]
    flow_who = flow.from_id if isinstance(flow, upd.OffChainDeposit) else flow.to_id
    if flow_who != who or flow.amount != inner.amount:
        c.problem(f"{inner.TYPE} ({who.api}, {inner.amount}) disagrees with its update")
    own = c.tag in OWN_TAGS
    mover = c.context.own if own else c.context.peer
    if who.api != mover or (not own and who.api == c.context.own):
        c.problem(f"{inner.TYPE} names {who.api}, expected {mover} (the proposer)")
    if who.api == c.context.own:
        c.fee_ours = inner.fee


def _state_hash(c: _Check) -> None:
    """The state hash must be what the updates do to our verified balances."""
    inner = c.inner
    assert isinstance(inner, RoundTx)
    balances = c.context.balances
    if balances is None:
        c.problem("our balances are unknown, so the state hash cannot be checked")
        return
    if c.context.trees is not None or not all(
        isinstance(u, codec_state.BALANCE_UPDATES) for u in c.proposed
    ):
        _state_hash_of_trees(c, inner, balances)
        return
    params = c.context.params
    try:
        after = codec_state.apply_updates(
            balances,
            c.proposed,
            codec_state.by_address,
            participants=c.context.parties or None,
            reserve=params.channel_reserve if params else 0,
        )
    except codec_state.InvalidUpdate as exc:
        _invalid_update(c, exc)
        return
    if codec_state.state_hash_of_addresses(after) != inner.state_hash:
        c.problem("state hash does not match the balances the updates lead to")
        return
    c.after = after


def _state_hash_of_trees(c: _Check, inner: RoundTx, balances: Mapping[str, int]) -> None:
    """With contracts: run the round on our own copy of the state (the VM for contracts)."""
    base = c.context.trees or vmstate.trees_of_balances(balances)
    parties = c.context.parties or tuple(balances)
    _run_on_trees(c, base, c.proposed, inner.round, inner.state_hash, parties)


def _invalid_update(c: _Check, exc: codec_state.InvalidUpdate) -> None:
    """Refuse an update our own run rejects; one that needs a VM we lack is for a person."""
    if exc.rule is codec_state.UpdateRule.NEEDS_VM:
        c.problem(f"{exc} (not signed automatically)")
    else:
        c.problem(f"invalid update: {exc}")


def _run_on_trees(
    c: _Check,
    base: StateTrees,
    updates: Sequence[upd.Update],
    round_: int,
    expected_hash: bytes,
    parties: Sequence[str],
) -> None:
    """Run a round on our own copy of the trees; refuse unless it gives ``expected_hash``."""
    params = c.context.params
    try:
        outcome = vmstate.run_round(
            base,
            updates,
            round_,
            parties=parties,
            reserve=params.channel_reserve if params else 0,
            vm=c.context.vm,
        )
    except codec_state.InvalidUpdate as exc:
        _invalid_update(c, exc)
        return
    if outcome.state_hash != expected_hash:
        c.problem("state hash does not match the state our own run of the updates gives")
        return
    c.after = vmstate.participant_balances(outcome.trees, parties)
    c.calls = outcome.calls


def _peer_calls_succeed(c: _Check) -> None:
    """A peer's contract call that fails (a move the contract refuses) is not co-signed
    by default: it would make a round in which nothing but the failure happened."""
    for call in c.calls:
        if call.caller.api == c.context.own or call.return_type == 0:
            continue
        try:
            told = str(decode_result(call.return_type, call.return_value))
        except DecodeError:
            told = call.return_type_name
        c.concerns.append(
            f"the peer's contract call ends in {told} (needs a user rule or approval)"
        )


def _force_progress(c: _Check) -> None:
    """Our forced call: exactly the call we asked, on our latest state, with our own result.

    The node may raise the update's gas price (to the minimum fee's, fate.md §6.9) but
    not above our cap; the trees it sends must hash to our latest state, and the state
    hash must be what our own run of the call on them gives.
    """
    tx = c.inner
    assert isinstance(tx, txs.ChannelForceProgressTx)
    expected = c.expected
    try:
        update = tx.decoded_update()
    except DecodeError as exc:
        c.problem(f"force progress update is undecodable: {exc}")
        return
    asked = expected.updates[0] if expected is not None and expected.updates else None
    if not isinstance(update, upd.OffChainCallContract) or not isinstance(
        asked, upd.OffChainCallContract
    ):
        c.problem(f"force progress carries a {update.OP}, not the call we asked")
        return
    if update.gas_price < asked.gas_price or replace(update, gas_price=asked.gas_price) != asked:
        c.problem(f"force progress update {_show((update,))} is not the call we asked")
        return
    _gas_price(c, update.gas_price)
    if c.proposed and c.proposed != (update,):
        c.problem(f"force progress lists updates {_show(c.proposed)}, its tx holds another")
    latest = c.context.round
    if latest is None or tx.round != latest + 1:
        c.problem(f"force progress round {tx.round} does not follow our round {latest}")
    ours = c.context.state
    if ours is None:
        c.problem("force progress before we hold a co-signed state")
        return
    found = state_round(txs.decode_signed(ours).innermost)
    if tx.payload and txs.decode_signed(ours).serialize() != tx.payload:
        c.problem("force progress payload is not our latest co-signed state")
    if c.problems or found is None:
        return
    try:
        trees = StateTrees.decode(tx.offchain_trees)
        base_hash = trees.state_hash()
    except (DecodeError, ValueError) as exc:
        c.problem(f"force progress trees are undecodable: {exc}")
        return
    if base_hash != found[1]:
        c.problem("force progress trees do not hash to our latest state")
        return
    _run_on_trees(c, trees, (update,), tx.round, tx.state_hash, c.context.parties)


def _no_loss(c: _Check) -> None:
    """Default for the peer's proposals: nothing that lowers our balance."""
    own = c.context.own
    before = (c.context.balances or {}).get(own)
    if c.after is not None and before is not None and c.after.get(own, 0) < before:
        lost = before - c.after.get(own, 0)
        c.concerns.append(
            f"the peer's {c.tag} lowers our balance by {_n(lost)} (needs a user rule or approval)"
        )


def _fee(c: _Check) -> None:
    fee = getattr(c.inner, "fee", 0)
    expected = c.expected
    if expected is not None and expected.fee is not None:
        if fee != expected.fee:
            c.problem(f"fee {_n(fee)} is not the fee {_n(expected.fee)} we asked for")
        return  # the fee we set ourselves
    _fee_capped(c, fee)


def _fee_capped(c: _Check, fee: int) -> None:
    cap = c.context.fee_cap(c.inner)
    if fee > cap:
        c.problem(f"fee {_n(fee)} is above the cap {_n(cap)}")


def _gas_price(c: _Check, gas_price: int) -> None:
    if gas_price > c.context.max_gas_price:
        c.problem(f"gas price {_n(gas_price)} is above the cap {_n(c.context.max_gas_price)}")


def _nonce_ttl(c: _Check) -> None:
    expected = c.expected
    nonce, ttl = getattr(c.inner, "nonce", None), getattr(c.inner, "ttl", None)
    params = c.context.params
    if expected is not None and expected.nonce is not None and nonce != expected.nonce:
        c.problem(f"nonce {nonce} is not the nonce {expected.nonce} we asked for")
    if expected is not None and expected.ttl is not None:
        if ttl != expected.ttl:
            c.problem(f"ttl {ttl} is not the ttl {expected.ttl} we asked for")
    elif params is not None and params.ttl is not None and ttl not in (params.ttl, 0):
        c.problem(f"ttl {ttl} is not the channel's ttl {params.ttl}")


def _create(c: _Check) -> None:
    tx = c.inner
    assert isinstance(tx, txs.ChannelCreateTx)
    params = c.context.params
    if params is None:
        c.problem("a create tx without the open params to check it against")
        return
    terms = {
        "initiator_id": (tx.initiator_id.api, params.initiator_id),
        "responder_id": (tx.responder_id.api, params.responder_id),
        "initiator_amount": (tx.initiator_amount, params.initiator_amount),
        "responder_amount": (tx.responder_amount, params.responder_amount),
        "channel_reserve": (tx.channel_reserve, params.channel_reserve),
        "lock_period": (tx.lock_period, params.lock_period),
        "initiator_delegate_ids": (_ids(tx.initiator_delegate_ids), ()),
        "responder_delegate_ids": (_ids(tx.responder_delegate_ids), ()),
        "delegate_ids": (_ids(tx.delegate_ids), ()),
    }
    for name, (got, asked) in terms.items():
        if got != asked:
            c.problem(f"create tx {name} is {got}, the channel was opened with {asked}")
    if params.ttl is not None and tx.ttl not in (params.ttl, 0):
        c.problem(f"create tx ttl is {tx.ttl}, the channel was opened with {params.ttl}")
    if params.nonce is not None and tx.nonce != params.nonce:
        c.problem(f"create tx nonce is {tx.nonce}, the channel was opened with {params.nonce}")
    if params.fee is not None and tx.fee != params.fee:
        c.problem(f"create tx fee is {_n(tx.fee)}, the channel was opened with {_n(params.fee)}")
    elif params.fee is None:
        _fee_capped(c, tx.fee)
    known = c.context.channel_id
    if known is not None and tx.nonce > 0:
        made = hashing.channel_id(tx.initiator_id.value, tx.nonce, tx.responder_id.value)
        if made != known:
            c.problem(f"create tx is for channel {made}, not this channel {known}")
    if c.problems:
        return
    initial = params.initial_balances()
    if min(initial.values()) < 0:
        c.problem(f"push amount {params.push_amount} is more than the initiator's amount")
    elif codec_state.state_hash_of_addresses(initial) != tx.state_hash:
        c.problem("create tx state hash does not match the opening balances")
    else:
        c.after = initial
    if c.context.role == "initiator":
        c.fee_ours = tx.fee


def _ids(ids: tuple[Id, ...]) -> tuple[str, ...]:
    return tuple(i.api for i in ids)


def _close(c: _Check) -> None:
    """A mutual close pays out our balance minus at most our share of a capped fee."""
    tx = c.inner
    assert isinstance(tx, txs.ChannelCloseMutualTx)
    context = c.context
    closer = context.own if c.tag == "shutdown_sign" else context.peer
    if tx.from_id.api != closer:
        c.problem(f"close tx names {tx.from_id.api} as closer, expected {closer}")
        return
    balances = context.balances
    if balances is None or not set(context.parties) <= set(balances) or not context.parties:
        c.problem("our balances are unknown, so the close amounts cannot be checked")
        return
    ours_i = context.role == "initiator"
    ours, theirs = (
        (tx.initiator_amount_final, tx.responder_amount_final)
        if ours_i
        else (tx.responder_amount_final, tx.initiator_amount_final)
    )
    total = sum(balances[p] for p in context.parties)
    if ours + theirs + tx.fee != total:
        c.problem(
            f"final amounts and fee sum to {_n(ours + theirs + tx.fee)}, "
            f"the channel holds {_n(total)}"
        )
        return
    mine = balances[context.own]
    share = (tx.fee + 1) // 2  # half (the odd coin too) — the node's split
    paid = mine - ours
    # a peer too poor for its half pays all it has, we the rest (of a capped fee)
    if paid > share and theirs != 0:
        c.problem(
            f"close gives us {_n(ours)} of our {_n(mine)}: we would pay {_n(paid)}, "
            f"more than our share {_n(share)} of the fee {_n(tx.fee)}"
        )
    c.after = {context.own: ours, **({context.peer: theirs} if context.peer else {})}
    c.fee_ours = max(paid, 0)


def _dispute(c: _Check) -> None:
    """Solo close, slash, settle, snapshot, force progress: from us, for our latest state."""
    tx = c.inner
    from_id = getattr(tx, "from_id", None)
    if isinstance(from_id, Id) and from_id.api != c.context.own:
        c.problem(f"{c.tag} names {from_id.api} as sender, not us")
    payload = getattr(tx, "payload", b"")
    if isinstance(tx, txs.ChannelForceProgressTx):
        return  # its payload and update are checked with the contract rules
    latest = c.context.state
    if payload and latest is not None and txs.decode_signed(latest).serialize() != payload:
        c.problem(f"{c.tag} payload is not our latest co-signed state")
    if isinstance(tx, txs.ChannelSettleTx) and c.context.balances is not None:
        mine = c.context.balances.get(c.context.own)
        ours = (
            tx.initiator_amount_final
            if c.context.role == "initiator"
            else tx.responder_amount_final
        )
        if mine is not None and ours != mine:
            c.problem(f"settle gives us {_n(ours)}, our balance is {_n(mine)}")
    c.fee_ours = getattr(tx, "fee", 0)


def _peer_signed(c: _Check) -> None:
    """The peer's proposals carry the peer's signature under our network id."""
    peer = c.context.peer
    if peer is None:
        c.problem("the peer is unknown, so its signature cannot be checked")
        return
    if not signed_by(c.signed, peer, c.context.network_id):
        c.problem(f"the peer {peer} has not signed it (network id {c.context.network_id!r})")


def _show(updates: tuple[upd.Update, ...]) -> str:
    return "[" + ", ".join(str(u.to_dict()) for u in updates) + "]"


_OWN_ROUND: Final = (_asked_updates, _channel, _round, _state_hash)
_OWN_FLOW: Final = (_asked_updates, _channel, _round, _flow, _fee, _nonce_ttl, _state_hash)
_PEER_FLOW: Final = (_channel, _round, _flow, _peer_signed, _state_hash, _no_loss)
_DISPUTE: Final = (_asked, _no_updates, _channel, _fee, _nonce_ttl, _dispute)

#: The rules of every sign tag the client answers, in the order they run.
RULES: Final[dict[str, TagRule]] = {
    "initiator_sign": TagRule(txs.ChannelCreateTx, True, (_no_updates, _create)),
    "responder_sign": TagRule(txs.ChannelCreateTx, False, (_no_updates, _create, _peer_signed)),
    "update": TagRule(txs.ChannelOffchainTx, True, _OWN_ROUND),
    "update_ack": TagRule(
        txs.ChannelOffchainTx,
        False,
        (_channel, _round, _peer_updates, _peer_signed, _state_hash, _no_loss, _peer_calls_succeed),
    ),
    "deposit_tx": TagRule(txs.ChannelDepositTx, True, _OWN_FLOW),
    "deposit_ack": TagRule(txs.ChannelDepositTx, False, _PEER_FLOW),
    "withdraw_tx": TagRule(txs.ChannelWithdrawTx, True, _OWN_FLOW),
    "withdraw_ack": TagRule(txs.ChannelWithdrawTx, False, _PEER_FLOW),
    "shutdown_sign": TagRule(
        txs.ChannelCloseMutualTx, True, (_asked, _no_updates, _channel, _fee, _nonce_ttl, _close)
    ),
    "shutdown_sign_ack": TagRule(
        txs.ChannelCloseMutualTx, False, (_no_updates, _channel, _fee, _peer_signed, _close)
    ),
    "close_solo_sign": TagRule(txs.ChannelCloseSoloTx, True, _DISPUTE),
    "slash_tx": TagRule(txs.ChannelSlashTx, True, _DISPUTE),
    "settle_sign": TagRule(txs.ChannelSettleTx, True, _DISPUTE),
    "snapshot_solo_tx": TagRule(txs.ChannelSnapshotSoloTx, True, _DISPUTE),
    "force_progress_tx": TagRule(
        txs.ChannelForceProgressTx,
        True,
        (_asked, _channel, _fee, _nonce_ttl, _dispute, _force_progress),
    ),
}

#: Transaction type each signing request must carry.
TX_TYPE_OF_TAG: Final[dict[str, type[txs.Tx]]] = {tag: r.tx_type for tag, r in RULES.items()}


# -- the change, for people and user rules ---------------------------------------------------


def _change(c: _Check, own: bool) -> Change:
    context = c.context
    me = context.own
    before = (context.balances or {}).get(me)
    after = c.after.get(me) if c.after is not None else None
    moves = tuple(_moves(c))
    fee = getattr(c.inner, "fee", 0)
    return Change(
        c.tag,
        own,
        c.inner.TYPE,
        c.proposed,
        moves,
        before,
        after,
        fee,
        c.fee_ours,
        c.inner,
        c.calls,
    )


def _moves(c: _Check) -> list[str]:
    me = c.context.own
    out: list[str] = []
    for update in c.proposed:
        if isinstance(update, upd.OffChainTransfer):
            source, target = update.from_id.api, update.to_id.api
            if source == me:
                out.append(f"you pay {_n(update.amount)} to {_short(target)}")
            elif target == me:
                out.append(f"you receive {_n(update.amount)} from {_short(source)}")
            else:
                out.append(f"{_short(source)} pays {_n(update.amount)} to {_short(target)}")
        elif isinstance(update, upd.OffChainDeposit):
            who = "you" if update.from_id.api == me else _short(update.from_id.api)
            out.append(f"{who} deposit{'s' if who != 'you' else ''} {_n(update.amount)}")
        elif isinstance(update, upd.OffChainWithdrawal):
            who = "you" if update.to_id.api == me else _short(update.to_id.api)
            out.append(f"{who} withdraw{'s' if who != 'you' else ''} {_n(update.amount)}")
        elif isinstance(update, upd.OffChainNewContract | upd.OffChainCallContract):
            out.append(_contract_move(update, me))
        elif not isinstance(update, upd.OffChainMeta):
            out.append(f"{update.OP}")
    inner = c.inner
    if isinstance(inner, txs.ChannelCloseMutualTx | txs.ChannelSettleTx):
        ours = (
            inner.initiator_amount_final
            if c.context.role == "initiator"
            else inner.responder_amount_final
        )
        out.append(f"close the channel: you get {_n(ours)}")
    elif isinstance(inner, txs.ChannelCreateTx):
        out.append(f"open the channel: {_n(inner.initiator_amount)} + {_n(inner.responder_amount)}")
    elif not out and not isinstance(inner, txs.ChannelOffchainTx):
        out.append(inner.TYPE)
    return out


def _contract_move(update: upd.OffChainNewContract | upd.OffChainCallContract, me: str) -> str:
    """One line for a contract update: who, which function, how much."""
    if isinstance(update, upd.OffChainNewContract):
        who = "you create" if update.owner.api == me else f"{_short(update.owner.api)} creates"
        return f"{who} a contract (deposit {_n(update.deposit)})"
    who = "you call" if update.caller.api == me else f"{_short(update.caller.api)} calls"
    try:
        what = str(update.call())
    except (DecodeError, AttributeError):
        what = "a function"
    paid = f" paying {_n(update.amount)}" if update.amount else ""
    return f"{who} {what} on {_short(update.contract.api)}{paid}"


# -- the policy ------------------------------------------------------------------------------

Mode = Literal["auto", "manual"]
#: A user rule: given the decoded change, True signs it (problems are never signed).
UserRule = Callable[[Change], bool]


@dataclass(frozen=True)
class SigningPolicy:
    """How a session answers signing requests.

    * ``auto`` — sign what :func:`verdict` finds clean; a request with only *concerns*
      (a valid peer proposal that costs us) is signed when ``allow`` returns True for its
      :class:`Change`; abort the rest with ``abort_code`` (requests that cannot be
      aborted are left unanswered and reported).
    * ``manual`` — queue every request in ``session.pending_signatures`` with its
      reasons and the change described; a person approves or rejects each one.

    ``accept`` may still decline clean peer proposals (return False to abort).
    ``max_gas_price`` caps the gas price any fee amounts to (and that of contract
    calls), ``max_fee`` (optional) every fee outright; a fee we set ourselves is taken.
    ``generalized`` names the peer accounts known to be generalized: only for those a
    meta tx stands for a signature (its auth contract is not run here).
    """

    mode: Mode = "auto"
    abort_code: int = POLICY_ABORT_CODE
    accept: Callable[[SignRequest], bool] | None = None
    allow: UserRule | None = None
    max_fee: int | None = DEFAULT_MAX_FEE
    max_gas_price: int = DEFAULT_MAX_GAS_PRICE
    generalized: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "manual"):
            raise ValueError(f"mode must be 'auto' or 'manual', got {self.mode!r}")
        if not 1 <= self.abort_code <= 65535:
            raise ValueError(f"abort codes are 1..65535, got {self.abort_code}")
        if (self.max_fee is not None and self.max_fee < 0) or self.max_gas_price < 0:
            raise ValueError("fee and gas price caps must be non-negative")


@dataclass(frozen=True)
class Decision:
    """What the auto policy does with one request."""

    sign: bool
    problems: tuple[str, ...]
    change: Change | None = None


def decide(policy: SigningPolicy, request: SignRequest, context: Context) -> Decision:
    """Sign or refuse (the manual mode never gets here)."""
    found = verdict(request, context)
    if found.problems:
        return Decision(False, found.problems, found.change)
    if found.concerns:
        allow = policy.allow
        if allow is None or found.change is None or not allow(found.change):
            return Decision(False, found.concerns, found.change)
    accept = policy.accept
    if request.tag in ACK_TAGS and accept is not None and not accept(request):
        return Decision(False, ("declined by the accept hook",), found.change)
    return Decision(True, (), found.change)
