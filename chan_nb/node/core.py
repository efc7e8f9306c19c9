"""The whole embedded node as a pure object: connections, FSMs, chain, timers.

No sockets, no asyncio: the I/O layer calls :meth:`NodeCore.connect`,
:meth:`~NodeCore.receive`, :meth:`~NodeCore.disconnect` and
:meth:`~NodeCore.advance` with the current time and carries out the
:data:`Action` values they return (send a text frame, close a socket).
:meth:`~NodeCore.next_deadline` says when ``advance`` is due next.

Per connection there is a :class:`Handler` — the node's WebSocket handler:
it caches the channel id it reports, turns FSM reports into frames, answers
pings, and blocks while the FSM postpones its call (websocket-api.md §2.1).
The two FSMs of a channel talk through the core (a FIFO of peer messages in
place of the noise link); one FSM's failure never touches another channel.
"""

from __future__ import annotations

import heapq
import hmac
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from nacl.bindings import crypto_core_ed25519_is_valid_point

from chan_nb.codec import encoding
from chan_nb.codec.txs import SignedTx
from chan_nb.node import events, rpc
from chan_nb.node import params as params_mod
from chan_nb.node.chain import DISPUTE_TXS, Chain, Inclusion
from chan_nb.node.config import NodeConfig
from chan_nb.node.fsm import ChannelFsm, Snapshot, State, Terms
from chan_nb.node.params import ExistingParams, OpenParams, Rejection, Role
from chan_nb.protocol import frames, methods
from chan_nb.protocol.codes import Reason

Json = Any

log = logging.getLogger(__name__)

#: Entries ``channels.history.fetch`` keeps per FSM (the node's ``log_keep`` default).
HISTORY_KEEP = 10


@dataclass(frozen=True)
class Send:
    conn_id: int
    text: str


@dataclass(frozen=True)
class Close:
    """Close a socket: 1000 as the node's own stop, 1011 when its handler crashed."""

    conn_id: int
    code: int = 1000


#: WebSocket close code of a crashed handler (cowboy closes with it)
HANDLER_CRASHED = 1011


@dataclass(frozen=True)
class Pause:
    """Stop (or resume) reading this client's frames: its handler waits on a postponed call.

    The node's handler process does not read its socket while it is blocked in a call
    to its FSM, so a client sending meanwhile meets TCP back-pressure instead of a
    queue that grows in the node.
    """

    conn_id: int
    paused: bool


Action = Send | Close | Pause


@dataclass
class Handler:
    """One client connection (the node's sc_ws_handler)."""

    conn_id: int
    fsm: ChannelFsm | None = None
    channel_id: str | None = None  # cached from the FSM's reports
    received_frame: bool = False
    blocked: tuple[frames.Request, events.Call] | None = None
    backlog_in: list[str] = field(default_factory=list)
    backlog_out: list[dict[str, Json]] = field(default_factory=list)
    batch: tuple[list[dict[str, Json]], list[dict[str, Json]]] | None = None  # replies, notes
    rejected: bool = False  # refused at connect time: frames are ignored until it closes
    closed: bool = False


@dataclass
class _Watch:
    fsm: ChannelFsm
    depth: int
    included: bool = False


class NodeCore:
    """The embedded node's protocol logic; see the module docstring."""

    def __init__(
        self, config: NodeConfig | None = None, random_bytes: Callable[[int], bytes] | None = None
    ) -> None:
        self.config = config or NodeConfig()
        self.chain = Chain(self.config.network_id)
        self._random = random_bytes or secrets.token_bytes
        self.handlers: dict[int, Handler] = {}
        self._handler_of: dict[int, Handler] = {}  # id(fsm) -> its client's handler
        self._peer_of: dict[int, ChannelFsm] = {}  # id(fsm) -> linked peer fsm
        self.running: dict[tuple[bytes, Role], ChannelFsm] = {}
        self._fsms: list[ChannelFsm] = []
        # timers without scanning every FSM: a lazy heap of (deadline, creation number,
        # push number, fsm), refreshed from the FSMs touched since (their deadline may
        # have moved); stale entries are dropped when they surface
        self._created: dict[int, int] = {}  # id(fsm) -> creation number, for live FSMs
        self._timers: list[tuple[float, int, int, ChannelFsm]] = []
        self._touched: dict[int, ChannelFsm] = {}
        self._pushes = 0
        self._blocked: dict[int, Handler] = {}  # conn_id -> handler with a postponed call
        self._listeners: list[ChannelFsm] = []
        self._connecting: list[ChannelFsm] = []
        self.state_cache: dict[tuple[bytes, Role], Snapshot] = {}
        self._watches: dict[str, list[_Watch]] = {}
        self._peer_queue: deque[tuple[ChannelFsm, events.PeerMsg]] = deque()
        self._delayed: list[tuple[float, int, Callable[[float], None]]] = []  # (due, seq, event)
        self._seq = 0
        self._noticed: set[int] = set()
        #: id(fsm) -> its log: (type, tag, wall-clock time, info), formatted when fetched
        self._history: dict[int, deque[tuple[str, str, float, Json]]] = {}
        self.next_block_at: float | None = None
        self._actions: list[Action] = []
        self._now = 0.0
        for address, amount in self.config.funded.items():
            self.fund(address, amount)

    # -- accounts and chain --------------------------------------------------------------------
    def fund(self, account: str | bytes, amount: int) -> None:
        """Give an account ``amount`` more coins (creating it)."""
        pubkey = encoding.decode(account, "ak") if isinstance(account, str) else account
        self.chain.fund(pubkey, amount)

    def balance(self, account: str | bytes) -> int | None:
        pubkey = encoding.decode(account, "ak") if isinstance(account, str) else account
        acct = self.chain.account(pubkey)
        return None if acct is None else acct.balance

    def _account_known(self, pubkey: bytes) -> bool:
        if self.chain.account(pubkey) is not None:
            return True
        if self.config.auto_fund and crypto_core_ed25519_is_valid_point(pubkey):
            self.chain.fund(pubkey, self.config.auto_fund_amount)
            return True
        return False

    def mine(self, now: float, blocks: int = 1) -> list[Action]:
        """Make ``blocks`` blocks now (the only way blocks appear with block_interval=None)."""
        self._now = now
        for _ in range(blocks):
            self._mine_block(now)
        return self._finish(now)

    # -- time -------------------------------------------------------------------------------
    def next_deadline(self) -> float | None:
        """When :meth:`advance` should run next (None = only on input)."""
        times = []
        timer = self._first_timer()
        if timer is not None:
            times.append(timer)
        if self.next_block_at is not None:
            times.append(self.next_block_at)
        if self._delayed:
            times.append(min(d[0] for d in self._delayed))
        return min(times) if times else None

    def advance(self, now: float) -> list[Action]:
        """Fire whatever is due at ``now``: delayed events, FSM timers, blocks."""
        self._now = now
        due = [d for d in self._delayed if d[0] <= now]
        if due:
            self._delayed = [d for d in self._delayed if d[0] > now]
            for _, _, event in sorted(due, key=lambda d: (d[0], d[1])):
                event(now)
        # FSMs whose timers fall due together still end one after the other: a peer that
        # died of its timer in this pass is what the other FSM notices first (the node
        # reports only `died` to it, not a `timeout` of its own)
        peer_ended: set[int] = set()
        for machine in self._due_fsms(now):
            if id(machine) in peer_ended and machine.alive:
                self._noticed.add(id(machine))  # the delayed notice is this one
                self._event(machine, machine.peer_lost, now)
                self._drain(machine, now)
                if not machine.alive:
                    continue
            if machine.alive and machine.deadline is not None and machine.deadline <= now:
                peer = self._peer_of.get(id(machine))
                self._event(machine, machine.timeout, now)
                self._drain(machine, now)
                if peer is not None and not machine.alive:
                    peer_ended.add(id(peer))
        if self.next_block_at is not None and self.next_block_at <= now:
            self.next_block_at = None
            self._mine_block(now)
        return self._finish(now)

    def expire_timers(self, now: float, within: float) -> list[Action]:
        """Fire now every FSM timer due within ``within`` seconds.

        What a timer does does not depend on when it fires: tests use long timers (no
        busy machine makes them fire early) and call this where the timer's effect is
        what they look at, instead of waiting for it.
        """
        self._now = now
        for machine in self._fsms:
            if machine.alive and machine.deadline is not None and machine.deadline <= now + within:
                machine.deadline = now
                self._touch(machine)
        return self.advance(now)

    def _touch(self, machine: ChannelFsm) -> None:
        """``machine`` ran an event: its timer may have moved."""
        self._touched[id(machine)] = machine

    def _refresh_timers(self) -> None:
        for machine in self._touched.values():
            created = self._created.get(id(machine))
            if created is not None and machine.alive and machine.deadline is not None:
                self._pushes += 1
                heapq.heappush(self._timers, (machine.deadline, created, self._pushes, machine))
        self._touched.clear()
        if len(self._timers) > 4 * len(self._created) + 64:  # too many stale entries
            self._timers = [t for t in self._timers if self._current(t)]
            heapq.heapify(self._timers)

    def _current(self, timer: tuple[float, int, int, ChannelFsm]) -> bool:
        deadline, created, _, machine = timer
        return (
            machine.alive
            and machine.deadline == deadline
            and self._created.get(id(machine)) == created
        )

    def _first_timer(self) -> float | None:
        self._refresh_timers()
        while self._timers and not self._current(self._timers[0]):
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def _due_fsms(self, now: float) -> list[ChannelFsm]:
        """FSMs whose timer is due, in creation order (as a scan of all FSMs would find them)."""
        self._refresh_timers()
        due: dict[int, tuple[int, ChannelFsm]] = {}
        while self._timers and self._timers[0][0] <= now:
            timer = heapq.heappop(self._timers)
            if self._current(timer):
                due[id(timer[3])] = (timer[1], timer[3])
        return [machine for _, machine in sorted(due.values(), key=lambda d: d[0])]

    def _add_fsm(self, machine: ChannelFsm) -> None:
        self._fsms.append(machine)
        self._seq += 1
        self._created[id(machine)] = self._seq
        self._touch(machine)

    def _set_blocked(
        self, handler: Handler, blocked: tuple[frames.Request, events.Call] | None
    ) -> None:
        was = handler.blocked is not None
        handler.blocked = blocked
        if blocked is None:
            self._blocked.pop(handler.conn_id, None)
        else:
            self._blocked[handler.conn_id] = handler
        if was != (blocked is not None) and not handler.closed:
            self._actions.append(Pause(handler.conn_id, blocked is not None))

    # -- connections ------------------------------------------------------------------------
    def connect(self, conn_id: int, path_and_query: str, now: float) -> list[Action]:
        """A WebSocket was opened at ``path_and_query`` (``/channel?…``)."""
        self._now = now
        full = self.config.max_connections is not None and (
            len(self.handlers) >= self.config.max_connections
        )
        handler = Handler(conn_id)
        self.handlers[conn_id] = handler
        if full:  # too_many_ws_sockets: closed without a frame
            self._reject(handler, None)
            return self._finish(now)
        try:
            parsed = params_mod.parse(path_and_query)
            if isinstance(parsed, Rejection):
                self._reject(handler, parsed.reason)
            elif isinstance(parsed, OpenParams):
                self._open(handler, parsed, now)
            else:
                self._existing(handler, parsed, now)
        except Exception:  # a bug must cost this connection, never the node
            self._handler_crashed(handler, now)
        return self._finish(now)

    def receive(self, conn_id: int, text: str | bytes, now: float) -> list[Action]:
        """A text frame from a client."""
        self._now = now
        handler = self.handlers.get(conn_id)
        if handler is None or handler.closed or handler.rejected:
            return self._finish(now)
        if not isinstance(text, str):
            return self._finish(now)  # binary frames: the node's handler ignores them (§3.2)
        handler.received_frame = True
        if handler.blocked is not None:
            handler.backlog_in.append(text)
        else:
            try:
                self._frame(handler, text, now)
            except Exception:
                self._handler_crashed(handler, now)
        return self._finish(now)

    def disconnect(self, conn_id: int, now: float) -> list[Action]:
        """The client's socket is gone (closed by either side)."""
        self._now = now
        handler = self.handlers.pop(conn_id, None)
        self._blocked.pop(conn_id, None)
        if handler is not None:
            handler.closed = True
            machine = handler.fsm
            if machine is not None and self._handler_of.get(id(machine)) is handler:
                del self._handler_of[id(machine)]
                self._event(machine, machine.client_detached, now)
                self._drain(machine, now)
        return self._finish(now)

    def _handler_crashed(self, handler: Handler, now: float) -> None:
        """Handling this client's input raised: only its connection ends (1011, as cowboy).

        The FSM loses its client as if the socket had closed; every other connection,
        the timers and the chain go on.
        """
        log.exception("embedded node: the handler of connection %d crashed", handler.conn_id)
        self._set_blocked(handler, None)
        handler.backlog_in.clear()
        handler.backlog_out.clear()
        handler.batch = None
        if not handler.closed:
            handler.closed = True
            self._actions.append(Close(handler.conn_id, HANDLER_CRASHED))
        machine = handler.fsm
        handler.fsm = None
        if machine is not None and self._handler_of.get(id(machine)) is handler:
            del self._handler_of[id(machine)]
            self._event(machine, machine.client_detached, now)
            self._drain(machine, now)

    def _reject(self, handler: Handler, reason: Reason | None) -> None:
        """Refuse a connection: silently, or with an error frame and a close ~1 ms later."""
        handler.rejected = True
        if reason is None:
            self._close(handler)
            return
        self._send(handler, frames.error(None, None, reason, {}))
        self._close_later(handler, self._now)

    def _close_later(self, handler: Handler, now: float) -> None:
        """Close the socket ``close_delay`` from now (the node does not close instantly)."""

        def close(at: float) -> None:
            self._close(handler)

        self._later(now + self.config.close_delay, close)

    def _close(self, handler: Handler) -> None:
        if not handler.closed:
            handler.closed = True
            self._actions.append(Close(handler.conn_id))

    def _new_fsm_id(self) -> bytes:
        return self._random(params_mod.FSM_ID_SIZE)

    def _open(self, handler: Handler, p: OpenParams, now: float) -> None:
        if params_mod.amounts_problem(p) is not None:
            self._reject(handler, Reason.VALUE_TOO_LOW)
            return
        for pubkey in (p.initiator, p.responder):
            if pubkey is not None and not self._account_known(pubkey):
                self._reject(handler, Reason.PARTICIPANT_NOT_FOUND)
                return
        if p.lock_period < 0:
            self._reject(handler, Reason.VALUE_TOO_LOW)
            return
        allowed_ports = self.config.responder_ports
        if p.role is Role.RESPONDER and allowed_ports is not None and p.port not in allowed_ports:
            self._reject(handler, Reason.INTERNAL)  # responder_port_not_allowed
            return
        if self.config.max_channels is not None and len(self._fsms) >= self.config.max_channels:
            self._reject(handler, Reason.INTERNAL)  # channel_count_limit_exceeded
            return
        terms = Terms(
            p.initiator,
            p.responder,
            p.initiator_amount,
            p.responder_amount,
            p.push_amount,
            p.channel_reserve,
            p.lock_period,
            p.port,
        )
        options = p.options
        if p.role is Role.INITIATOR:
            options = _replace_keep_running(options, False)  # honoured only for R (§1.5)
        me = p.initiator if p.role is Role.INITIATOR else p.responder
        assert me is not None
        machine = ChannelFsm.fresh(
            p.role, self._new_fsm_id(), me, terms, options, self.config, self.chain, now
        )
        self._attach(handler, machine)
        self._add_fsm(machine)
        if p.role is Role.INITIATOR:
            self._connecting.append(machine)
        self._drain(machine, now)
        self._try_pair(now)

    def _existing(self, handler: Handler, p: ExistingParams, now: float) -> None:
        key = (p.channel_id, p.role)
        machine = self.running.get(key)
        if machine is not None and machine.alive:
            self._reconnect(handler, machine, p, now)
            return
        channel = self.chain.channel(p.channel_id)
        snapshot = self.state_cache.get(key)
        if channel is None or channel.closed or snapshot is None:
            self._reject(handler, None)
            return
        if not hmac.compare_digest(snapshot.fsm_id, p.fsm_id):
            self._reject(handler, Reason.INVALID_FSM_ID)
            return
        machine = ChannelFsm.reestablished(
            snapshot, self._new_fsm_id(), self.config, self.chain, now
        )
        self._attach(handler, machine)
        self._add_fsm(machine)
        if p.role is Role.INITIATOR:
            self._connecting.append(machine)
        self._drain(machine, now)
        self._try_pair(now)

    def _reconnect(
        self, handler: Handler, machine: ChannelFsm, p: ExistingParams, now: float
    ) -> None:
        if not hmac.compare_digest(machine.fsm_id, p.fsm_id):
            self._reject(handler, Reason.INVALID_FSM_ID)
            return
        old = self._handler_of.get(id(machine))
        if old is not None and not old.closed:
            if not old.received_frame:
                self._reject(handler, None)  # the old client is still there: refuse quietly
                return
            old.fsm = None
            self._close(old)
        self._attach(handler, machine)
        handler.channel_id = None
        self._event(machine, machine.client_attached, now)
        self._drain(machine, now)

    def _attach(self, handler: Handler, machine: ChannelFsm) -> None:
        handler.fsm = machine
        self._handler_of[id(machine)] = handler

    def _try_pair(self, now: float) -> None:
        """Link every initiator still looking for its responder's FSM."""
        for initiator in list(self._connecting):
            if not initiator.alive or initiator.state is not State.AWAITING_CONNECT:
                self._connecting.remove(initiator)
                continue
            responder = self._find_listener(initiator)
            if responder is None:
                continue
            self._connecting.remove(initiator)
            self._listeners.remove(responder)
            self._peer_of[id(initiator)] = responder
            self._peer_of[id(responder)] = initiator
            self._event(initiator, initiator.peer_connected, now)
            self._drain(initiator, now)

    def _find_listener(self, initiator: ChannelFsm) -> ChannelFsm | None:
        """The responder FSM this initiator reaches, as the node's acceptor picks it.

        A responder registered for this very initiator is preferred over one that accepts
        ``any`` (disputes-and-current-node.md §3.4), then the first registered. Nothing
        proves that a responder's client holds the responder key: whoever registers first
        on (responder, initiator, port) gets the initiator's ``channel_open`` — and, as on
        the real node, can deny the open but never sign it.
        """
        fallback: ChannelFsm | None = None
        for responder in self._listeners:
            if not responder.alive or id(responder) in self._peer_of:
                continue
            if initiator.reestablish:
                if responder.channel_id == initiator.channel_id and (
                    responder.state is State.AWAITING_REESTABLISH
                    or (responder.state is State.OPEN and not responder.peer_linked)
                ):
                    return responder
                continue
            if (
                responder.state is State.AWAITING_OPEN
                and responder.terms.port == initiator.terms.port
                and responder.terms.responder == initiator.terms.responder
            ):
                if responder.initiator == initiator.initiator:
                    return responder
                if responder.initiator is None and fallback is None:
                    fallback = responder
        return fallback

    # -- frames from clients --------------------------------------------------------------------
    def _frame(self, handler: Handler, text: str, now: float) -> None:
        try:
            parsed = frames.parse_client_text(text)
        except RecursionError:
            # nested deeper than Python's parser goes: not JSON to us, and a frame that
            # does not parse is dropped without a reply (websocket-api.md §2.1)
            return
        if parsed is None:
            return
        requests, batch = parsed
        if batch:
            handler.batch = ([], [])
        try:
            for request in requests:
                if handler.closed:
                    return
                if handler.blocked is not None:
                    handler.backlog_in.append(frames.encode(request.raw))
                    continue
                self._request(handler, request, now)
        finally:
            if batch and handler.batch is not None:
                replies, notes = handler.batch
                handler.batch = None
                if len(replies) == 1:
                    self._emit(handler, frames.encode(replies[0]))
                elif replies:
                    self._emit(handler, "[" + ",".join(frames.encode(r) for r in replies) + "]")
                for note in notes:
                    self._send(handler, note)

    def _request(self, handler: Handler, request: frames.Request, now: float) -> None:
        if request.method == methods.SYSTEM:
            self._system(handler, request, now)
            return
        if request.method in rpc.CURRENT_ONLY and self.config.recorded_quirks:
            call: events.Call | rpc.Immediate | rpc.Silent | Reason = Reason.METHOD_NOT_FOUND
        elif request.method == methods.HISTORY_FETCH and handler.fsm is not None:
            call = rpc.Immediate(_history_entries(self._history.get(id(handler.fsm), ())))
        else:
            call = rpc.to_call(request.method, request.params)
        if handler.fsm is not None and not isinstance(call, Reason):
            self._log(handler.fsm, "request", request.method, request.params)
        if isinstance(call, Reason):
            self._send(
                handler, frames.error(self._rid(request), handler.channel_id, call, request.raw)
            )
            return
        if isinstance(call, rpc.Silent):
            return
        if isinstance(call, rpc.Immediate):
            self._answer(
                handler,
                request,
                events.Reply(call.value) if call.value is not None else events.OK,
            )
            return
        machine = handler.fsm
        if machine is None or not machine.alive:
            self._send(
                handler,
                frames.error(self._rid(request), handler.channel_id, Reason.INTERNAL, request.raw),
            )
            return
        try:
            result = machine.call(call, now)
        except Exception:  # a bug must cost one request, never the node
            log.exception("embedded node: %s failed", request.method)
            result = events.Fail(Reason.INTERNAL)
        self._touch(machine)
        if result is events.POSTPONE:
            self._set_blocked(handler, (request, call))
            return
        self._answer(handler, request, result)
        self._drain(machine, now)

    @staticmethod
    def _rid(request: frames.Request) -> Json:
        return request.request_id if request.has_id else None

    def _log(self, machine: ChannelFsm, kind: str, tag: str, info: Json) -> None:
        """One entry of the FSM's history (``channels.history.fetch``, current node): the
        latest ``HISTORY_KEEP`` reports, requests and peer messages, oldest first."""
        entries = self._history.get(id(machine))
        if entries is None:
            entries = self._history[id(machine)] = deque(maxlen=HISTORY_KEEP)
        entries.append((kind, tag, time.time(), info))  # formatting waits for a fetch

    def _answer(self, handler: Handler, request: frames.Request, result: events.CallResult) -> None:
        if isinstance(result, events.Fail):
            self._send(
                handler,
                frames.error(self._rid(request), handler.channel_id, result.reason, request.raw),
            )
        elif isinstance(result, events.Reply):
            if request.has_id:
                self._send(
                    handler, frames.result(request.request_id, handler.channel_id, result.value)
                )
            else:
                method = methods.read_reply_method(request.method)
                self._send(handler, frames.notification(method, handler.channel_id, result.value))
        elif request.has_id:
            self._send(handler, frames.result(request.request_id, handler.channel_id, "ok"))

    def _system(self, handler: Handler, request: frames.Request, now: float) -> None:
        params = request.params if isinstance(request.params, dict) else {}
        action = params.get("action")
        if action == "ping":
            pong = {"action": "system", "tag": "pong"}
            if request.has_id:
                self._send(handler, frames.result(request.request_id, handler.channel_id, pong))
            else:
                self._send(handler, frames.notification(methods.PONG, handler.channel_id, pong))
            return
        if action == "stop":
            machine = handler.fsm
            if machine is not None and machine.alive:
                machine.call(events.Stop(), now)
                self._touch(machine)
            self._answer(handler, request, events.OK)
            if machine is not None:
                self._drain(machine, now)
            return
        self._send(
            handler,
            frames.error(
                self._rid(request), handler.channel_id, Reason.METHOD_NOT_FOUND, request.raw
            ),
        )

    def _send(self, handler: Handler, frame: dict[str, Json]) -> None:
        if handler.closed:
            return
        if handler.batch is not None:
            replies, notes = handler.batch
            (notes if "method" in frame else replies).append(frame)
            return
        if handler.blocked is not None:
            handler.backlog_out.append(frame)
            return
        self._emit(handler, frames.encode(frame))

    def _emit(self, handler: Handler, text: str) -> None:
        if not handler.closed:
            self._actions.append(Send(handler.conn_id, text))

    def _retry_blocked(self, now: float) -> None:
        if not self._blocked:
            return
        for conn_id in sorted(self._blocked):  # connection order, as the node's handlers
            handler = self._blocked.get(conn_id)
            if handler is None or handler.blocked is None or handler.closed:
                continue
            try:
                self._retry(handler, now)
            except Exception:  # one client's queued frames never reach the others
                self._handler_crashed(handler, now)

    def _retry(self, handler: Handler, now: float) -> None:
        """Call the FSM again with ``handler``'s postponed call; then its queued frames."""
        assert handler.blocked is not None
        machine = handler.fsm
        request, call = handler.blocked
        if machine is None or not machine.alive:
            result: events.CallResult = events.Fail(Reason.INTERNAL)
        else:
            try:
                result = machine.call(call, now)
            except Exception:  # as in _request: a bug costs one request
                log.exception("embedded node: %s failed", request.method)
                result = events.Fail(Reason.INTERNAL)
            self._touch(machine)
            if result is events.POSTPONE:
                return
        self._set_blocked(handler, None)
        self._answer(handler, request, result)
        waiting, handler.backlog_out = handler.backlog_out, []
        for frame in waiting:
            self._send(handler, frame)
        if machine is not None:
            self._drain(machine, now)
        queued, handler.backlog_in = handler.backlog_in, []
        for text in queued:
            if handler.closed:
                break
            if handler.blocked is not None:
                handler.backlog_in.append(text)
            else:
                self._frame(handler, text, now)

    def _event(self, machine: ChannelFsm, event: Callable[..., None], *args: Any) -> None:
        """Run one FSM event; a crash ends that FSM (like an Erlang process), not the node."""
        try:
            event(*args)
        except Exception:
            log.exception("embedded node: FSM %s crashed", machine.fsm_id_api)
            machine.crash()
        self._touch(machine)

    # -- FSM outputs ------------------------------------------------------------------------------
    def _drain(self, machine: ChannelFsm, now: float) -> None:
        self._touch(machine)
        for output in machine.take_outputs():
            self._output(machine, output, now)

    def _output(self, machine: ChannelFsm, output: events.Output, now: float) -> None:
        if isinstance(output, events.Notify):
            self._log(machine, "report", output.method.removeprefix("channels."), output.data)
            handler = self._handler_of.get(id(machine))
            if handler is None:
                return
            if output.channel_id is not None:
                handler.channel_id = output.channel_id
            if output.method == methods.INFO or output.method.startswith("channels."):
                self._send(
                    handler, frames.notification(output.method, handler.channel_id, output.data)
                )
        elif isinstance(output, events.SendPeer):
            peer = self._peer_of.get(id(machine))
            if peer is not None:
                self._log(machine, "send", output.msg.kind, None)
                self._peer_queue.append((peer, output.msg))
        elif isinstance(output, events.PostTx):
            self.chain.post(output.signed)
            self._schedule_block(now)
        elif isinstance(output, events.WatchTx):
            watches = self._watches.setdefault(output.tx_hash, [])
            watches.append(_Watch(machine, output.depth))
            # the node's chain watcher reports to the initiator's FSM first (every
            # recording shows chain events reaching I before R)
            watches.sort(key=lambda w: w.fsm.role is not Role.INITIATOR)
            self._schedule_block(now)
            self._check_watches(output.tx_hash, now)
        elif isinstance(output, events.WantBlocks):
            self._schedule_block(now)
        elif isinstance(output, events.Listen):
            if machine not in self._listeners:
                self._listeners.append(machine)
            self._try_pair(now)
        elif isinstance(output, events.SaveState):
            snapshot = machine.snapshot()
            if snapshot is not None:
                self.state_cache[(snapshot.channel_id, snapshot.role)] = snapshot
        elif isinstance(output, events.ChannelIdKnown):
            self.running[(output.channel_id, machine.role)] = machine
        elif isinstance(output, events.Terminated):
            self._terminated(machine, now)

    def _terminated(self, machine: ChannelFsm, now: float) -> None:
        self._history.pop(id(machine), None)
        if machine in self._fsms:
            self._fsms.remove(machine)
        self._created.pop(id(machine), None)
        if machine in self._listeners:
            self._listeners.remove(machine)
        if machine in self._connecting:
            self._connecting.remove(machine)
        if machine.channel_id is not None:
            key = (machine.channel_id, machine.role)
            if self.running.get(key) is machine:
                del self.running[key]
        for watches in self._watches.values():
            watches[:] = [w for w in watches if w.fsm is not machine]
        handler = self._handler_of.pop(id(machine), None)
        if handler is not None:
            if handler.blocked is not None:
                self._set_blocked(handler, None)
                waiting, handler.backlog_out = handler.backlog_out, []
                for frame in waiting:
                    self._send(handler, frame)
            handler.fsm = None
            self._close_later(handler, now)
        peer = self._peer_of.pop(id(machine), None)
        if peer is not None:
            self._peer_of.pop(id(peer), None)

            def lost(at: float, peer: ChannelFsm = peer) -> None:
                if id(peer) in self._noticed:
                    self._noticed.discard(id(peer))
                    return
                self._event(peer, peer.peer_lost, at)
                self._drain(peer, at)

            self._later(now + self.config.peer_loss_delay, lost)

    def _later(self, due: float, event: Callable[[float], None]) -> None:
        self._seq += 1
        self._delayed.append((due, self._seq, event))

    # -- chain ---------------------------------------------------------------------------------
    def _schedule_block(self, now: float) -> None:
        if self.config.block_interval is not None and self.next_block_at is None:
            self.next_block_at = now + self.config.block_interval

    def _chain_has_work(self) -> bool:
        if self.chain.busy or any(m.held_settle is not None for m in self._fsms):
            return True  # a held settle waits for blocks to unlock the channel
        return any(watches for watches in self._watches.values())

    def _mine_block(self, now: float) -> None:
        block = self.chain.mine()
        for inclusion in block:
            for watch in list(self._watches.get(inclusion.tx_hash, [])):
                if watch.fsm.alive and not watch.included:
                    watch.included = True
                    self._event(
                        watch.fsm, watch.fsm.tx_included, inclusion.tx_hash, inclusion.signed, now
                    )
                    self._drain(watch.fsm, now)
            self._report_dispute(inclusion, now)
        for machine in [m for m in self._fsms if m.held_settle is not None]:
            self._event(machine, machine.chain_advanced, now)
            self._drain(machine, now)
        for tx_hash in list(self._watches):
            self._check_watches(tx_hash, now)
        if self._chain_has_work():
            self._schedule_block(now)

    def _report_dispute(self, inclusion: Inclusion, now: float) -> None:
        """A dispute tx reaches every FSM of its channel, whoever posted it (the node's
        chain watcher compares the channel object at every new top), initiator first."""
        tx = inclusion.signed.tx
        if not isinstance(tx, DISPUTE_TXS):
            return
        on_chain = self.chain.channel(tx.channel_id.value)
        if on_chain is None:
            return
        watching = [m for m in self._fsms if m.alive and m.channel_id == tx.channel_id.value]
        for machine in sorted(watching, key=lambda m: m.role is not Role.INITIATOR):
            self._event(machine, machine.channel_tx_included, inclusion.signed, on_chain, now)
            self._drain(machine, now)

    def post(self, signed: SignedTx, now: float) -> list[Action]:
        """Put a tx into the mempool from outside the channel (as the node's HTTP API
        would: a cheating close_solo, an SDK's slash); blocks pick it up as any other."""
        self._now = now
        self.chain.post(signed)
        self._schedule_block(now)
        return self._finish(now)

    def _check_watches(self, tx_hash: str, now: float) -> None:
        depth = self.chain.depth(tx_hash)
        watches = self._watches.get(tx_hash)
        if depth is None or not watches:
            return
        inclusion = self.chain.included[tx_hash]
        for watch in list(watches):
            if not watch.fsm.alive:
                watches.remove(watch)
                continue
            if not watch.included:
                watch.included = True
                self._event(watch.fsm, watch.fsm.tx_included, tx_hash, inclusion.signed, now)
                self._drain(watch.fsm, now)
            if depth >= watch.depth and watch in watches:
                watches.remove(watch)
                self._event(watch.fsm, watch.fsm.min_depth_reached, tx_hash, now)
                self._drain(watch.fsm, now)
        if not watches:
            self._watches.pop(tx_hash, None)

    # -- the end of every step -----------------------------------------------------------------
    def _finish(self, now: float) -> list[Action]:
        """Deliver queued peer messages and postponed calls until nothing moves; the actions."""
        while True:
            while self._peer_queue:
                target, msg = self._peer_queue.popleft()
                if target.alive:
                    self._log(target, "receive", msg.kind, None)
                    self._event(target, target.on_peer, msg, now)
                    self._drain(target, now)
            self._retry_blocked(now)
            if not self._peer_queue:
                break
        actions, self._actions = self._actions, []
        return actions

    # -- introspection (tests, notebooks) ------------------------------------------------------
    def fsm_of(self, conn_id: int) -> ChannelFsm | None:
        handler = self.handlers.get(conn_id)
        return None if handler is None else handler.fsm

    @property
    def fsms(self) -> tuple[ChannelFsm, ...]:
        return tuple(self._fsms)


def _replace_keep_running(options: params_mod.Options, value: bool) -> params_mod.Options:
    return replace(options, keep_running=value)


def _history_entries(log: Iterable[tuple[str, str, float, Json]]) -> list[dict[str, Json]]:
    """A history log as ``channels.history.fetch`` returns it (UTC times, to the µs)."""
    return [
        {"type": kind, "tag": tag, "time": _utc_stamp(at), "info": info}
        for kind, tag, at, info in log
    ]


def _utc_stamp(at: float) -> str:
    stamp = datetime.fromtimestamp(at, UTC).isoformat(timespec="microseconds")
    return stamp.replace("+00:00", "Z")
