"""The client side of the channel protocol as a pure state machine (no sockets, no asyncio).

Feed it what happens — :meth:`ClientProtocol.opened` (a socket to a URL),
:meth:`ClientProtocol.receive` (a node frame's text), :meth:`ClientProtocol.closed` —
and ask it for the frames to send (:meth:`request`, :meth:`sign_reply`,
:meth:`abort_reply`). It answers with typed events and keeps what a participant must
know at any moment: status, round, balances, channel id, the latest fsm id, the latest
co-signed state (the ``offchain_tx`` to keep), the signing requests awaiting an answer
and the requests awaiting a reply. Replies are matched by exact id (0 is an id);
errors to id-less requests come back with ``"id": null`` and are matched through the
request the node echoes.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Final

from chan_nb.client import events as ev
from chan_nb.client import vmstate
from chan_nb.client.ledger import Ledger, signed_by
from chan_nb.client.params import ChannelParams, Role, url_query
from chan_nb.codec import hashing, txs
from chan_nb.codec.ids import Id
from chan_nb.errors import DecodeError
from chan_nb.protocol import frames, methods

Json = Any

#: How many id-less requests are remembered for matching ``"id": null`` errors.
IDLESS_MEMORY: Final = 64


class Status(StrEnum):
    """Where the participant's channel stands, as its client sees it."""

    DISCONNECTED = "disconnected"  # no socket (the FSM may still run on the node)
    CONNECTING = "connecting"  # socket open, no fsm_up yet
    CONNECTED = "connected"  # fsm_up received, channel not open yet
    ACCEPTED = "accepted"  # channel_open / channel_accept exchanged
    HALF_SIGNED = "half_signed"  # responder: initiator's signed create tx received
    SIGNED = "signed"  # initiator: co-signed create tx received
    OPEN = "open"
    CLOSING = "closing"  # a closing tx is on its way
    CLOSED = "closed"  # the closing tx is confirmed
    DIED = "died"  # the FSM on the node ended


#: Statuses after which the FSM is gone for good.
TERMINAL: Final = frozenset({Status.DIED})

_STATUS_OF_INFO: Final[dict[str, Status]] = {
    "channel_open": Status.ACCEPTED,
    "channel_accept": Status.ACCEPTED,
    "funding_created": Status.HALF_SIGNED,
    "funding_signed": Status.SIGNED,
    "open": Status.OPEN,
    "closing": Status.CLOSING,
    "closed_confirmed": Status.CLOSED,
    "died": Status.DIED,
}

#: Sign tags whose request ends when a conflict or abort rolls the round back.
_ROUND_TAGS: Final = frozenset(
    {"update", "update_ack", "deposit_tx", "deposit_ack", "withdraw_tx", "withdraw_ack"}
)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A frame to send: its text and what it asked (``call`` None for nothing to await)."""

    text: str
    request: dict[str, Json]
    call: ev.Call


def counter(start: int = 0, step: int = 1) -> Callable[[], int]:
    """Request ids start, start+step, … (the JS SDK counts from 0; 0 is a real id)."""
    numbers = itertools.count(start, step)
    return lambda: next(numbers)


class ClientProtocol:
    """One participant's view of its channel, updated frame by frame."""

    def __init__(
        self,
        role: Role,
        *,
        params: ChannelParams | None = None,
        next_id: Callable[[], Json] | None = None,
        network_id: str | None = None,
        generalized: frozenset[str] = frozenset(),
        vm: vmstate.ContractRunner | None = None,
    ) -> None:
        self.role: Role = role
        #: runs contract code for the ledger (None: the FATE VM when this build has one)
        self.vm = vm
        self.params = params
        #: signatures of co-signed states are verified under it (None: not verified —
        #: a core reading a recording; a session always gives it)
        self.network_id = network_id
        #: accounts whose meta tx stands for their signature (SigningPolicy.generalized)
        self.generalized = generalized
        self.next_id = next_id or counter()
        self.status = Status.DISCONNECTED
        #: last status the FSM reached (kept across a disconnect, restored on reconnect)
        self.fsm_status = Status.DISCONNECTED
        self.connected = False
        self.conn = 0
        self.url: str | None = None
        self.channel_id: str | None = None
        #: the channel id came from a verified state or our own reconnect params: final
        self.channel_id_fixed = False
        #: the id the channel will have, from the create tx we were asked to sign: lets
        #: a client cut before the node named the channel reconnect to it
        self.expected_channel_id: str | None = None
        self.fsm_id: str | None = None
        self.offchain_tx: str | None = None
        self.left = False
        self.peer_connected: bool | None = None
        self.last_conflict: ev.Conflict | None = None
        self.ledger = self._new_ledger()
        #: events a handler adds after the frame's own (refused states)
        self._notes: list[ev.Event] = []
        self.pending_sign: dict[str, ev.SignRequest] = {}
        self.pending_calls: dict[str, ev.Call] = {}  # json-encoded id -> call
        self.idless: list[ev.Call] = []
        self.last_url_params: dict[str, str] = {}

    # -- views -----------------------------------------------------------------------------
    @property
    def round(self) -> int | None:
        return self.ledger.round

    @property
    def balances(self) -> dict[str, int] | None:
        return None if self.ledger.balances is None else dict(self.ledger.balances)

    def _new_ledger(self) -> Ledger:
        params = self.params
        if params is None:
            return Ledger(vm=self.vm)
        return Ledger(initial=params.initial_balances(), reserve=params.channel_reserve, vm=self.vm)

    def own_id(self) -> str | None:
        return self.params.party(self.role) if self.params else None

    # -- socket events -----------------------------------------------------------------------
    def opened(self, url: str) -> ev.Opened:
        """A new socket to ``url``; a fresh-open URL also tells the channel terms."""
        self.conn += 1
        self.connected = True
        self.url = url
        self.status = Status.CONNECTING
        self.pending_calls.clear()
        self.idless.clear()
        query = url_query(url)
        self.last_url_params = query
        existing = query.get("existing_channel_id")
        if existing is None:
            self._fresh_channel(query)
        elif not self.channel_id_fixed:
            # our own reconnect/reestablish params name the channel: final from now on
            self.channel_id, self.channel_id_fixed = existing, True
        return ev.Opened({}, query.get("existing_channel_id"), url, self.conn)

    def _fresh_channel(self, query: dict[str, str]) -> None:
        """A fresh open starts a new channel: forget the previous one."""
        if "initiator_id" in query:
            with contextlib.suppress(DecodeError):
                self.params = ChannelParams.from_query(query)
        self.channel_id = self.fsm_id = self.offchain_tx = self.expected_channel_id = None
        self.channel_id_fixed = False
        self.fsm_status = Status.DISCONNECTED
        self.left = False
        self.peer_connected = None
        self.last_conflict = None
        self.ledger = self._new_ledger()

    def closed(self, by_node: bool = True) -> ev.Closed:
        """The socket closed. Pending signing requests are not re-sent on the next socket."""
        self.connected = False
        if self.status not in TERMINAL:
            self.status = Status.DISCONNECTED
        self.pending_sign.clear()
        self.pending_calls.clear()
        self.idless.clear()
        return ev.Closed({}, self.channel_id, self.conn, by_node)

    # -- outgoing --------------------------------------------------------------------------------
    def request(self, method: str, params: Json, *, with_id: bool = True) -> Outgoing:
        """A request frame; with an id its reply is matched by that id."""
        rpc_id = self.next_id() if with_id else None
        message = frames.request(method, params, rpc_id)
        call = ev.Call(method, message, rpc_id, self.conn)
        if with_id:
            self.pending_calls[_key(rpc_id)] = call
        else:
            self.idless.append(call)
            del self.idless[:-IDLESS_MEMORY]
        return Outgoing(frames.encode(message), message, call)

    def sign_reply(
        self, request: ev.SignRequest, signed_tx: str, *, with_id: bool = True
    ) -> Outgoing:
        """The answer to a signing request: the tx with our signature."""
        self.pending_sign.pop(request.tag, None)
        return self.request(request.reply_method, {"signed_tx": signed_tx}, with_id=with_id)

    def abort_reply(self, request: ev.SignRequest, code: int, *, with_id: bool = True) -> Outgoing:
        """Refuse a signing request with an abort code (1..65535; ≥128 is "user-defined")."""
        self.pending_sign.pop(request.tag, None)
        return self.request(request.reply_method, {"error": code}, with_id=with_id)

    def sent(self, text: str) -> ev.Call | None:
        """Take note of a frame sent by other means (a recording being read, a raw send).

        The request is remembered for matching its reply; a signing reply settles its
        signing request. Returns the call, or None when the text is not a request.
        """
        try:
            message = json.loads(text)
        except (ValueError, RecursionError):
            return None
        if not isinstance(message, dict) or not isinstance(message.get("method"), str):
            return None
        method: str = message["method"]
        rpc_id = message.get("id")
        call = ev.Call(method, message, rpc_id, self.conn)
        if rpc_id is not None:
            self.pending_calls[_key(rpc_id)] = call
        else:
            self.idless.append(call)
            del self.idless[:-IDLESS_MEMORY]
        kind = methods.SIGN_BY_REPLY.get(method)
        if kind is not None:
            self.pending_sign.pop(kind.request, None)
        return call

    # -- incoming --------------------------------------------------------------------------------
    def receive(self, text: str) -> list[ev.Event]:
        """Events of one node frame (several for a batch), with the state updated."""
        try:
            decoded = json.loads(text)
        except (ValueError, RecursionError):  # RecursionError: JSON nested too deep
            return [ev.Unparsed({}, None, text)]
        items = decoded if isinstance(decoded, list) else [decoded]
        out: list[ev.Event] = []
        for item in items:
            out += self.handle_frame(item, text)
        return out

    def handle_frame(self, frame: Json, text: str = "") -> list[ev.Event]:
        """Like :meth:`receive` for an already decoded frame: its event, then any notes."""
        event = self._handle(ev.parse_event(frame, text))
        notes, self._notes = self._notes, []
        return [event, *notes]

    def _handle(self, event: ev.Event) -> ev.Event:
        named = event.channel_id
        # a frame's word is taken only until a verified state fixes the id, and only
        # when it agrees with the create tx we checked
        unknown = self.channel_id is None and not self.channel_id_fixed
        if named is not None and unknown and self.expected_channel_id in (None, named):
            self.channel_id = named
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            event = handler(self, event) or event
        return event

    def _on_info(self, event: ev.Info) -> None:
        name = event.event
        if name == "fsm_up":
            # the same fsm id: a reconnect to the running FSM, which is where we left it
            same_fsm = event.fsm_id is not None and event.fsm_id == self.fsm_id
            resumable = self.fsm_status not in (Status.DISCONNECTED, *TERMINAL)
            if not (same_fsm and resumable):
                self.fsm_status = Status.CONNECTED
            self.status = self.fsm_status
        elif name in _STATUS_OF_INFO:
            self.status = self.fsm_status = _STATUS_OF_INFO[name]
        if event.fsm_id is not None:
            self.fsm_id = event.fsm_id
        if name == "peer_disconnected":
            self.peer_connected = False
        elif name in ("channel_reestablished", "funding_locked", "update"):
            self.peer_connected = True
        if name == "aborted_update":
            for tag in _ROUND_TAGS:
                self.pending_sign.pop(tag, None)
        if name == "died":
            self.pending_sign.clear()

    def _on_sign(self, event: ev.SignRequest) -> None:
        self.pending_sign[event.tag] = event
        try:
            inner = event.decoded().innermost
            proposed = event.proposed()
        except DecodeError:
            return
        if isinstance(inner, txs.ChannelCreateTx):
            if inner.nonce > 0:  # a generalized account's create (nonce 0) uses its auth id
                self.expected_channel_id = hashing.channel_id(
                    inner.initiator_id.value, inner.nonce, inner.responder_id.value
                )
            return
        round_ = getattr(inner, "round", None)
        if isinstance(round_, int):
            self.ledger.propose(round_, proposed)

    def _co_signed(self, state: str) -> str | None:
        """Verify a co-signed state and take it; the reason when it is refused."""
        try:
            signed = txs.decode_signed(state)
        except DecodeError as exc:
            return f"undecodable state: {exc}"
        inner = signed.innermost
        channel = _state_channel(inner)
        if self.channel_id_fixed and channel is not None and channel != self.channel_id:
            return f"state of channel {channel}, not this channel {self.channel_id}"
        params = self.params
        if self.network_id is not None and params is not None:
            for party in (params.initiator_id, params.responder_id):
                if not signed_by(signed, party, self.network_id, self.generalized):
                    return f"state not signed by {party} (network id {self.network_id!r})"
        refused = self.ledger.co_signed(signed, state)
        if refused is not None:
            return refused
        self.offchain_tx = state
        if channel is not None and not self.channel_id_fixed:
            self.channel_id, self.channel_id_fixed = channel, True
        done = self.ledger.round
        for tag, request in list(self.pending_sign.items()):
            round_ = _request_round(request)
            if round_ is not None and done is not None and round_ <= done:
                del self.pending_sign[tag]
        return None

    def _on_update(self, event: ev.StateUpdate) -> ev.Event:
        refused = self._co_signed(event.state)
        if refused is None:
            return event
        return ev.Untrusted(event.frame, self.channel_id, methods.UPDATE, refused, event.state)

    def _on_leave(self, event: ev.Leave) -> None:
        self.left = True
        if event.state:
            refused = self._co_signed(event.state)
            if refused is not None:
                self._notes.append(
                    ev.Untrusted(event.frame, self.channel_id, methods.LEAVE, refused, event.state)
                )

    def _on_on_chain(self, event: ev.OnChainTx) -> None:
        """A force progress the chain took moves the channel on by one round: our own run."""
        if event.info != "consumed_forced_progress" or not event.tx:
            return
        try:
            signed = txs.decode_signed(event.tx)
        except DecodeError:
            return
        tx = signed.innermost
        if not isinstance(tx, txs.ChannelForceProgressTx):
            return
        if self.channel_id is not None and tx.channel_id.api != self.channel_id:
            return
        sender = tx.from_id.api
        if self.network_id is not None and not signed_by(signed, sender, self.network_id):
            refused: str | None = f"force progress not signed by its sender {sender}"
        else:
            refused = self.ledger.forced(tx)
        if refused is not None:
            what = f"{methods.ON_CHAIN_TX} consumed_forced_progress"
            self._notes.append(ev.Untrusted(event.frame, self.channel_id, what, refused, None))

    def _on_conflict(self, event: ev.Conflict) -> None:
        self.last_conflict = event
        self.ledger.rolled_back(event.round)
        for tag in _ROUND_TAGS:
            self.pending_sign.pop(tag, None)
        if self.fsm_status is Status.OPEN:
            self.status = Status.OPEN

    def _on_result(self, event: ev.Result) -> ev.Event:
        call = (
            self.pending_calls.pop(_key(event.rpc_id), None) if event.rpc_id is not None else None
        )
        if call is None:
            return event
        if call.method == methods.GET_BALANCES and isinstance(event.result, list):
            self._reported(event, event.result)
        elif call.method == methods.GET_OFFCHAIN_STATE and isinstance(event.result, dict):
            signed = event.result.get("signed_tx")
            if isinstance(signed, str) and signed and signed != self.offchain_tx:
                # a state read back (after a reconnect): verified like any other
                refused = self._co_signed(signed)
                if refused is not None:
                    what = f"{methods.GET_OFFCHAIN_STATE} reply"
                    self._notes.append(
                        ev.Untrusted(event.frame, self.channel_id, what, refused, signed)
                    )
            trees = event.result.get("trees")
            if isinstance(trees, str) and self.ledger.balances is None:
                # its trees restore what we cannot compute, if they hash to our state
                found = vmstate.decode_trees(trees)
                if found is not None:
                    self.ledger.adopt_trees(found)
        return replace(event, answers=call)

    def _reported(self, event: ev.Event, result: list[Json]) -> None:
        """A balances reply: believed only when it hashes to our verified state."""
        entries = dict(_balance_entries(result))
        if self.ledger.reported(entries.items()):
            return
        params = self.params
        parties = {params.initiator_id, params.responder_id} if params else set()
        if parties and parties <= set(entries) and self.ledger.state_hash is not None:
            what = f"{methods.GET_BALANCES} reply"
            reason = "balances that do not hash to our verified state"
            self._notes.append(ev.Untrusted(event.frame, self.channel_id, what, reason, None))

    def _on_error(self, event: ev.ErrorReply) -> ev.Event:
        call: ev.Call | None = None
        if event.rpc_id is not None:
            call = self.pending_calls.pop(_key(event.rpc_id), None)
        elif isinstance(event.request, dict) and event.request:
            for index, candidate in enumerate(self.idless):
                if candidate.request == event.request:
                    call = self.idless.pop(index)
                    break
        return replace(event, answers=call) if call is not None else event

    def _on_read_reply(self, event: ev.ReadReply) -> ev.Event:
        wanted = event.method or ""
        for index, candidate in enumerate(self.idless):
            if methods.read_reply_method(candidate.method) == wanted:
                call = self.idless.pop(index)
                if call.method == methods.GET_BALANCES and isinstance(event.data, list):
                    self._reported(event, event.data)
                return replace(event, answers=call)
        return event

    def _on_pong(self, event: ev.Pong) -> ev.Event:
        for index, candidate in enumerate(self.idless):
            if candidate.method == methods.SYSTEM:
                return replace(event, answers=self.idless.pop(index))
        return event

    # -- misc ------------------------------------------------------------------------------------
    def pending(self) -> Iterator[ev.SignRequest]:
        yield from self.pending_sign.values()


def _key(rpc_id: Json) -> str:
    if type(rpc_id) is int:  # the usual id, and json.dumps' answer for it
        return str(rpc_id)
    return json.dumps(rpc_id, sort_keys=True)


def _balance_entries(result: list[Json]) -> Iterator[tuple[str, int]]:
    for entry in result:
        if isinstance(entry, dict):
            account, balance = entry.get("account"), entry.get("balance")
            if isinstance(account, str) and isinstance(balance, int):
                yield account, balance


def _state_channel(tx: txs.Tx) -> str | None:
    """The channel a state tx belongs to (a GA's create, nonce 0: not computable here)."""
    if isinstance(tx, txs.ChannelCreateTx):
        if tx.nonce > 0:
            return hashing.channel_id(tx.initiator_id.value, tx.nonce, tx.responder_id.value)
        return None
    channel = getattr(tx, "channel_id", None)
    return channel.api if isinstance(channel, Id) else None


def _request_round(request: ev.SignRequest) -> int | None:
    try:
        inner = request.decoded().innermost
    except DecodeError:
        return None
    round_ = getattr(inner, "round", None)
    return round_ if isinstance(round_, int) else None


_HANDLERS: Final[dict[type[ev.Event], Callable[[ClientProtocol, Any], ev.Event | None]]] = {
    ev.Info: ClientProtocol._on_info,
    ev.SignRequest: ClientProtocol._on_sign,
    ev.StateUpdate: ClientProtocol._on_update,
    ev.Leave: ClientProtocol._on_leave,
    ev.Conflict: ClientProtocol._on_conflict,
    ev.OnChainTx: ClientProtocol._on_on_chain,
    ev.Result: ClientProtocol._on_result,
    ev.ErrorReply: ClientProtocol._on_error,
    ev.ReadReply: ClientProtocol._on_read_reply,
    ev.Pong: ClientProtocol._on_pong,
}
