"""One participant's channel FSM (aesc_fsm), as a pure state machine.

Events go in through methods — a client call (:meth:`ChannelFsm.call`), a
message from the peer's FSM (:meth:`on_peer`), a chain event
(:meth:`tx_included`, :meth:`min_depth_reached`), a timer (:meth:`timeout`),
the client or the peer going away — each with the current time. What the FSM
wants done comes out as :data:`~chan_nb.node.events.Output` values (:meth:`take_outputs`):
frames for its client, messages for the peer FSM, transactions for the chain, depth
watches, termination. The timer is a single deadline (:attr:`deadline`),
re-armed on every event as gen_statem event timeouts are.

State names, timers, which calls are served / postponed / refused in which
state, and every client-visible report follow websocket-api.md §3–§4.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum, StrEnum
from functools import lru_cache
from typing import Any, Final

from chan_nb.codec import encoding, signing, trees
from chan_nb.codec.ids import Id
from chan_nb.codec.txs import (
    ChannelCloseMutualTx,
    ChannelCloseSoloTx,
    ChannelCreateTx,
    ChannelDepositTx,
    ChannelForceProgressTx,
    ChannelOffchainTx,
    ChannelSettleTx,
    ChannelSlashTx,
    ChannelSnapshotSoloTx,
    ChannelWithdrawTx,
    SignedTx,
    Tx,
)
from chan_nb.codec.updates import (
    OffChainCallContract,
    OffChainDeposit,
    OffChainMeta,
    OffChainNewContract,
    OffChainTransfer,
    OffChainWithdrawal,
    Update,
    pack_ct_version,
)
from chan_nb.node import contracts as node_contracts
from chan_nb.node import fees, offchain
from chan_nb.node import force_progress as fp
from chan_nb.node.chain import Chain, ChannelObject, TxRejected
from chan_nb.node.config import NodeConfig
from chan_nb.node.events import (
    OK,
    POSTPONE,
    AbortReply,
    AssumeMinDepth,
    Call,
    CallContract,
    CallResult,
    ChannelIdKnown,
    CleanContractCalls,
    Deposit,
    Fail,
    ForceProgress,
    GetBalances,
    GetContract,
    GetContractCall,
    GetOffchainState,
    GetPoi,
    Leave,
    Listen,
    Message,
    NewContract,
    Notify,
    Output,
    PeerMsg,
    PostTx,
    Reply,
    SaveState,
    SendPeer,
    Shutdown,
    SignedReply,
    Solo,
    Stop,
    Terminated,
    Transfer,
    WantBlocks,
    WatchTx,
    Withdraw,
)
from chan_nb.node.offchain import CoSigned, UpdateRejected
from chan_nb.node.params import Options, Role
from chan_nb.protocol import codes, methods
from chan_nb.protocol.codes import Reason

Json = Any


class State(StrEnum):
    AWAITING_CONNECT = "awaiting_connect"
    INITIALIZED = "initialized"
    AWAITING_OPEN = "awaiting_open"
    ACCEPTED = "accepted"
    AWAITING_SIGNATURE = "awaiting_signature"
    HALF_SIGNED = "half_signed"
    AWAITING_LOCKED = "awaiting_locked"
    SIGNED = "signed"
    DEP_HALF_SIGNED = "dep_half_signed"
    DEP_SIGNED = "dep_signed"
    WDRAW_HALF_SIGNED = "wdraw_half_signed"
    WDRAW_SIGNED = "wdraw_signed"
    OPEN = "open"
    AWAITING_UPDATE_ACK = "awaiting_update_ack"
    AWAITING_LEAVE_ACK = "awaiting_leave_ack"
    MUTUAL_CLOSING = "mutual_closing"
    MUTUAL_CLOSED = "mutual_closed"
    CHANNEL_CLOSING = "channel_closing"
    CHANNEL_CLOSED = "channel_closed"
    AWAITING_REESTABLISH = "awaiting_reestablish"
    REESTABLISH_INIT = "reestablish_init"
    TERMINATED = "terminated"


#: Timer of each state (aesc_fsm.hrl); see Options.timeout_ms for fallbacks.
TIMER_OF_STATE: Final[dict[State, str]] = {
    State.AWAITING_CONNECT: "accept",
    State.INITIALIZED: "initialized",
    State.AWAITING_OPEN: "awaiting_open",
    State.ACCEPTED: "funding_create",
    State.AWAITING_SIGNATURE: "sign",
    State.HALF_SIGNED: "funding_sign",
    State.AWAITING_LOCKED: "funding_lock",
    State.SIGNED: "funding_lock",
    State.DEP_HALF_SIGNED: "funding_sign",
    State.DEP_SIGNED: "funding_lock",
    State.WDRAW_HALF_SIGNED: "funding_sign",
    State.WDRAW_SIGNED: "funding_lock",
    State.OPEN: "idle",
    State.AWAITING_UPDATE_ACK: "accept",
    State.AWAITING_LEAVE_ACK: "accept",
    State.MUTUAL_CLOSING: "accept",
    State.MUTUAL_CLOSED: "idle",
    State.CHANNEL_CLOSING: "idle",
    State.CHANNEL_CLOSED: "idle",
    State.AWAITING_REESTABLISH: "idle",
    State.REESTABLISH_INIT: "accept",
}

#: States that answer every call with 3/108 "Not ready" (§4.1).
NOT_READY_STATES: Final = frozenset(
    {
        State.AWAITING_CONNECT,
        State.INITIALIZED,
        State.AWAITING_OPEN,
        State.ACCEPTED,
        State.HALF_SIGNED,
        State.SIGNED,
        State.REESTABLISH_INIT,
        State.AWAITING_REESTABLISH,
    }
)
#: Transition states that postpone the calls they cannot serve until the state changes.
POSTPONE_CALL_STATES: Final = frozenset(
    {
        State.AWAITING_SIGNATURE,
        State.AWAITING_LOCKED,
        State.AWAITING_UPDATE_ACK,
        State.AWAITING_LEAVE_ACK,
        State.MUTUAL_CLOSING,
    }
)
#: How unexpected casts (stray signing replies, peer messages) are treated (§4.1).
DISCARD_STATES: Final = frozenset({State.OPEN, State.CHANNEL_CLOSING, State.CHANNEL_CLOSED})
PROTOCOL_ERROR_STATES: Final = frozenset(
    {
        State.AWAITING_OPEN,
        State.AWAITING_LOCKED,
        State.DEP_HALF_SIGNED,
        State.DEP_SIGNED,
        State.WDRAW_HALF_SIGNED,
        State.WDRAW_SIGNED,
        State.MUTUAL_CLOSING,
    }
)


class Op(Enum):
    """What an ongoing round is about."""

    CREATE = "create"
    UPDATE = "update"
    DEPOSIT = "deposit"
    WITHDRAW = "withdraw"
    SHUTDOWN = "shutdown"
    CLOSE_SOLO = "close_solo"
    SLASH = "slash"
    SETTLE = "settle"
    SNAPSHOT = "snapshot_solo"
    FORCE_PROGRESS = "force_progress"


#: dispute request → (round kind, the FSM's tag of the awaited signature)
SOLO_OPS: Final[dict[str, tuple[Op, str]]] = {
    "close_solo": (Op.CLOSE_SOLO, "close_solo_tx"),
    "slash": (Op.SLASH, "slash_tx"),
    "settle": (Op.SETTLE, "settle_tx"),
    "snapshot_solo": (Op.SNAPSHOT, "snapshot_solo_tx"),
}
#: solo rounds that start (and end) in channel_closing; the others in open
CLOSING_OPS: Final = frozenset({Op.SLASH, Op.SETTLE})
SOLO_TAGS: Final = frozenset({*(tag for _, tag in SOLO_OPS.values()), "force_progress_tx"})
#: watch purposes the chain watcher reports itself (nothing to say at inclusion)
SILENT_WATCHES: Final = frozenset({"snapshot", "settled"})


#: the peer message that rejects a round of each kind
ERROR_MSG_OF_OP: Final[dict[Op, str]] = {
    Op.UPDATE: "update_error",
    Op.DEPOSIT: "deposit_error",
    Op.WITHDRAW: "withdraw_error",
    Op.SHUTDOWN: "shutdown_error",
}
ROUND_ERRORS: Final = frozenset(ERROR_MSG_OF_OP.values())


# -- channel facts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    """What both FSMs agreed on at open (initiator/responder may be learned late)."""

    initiator: bytes | None
    responder: bytes
    initiator_amount: int
    responder_amount: int
    push_amount: int
    channel_reserve: int
    lock_period: int
    port: int

    def initial_balances(self, initiator: bytes) -> dict[bytes, int]:
        return {
            initiator: self.initiator_amount - self.push_amount,
            self.responder: self.responder_amount + self.push_amount,
        }


@dataclass
class Pending:
    """A round in progress: its tx and signatures so far, and the state it leads to."""

    op: Op
    starter: bool
    signed: SignedTx
    updates: tuple[Update, ...]
    balances: dict[bytes, int] | None
    round: int
    awaiting: str | None  # fsm tag of our client's signature we wait for
    tx_hash: str | None = None
    contracts: node_contracts.ContractsState = node_contracts.EMPTY
    block_hash: bytes | None = None  # the block a contract round is pinned to


@dataclass(frozen=True)
class Snapshot:
    """What the state cache keeps for a reestablish (aesc_fsm opts_to_cache)."""

    role: Role
    fsm_id: bytes
    channel_id: bytes
    terms: Terms
    initiator: bytes
    options: Options
    cosigned: CoSigned


def _tx_api(signed: SignedTx) -> str:
    return signed.to_api()


def signed_by(signature: bytes, pubkey: bytes, tx_bytes: bytes, network_id: str) -> bool:
    """Whether ``signature`` is ``pubkey``'s over the tx (raw or hashed preimage).

    Both FSMs check the same signatures, and again when the round completes:
    :mod:`chan_nb.codec.signing` remembers each verification, so that is cheap.
    """
    return signing.verify(signature, pubkey, tx_bytes, network_id) is not None


def signer_among(
    signature: bytes, candidates: list[bytes], tx_bytes: bytes, network_id: str
) -> bytes | None:
    """Which candidate key made ``signature`` (None when none did).

    The key the signature was last seen to verify for is tried first (no verification
    spent on the other participant's key); it is still verified over this tx.
    """
    hint = signing.verified_signer(signature)
    ordered = [hint, *(k for k in candidates if k != hint)] if hint in candidates else candidates
    for pubkey in ordered:
        if signed_by(signature, pubkey, tx_bytes, network_id):
            return pubkey
    return None


@lru_cache(maxsize=4096)
def address(pubkey: bytes) -> str:
    """``ak_`` of a pubkey (cached: base58 is slow and the same few keys recur)."""
    return encoding.encode("ak", pubkey)


def update_json(update: Update) -> dict[str, Json]:
    """The node's JSON form of an update (``aesc_offchain_update:for_client/1``)."""
    if isinstance(update, OffChainTransfer):
        return {
            "op": update.OP,
            "from": address(update.from_id.value),
            "to": address(update.to_id.value),
            "amount": update.amount,
        }
    if isinstance(update, OffChainDeposit):
        return {"op": update.OP, "from": address(update.from_id.value), "amount": update.amount}
    if isinstance(update, OffChainWithdrawal):
        return {"op": update.OP, "to": address(update.to_id.value), "amount": update.amount}
    return update.to_dict()


def on_chain_data(info: str, signed: SignedTx) -> dict[str, Json]:
    return {"info": info, "tx": _tx_api(signed), "type": signed.tx.TYPE}


@dataclass
class ChannelFsm:
    """One participant's FSM. Build with :meth:`fresh` or :meth:`reestablished`."""

    role: Role
    fsm_id: bytes
    me: bytes
    terms: Terms
    options: Options
    config: NodeConfig
    chain: Chain
    state: State = State.AWAITING_CONNECT
    initiator: bytes | None = None
    channel_id: bytes | None = None  # on-chain id, once this FSM "learned" it
    cosigned: CoSigned | None = None
    pending: Pending | None = None
    depth_factor: int | None = None
    client_connected: bool = True
    client_may_disconnect: bool = False
    peer_linked: bool = False
    reestablish: bool = False
    status: str = "init"  # "open" once reported open; "attached" after a reestablish
    last_reported_round: int | None = None
    deadline: float | None = None
    watches: dict[str, str] = field(default_factory=dict)  # th_ -> what it is
    assumed: set[str] = field(default_factory=set)
    postponed: list[tuple[str, Any]] = field(default_factory=list)
    out: list[Output] = field(default_factory=list)
    _channel_id_api: str | None = None
    #: a signed settle waiting for the lock to expire (pushed by :meth:`chain_advanced`)
    held_settle: SignedTx | None = None
    #: calls of the co-signed rounds, for ``get.contract_call`` (fate.md §6.5)
    call_log: node_contracts.CallLog = field(default_factory=node_contracts.CallLog)

    # -- construction -----------------------------------------------------------------------
    @classmethod
    def fresh(
        cls,
        role: Role,
        fsm_id: bytes,
        me: bytes,
        terms: Terms,
        options: Options,
        config: NodeConfig,
        chain: Chain,
        now: float,
    ) -> ChannelFsm:
        """FSM for a new channel: I waits to reach R, R listens (both report fsm_up)."""
        state = State.AWAITING_CONNECT if role is Role.INITIATOR else State.AWAITING_OPEN
        fsm = cls(
            role=role,
            fsm_id=fsm_id,
            me=me,
            terms=terms,
            options=options,
            config=config,
            chain=chain,
            state=state,
            initiator=terms.initiator,
            depth_factor=options.minimum_depth,
        )
        fsm._notify_info("fsm_up", fsm_id=fsm.fsm_id_api)
        if role is Role.RESPONDER:
            fsm.out.append(Listen())
        fsm._rearm(now)
        return fsm

    @classmethod
    def reestablished(
        cls, snapshot: Snapshot, fsm_id: bytes, config: NodeConfig, chain: Chain, now: float
    ) -> ChannelFsm:
        """FSM restarted from the state cache with a new fsm id (websocket-api.md §4.8)."""
        role = snapshot.role
        me = snapshot.initiator if role is Role.INITIATOR else snapshot.terms.responder
        state = State.AWAITING_CONNECT if role is Role.INITIATOR else State.AWAITING_REESTABLISH
        fsm = cls(
            role=role,
            fsm_id=fsm_id,
            me=me,
            terms=snapshot.terms,
            options=snapshot.options,
            config=config,
            chain=chain,
            state=state,
            initiator=snapshot.initiator,
            channel_id=snapshot.channel_id,
            cosigned=snapshot.cosigned,
            depth_factor=snapshot.options.minimum_depth,
            client_may_disconnect=True,
            reestablish=True,
        )
        shown = None if config.recorded_quirks else fsm.channel_id_api
        fsm.out.append(Notify(methods.INFO, {"event": "fsm_up", "fsm_id": fsm.fsm_id_api}, shown))
        fsm.out.append(ChannelIdKnown(snapshot.channel_id))
        fsm.out.append(SaveState())
        if role is Role.RESPONDER:
            fsm.out.append(Listen())
        fsm._rearm(now)
        return fsm

    # -- small helpers -----------------------------------------------------------------------
    @property
    def fsm_id_api(self) -> str:
        return encoding.encode("ba", self.fsm_id)

    @property
    def channel_id_api(self) -> str | None:
        if self.channel_id is None:
            return None
        if self._channel_id_api is None:
            self._channel_id_api = encoding.encode("ch", self.channel_id)
        return self._channel_id_api

    @property
    def peer(self) -> bytes | None:
        if self.role is Role.INITIATOR:
            return self.terms.responder
        return self.initiator

    @property
    def participants(self) -> tuple[bytes, bytes]:
        assert self.initiator is not None
        return (self.initiator, self.terms.responder)

    @property
    def alive(self) -> bool:
        return self.state is not State.TERMINATED

    @property
    def funded(self) -> bool:
        """The create tx is co-signed: from here on the FSM outlives its client."""
        return self.cosigned is not None

    def take_outputs(self) -> list[Output]:
        out, self.out = self.out, []
        return out

    def snapshot(self) -> Snapshot | None:
        if self.cosigned is None or self.channel_id is None or self.initiator is None:
            return None
        return Snapshot(
            self.role,
            self.fsm_id,
            self.channel_id,
            self.terms,
            self.initiator,
            self.options,
            self.cosigned,
        )

    def _rearm(self, now: float) -> None:
        timer = TIMER_OF_STATE.get(self.state)
        self.deadline = None if timer is None else now + self.options.timeout_ms(timer) / 1000.0

    def _notify(self, method: str, data: Json) -> None:
        """A report for the client: dropped when switched off or when no client is attached."""
        tag = methods.REPORT_TAG_OF_METHOD.get(method)
        if tag is not None and not self.options.reports(tag):
            return
        if not self.client_connected:
            return
        self.out.append(Notify(method, data, self.channel_id_api))

    def _notify_info(self, event: str, **extra: Json) -> None:
        self._notify(methods.INFO, {"event": event, **extra})

    def _sign_request(self, request: str, signed: SignedTx, updates: tuple[Update, ...]) -> None:
        if not self.client_connected:
            return
        data = {"signed_tx": signed.to_api(), "updates": [update_json(u) for u in updates]}
        self.out.append(Notify(methods.SIGN_PREFIX + request, data, self.channel_id_api))

    def _on_chain(self, info: str, signed: SignedTx) -> None:
        self._notify(methods.ON_CHAIN_TX, on_chain_data(info, signed))

    def _conflict(self, error_code: int) -> None:
        assert self.cosigned is not None
        self._notify(
            methods.CONFLICT,
            {
                "channel_id": self.channel_id_api,
                "error_code": error_code,
                "error_msg": codes.conflict_message(error_code),
                "round": self.cosigned.round,
            },
        )

    def _send(self, kind: str, **fields: Any) -> None:
        self.out.append(SendPeer(PeerMsg(kind, **fields)))

    def _set_state(self, state: State) -> None:
        self.state = state

    def _settle(self, before: State, now: float) -> None:
        """End of an event: retry postponed casts if the state changed, re-arm the timer."""
        while self.alive and self.postponed and self.state is not before:
            before = self.state
            queued, self.postponed = self.postponed, []
            for kind, payload in queued:
                if not self.alive:
                    return
                if kind == "peer":
                    self._dispatch_peer(payload)
                else:
                    self._dispatch_signed(payload)
        if self.alive:
            self._rearm(now)

    def _learn_channel_id(self, channel_id: bytes) -> None:
        if self.channel_id is None:
            self.channel_id = channel_id
            self.out.append(ChannelIdKnown(channel_id))

    def _depth_for(self, fee: int) -> int:
        if self.config.minimum_depth is not None:
            return self.config.minimum_depth
        return fees.minimum_depth(
            self.options.minimum_depth_strategy,
            self.depth_factor,
            fee,
            self.config.min_gas_price,
        )

    def _watch(self, signed: SignedTx, purpose: str) -> None:
        tx_hash = signed.hash
        self.watches[tx_hash] = purpose
        fee = getattr(signed.tx, "fee", 0)
        self.out.append(WatchTx(tx_hash, self._depth_for(fee)))
        if self.pending is not None:
            self.pending.tx_hash = tx_hash

    # -- signature checks --------------------------------------------------------------------
    def _check_signatures(
        self, signed: SignedTx, expected: bytes, required: tuple[bytes, ...]
    ) -> str | None:
        """None when ``signed`` wraps exactly ``expected`` and every required key signed."""
        if signed.tx_bytes != expected:
            return "not_the_expected_tx"
        allowed = list(required)
        if self.initiator is not None:
            allowed += [p for p in self.participants if p not in required]
        network = self.config.network_id
        found: set[bytes] = set()
        for sig in signed.signatures:
            signer = signer_among(sig, allowed, signed.tx_bytes, network)
            if signer is None:
                return "bad_signature"
            found.add(signer)
        if not set(required) <= found:
            return "bad_signature"
        return None

    def _has_my_signature(self, signed: SignedTx) -> bool:
        network = self.config.network_id
        return any(
            signer_among(sig, [self.me], signed.tx_bytes, network) is not None
            for sig in signed.signatures
        )

    # -- client calls ------------------------------------------------------------------------
    def call(self, request: Call, now: float) -> CallResult:
        """Serve one client request; the outputs it causes are in :meth:`take_outputs`."""
        if not self.alive:
            return Fail(Reason.INTERNAL)
        before, deadline = self.state, self.deadline
        result: CallResult | None = None
        try:
            result = self._call(request, now)
            return result
        finally:
            if result is POSTPONE and self.state is before and not self.out:
                self.deadline = deadline  # a postponed call changes nothing: no timer slide
            else:
                self._settle(before, now)

    def _call(self, request: Call, now: float) -> CallResult:
        state = self.state
        if isinstance(request, Stop):
            self._terminate("stop")
            return OK
        if isinstance(request, SignedReply):
            self._dispatch_signed(request)
            return OK
        if isinstance(request, AbortReply):
            return self._abort(request)
        if isinstance(request, GetBalances | GetOffchainState | GetPoi | Message):
            if state in NOT_READY_STATES:
                return Fail(Reason.NOT_READY)
            if isinstance(request, Message):
                return self._message(request)
            return self._read(request)
        if isinstance(request, GetContract | CleanContractCalls):  # most states
            if state in NOT_READY_STATES or self.cosigned is None:
                return Fail(Reason.NOT_READY)
            return self._contract_read(request)
        if isinstance(request, GetContractCall) or (
            isinstance(request, CallContract) and request.dry_run
        ):  # open only (websocket-api.md §2.2); elsewhere as any call (§4.1)
            if state is State.OPEN and self.cosigned is not None:
                return self._contract_read(request)
            if state in POSTPONE_CALL_STATES:
                return POSTPONE
            return Fail(Reason.NOT_READY if state in NOT_READY_STATES else Reason.INTERNAL)
        if isinstance(request, AssumeMinDepth):
            return self._assume_min_depth(request, now)
        if isinstance(request, Solo):
            return self._solo(request)
        if isinstance(request, ForceProgress):
            return self._force_progress(request)
        if (
            state is State.AWAITING_SIGNATURE
            and self.pending is not None
            and self.pending.op in SOLO_OPS_SET
            and not self.config.recorded_quirks
        ):
            return POSTPONE  # v5.6+: nothing races a solo step waiting for its signature
        # round-starting requests
        if state is State.OPEN:
            return self._start_round(request)
        if (
            state is State.AWAITING_SIGNATURE
            and self.pending is not None
            and self.pending.op is not Op.CREATE
            and isinstance(request, Transfer | Deposit | Withdraw | NewContract | CallContract)
        ):
            # a new round while the last one still waits for this client's signature
            self._roll_back(codes.CONFLICT_CONFLICT, tell_peer=not self.pending.starter)
            return OK
        if state in POSTPONE_CALL_STATES:
            return POSTPONE
        if state in NOT_READY_STATES:
            return Fail(Reason.NOT_READY)
        return Fail(Reason.INTERNAL)

    def _balances_now(self) -> dict[bytes, int] | None:
        if self.cosigned is not None:
            return dict(self.cosigned.balances)
        if self.pending is not None and self.pending.balances is not None:
            return dict(self.pending.balances)
        return None

    def _read(self, request: GetBalances | GetOffchainState | GetPoi) -> CallResult:
        balances = self._balances_now()
        if balances is None:
            return Fail(Reason.NOT_READY)
        contracts = node_contracts.EMPTY if self.cosigned is None else self.cosigned.contracts
        if isinstance(request, GetBalances):
            return Reply(
                [
                    {"account": address(pk), "balance": balances[pk]}
                    for pk in request.accounts
                    if pk in balances
                ]
            )
        if isinstance(request, GetOffchainState):
            half = ""
            p = self.pending
            if p is not None and p.op is not Op.CREATE and self._has_my_signature(p.signed):
                half = p.signed.to_api()
            state = node_contracts.state_trees(balances, contracts)
            return Reply(
                {
                    "calls": trees.calls_to_api(contracts.calls),
                    "half_signed_tx": half,
                    "signed_tx": "" if self.cosigned is None else self.cosigned.signed.to_api(),
                    "trees": state.to_api(),
                }
            )
        try:
            poi = node_contracts.poi_api(balances, contracts, request.accounts, request.contracts)
        except node_contracts.ContractRejected as exc:
            return Fail(exc.reason)
        return Reply({"poi": poi})

    def _message(self, request: Message) -> CallResult:
        if request.to_id != self.peer:
            return Fail(Reason.INTERNAL)  # unknown_recipient
        info = {
            "channel_id": self.channel_id_api,
            "from": address(self.me),
            "to": address(request.to_id),
            "info": request.info,
        }
        if self.peer_linked:
            self._send("inband_msg", data=info)
        return OK

    def _assume_min_depth(self, request: AssumeMinDepth, now: float) -> CallResult:
        purpose = self.watches.get(request.tx_hash)
        if purpose is None or request.tx_hash in self.assumed:
            if self.state in POSTPONE_CALL_STATES and self.state is not State.AWAITING_LOCKED:
                return POSTPONE
            return Fail(Reason.INTERNAL)
        self.assumed.add(request.tx_hash)
        self._depth_reached(request.tx_hash, purpose)
        return OK

    # -- starting a round ----------------------------------------------------------------------
    def _start_round(self, request: Call) -> CallResult:
        assert self.cosigned is not None and self.channel_id is not None
        if isinstance(request, Leave):
            self._send("leave")
            self._set_state(State.AWAITING_LEAVE_ACK)
            return OK
        try:
            if isinstance(request, Transfer):
                return self._start_transfer(request)
            if isinstance(request, Deposit | Withdraw):
                return self._start_funds(request)
            if isinstance(request, Shutdown):
                return self._start_shutdown(request)
            if isinstance(request, NewContract | CallContract):
                return self._start_contract(request)
        except UpdateRejected as exc:
            return Fail(exc.reason)
        except ValueError:  # e.g. a negative fee or nonce: the tx cannot be built
            return Fail(Reason.INTERNAL)
        return Fail(Reason.INTERNAL)

    def _meta(self, meta: tuple[str, ...]) -> tuple[Update, ...]:
        return tuple(OffChainMeta(m.encode("utf-8")) for m in meta)

    def _propose(
        self,
        op: Op,
        tx: Tx,
        updates: tuple[Update, ...],
        balances: dict[bytes, int] | None,
        round_: int,
        sign_tag: str,
        contracts: node_contracts.ContractsState = node_contracts.EMPTY,
    ) -> CallResult:
        signed = SignedTx.wrap(tx)
        self.pending = Pending(
            op, True, signed, updates, balances, round_, sign_tag, contracts=contracts
        )
        self._sign_request(methods.SIGN_BY_FSM_TAG[sign_tag].request, signed, updates)
        self._set_state(State.AWAITING_SIGNATURE)
        return OK

    def _start_transfer(self, request: Transfer) -> CallResult:
        assert self.cosigned is not None and self.channel_id is not None
        updates: tuple[Update, ...] = (
            OffChainTransfer(
                Id.account(request.from_id), Id.account(request.to_id), request.amount
            ),
            *self._meta(request.meta),
        )
        balances, contracts = self._next_state(updates)
        round_ = self.cosigned.round + 1
        state_hash = node_contracts.channel_state_hash(balances, contracts)
        tx = ChannelOffchainTx(Id.channel(self.channel_id), round_, state_hash)
        return self._propose(Op.UPDATE, tx, updates, balances, round_, "update", contracts)

    def _round_context(self, round_: int, block_hash: bytes | None) -> node_contracts.RoundContext:
        """What the VM needs for a round: participants, reserve, pinned block, profile."""
        return node_contracts.RoundContext(
            self.participants,
            self.terms.channel_reserve,
            round_,
            self.chain.env(block_hash),
            node_contracts.profile_of(self.config.effective_era),
            node_contracts.default_vm(),
        )

    def _next_state(
        self, updates: tuple[Update, ...], block_hash: bytes | None = None
    ) -> tuple[dict[bytes, int], node_contracts.ContractsState]:
        """Balances and contracts after ``updates`` on the latest co-signed state."""
        assert self.cosigned is not None
        round_ = self.cosigned.round + 1
        return offchain.next_state(
            self.cosigned.balances,
            self.cosigned.contracts,
            updates,
            lambda: self._round_context(round_, block_hash),
            self.participants,
            self.terms.channel_reserve,
        )

    def _contract_update(self, request: NewContract | CallContract) -> Update:
        """The update a contract request stands for (gas and gas price as the WS API's)."""
        me = Id.account(self.me)
        if isinstance(request, NewContract):
            return OffChainNewContract(
                me,
                pack_ct_version(request.vm_version, request.abi_version),
                request.code,
                request.deposit,
                request.call_data,
            )
        return OffChainCallContract(
            me,
            Id.contract(request.contract),
            request.abi_version,
            request.amount,
            node_contracts.WS_GAS,
            node_contracts.WS_GAS_PRICE,
            request.call_data,
            (),
        )

    def _start_contract(self, request: NewContract | CallContract) -> CallResult:
        """A contract round: the node's checks and the VM, then the signing flow."""
        assert self.cosigned is not None and self.channel_id is not None
        updates = (self._contract_update(request), *self._meta(request.meta))
        balances, contracts = self._next_state(updates, request.block_hash)
        round_ = self.cosigned.round + 1
        state_hash = node_contracts.channel_state_hash(balances, contracts)
        tx = ChannelOffchainTx(Id.channel(self.channel_id), round_, state_hash)
        result = self._propose(Op.UPDATE, tx, updates, balances, round_, "update", contracts)
        assert self.pending is not None
        self.pending.block_hash = request.block_hash
        return result

    def _contract_read(
        self, request: GetContract | GetContractCall | CleanContractCalls | CallContract
    ) -> CallResult:
        """get.contract, get.contract_call, clean_contract_calls and dry runs (§6.8)."""
        assert self.cosigned is not None
        latest = self.cosigned
        try:
            if isinstance(request, GetContract):
                return Reply(node_contracts.contract_json(latest.contracts, request.pubkey))
            if isinstance(request, GetContractCall):
                call = self.call_log.lookup(request.contract, request.caller, request.round)
                return Fail(Reason.CALL_NOT_FOUND) if call is None else Reply(call.to_dict())
            if isinstance(request, CleanContractCalls):
                self.call_log.clear()
                return Reply({"action": "calls_pruned"})
            update = self._contract_update(request)
            assert isinstance(update, OffChainCallContract)
            round_ = latest.round + 1
            ctx = self._round_context(round_, request.block_hash)
            _, _, call = node_contracts.call_contract(
                dict(latest.balances), latest.contracts.pruned(), update, ctx
            )
            return Reply(call.to_dict())
        except node_contracts.ContractRejected as exc:
            return Fail(exc.reason)

    def _start_funds(self, request: Deposit | Withdraw) -> CallResult:
        assert self.cosigned is not None and self.channel_id is not None
        if request.amount < 0:
            return Fail(Reason.NEGATIVE_AMOUNT)
        if request.amount == 0:
            return Fail(Reason.INTERNAL)
        deposit = isinstance(request, Deposit)
        me = Id.account(self.me)
        update: Update = (
            OffChainDeposit(me, request.amount)
            if deposit
            else OffChainWithdrawal(me, request.amount)
        )
        updates = (update, *self._meta(request.meta))
        try:
            balances, contracts = self._next_state(updates)
        except UpdateRejected:
            return Fail(Reason.INTERNAL)  # the node maps tx-building errors to −32603
        round_ = self.cosigned.round + 1
        nonce = request.nonce if request.nonce is not None else self.chain.next_nonce(self.me)
        channel = Id.channel(self.channel_id)
        state_hash = node_contracts.channel_state_hash(balances, contracts)
        ttl = self.options.ttl

        def build(fee: int) -> Tx:
            if deposit:
                return ChannelDepositTx(
                    channel, me, request.amount, ttl, fee, state_hash, round_, nonce
                )
            return ChannelWithdrawTx(
                channel, me, request.amount, ttl, fee, state_hash, round_, nonce
            )

        fee = fees.choose_fee(build, self.config.min_gas_price, request.fee, request.gas_price)
        if deposit:
            account = self.chain.account(self.me)
            if account is None or account.balance < request.amount + fee:
                return Fail(Reason.INTERNAL)
        tx = build(fee)
        op, tag = (Op.DEPOSIT, "deposit_tx") if deposit else (Op.WITHDRAW, "withdraw_tx")
        return self._propose(op, tx, updates, balances, round_, tag, contracts)

    def _start_shutdown(self, request: Shutdown) -> CallResult:
        assert self.cosigned is not None and self.channel_id is not None
        assert self.initiator is not None
        balance_i = self.cosigned.balances[self.initiator]
        balance_r = self.cosigned.balances[self.terms.responder]
        nonce = request.nonce if request.nonce is not None else self.chain.next_nonce(self.me)
        channel, me, ttl = Id.channel(self.channel_id), Id.account(self.me), self.options.ttl

        def build(fee: int) -> Tx:
            final_i, final_r = fees.close_mutual_amounts(balance_i, balance_r, fee)
            return ChannelCloseMutualTx(channel, me, final_i, final_r, ttl, fee, nonce)

        try:
            fee = fees.choose_fee(build, self.config.min_gas_price, request.fee, request.gas_price)
            tx = build(fee)
        except fees.FeeTooHigh:
            return Fail(Reason.INSUFFICIENT_BALANCE)
        return self._propose(Op.SHUTDOWN, tx, (), None, self.cosigned.round, "shutdown")

    # -- aborts ---------------------------------------------------------------------------------
    def _abort(self, request: AbortReply) -> CallResult:
        if not codes.MIN_ABORT_CODE <= request.code <= codes.MAX_ABORT_CODE:
            return Fail(Reason.INTERNAL)
        kind = methods.SIGN_BY_FSM_TAG.get(request.tag)
        p = self.pending
        if (
            kind is None
            or not kind.abortable
            or self.state is not State.AWAITING_SIGNATURE
            or p is None
            or p.awaiting != request.tag
        ):
            return Fail(Reason.NOT_ALLOWED_NOW)
        tell_peer = not p.starter
        self.pending = None
        if tell_peer:
            self._send(ERROR_MSG_OF_OP[p.op], error_code=request.code)
        self._notify_info("aborted_update")
        if p.op in CLOSING_OPS:
            self._set_state(State.CHANNEL_CLOSING)
        else:
            self._enter_open()
        return OK

    # -- signing replies -------------------------------------------------------------------------
    def _unexpected(self, kind: str, payload: Any) -> None:
        """A cast the current state does not handle (§4.1 handle_common_event)."""
        if self.state in DISCARD_STATES:
            return
        if self.state in PROTOCOL_ERROR_STATES:
            self._notify(methods.ERROR, {"message": "unexpected_message"})
            self._send("error", error_code=codes.CONFLICT_VALIDATION)
            self._terminate("protocol_error")
            return
        self.postponed.append((kind, payload))

    def _dispatch_signed(self, reply: SignedReply) -> None:
        p = self.pending
        if self.state is not State.AWAITING_SIGNATURE or p is None or p.awaiting != reply.tag:
            self._unexpected("signed", reply)
            return
        required = [self.me]
        peer = self.peer
        if not p.starter and peer is not None:
            required.append(peer)
        problem = self._check_signatures(reply.signed, p.signed.tx_bytes, tuple(required))
        if problem is not None and p.op in SOLO_OPS_SET and p.op is not Op.SETTLE:
            self._solo_badly_signed(p)
            return
        if problem is not None:
            self._notify(methods.ERROR, {"message": problem})
            if p.op is Op.CREATE:
                return  # keep waiting for a good signature
            self.pending = None
            self._conflict(codes.CONFLICT_VALIDATION)
            self._enter_open()
            return
        p.signed = reply.signed
        p.awaiting = None
        self._signed(reply.tag, p)

    def _signed(self, tag: str, p: Pending) -> None:
        """Our client signed; move the round on."""
        if tag == "create_tx":
            assert isinstance(p.signed.tx, ChannelCreateTx)
            self.client_may_disconnect = True
            self._learn_channel_id(p.signed.tx.channel_pubkey())
            self._send("funding_created", signed=p.signed)
            self._set_state(State.HALF_SIGNED)
        elif tag == "funding_created":
            self.client_may_disconnect = True
            self._cosign(p)
            self._on_chain("funding_created", p.signed)
            self._send("funding_signed", signed=p.signed)
            self._set_state(State.AWAITING_LOCKED)
            self._watch(p.signed, "create")
        elif tag in ("update", "deposit_tx", "withdraw_tx", "shutdown"):
            kind = {
                "update": "update",
                "deposit_tx": "deposit_created",
                "withdraw_tx": "withdraw_created",
                "shutdown": "shutdown",
            }[tag]
            data = None if p.block_hash is None else {"block_hash": p.block_hash}
            self._send(kind, signed=p.signed, updates=p.updates, data=data)
            next_state = {
                "update": State.AWAITING_UPDATE_ACK,
                "deposit_tx": State.DEP_HALF_SIGNED,
                "withdraw_tx": State.WDRAW_HALF_SIGNED,
                "shutdown": State.MUTUAL_CLOSING,
            }[tag]
            self._set_state(next_state)
        elif tag == "update_ack":
            self._cosign(p)
            self._send("update_ack", signed=p.signed)
            self._enter_open()
        elif tag in ("deposit_created", "withdraw_created"):
            info = "deposit_created" if tag == "deposit_created" else "withdraw_created"
            self._send(
                "deposit_signed" if tag == "deposit_created" else "withdraw_signed",
                signed=p.signed,
            )
            self._on_chain(info, p.signed)
            self._set_state(State.AWAITING_LOCKED)
            self._watch(p.signed, p.op.value)
        elif tag in SOLO_TAGS:
            self._solo_signed(p)
        elif tag == "shutdown_ack":
            self._send("shutdown_ack", signed=p.signed)
            self._on_chain("close_mutual", p.signed)
            self._notify_info("closing")
            self._set_state(State.MUTUAL_CLOSED)
            self._watch(p.signed, "close")

    def _cosign(self, p: Pending) -> None:
        """The pending round is now co-signed: it becomes the latest state."""
        assert p.balances is not None
        self.cosigned = CoSigned(p.signed, p.round, dict(p.balances), p.contracts)
        self.call_log.add_round(p.contracts)
        self.out.append(SaveState())

    # -- entering open, rolling back, terminating ---------------------------------------------
    def _enter_open(self) -> None:
        self.pending = None
        if self.status != "open":
            self.status = "open"
            self._set_state(State.OPEN)
            self._notify_info("open")
        else:
            self._set_state(State.OPEN)
        if self.cosigned is not None and self.cosigned.round != self.last_reported_round:
            self.last_reported_round = self.cosigned.round
            self._notify(methods.UPDATE, {"state": self.cosigned.signed.to_api()})

    def _roll_back(self, error_code: int, tell_peer: bool) -> None:
        """Drop the round in progress, report a conflict, back to the last co-signed state."""
        p = self.pending
        self.pending = None
        if tell_peer and p is not None and p.op in ERROR_MSG_OF_OP:
            self._send(ERROR_MSG_OF_OP[p.op], error_code=error_code)
        self._conflict(error_code)
        self._enter_open()

    def _terminate(self, reason: str, *events: str) -> None:
        if not self.alive:
            return
        for event in events:
            self._notify_info(event)
        self._notify_info("died")
        if self.cosigned is not None:
            self.out.append(SaveState())
        self.state = State.TERMINATED
        self.deadline = None
        self.postponed.clear()
        self.out.append(Terminated(reason))

    def crash(self) -> None:
        """An internal error: the FSM dies as an Erlang process would (died, peer notified)."""
        self.pending = None
        self.postponed.clear()
        self._terminate("crash")

    # -- connection events ----------------------------------------------------------------------
    def client_attached(self, now: float) -> None:
        """A client (re)attached with the right fsm id: it gets ``fsm_up`` again."""
        self.client_connected = True
        self._notify_info("fsm_up", fsm_id=self.fsm_id_api)

    def client_detached(self, now: float) -> None:
        """The client's socket closed: fatal before funding, harmless after (§4.9)."""
        if not self.alive:
            return
        self.client_connected = False
        if not self.client_may_disconnect:
            self._terminate("client_disconnected")

    def peer_connected(self, now: float) -> None:
        """I reached R's FSM: open or reestablish the channel."""
        self.peer_linked = True
        if self.reestablish:
            assert self.cosigned is not None
            self._send("channel_reestablish", signed=self.cosigned.signed)
            self._set_state(State.REESTABLISH_INIT)
        else:
            self._send("channel_open", data={"terms": self.terms, "initiator": self.initiator})
            self._set_state(State.INITIALIZED)
        self._rearm(now)

    def peer_lost(self, now: float) -> None:
        """The peer FSM is gone (its node dropped the noise connection)."""
        if not self.alive:
            return
        self.peer_linked = False
        if self.state in (State.MUTUAL_CLOSED, State.CHANNEL_CLOSED, State.CHANNEL_CLOSING):
            return  # a closing channel needs no peer (§1.5)
        if self.role is Role.RESPONDER and self.options.keep_running and self.funded:
            before = self.state
            self._notify_info("peer_disconnected")
            if self.pending is not None and self.pending.op is not Op.CREATE:
                self.pending = None
            if self.status == "open" and self.state is not State.OPEN:
                self._set_state(State.OPEN)
            self.out.append(Listen())
            self._settle(before, now)
            return
        self._terminate("peer_disconnected")

    def timeout(self, now: float) -> None:
        """The state timer fired (§4.14)."""
        if not self.alive:
            return
        before = self.state
        self._timeout(now)
        self._settle(before, now)

    def _timeout(self, now: float) -> None:
        p = self.pending
        ongoing = p is not None and p.op is not Op.CREATE
        if ongoing and self.state in (
            State.AWAITING_SIGNATURE,
            State.AWAITING_UPDATE_ACK,
            State.DEP_HALF_SIGNED,
            State.WDRAW_HALF_SIGNED,
            State.MUTUAL_CLOSING,
        ):
            assert p is not None
            self._roll_back(codes.CONFLICT_TIMEOUT, tell_peer=not p.starter)
            return
        if (
            self.role is Role.RESPONDER
            and self.options.keep_running
            and self.funded
            and not self.config.recorded_quirks
        ):
            # keep_running: a responder outlives its timers once the channel exists (§1.5 c);
            # before that it times out like any FSM, so abandoned opens do not linger.
            # The 2020 build timed a kept-running responder out like the initiator (v5.6.0)
            return
        if self.state is State.MUTUAL_CLOSED:
            self._terminate("timeout")
            return
        self._terminate("timeout", "timeout")

    # -- chain events ----------------------------------------------------------------------------
    def tx_included(self, tx_hash: str, signed: SignedTx, now: float) -> None:
        purpose = self.watches.get(tx_hash)
        if purpose is None or not self.alive:
            return
        if purpose in SILENT_WATCHES:
            return
        before = self.state
        if purpose == "close":
            self._on_chain("channel_closed", signed)
            if self.state is State.MUTUAL_CLOSED:
                self._set_state(State.CHANNEL_CLOSED)
        else:
            self._on_chain("channel_changed", signed)
        self._settle(before, now)

    def min_depth_reached(self, tx_hash: str, now: float) -> None:
        purpose = self.watches.get(tx_hash)
        if purpose is None or not self.alive:
            return
        if tx_hash in self.assumed:
            self._notify_info(
                "minimum_depth_achieved",
                tx_hash=tx_hash,
                tx_type=_watch_type(purpose),
                notice="already_assumed",
            )
            return
        before = self.state
        self._depth_reached(tx_hash, purpose)
        self._settle(before, now)

    def _depth_reached(self, tx_hash: str, purpose: str) -> None:
        if purpose in ("close", "settled"):
            self._terminate("closed", "closed_confirmed")
            return
        if purpose == "snapshot":
            # the node puts the raw 32-byte hash through its JSON encoder (§1.5)
            raw = encoding.decode(tx_hash, "th").decode("utf-8", "replace")
            self._notify_info("min_depth_achieved", tx_hash=raw, type=ChannelSnapshotSoloTx.TYPE)
            return
        if self.state is not State.AWAITING_LOCKED:
            return
        if purpose == "create":
            self._notify_info("own_funding_locked")
            self._send("funding_locked")
            self._set_state(State.SIGNED)
        elif purpose == "deposit":
            self._notify_info("own_deposit_locked")
            self._send("deposit_locked")
            self._set_state(State.DEP_SIGNED)
        elif purpose == "withdraw":
            self._notify_info("own_withdraw_locked")
            self._send("withdraw_locked")
            self._set_state(State.WDRAW_SIGNED)

    # -- disputes (disputes-and-current-node.md §1.4–§1.8) -------------------------------------
    def _solo(self, request: Solo) -> CallResult:
        """close_solo / snapshot_solo outside channel_closing, slash / settle inside it."""
        op, tag = SOLO_OPS[request.action]
        state = self.state
        if state in NOT_READY_STATES:
            return Fail(Reason.NOT_READY)
        closing = state is State.CHANNEL_CLOSING
        if (op in CLOSING_OPS) != closing:
            return Fail(Reason.INTERNAL)  # channel_closing / channel_not_closing
        if state not in (State.OPEN, State.CHANNEL_CLOSING, State.AWAITING_LOCKED):
            return POSTPONE if state in POSTPONE_CALL_STATES else Fail(Reason.INTERNAL)
        if self.cosigned is None or self.channel_id is None or self.initiator is None:
            return Fail(Reason.NOT_READY)
        on_chain = self.chain.channel(self.channel_id)
        if op is Op.SNAPSHOT:
            if not isinstance(self.cosigned.signed.tx, ChannelOffchainTx):
                return Fail(Reason.NOT_OFFCHAIN_TX)
            if on_chain is not None and self.cosigned.round <= on_chain.round:
                return Fail(Reason.ALREADY_ONCHAIN)
        if on_chain is None or on_chain.closed:
            return Fail(Reason.INTERNAL)  # the channel lookup fails
        build = self._solo_builder(op, on_chain, request.nonce)
        try:
            fee = fees.choose_fee(build, self.config.min_gas_price, request.fee, request.gas_price)
            if fee < fees.min_fee(build, self.config.min_gas_price) and request.gas_price is None:
                return Fail(Reason.INTERNAL)  # too_low_fee
            tx = build(fee)
        except ValueError:
            return Fail(Reason.INTERNAL)
        return self._propose(op, tx, (), None, self.cosigned.round, tag)

    def _solo_builder(
        self, op: Op, on_chain: ChannelObject, nonce: int | None
    ) -> Callable[[int], Tx]:
        """The unsigned solo tx for a fee (§1.4 "tx in it"), from this FSM's latest state."""
        assert self.cosigned is not None and self.channel_id is not None
        latest = self.cosigned
        channel, me, ttl = Id.channel(self.channel_id), Id.account(self.me), self.options.ttl
        nonce_ = nonce if nonce is not None else self.chain.next_nonce(self.me)
        if op is Op.SETTLE:
            amount_i, amount_r = (latest.balances[p] for p in self.participants)
            return lambda fee: ChannelSettleTx(channel, me, amount_i, amount_r, ttl, fee, nonce_)
        payload = latest.signed.serialize()
        if op is Op.SNAPSHOT:
            return lambda fee: ChannelSnapshotSoloTx(channel, me, payload, ttl, fee, nonce_)
        if op is Op.CLOSE_SOLO and latest.round == on_chain.round:
            payload = b""  # the on-chain state is the latest: close on it
        state = node_contracts.state_trees(latest.balances, latest.contracts)
        poi = state.poi(accounts=self.participants)
        proof = poi.serialize()
        kind = ChannelSlashTx if op is Op.SLASH else ChannelCloseSoloTx
        return lambda fee: kind(channel, me, payload, proof, ttl, fee, nonce_)

    def _force_progress(self, request: ForceProgress) -> CallResult:
        """``channels.force_progress`` in open or channel_closing (§1.4): the FP tx to sign."""
        state = self.state
        if state not in (State.OPEN, State.CHANNEL_CLOSING):
            if state in NOT_READY_STATES:
                return Fail(Reason.NOT_READY)
            return POSTPONE if state in POSTPONE_CALL_STATES else Fail(Reason.INTERNAL)
        latest = self.cosigned
        on_chain = self.chain.channel(self.channel_id) if self.channel_id else None
        if latest is None or self.channel_id is None or on_chain is None or on_chain.closed:
            return Fail(Reason.INTERNAL)
        update = OffChainCallContract(
            Id.account(self.me),
            Id.contract(request.contract),
            request.abi_version,
            request.amount,
            request.gas,
            request.gas_price,
            request.call_data,
            (),
        )
        nonce = request.nonce if request.nonce is not None else self.chain.next_nonce(self.me)
        try:
            built = fp.build(
                channel=self.channel_id,
                me=self.me,
                latest_signed=latest.signed,
                latest_round=latest.round,
                latest_balances=latest.balances,
                latest_contracts=latest.contracts,
                on_chain_round=on_chain.round,
                update=update,
                ctx=self._round_context(latest.round + 1, None),
                ttl=self.options.ttl,
                nonce=nonce,
                gas_price=request.gas_price,
            )
        except node_contracts.ContractRejected as exc:
            return Fail(exc.reason)
        except ValueError:
            return Fail(Reason.INTERNAL)
        return self._propose(
            Op.FORCE_PROGRESS, built.tx, (update,), None, latest.round, "force_progress_tx"
        )

    def _fp_included(self, signed: SignedTx, tx: ChannelForceProgressTx, closing: bool) -> None:
        """A force progress of this channel was mined (§1.6.5): consumed, or can_snapshot /
        can_slash with it; the 2020 build reported ``channel_changed`` whatever it was."""
        latest = self.cosigned
        if latest is None or self.config.recorded_quirks:
            self._on_chain("channel_changed", signed)
            return
        latest_hash = getattr(latest.signed.innermost, "state_hash", b"")
        verdict = fp.classify(tx, latest.round, latest_hash)
        if verdict == "consumed":
            result = fp.result_state(tx, lambda r: self._round_context(r, None))
            if result is None:
                return
            balances, contracts = result
            self.cosigned = CoSigned(signed, tx.round, balances, contracts)
            self.call_log.add_round(contracts)
            self.last_reported_round = tx.round  # no channels.update for it
            self.out.append(SaveState())
            self._on_chain("consumed_forced_progress", signed)
        elif verdict == "can_snapshot":
            self._on_chain("can_slash" if closing else "can_snapshot", signed)

    def _solo_back(self, p: Pending) -> None:
        """Where a solo round returns: channel_closing for slash / settle, else open."""
        on_chain = self.chain.channel(self.channel_id) if self.channel_id else None
        if p.op is Op.FORCE_PROGRESS and on_chain is not None and not on_chain.active:
            self._set_state(State.CHANNEL_CLOSING)
            return
        if p.op in CLOSING_OPS:
            self._set_state(State.CHANNEL_CLOSING)
        else:
            self._enter_open()

    def _solo_badly_signed(self, p: Pending) -> None:
        """close_solo / slash: the push helper's signature check → conflict 5 (v5.5.4+);
        a snapshot goes back to open without a word."""
        self.pending = None
        if p.op is not Op.SNAPSHOT:
            self._conflict(codes.CONFLICT_REJECTED_ONCHAIN)
        self._solo_back(p)

    def _solo_signed(self, p: Pending) -> None:
        """Our client signed a solo tx: push it (a settle waits for the lock first)."""
        self.pending = None
        on_chain = self.chain.channel(self.channel_id) if self.channel_id else None
        if p.op is Op.SETTLE and on_chain is not None and on_chain.locked(self.chain.height):
            self.held_settle = p.signed
            self.out.append(WantBlocks())
            self._solo_back(p)
            return
        try:
            self.chain.check_push(p.signed)
        except TxRejected:
            self._conflict(codes.CONFLICT_REJECTED_ONCHAIN)
            self._solo_back(p)
            return
        self.out.append(PostTx(p.signed))
        if p.op is Op.SNAPSHOT:
            self._watch(p.signed, "snapshot")
        self._solo_back(p)

    def chain_advanced(self, now: float) -> None:
        """A new block: push a held settle once the lock expired (push result ignored)."""
        held = self.held_settle
        if held is None or not self.alive or self.channel_id is None:
            return
        on_chain = self.chain.channel(self.channel_id)
        if on_chain is not None and on_chain.locked(self.chain.height):
            return
        self.held_settle = None
        try:
            self.chain.check_push(held)
        except TxRejected:
            return
        self.out.append(PostTx(held))

    def channel_tx_included(self, signed: SignedTx, on_chain: ChannelObject, now: float) -> None:
        """The chain watcher saw a dispute tx of this channel (whoever posted it), §1.5."""
        if not self.alive:
            return
        before = self.state
        tx = signed.tx
        if on_chain.closed:
            self.held_settle = None
            self._on_chain("channel_closed", signed)
            self._watch(signed, "settled")
            self.pending = None
            self._set_state(State.CHANNEL_CLOSED)
        elif isinstance(tx, ChannelSnapshotSoloTx):
            self._on_chain("channel_changed", signed)
        elif isinstance(tx, ChannelForceProgressTx):
            self._fp_included(signed, tx, not on_chain.active)
        else:
            latest = self.cosigned
            least = on_chain.round if on_chain.solo_round == 0 else on_chain.solo_round - 1
            if latest is not None and latest.round > least:
                self._notify(
                    methods.ON_CHAIN_TX,
                    {
                        "info": "can_slash",
                        "tx": latest.signed.to_api(),
                        "type": latest.signed.tx.TYPE,
                    },
                )
            else:
                self._on_chain("solo_closing", signed)
            if self.state is not State.CHANNEL_CLOSING and not (
                self.state is State.AWAITING_SIGNATURE
                and self.pending is not None
                and self.pending.op in CLOSING_OPS
            ):
                self.pending = None
                self._set_state(State.CHANNEL_CLOSING)
                self._notify_info("closing")
        self._settle(before, now)

    # -- peer messages -----------------------------------------------------------------------------
    def on_peer(self, msg: PeerMsg, now: float) -> None:
        if not self.alive:
            return
        before = self.state
        self._dispatch_peer(msg)
        self._settle(before, now)

    def _dispatch_peer(self, msg: PeerMsg) -> None:
        handler = _PEER_HANDLERS.get(msg.kind)
        if handler is None or not handler(self, msg):
            if msg.kind in ROUND_ERRORS or msg.kind == "inband_msg":
                return  # straggler conflict notices and messages never wait
            self._unexpected("peer", msg)

    def _peer_channel_open(self, msg: PeerMsg) -> bool:
        if self.state is not State.AWAITING_OPEN:
            return False
        terms: Terms = msg.data["terms"]
        self.initiator = msg.data["initiator"]
        self.terms = replace(terms, initiator=self.initiator, port=self.terms.port)
        self.peer_linked = True
        self._notify_info("channel_open")
        self._send("channel_accept", data={"minimum_depth": self.depth_factor})
        self._set_state(State.ACCEPTED)
        return True

    def _peer_channel_accept(self, msg: PeerMsg) -> bool:
        if self.state is not State.INITIALIZED:
            return False
        if self.depth_factor is None:
            self.depth_factor = msg.data.get("minimum_depth")
        self._notify_info("channel_accept")
        assert self.initiator is not None
        balances = self.terms.initial_balances(self.initiator)
        state_hash = offchain.state_hash(balances)
        nonce = (
            self.options.nonce if self.options.nonce is not None else self.chain.next_nonce(self.me)
        )
        t = self.terms

        def build(fee: int) -> Tx:
            common: dict[str, Any] = {
                "initiator_id": Id.account(self.me),
                "initiator_amount": t.initiator_amount,
                "responder_id": Id.account(t.responder),
                "responder_amount": t.responder_amount,
                "channel_reserve": t.channel_reserve,
                "lock_period": t.lock_period,
                "ttl": 0,
                "fee": fee,
                "state_hash": state_hash,
                "nonce": nonce,
                "version": self.config.create_tx_version,
            }
            return ChannelCreateTx(**common)

        fee = fees.choose_fee(
            build, self.config.min_gas_price, self.options.fee, self.options.gas_price
        )
        self._propose(Op.CREATE, build(fee), (), balances, 1, "create_tx")
        return True

    def _check_create(self, signed: SignedTx) -> dict[bytes, int] | None:
        """R's view of I's create tx: the agreed terms and the right state hash."""
        tx = signed.tx
        t = self.terms
        if not isinstance(tx, ChannelCreateTx) or self.initiator is None:
            return None
        balances = t.initial_balances(self.initiator)
        if (
            tx.initiator_id.value != self.initiator
            or tx.responder_id.value != t.responder
            or tx.initiator_amount != t.initiator_amount
            or tx.responder_amount != t.responder_amount
            or tx.channel_reserve != t.channel_reserve
            or tx.lock_period != t.lock_period
            or tx.state_hash != offchain.state_hash(balances)
        ):
            return None
        return balances

    def _peer_funding_created(self, msg: PeerMsg) -> bool:
        if self.state is not State.ACCEPTED:
            return False
        assert msg.signed is not None and self.initiator is not None
        balances = self._check_create(msg.signed)
        problem = self._check_signatures(msg.signed, msg.signed.tx_bytes, (self.initiator,))
        if balances is None or problem is not None:
            self._notify(methods.ERROR, {"message": problem or "not_create_tx"})
            self._terminate("bad_create_tx")
            return True
        create = msg.signed.tx
        assert isinstance(create, ChannelCreateTx)
        self._learn_channel_id(create.channel_pubkey())
        self.pending = Pending(Op.CREATE, False, msg.signed, (), balances, 1, "funding_created")
        if self.config.effective_era == "older":
            self._funding_report_2019("funding_created")
            if self.client_connected:
                data = {"signed_tx": msg.signed.to_api(), "updates": []}
                self.out.append(Notify(methods.SIGN_PREFIX + "responder_sign", data, None))
        else:
            self._notify_info("funding_created", fsm_id=self.fsm_id_api)
            self._sign_request("responder_sign", msg.signed, ())
        self._set_state(State.AWAITING_SIGNATURE)
        return True

    def _funding_report_2019(self, event: str) -> None:
        """The 2019 build's funding info: no fsm_id, and the handler learns no channel id."""
        tag = methods.REPORT_TAG_OF_METHOD.get(methods.INFO)
        if self.client_connected and (tag is None or self.options.reports(tag)):
            self.out.append(Notify(methods.INFO, {"event": event}, None))

    def _peer_funding_signed(self, msg: PeerMsg) -> bool:
        if self.state is not State.HALF_SIGNED:
            return False
        p = self.pending
        assert msg.signed is not None and p is not None
        problem = self._check_signatures(msg.signed, p.signed.tx_bytes, self.participants)
        if problem is not None:
            self._notify(methods.ERROR, {"message": problem})
            self._terminate("bad_signature")
            return True
        p.signed = msg.signed
        self._cosign(p)
        if self.config.effective_era == "older":
            self._funding_report_2019("funding_signed")
        else:
            self._notify_info("funding_signed", fsm_id=self.fsm_id_api)
        self.out.append(PostTx(msg.signed))
        self._on_chain("funding_signed", msg.signed)
        self._set_state(State.AWAITING_LOCKED)
        self._watch(msg.signed, "create")
        return True

    def _peer_locked(self, msg: PeerMsg) -> bool:
        wanted = {
            "funding_locked": (State.SIGNED, "funding_locked"),
            "deposit_locked": (State.DEP_SIGNED, "deposit_locked"),
            "withdraw_locked": (State.WDRAW_SIGNED, "withdraw_locked"),
        }[msg.kind]
        if self.state is State.AWAITING_LOCKED:
            self.postponed.append(("peer", msg))  # our own confirmation comes first
            return True
        if self.state is not wanted[0]:
            return False
        self._notify_info(wanted[1])
        if msg.kind != "funding_locked":
            assert self.pending is not None
            self._cosign(self.pending)
        self._enter_open()
        return True

    def _proposal_balances(
        self, msg: PeerMsg, op: Op
    ) -> tuple[dict[bytes, int], node_contracts.ContractsState] | None:
        """Balances and contracts the peer's proposal leads to, when it is a valid next round."""
        assert self.cosigned is not None and self.channel_id is not None
        signed = msg.signed
        if signed is None:
            return None
        tx = signed.tx
        expected_type = {
            Op.UPDATE: ChannelOffchainTx,
            Op.DEPOSIT: ChannelDepositTx,
            Op.WITHDRAW: ChannelWithdrawTx,
        }[op]
        if not isinstance(tx, expected_type):
            return None
        assert isinstance(tx, ChannelOffchainTx | ChannelDepositTx | ChannelWithdrawTx)
        if tx.channel_id.value != self.channel_id or tx.round != self.cosigned.round + 1:
            return None
        block_hash = msg.data.get("block_hash") if isinstance(msg.data, dict) else None
        try:
            balances, contracts = self._next_state(msg.updates, block_hash)
        except UpdateRejected:
            return None
        if node_contracts.channel_state_hash(balances, contracts) != tx.state_hash:
            return None
        if op is Op.DEPOSIT and not (
            isinstance(tx, ChannelDepositTx)
            and len(msg.updates) >= 1
            and isinstance(msg.updates[0], OffChainDeposit)
            and msg.updates[0].from_id == tx.from_id
            and msg.updates[0].amount == tx.amount
        ):
            return None
        if op is Op.WITHDRAW and not (
            isinstance(tx, ChannelWithdrawTx)
            and len(msg.updates) >= 1
            and isinstance(msg.updates[0], OffChainWithdrawal)
            and msg.updates[0].to_id == tx.to_id
            and msg.updates[0].amount == tx.amount
        ):
            return None
        peer = self.peer
        assert peer is not None
        if self._check_signatures(signed, signed.tx_bytes, (peer,)) is not None:
            return None
        return balances, contracts

    def _in_round(self) -> bool:
        """A round of ours is under way (a competing proposal is a conflict)."""
        p = self.pending
        return (
            p is not None
            and p.op is not Op.CREATE
            and self.state
            in (
                State.AWAITING_SIGNATURE,
                State.AWAITING_UPDATE_ACK,
                State.DEP_HALF_SIGNED,
                State.WDRAW_HALF_SIGNED,
                State.MUTUAL_CLOSING,
            )
        )

    def _peer_proposal(self, msg: PeerMsg) -> bool:
        op, info, sign_request, tag = {
            "update": (Op.UPDATE, "update", "update_ack", "update_ack"),
            "deposit_created": (Op.DEPOSIT, "deposit_created", "deposit_ack", "deposit_created"),
            "withdraw_created": (
                Op.WITHDRAW,
                "withdraw_created",
                "withdraw_ack",
                "withdraw_created",
            ),
        }[msg.kind]
        if self._in_round():
            self._send(ERROR_MSG_OF_OP[op], error_code=codes.CONFLICT_CONFLICT)
            self._roll_back(codes.CONFLICT_CONFLICT, tell_peer=False)
            return True
        if self.state is not State.OPEN:
            return False
        assert self.cosigned is not None and msg.signed is not None
        proposed = self._proposal_balances(msg, op)
        if proposed is None:
            self._send(ERROR_MSG_OF_OP[op], error_code=codes.CONFLICT_CONFLICT)
            return True
        balances, contracts = proposed
        pending = Pending(
            op,
            False,
            msg.signed,
            msg.updates,
            balances,
            self.cosigned.round + 1,
            tag,
            contracts=contracts,
        )
        if not self.client_connected:
            if not self._has_my_signature(msg.signed):
                self._send(ERROR_MSG_OF_OP[op], error_code=codes.CONFLICT_CONFLICT)
                return True
            # co-signed out of band: act as if our client had signed
            self.pending = pending
            pending.awaiting = None
            self._signed(tag, pending)
            return True
        self.pending = pending
        self._notify_info(info)
        self._sign_request(sign_request, msg.signed, msg.updates)
        self._set_state(State.AWAITING_SIGNATURE)
        return True

    def _peer_update_ack(self, msg: PeerMsg) -> bool:
        p = self.pending
        if self.state is not State.AWAITING_UPDATE_ACK or p is None:
            return False
        assert msg.signed is not None
        if self._check_signatures(msg.signed, p.signed.tx_bytes, self.participants) is not None:
            self._roll_back(codes.CONFLICT_VALIDATION, tell_peer=False)
            return True
        p.signed = msg.signed
        self._cosign(p)
        self._enter_open()
        return True

    def _peer_round_error(self, msg: PeerMsg) -> bool:
        p = self.pending
        if p is None or p.op is Op.CREATE:
            return False
        if self.state not in (
            State.AWAITING_SIGNATURE,
            State.AWAITING_UPDATE_ACK,
            State.DEP_HALF_SIGNED,
            State.WDRAW_HALF_SIGNED,
            State.MUTUAL_CLOSING,
        ):
            return False
        self._roll_back(msg.error_code, tell_peer=False)
        return True

    def _peer_funds_signed(self, msg: PeerMsg) -> bool:
        wanted = State.DEP_HALF_SIGNED if msg.kind == "deposit_signed" else State.WDRAW_HALF_SIGNED
        p = self.pending
        if self.state is not wanted or p is None:
            return False
        assert msg.signed is not None
        problem = self._check_signatures(msg.signed, p.signed.tx_bytes, self.participants)
        if problem is not None:
            self._notify(methods.ERROR, {"message": problem})
            self._terminate("bad_signature")
            return True
        p.signed = msg.signed
        self.out.append(PostTx(msg.signed))
        self._on_chain(msg.kind, msg.signed)
        self._set_state(State.AWAITING_LOCKED)
        self._watch(msg.signed, p.op.value)
        return True

    def _peer_shutdown(self, msg: PeerMsg) -> bool:
        if self._in_round():
            self._send("shutdown_error", error_code=codes.CONFLICT_CONFLICT)
            self._roll_back(codes.CONFLICT_CONFLICT, tell_peer=False)
            return True
        if self.state is not State.OPEN:
            return False
        assert msg.signed is not None and self.cosigned is not None
        tx = msg.signed.tx
        peer = self.peer
        assert peer is not None
        valid = (
            isinstance(tx, ChannelCloseMutualTx)
            and self.initiator is not None
            and (tx.initiator_amount_final + tx.responder_amount_final + tx.fee)
            == sum(self.cosigned.balances[p] for p in self.participants)
            and self._check_signatures(msg.signed, msg.signed.tx_bytes, (peer,)) is None
        )
        if not valid:
            self._send("shutdown_error", error_code=codes.CONFLICT_CONFLICT)
            return True
        pending = Pending(
            Op.SHUTDOWN, False, msg.signed, (), None, self.cosigned.round, "shutdown_ack"
        )
        if not self.client_connected:
            if self._has_my_signature(msg.signed):
                self.pending = pending
                pending.awaiting = None
                self._signed("shutdown_ack", pending)
            return True  # otherwise ignored: the closer times out
        self.pending = pending
        self._notify_info("shutdown")
        self._sign_request("shutdown_sign_ack", msg.signed, ())
        self._set_state(State.AWAITING_SIGNATURE)
        return True

    def _peer_shutdown_ack(self, msg: PeerMsg) -> bool:
        p = self.pending
        if self.state is not State.MUTUAL_CLOSING or p is None:
            return False
        assert msg.signed is not None
        if self._check_signatures(msg.signed, p.signed.tx_bytes, self.participants) is not None:
            self._roll_back(codes.CONFLICT_VALIDATION, tell_peer=False)
            return True
        p.signed = msg.signed
        self.out.append(PostTx(msg.signed))
        self._on_chain("close_mutual", msg.signed)
        self._notify_info("closing")
        self._set_state(State.MUTUAL_CLOSED)
        self._watch(msg.signed, "close")
        return True

    def _peer_leave(self, msg: PeerMsg) -> bool:
        if self.state is not State.OPEN:
            return False
        assert self.cosigned is not None
        self._send("leave_ack")
        self._notify(methods.LEAVE, {"state": self.cosigned.signed.to_api()})
        self.out.append(SaveState())
        if self.role is Role.RESPONDER and self.options.keep_running:
            return True
        self._terminate("leave")
        return True

    def _peer_leave_ack(self, msg: PeerMsg) -> bool:
        if self.state is not State.AWAITING_LEAVE_ACK:
            return False
        assert self.cosigned is not None
        self._notify(methods.LEAVE, {"state": self.cosigned.signed.to_api()})
        self._terminate("leave")
        return True

    def _peer_inband(self, msg: PeerMsg) -> bool:
        self._notify(methods.MESSAGE, {"message": msg.data})
        return True

    def _peer_reestablish(self, msg: PeerMsg) -> bool:
        listening = self.state is State.AWAITING_REESTABLISH or (
            self.state is State.OPEN and not self.peer_linked
        )
        if not listening:
            return False
        assert self.cosigned is not None
        if msg.signed is None or msg.signed.serialize() != self.cosigned.signed.serialize():
            self._send("error", error_code=codes.CONFLICT_VALIDATION)
            self._terminate("bad_reestablish")
            return True
        self.peer_linked = True
        self._send("channel_reest_ack", signed=self.cosigned.signed)
        if self.state is State.OPEN:  # a kept-running responder: status becomes "attached"
            self.status = "attached"
            if self.config.effective_era == "current":
                self.last_reported_round = None
        self._notify_info("channel_reestablished")
        self._enter_open()
        return True

    def _peer_reest_ack(self, msg: PeerMsg) -> bool:
        if self.state is not State.REESTABLISH_INIT:
            return False
        self._notify_info("channel_reestablished")
        self._enter_open()
        return True

    def _peer_error(self, msg: PeerMsg) -> bool:
        self._terminate("peer_error")
        return True


def _watch_type(purpose: str) -> str:
    return {
        "create": ChannelCreateTx.TYPE,
        "deposit": ChannelDepositTx.TYPE,
        "withdraw": ChannelWithdrawTx.TYPE,
        "close": ChannelCloseMutualTx.TYPE,
    }.get(purpose, purpose)


SOLO_OPS_SET: Final = frozenset(op for op, _ in SOLO_OPS.values())


_PEER_HANDLERS: Final[dict[str, Callable[[ChannelFsm, PeerMsg], bool]]] = {
    "channel_open": ChannelFsm._peer_channel_open,
    "channel_accept": ChannelFsm._peer_channel_accept,
    "funding_created": ChannelFsm._peer_funding_created,
    "funding_signed": ChannelFsm._peer_funding_signed,
    "funding_locked": ChannelFsm._peer_locked,
    "deposit_locked": ChannelFsm._peer_locked,
    "withdraw_locked": ChannelFsm._peer_locked,
    "update": ChannelFsm._peer_proposal,
    "deposit_created": ChannelFsm._peer_proposal,
    "withdraw_created": ChannelFsm._peer_proposal,
    "update_ack": ChannelFsm._peer_update_ack,
    "update_error": ChannelFsm._peer_round_error,
    "deposit_error": ChannelFsm._peer_round_error,
    "withdraw_error": ChannelFsm._peer_round_error,
    "shutdown_error": ChannelFsm._peer_round_error,
    "deposit_signed": ChannelFsm._peer_funds_signed,
    "withdraw_signed": ChannelFsm._peer_funds_signed,
    "shutdown": ChannelFsm._peer_shutdown,
    "shutdown_ack": ChannelFsm._peer_shutdown_ack,
    "leave": ChannelFsm._peer_leave,
    "leave_ack": ChannelFsm._peer_leave_ack,
    "inband_msg": ChannelFsm._peer_inband,
    "channel_reestablish": ChannelFsm._peer_reestablish,
    "channel_reest_ack": ChannelFsm._peer_reest_ack,
    "error": ChannelFsm._peer_error,
}
