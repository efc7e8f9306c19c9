"""Deciding whether to sign what the node asks to be signed (pure).

A signing request carries a transaction built by the node. Before a key touches it,
:func:`check` decodes it and compares it with what this participant asked for
(:class:`Expectation`: a transfer, a deposit, a shutdown …) or with what the peer
announced (the ``updates`` of an ``*_ack``): transaction type, channel id, parties,
amounts, round, the state hash the updates lead to, and the peer's signature. The
result is a list of problems — empty means "safe to sign".

:class:`SigningPolicy` says what to do with that: ``auto`` signs clean requests and
aborts the rest; ``manual`` queues every request for a person (or a widget) to approve
or reject.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal

from chan_nb.client.events import SignRequest
from chan_nb.client.ledger import apply_updates, state_hash_of
from chan_nb.client.params import ChannelParams, Role
from chan_nb.codec import encoding, signing, txs
from chan_nb.codec import updates as upd
from chan_nb.codec.ids import Id
from chan_nb.errors import DecodeError
from chan_nb.protocol import methods

#: Abort code sent when the auto policy refuses a request (≥ 128: "user-defined").
POLICY_ABORT_CODE: Final = 147

#: Transaction type each signing request must carry.
TX_TYPE_OF_TAG: Final[dict[str, type[txs.Tx]]] = {
    "initiator_sign": txs.ChannelCreateTx,
    "responder_sign": txs.ChannelCreateTx,
    "update": txs.ChannelOffchainTx,
    "update_ack": txs.ChannelOffchainTx,
    "deposit_tx": txs.ChannelDepositTx,
    "deposit_ack": txs.ChannelDepositTx,
    "withdraw_tx": txs.ChannelWithdrawTx,
    "withdraw_ack": txs.ChannelWithdrawTx,
    "shutdown_sign": txs.ChannelCloseMutualTx,
    "shutdown_sign_ack": txs.ChannelCloseMutualTx,
    "close_solo_sign": txs.ChannelCloseSoloTx,
    "slash_tx": txs.ChannelSlashTx,
    "settle_sign": txs.ChannelSettleTx,
    "snapshot_solo_tx": txs.ChannelSnapshotSoloTx,
    "force_progress_tx": txs.ChannelForceProgressTx,
}

#: Requests answering the peer's proposal (the peer has signed already).
ACK_TAGS: Final = frozenset(k.request for k in methods.SIGN_KINDS if not k.own)
#: Requests for something this participant started.
OWN_TAGS: Final = methods.OWN_SIGN_REQUESTS


@dataclass(frozen=True)
class Expectation:
    """What this participant asked the node for, to be found in the tx it gets back."""

    tag: str
    updates: tuple[upd.Update, ...] = ()

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
    def deposit(cls, from_id: str, amount: int) -> Expectation:
        return cls("deposit_tx", (upd.OffChainDeposit(_id(from_id), amount),))

    @classmethod
    def withdraw(cls, to_id: str, amount: int) -> Expectation:
        return cls("withdraw_tx", (upd.OffChainWithdrawal(_id(to_id), amount),))


def _id(address: str) -> Id:
    return Id.from_api(address)


@dataclass(frozen=True)
class Context:
    """What the participant knows when a request arrives."""

    role: Role
    own: str  # ak_ of this participant
    network_id: str
    params: ChannelParams | None = None
    channel_id: str | None = None
    round: int | None = None
    balances: Mapping[str, int] | None = None
    expected: Mapping[str, Expectation] = field(default_factory=dict)

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


def check(request: SignRequest, context: Context) -> tuple[str, ...]:
    """Every reason not to sign ``request`` (empty: it is what was asked or announced)."""
    problems: list[str] = []
    try:
        signed = request.decoded()
        inner = signed.innermost
        proposed = request.proposed()
    except DecodeError as exc:
        return (f"undecodable request: {exc}",)
    wanted_type = TX_TYPE_OF_TAG.get(request.tag)
    if wanted_type is None:
        return (f"unknown signing request {request.tag!r}",)
    if not isinstance(inner, wanted_type):
        return (f"{request.tag} must carry a {wanted_type.TYPE}, got {inner.TYPE}",)
    channel = getattr(inner, "channel_id", None)
    if context.channel_id is not None and channel is not None and channel.api != context.channel_id:
        problems.append(f"channel id {channel.api} is not this channel {context.channel_id}")
    if isinstance(inner, txs.ChannelCreateTx):
        problems += _check_create(inner, context)
    elif isinstance(inner, txs.ChannelOffchainTx | txs.ChannelDepositTx | txs.ChannelWithdrawTx):
        problems += _check_round(request.tag, inner, proposed, context)
    elif isinstance(inner, txs.ChannelCloseMutualTx):
        problems += _check_close(request.tag, inner, context)
    else:
        from_id = getattr(inner, "from_id", None)
        if from_id is not None and from_id.api != context.own:
            problems.append(f"{request.tag} names {from_id.api} as sender, not us")
    if request.tag in ACK_TAGS:
        problems += _check_peer_signed(signed, context)
    return tuple(problems)


def _check_create(tx: txs.ChannelCreateTx, context: Context) -> list[str]:
    params = context.params
    if params is None:
        return []
    problems = []
    terms = {
        "initiator_id": (tx.initiator_id.api, params.initiator_id),
        "responder_id": (tx.responder_id.api, params.responder_id),
        "initiator_amount": (tx.initiator_amount, params.initiator_amount),
        "responder_amount": (tx.responder_amount, params.responder_amount),
        "channel_reserve": (tx.channel_reserve, params.channel_reserve),
        "lock_period": (tx.lock_period, params.lock_period),
    }
    for name, (got, asked) in terms.items():
        if got != asked:
            problems.append(f"create tx {name} is {got}, the channel was opened with {asked}")
    if not problems and state_hash_of(params.initial_balances()) != tx.state_hash:
        problems.append("create tx state hash does not match the opening balances")
    return problems


def _check_round(
    tag: str,
    tx: txs.ChannelOffchainTx | txs.ChannelDepositTx | txs.ChannelWithdrawTx,
    proposed: tuple[upd.Update, ...],
    context: Context,
) -> list[str]:
    problems: list[str] = []
    if context.round is not None and tx.round != context.round + 1:
        problems.append(f"round {tx.round} does not follow our round {context.round}")
    if tag in OWN_TAGS:
        expected = context.expected.get(tag)
        if expected is None:
            return [*problems, f"nothing was asked that needs {tag}"]
        if proposed != expected.updates:
            problems.append(
                f"updates {_show(proposed)} are not the requested {_show(expected.updates)}"
            )
        movers = {context.own}
    else:
        movers = {p for p in context.parties if p != context.own} if context.parties else set()
    problems += _check_moves(tag, tx, proposed, context, movers)
    if context.balances is not None and not problems:
        try:
            after = apply_updates(context.balances, proposed)
        except ValueError as exc:
            return [str(exc)]
        negative = {k: v for k, v in after.items() if v < 0}
        if negative:
            problems.append(f"balances would go negative: {negative}")
        elif state_hash_of(after) != tx.state_hash:
            problems.append("state hash does not match the balances the updates lead to")
    return problems


def _check_moves(
    tag: str,
    tx: txs.Tx,
    proposed: tuple[upd.Update, ...],
    context: Context,
    movers: set[str],
) -> list[str]:
    """Updates only move coins between the parties; deposit/withdraw txs match their update."""
    problems = []
    parties = set(context.parties)
    for update in proposed:
        if isinstance(update, upd.OffChainTransfer):
            ends = {update.from_id.api, update.to_id.api}
            if parties and not ends <= parties:
                problems.append(f"transfer touches a non-participant: {sorted(ends - parties)}")
        elif isinstance(update, upd.OffChainDeposit | upd.OffChainWithdrawal):
            who = update.from_id if isinstance(update, upd.OffChainDeposit) else update.to_id
            if movers and who.api not in movers:
                problems.append(f"{update.OP} for {who.api}, expected one of {sorted(movers)}")
        elif not isinstance(update, upd.OffChainMeta):
            problems.append(f"{update.OP} is not signed automatically")
    if isinstance(tx, txs.ChannelDepositTx | txs.ChannelWithdrawTx):
        who = tx.from_id if isinstance(tx, txs.ChannelDepositTx) else tx.to_id
        flows = [u for u in proposed if isinstance(u, upd.OffChainDeposit | upd.OffChainWithdrawal)]
        if len(flows) != 1:
            problems.append(f"{tag} needs exactly one deposit/withdrawal update")
        else:
            flow = flows[0]
            flow_who = flow.from_id if isinstance(flow, upd.OffChainDeposit) else flow.to_id
            if flow_who != who or flow.amount != tx.amount:
                problems.append(f"{tx.TYPE} ({who.api}, {tx.amount}) disagrees with its update")
    return problems


def _check_close(tag: str, tx: txs.ChannelCloseMutualTx, context: Context) -> list[str]:
    problems = []
    if context.parties and tx.from_id.api not in context.parties:
        problems.append(f"close tx from {tx.from_id.api}, not a participant")
    if tag == "shutdown_sign" and tx.from_id.api != context.own:
        problems.append(f"our shutdown names {tx.from_id.api} as closer")
    if min(tx.initiator_amount_final, tx.responder_amount_final) < 0:
        problems.append("negative final amount")
    if context.balances is not None and set(context.balances) >= set(context.parties) != set():
        total = sum(context.balances[p] for p in context.parties)
        paid = tx.initiator_amount_final + tx.responder_amount_final + tx.fee
        if paid != total:
            problems.append(f"final amounts and fee sum to {paid}, the channel holds {total}")
    return problems


def _check_peer_signed(signed: txs.SignedTx, context: Context) -> list[str]:
    peer = context.peer
    if peer is None:
        return []
    pubkey = encoding.decode(peer, "ak")
    for signature in signed.signatures:
        if signing.verify(signature, pubkey, signed.tx_bytes, context.network_id) is not None:
            return []
    return [f"the peer {peer} has not signed it (network id {context.network_id!r})"]


def _show(updates: tuple[upd.Update, ...]) -> str:
    return "[" + ", ".join(str(u.to_dict()) for u in updates) + "]"


Mode = Literal["auto", "manual"]


@dataclass(frozen=True)
class SigningPolicy:
    """How a session answers signing requests.

    * ``auto`` — sign what :func:`check` finds clean; abort the rest with
      ``abort_code`` (requests that cannot be aborted are left unanswered and reported).
      ``accept`` may decline clean proposals from the peer (return False to abort).
    * ``manual`` — queue every request in ``session.pending_signatures`` with its
      problems; a person approves or rejects each one.
    """

    mode: Mode = "auto"
    abort_code: int = POLICY_ABORT_CODE
    accept: Callable[[SignRequest], bool] | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("auto", "manual"):
            raise ValueError(f"mode must be 'auto' or 'manual', got {self.mode!r}")
        if not 1 <= self.abort_code <= 65535:
            raise ValueError(f"abort codes are 1..65535, got {self.abort_code}")


@dataclass(frozen=True)
class Decision:
    """What the auto policy does with one request."""

    sign: bool
    problems: tuple[str, ...]


def decide(policy: SigningPolicy, request: SignRequest, context: Context) -> Decision:
    """Sign or refuse (the manual mode never gets here)."""
    problems = check(request, context)
    accept = policy.accept
    if not problems and request.tag in ACK_TAGS and accept is not None and not accept(request):
        problems = ("declined by the accept hook",)
    return Decision(not problems, problems)
