"""Node frames as typed events (pure).

:func:`parse_event` turns one decoded node frame into the event class that says what
it is: a ``channels.info`` event, a signing request, a new co-signed state, a conflict,
a reply to a request … Every event keeps the frame it came from (``frame``) and the
``channel_id`` the node put in it. Socket openings and closings are events too
(:class:`Opened`, :class:`Closed`), so one stream tells the whole story.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Final, TypeAlias

from chan_nb.client.ledger import parse_updates
from chan_nb.codec import txs
from chan_nb.codec import updates as upd
from chan_nb.errors import DecodeError
from chan_nb.protocol import methods

Json: TypeAlias = Any


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class Call:
    """A request the client sent, kept until its reply arrives (``rpc_id`` None: id-less)."""

    method: str
    request: dict[str, Json] = field(repr=False)
    rpc_id: Json
    conn: int


@dataclass(frozen=True)
class Event:
    """Base of every event; ``frame`` is the decoded node frame (``{}`` for socket events).

    ``answers`` is set on replies (results, errors, read replies, pongs) to the request
    they answer, when the client core could match it.
    """

    frame: dict[str, Json] = field(repr=False, compare=False)
    channel_id: str | None
    answers: Call | None = field(default=None, kw_only=True, compare=False, repr=False)

    @property
    def method(self) -> str | None:
        method = self.frame.get("method")
        return method if isinstance(method, str) else None

    @property
    def name(self) -> str:
        """Short name for tables and ``wait_for``: the info event, or the method."""
        return self.method or type(self).__name__


@dataclass(frozen=True)
class Info(Event):
    """``channels.info``: ``event`` (``fsm_up``, ``open``, ``died`` …) and its extra data."""

    event: str
    fsm_id: str | None
    data: dict[str, Json] = field(repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.event


@dataclass(frozen=True)
class SignRequest(Event):
    """``channels.sign.<tag>``: the node asks for a signature (or an abort)."""

    tag: str
    signed_tx: str
    updates: tuple[dict[str, Json], ...]

    @property
    def kind(self) -> methods.SignKind | None:
        return methods.SIGN_BY_REQUEST.get(self.tag)

    @property
    def reply_method(self) -> str:
        kind = self.kind
        return kind.reply_method if kind is not None else f"channels.{self.tag}"

    @property
    def abortable(self) -> bool:
        kind = self.kind
        return kind.abortable if kind is not None else True

    def decoded(self) -> txs.SignedTx:
        """The signed_tx wrapper (raises DecodeError when the node sent garbage)."""
        return self._decoded

    def proposed(self) -> tuple[upd.Update, ...]:
        """The updates the request lists (raises DecodeError when they are malformed)."""
        return self._proposed

    # The state machine, the signing policy and the signer all read the request: it
    # is decoded once. (Frozen dataclass: cached_property writes to __dict__ itself.)
    @cached_property
    def _decoded(self) -> txs.SignedTx:
        return txs.decode_signed(self.signed_tx, f"channels.sign.{self.tag}.signed_tx")

    @cached_property
    def _proposed(self) -> tuple[upd.Update, ...]:
        return parse_updates(self.updates, f"channels.sign.{self.tag}.updates")

    @property
    def name(self) -> str:
        return f"sign.{self.tag}"


@dataclass(frozen=True)
class StateUpdate(Event):
    """``channels.update``: a new co-signed state (``state`` is its ``tx_``)."""

    state: str
    round: int | None
    tx_type: str | None

    def __repr__(self) -> str:  # the state is kilobytes of base64: show its start
        from chan_nb.display import short_id, short_text

        return (
            f"StateUpdate(round={self.round}, tx_type={self.tx_type}, "
            f"channel_id={short_id(self.channel_id)}, state={short_text(self.state, 24)})"
        )

    def _repr_html_(self) -> str:
        from html import escape

        from chan_nb.display import card, code_block, short_id

        try:
            signatures = str(len(txs.decode_signed(self.state, "state").signatures))
        except DecodeError as exc:
            signatures = f"undecodable: {exc}"
        rows = [
            ("round", escape(str(self.round))),
            ("tx type", escape(str(self.tx_type))),
            ("channel", escape(short_id(self.channel_id))),
            ("signatures", escape(signatures)),
            ("state", f"{len(self.state):,} chars"),
        ]
        return card("StateUpdate", rows, extra=code_block(self.state, max_height=60))


@dataclass(frozen=True)
class OnChainTx(Event):
    """``channels.on_chain_tx``: ``info`` says what happened to the ``tx`` of ``type``."""

    info: str
    tx_type: str | None
    tx: str | None

    @property
    def name(self) -> str:
        return f"on_chain_tx.{self.info}"


@dataclass(frozen=True)
class Conflict(Event):
    """``channels.conflict``: the round was rolled back to ``round``."""

    error_code: int | None
    error_msg: str | None
    round: int | None


@dataclass(frozen=True)
class Message(Event):
    """``channels.message``: a generic message from the peer."""

    sender: str | None
    recipient: str | None
    info: Json


@dataclass(frozen=True)
class Leave(Event):
    """``channels.leave``: the channel was left; ``state`` is the last co-signed state."""

    state: str | None
    round: int | None


@dataclass(frozen=True)
class ChannelErrorEvent(Event):
    """``channels.error``: ``reason`` is the node's reason (e.g. ``bad_signature``)."""

    reason: str | None


@dataclass(frozen=True)
class Pong(Event):
    """``channels.system.pong`` (a ping sent without id)."""


@dataclass(frozen=True)
class ReadReply(Event):
    """``channels.<read>.reply``: a read request sent without id, answered by notification."""

    data: Json


@dataclass(frozen=True)
class Result(Event):
    """A ``result`` frame: the reply to the request that carried ``rpc_id``."""

    rpc_id: Json
    result: Json


@dataclass(frozen=True)
class ErrorReply(Event):
    """An ``error`` frame: ``rpc_id`` is None for id-less requests (see ``request``)."""

    rpc_id: Json
    code: int | None
    message: str | None
    data_code: int | None
    data_message: str | None
    data: list[Json] = field(repr=False, compare=False)
    request: Json = field(repr=False, compare=False)

    @property
    def at_connect(self) -> bool:
        """A connection-time error (the node echoes ``{}`` and then closes the socket)."""
        return isinstance(self.request, dict) and not self.request

    @property
    def name(self) -> str:
        return "error"


@dataclass(frozen=True)
class OtherNotification(Event):
    """Any other notification (``channels.debug``, future methods)."""

    data: Json


@dataclass(frozen=True)
class Unparsed(Event):
    """A frame that is not a JSON object (kept so nothing is lost)."""

    text: str


@dataclass(frozen=True)
class Opened(Event):
    """The client opened a socket to ``url`` (connection number ``conn``)."""

    url: str
    conn: int

    @property
    def name(self) -> str:
        return "opened"


@dataclass(frozen=True)
class Closed(Event):
    """The socket closed (``by_node``: the node closed it, not the client)."""

    conn: int
    by_node: bool

    @property
    def name(self) -> str:
        return "closed"


@dataclass(frozen=True)
class Refused(Event):
    """The client's signing policy refused a request (``aborted_with``: the abort code sent)."""

    tag: str
    problems: tuple[str, ...]
    aborted_with: int | None

    @property
    def name(self) -> str:
        return "refused"


@dataclass(frozen=True)
class Untrusted(Event):
    """A state the node sent that the client's own checks refused; it changed nothing.

    ``what`` is where it came from (``channels.update``, ``channels.leave``, a
    ``get.offchain_state`` reply), ``reason`` one line saying why it was refused.
    """

    what: str
    reason: str
    state: str | None

    @property
    def name(self) -> str:
        return "untrusted"


def _tx_round(tx: str | None) -> tuple[int | None, str | None]:
    """(round, innermost type) of a ``tx_`` string; (None, None) when undecodable."""
    if not tx:
        return None, None
    try:
        obj = txs.decode_api(tx)
    except DecodeError:
        return None, None
    inner = obj.innermost if isinstance(obj, txs.SignedTx) else obj
    round_ = getattr(inner, "round", None)
    if isinstance(inner, txs.ChannelCreateTx):
        round_ = 1
    return (_int(round_), inner.TYPE)


def parse_event(frame: Json, text: str = "") -> Event:
    """The typed event of one decoded node frame."""
    if not isinstance(frame, dict):
        return Unparsed({}, None, text)
    params = frame.get("params")
    params = params if isinstance(params, dict) else {}
    data = params.get("data")
    channel_id = _str(params.get("channel_id", frame.get("channel_id")))
    if "error" in frame:
        error = frame["error"] if isinstance(frame["error"], dict) else {}
        found = error.get("data")
        entries: list[Json] = found if isinstance(found, list) else []
        first = entries[0] if entries and isinstance(entries[0], dict) else {}
        return ErrorReply(
            frame,
            channel_id,
            frame.get("id"),
            _int(error.get("code")),
            _str(error.get("message")),
            _int(first.get("code")),
            _str(first.get("message")),
            list(entries),
            error.get("request"),
        )
    if "result" in frame:
        return Result(frame, channel_id, frame.get("id"), frame["result"])
    method = frame.get("method")
    if not isinstance(method, str):
        return OtherNotification(frame, channel_id, data)
    parser = _PARSERS.get(method)
    if parser is not None:
        return parser(frame, channel_id, data if isinstance(data, dict) else {})
    if method.startswith(methods.SIGN_PREFIX) and isinstance(data, dict):
        updates = data.get("updates")
        return SignRequest(
            frame,
            channel_id,
            method.removeprefix(methods.SIGN_PREFIX),
            _str(data.get("signed_tx")) or _str(data.get("tx")) or "",
            tuple(u for u in updates if isinstance(u, dict)) if isinstance(updates, list) else (),
        )
    if method.endswith(".reply"):
        return ReadReply(frame, channel_id, data)
    return OtherNotification(frame, channel_id, data)


def _info(frame: dict[str, Json], channel_id: str | None, data: dict[str, Json]) -> Event:
    return Info(frame, channel_id, _str(data.get("event")) or "", _str(data.get("fsm_id")), data)


def _update(frame: dict[str, Json], channel_id: str | None, data: dict[str, Json]) -> Event:
    state = _str(data.get("state")) or ""
    round_, tx_type = _tx_round(state)
    return StateUpdate(frame, channel_id, state, round_, tx_type)


def _on_chain(frame: dict[str, Json], channel_id: str | None, data: dict[str, Json]) -> Event:
    return OnChainTx(
        frame,
        channel_id,
        _str(data.get("info")) or "",
        _str(data.get("type")),
        _str(data.get("tx")),
    )


def _conflict(frame: dict[str, Json], channel_id: str | None, data: dict[str, Json]) -> Event:
    return Conflict(
        frame,
        channel_id,
        _int(data.get("error_code")),
        _str(data.get("error_msg")),
        _int(data.get("round")),
    )


def _message(frame: dict[str, Json], channel_id: str | None, data: dict[str, Json]) -> Event:
    body = data.get("message")
    body = body if isinstance(body, dict) else {}
    return Message(
        frame, channel_id, _str(body.get("from")), _str(body.get("to")), body.get("info")
    )


def _leave(frame: dict[str, Json], channel_id: str | None, data: dict[str, Json]) -> Event:
    state = _str(data.get("state"))
    return Leave(frame, channel_id, state, _tx_round(state)[0])


def _error(frame: dict[str, Json], channel_id: str | None, data: dict[str, Json]) -> Event:
    return ChannelErrorEvent(frame, channel_id, _str(data.get("message")))


def _pong(frame: dict[str, Json], channel_id: str | None, data: dict[str, Json]) -> Event:
    return Pong(frame, channel_id)


_PARSERS: Final[dict[str, Callable[[dict[str, Json], str | None, dict[str, Json]], Event]]] = {
    methods.INFO: _info,
    methods.UPDATE: _update,
    methods.ON_CHAIN_TX: _on_chain,
    methods.CONFLICT: _conflict,
    methods.MESSAGE: _message,
    methods.LEAVE: _leave,
    methods.ERROR: _error,
    methods.PONG: _pong,
}


EventPredicate: TypeAlias = Callable[[Event], bool]


def matcher(what: str | type[Event] | EventPredicate) -> EventPredicate:
    """A predicate for :meth:`Session.wait_for`.

    A string matches an info event (``"open"``, ``"died"``), a method
    (``"channels.update"``), a sign tag (``"sign.update_ack"``), an on-chain info
    (``"on_chain_tx.channel_changed"``), ``"error"``, ``"opened"`` or ``"closed"``; a
    class matches its instances; a callable is used as is.
    """
    if isinstance(what, str):
        return lambda event: what in (event.name, event.method)
    if isinstance(what, type):
        cls = what
        return lambda event: isinstance(event, cls)
    return what
