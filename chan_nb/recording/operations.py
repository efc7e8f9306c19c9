"""Frames grouped into operations: the flows of websocket-api §4, each with an outcome.

An operation starts with a client action (``update.new``, ``deposit``, ``shutdown`` …),
a socket open (``open``, ``reconnect``/``reestablish``) or any other request (a
``get.balances``, a ``message``, a ``ping`` …) and collects the frames of *both*
participants that belong to it: the sign request, the signing replies and their acks,
the peer's ``info update``/``sign.update_ack``, on-chain notices and the final
``channels.update``. Its outcome is decided by what its starter sees:

* ``ok`` — the flow's success frame (``channels.update`` for updates, deposits and
  withdrawals; ``closing`` for shutdown/close_solo; ``info open`` for an open …);
* ``conflict`` — ``channels.conflict`` (the round was rolled back);
* ``error`` — an error reply to the starting request, ``channels.error`` or a
  connect-time error;
* ``aborted`` — the starter aborted its own signing (``info aborted_update``);
* ``incomplete`` — the log ends (or the starter moves on) before any of these.

Pure: works on a list of frames; latency comes from the recorded clocks when present.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from chan_nb.recording.frame import Direction, Frame, Kind
from chan_nb.recording.pairing import elapsed, pairs


class Outcome(StrEnum):
    OK = "ok"
    CONFLICT = "conflict"
    ERROR = "error"
    ABORTED = "aborted"
    INCOMPLETE = "incomplete"


#: Client actions that start a signing flow -> operation kind.
FLOW_STARTERS: Final[dict[str, str]] = {
    "channels.update.new": "update",
    "channels.update.new_contract": "new_contract",
    "channels.update.call_contract": "call_contract",
    "channels.deposit": "deposit",
    "channels.withdraw": "withdraw",
    "channels.shutdown": "shutdown",
    "channels.close_solo": "close_solo",
    "channels.settle": "settle",
    "channels.slash": "slash",
    "channels.snapshot_solo": "snapshot_solo",
    "channels.force_progress": "force_progress",
    "channels.leave": "leave",
}
#: Kinds whose flow ends in a new co-signed state (``channels.update``).
STATE_FLOWS: Final = frozenset({"update", "new_contract", "call_contract", "deposit", "withdraw"})

_ACK_SIGN_TAGS: Final = frozenset(
    {"update_ack", "deposit_ack", "withdraw_ack", "shutdown_sign_ack"}
)
_OPEN_SIGN_TAGS: Final = frozenset({"initiator_sign", "responder_sign"})
_STARTER_REPLIES: Final = frozenset(
    {
        "channels.update",
        "channels.deposit_tx",
        "channels.withdraw_tx",
        "channels.shutdown_sign",
        "channels.close_solo_sign",
        "channels.close_solo_tx",
        "channels.slash_sign",
        "channels.slash_tx",
        "channels.settle_sign",
        "channels.settle_tx",
        "channels.snapshot_solo_sign",
        "channels.snapshot_solo_tx",
        "channels.force_progress_sign",
        "channels.force_progress_tx",
    }
)
_ACK_REPLIES: Final = frozenset(
    {
        "channels.update_ack",
        "channels.deposit_ack",
        "channels.withdraw_ack",
        "channels.shutdown_sign_ack",
    }
)
_OPEN_REPLIES: Final = frozenset({"channels.initiator_sign", "channels.responder_sign"})
_ACK_EVENTS: Final = frozenset({"update", "deposit_created", "withdraw_created", "shutdown"})
_CONNECTION_EVENTS: Final = frozenset(
    {
        "fsm_up",
        "channel_open",
        "channel_accept",
        "funding_created",
        "funding_signed",
        "own_funding_locked",
        "funding_locked",
        "channel_reestablished",
    }
)
_CONNECTION_CHAIN_INFOS: Final = frozenset({"funding_created", "funding_signed"})


@dataclass(frozen=True, slots=True)
class Operation:
    """One flow: who started it, what it was, which records belong to it, how it ended."""

    op_id: int
    kind: str
    starter: str
    channel_id: str | None
    outcome: Outcome
    start_seq: int
    end_seq: int | None  # the record that decided the outcome
    seqs: tuple[int, ...]  # every record of the operation, both participants
    round: int | None  # round of the state the flow proposed (state flows)
    detail: str | None  # error / conflict text
    latency_s: float | None  # start -> outcome, from the recorded clocks

    @property
    def span(self) -> int:
        """Records from the start to the deciding record (a clock-free latency)."""
        return 0 if self.end_seq is None else self.end_seq - self.start_seq


@dataclass(slots=True)
class _Op:
    op_id: int
    kind: str
    starter: str
    conn: int
    channel_id: str | None
    start: Frame
    frames: list[Frame] = field(default_factory=list)
    outcome: Outcome | None = None
    end: Frame | None = None
    round: int | None = None
    detail: str | None = None
    flow: bool = False
    expects_fsm_id: str | None = None
    lingering: bool = False  # finished connection op still taking the trailing update

    def decide(self, outcome: Outcome, frame: Frame, detail: str | None = None) -> None:
        if self.outcome is None:
            self.outcome = outcome
            self.end = frame
            self.detail = detail

    def freeze(self) -> Operation:
        end = self.end
        detail = self.detail
        if self.outcome in (Outcome.CONFLICT, Outcome.ERROR):
            # a client's refusal (its note beside the frames) says why the round failed
            refusals = [
                f"{f.role} {f.raw}"
                for f in self.frames
                if f.direction is Direction.INFO and f.raw.startswith("refused")
            ]
            detail = "; ".join(x for x in (detail, *refusals) if x) or None
        return Operation(
            self.op_id,
            self.kind,
            self.starter,
            self.channel_id,
            self.outcome or Outcome.INCOMPLETE,
            self.start.seq,
            None if end is None else end.seq,
            tuple(f.seq for f in self.frames),
            self.round,
            detail,
            None if end is None else elapsed(self.start, end),
        )


class _Grouper:
    def __init__(self, frames: Sequence[Frame]) -> None:
        self.frames = frames
        self.ops: list[_Op] = []
        self.op_of: dict[int, _Op] = {}
        self.reply_to: dict[int, int] = {}
        for pair in pairs(frames):
            if pair.reply_seq is not None:
                self.reply_to[pair.reply_seq] = pair.request_seq
        self.conn_ops: dict[tuple[str, int], _Op] = {}
        self.channel: dict[tuple[str, int], str] = {}
        self.last_op: dict[str, _Op] = {}
        self.pending: list[_Op] = []
        self.flow_ops: list[_Op] = []
        self.messages: list[_Op] = []

    def run(self) -> list[Operation]:
        for frame in self.frames:
            self.step(frame)
        return [op.freeze() for op in self.ops]

    # -- helpers -----------------------------------------------------------------------
    def new(self, kind: str, frame: Frame, *, flow: bool = False) -> _Op:
        op = _Op(
            len(self.ops) + 1,
            kind,
            frame.role,
            frame.conn,
            self.channel_of(frame),
            frame,
            flow=flow,
        )
        self.ops.append(op)
        self.attach(op, frame)
        if flow:
            self.pending.append(op)
            self.flow_ops.append(op)
        elif kind == "message":
            self.messages.append(op)
        return op

    def attach(self, op: _Op, frame: Frame) -> None:
        op.frames.append(frame)
        self.op_of[frame.seq] = op
        self.last_op[frame.role] = op
        if op.channel_id is None:
            op.channel_id = self.channel_of(frame)

    def channel_of(self, frame: Frame) -> str | None:
        return frame.channel_id or self.channel.get((frame.role, frame.conn))

    def find(self, frame: Frame, side: str) -> _Op | None:
        """The flow a frame belongs to: ``own`` (its role started it), ``peer`` or ``any``.

        The oldest pending flow of a fitting kind on the frame's channel wins; when none
        is pending, the latest fitting one takes the frame (trailing notices)."""
        channel = self.channel_of(frame)
        kinds = fitting_kinds(frame)
        self.pending = [op for op in self.pending if op.outcome is None]

        def fits(op: _Op) -> bool:
            if side == "own" and op.starter != frame.role:
                return False
            if side == "peer" and op.starter == frame.role:
                return False
            if channel is not None and op.channel_id not in (channel, None):
                return False
            return kinds is None or op.kind in kinds

        pending = [op for op in self.pending if fits(op)]
        if side == "any":
            mine = next((op for op in pending if op.starter == frame.role), None)
            if mine is not None:
                return mine
        if pending:
            return pending[0]
        return next((op for op in reversed(self.flow_ops[-64:]) if fits(op)), None)

    def own_flow(self, frame: Frame) -> _Op | None:
        return self.find(frame, "own")

    def peer_flow(self, frame: Frame) -> _Op | None:
        return self.find(frame, "peer")

    def any_flow(self, frame: Frame) -> _Op | None:
        return self.find(frame, "any")

    # -- one record --------------------------------------------------------------------
    def step(self, frame: Frame) -> None:
        key = (frame.role, frame.conn)
        if frame.channel_id is not None:
            self.channel[key] = frame.channel_id
        direction = frame.direction
        if direction is Direction.INFO:
            previous = self.last_op.get(frame.role)
            if previous is not None:
                self.attach(previous, frame)
            return
        if direction is Direction.OPEN:
            kind = "reconnect" if frame.channel_id else "open"
            op = self.new(kind, frame)
            op.expects_fsm_id = frame.fsm_id
            self.conn_ops[key] = op
            return
        if direction is Direction.CLOSE:
            conn_op = self.conn_ops.get(key)
            if conn_op is not None and conn_op.outcome is None:
                self.attach(conn_op, frame)  # closed before its flow finished: incomplete
                conn_op.detail = "socket closed"
            elif conn_op is not None and conn_op.outcome is Outcome.ERROR:
                self.attach(conn_op, frame)  # the node closes after a connect-time error
            elif (previous := self.last_op.get(frame.role)) is not None:
                self.attach(previous, frame)
            return
        request_seq = self.reply_to.get(frame.seq)
        if request_seq is not None and request_seq in self.op_of:
            self.on_reply(self.op_of[request_seq], request_seq, frame)
        elif direction is Direction.SENT:
            self.on_sent(frame)
        else:
            self.on_received(frame)

    def on_reply(self, op: _Op, request_seq: int, frame: Frame) -> None:
        self.attach(op, frame)
        if request_seq == op.start.seq:
            if frame.kind is Kind.ERROR:
                op.decide(Outcome.ERROR, frame, frame.error_data_message or frame.error_message)
            elif not op.flow:
                op.decide(Outcome.OK, frame)

    def on_sent(self, frame: Frame) -> None:
        method = frame.method or ""
        target: _Op | None
        if method in FLOW_STARTERS:
            self.new(FLOW_STARTERS[method], frame, flow=True)
            return
        if method in _STARTER_REPLIES:
            target = self.own_flow(frame)
        elif method in _ACK_REPLIES:
            target = self.peer_flow(frame)
        elif method in _OPEN_REPLIES:
            target = self.conn_ops.get((frame.role, frame.conn))
        else:
            self.new(_query_kind(frame), frame)
            return
        if target is None:
            self.new(method.removeprefix("channels.") or "other", frame)
        else:
            self.attach(target, frame)

    def on_received(self, frame: Frame) -> None:
        method = frame.method or ""
        conn_op = self.conn_ops.get((frame.role, frame.conn))
        if frame.kind is Kind.ERROR:
            if conn_op is not None and conn_op.outcome is None and _connect_time_error(frame):
                self.attach(conn_op, frame)
                conn_op.decide(Outcome.ERROR, frame, frame.error_data_message)
            else:
                self.unattributed(frame)
            return
        if method.startswith("channels.sign."):
            tag = method.removeprefix("channels.sign.")
            if tag in _OPEN_SIGN_TAGS:
                self.to_connection(conn_op, frame)
            elif tag in _ACK_SIGN_TAGS:
                self.to(self.peer_flow(frame), frame)
            else:
                self.to(self.own_flow(frame), frame)
            return
        if method == "channels.info":
            self.on_info(frame, conn_op)
            return
        if method == "channels.on_chain_tx" and frame.info in _CONNECTION_CHAIN_INFOS:
            self.to_connection(conn_op, frame)
            return
        if method == "channels.message":
            self.to(self.pending_message(frame), frame)
            return
        if method == "channels.update" and conn_op is not None and conn_op.lingering:
            conn_op.lingering = False
            self.attach(conn_op, frame)
            return
        if (
            method == "channels.on_chain_tx"
            and frame.tx_type == "channel_create_tx"
            and conn_op is not None
            and conn_op.outcome is None
        ):
            self.attach(conn_op, frame)
            return
        op = self.any_flow(frame)
        if op is None and conn_op is not None and conn_op.outcome is None:
            op = conn_op
        self.to(op, frame)

    def on_info(self, frame: Frame, conn_op: _Op | None) -> None:
        event = frame.event
        if event in _CONNECTION_EVENTS or (
            event in ("open", "timeout") and conn_op is not None and conn_op.outcome is None
        ):
            self.to_connection(conn_op, frame)
            return
        if event in _ACK_EVENTS:
            self.to(self.peer_flow(frame), frame)
            return
        if event == "died":
            previous = self.last_op.get(frame.role)
            stopping = previous is not None and previous.kind == "stop"
            if stopping or (conn_op is not None and conn_op.outcome is None):
                target = previous if stopping else conn_op
            else:
                target = self.any_flow(frame) or previous
            self.to(target, frame)
            return
        self.to(self.any_flow(frame), frame)

    def to_connection(self, op: _Op | None, frame: Frame) -> None:
        if op is None:
            self.unattributed(frame)
            return
        self.attach(op, frame)
        event = frame.event
        if event == "fsm_up" and op.kind == "reconnect" and op.expects_fsm_id == frame.fsm_id:
            op.decide(Outcome.OK, frame)
        elif event == "channel_reestablished":
            op.kind = "reestablish"
        elif event == "open":
            op.decide(Outcome.OK, frame)
            op.lingering = True
        elif event == "timeout":
            op.decide(Outcome.ERROR, frame, "timeout")

    def to(self, op: _Op | None, frame: Frame) -> None:
        if op is None:
            self.unattributed(frame)
            return
        self.attach(op, frame)
        if op.flow and frame.role == op.starter:
            self.judge_flow(op, frame)

    def judge_flow(self, op: _Op, frame: Frame) -> None:
        method, event, info = frame.method, frame.event, frame.info
        if method == "channels.sign." + _sign_tag(op.kind) and frame.round is not None:
            op.round = frame.round
        if method == "channels.conflict":
            op.decide(Outcome.CONFLICT, frame, f"{frame.error_code} {frame.error_message}")
        elif method == "channels.error":
            op.decide(Outcome.ERROR, frame, frame.error_message)
        elif event == "aborted_update":
            op.decide(Outcome.ABORTED, frame)
        elif event == "died":
            op.decide(Outcome.ERROR, frame, "died")
        elif _succeeded(op.kind, frame, method, event, info):
            op.decide(Outcome.OK, frame)

    def pending_message(self, frame: Frame) -> _Op | None:
        for index, op in enumerate(self.messages):
            if op.starter != frame.role:
                del self.messages[index]
                op.decide(Outcome.OK, frame)
                return op
        return None

    def unattributed(self, frame: Frame) -> None:
        """Frames no flow explains (e.g. a log starting mid-flow) stay out of every op."""


_UPDATES: Final = frozenset({"update", "new_contract", "call_contract"})
_KINDS_OF_TAG: Final[dict[str, frozenset[str]]] = {
    "update": _UPDATES,
    "update_ack": _UPDATES,
    "deposit_tx": frozenset({"deposit"}),
    "deposit_ack": frozenset({"deposit"}),
    "deposit_created": frozenset({"deposit"}),
    "deposit_signed": frozenset({"deposit"}),
    "own_deposit_locked": frozenset({"deposit"}),
    "deposit_locked": frozenset({"deposit"}),
    "withdraw_tx": frozenset({"withdraw"}),
    "withdraw_ack": frozenset({"withdraw"}),
    "withdraw_created": frozenset({"withdraw"}),
    "withdraw_signed": frozenset({"withdraw"}),
    "own_withdraw_locked": frozenset({"withdraw"}),
    "withdraw_locked": frozenset({"withdraw"}),
    "shutdown": frozenset({"shutdown"}),
    "shutdown_sign": frozenset({"shutdown"}),
    "shutdown_sign_ack": frozenset({"shutdown"}),
    "close_mutual": frozenset({"shutdown"}),
    "close_solo_sign": frozenset({"close_solo"}),
    "close_solo_tx": frozenset({"close_solo"}),
    "slash_tx": frozenset({"slash"}),
    "slash_sign": frozenset({"slash"}),
    "settle_sign": frozenset({"settle"}),
    "settle_tx": frozenset({"settle"}),
    "snapshot_solo_tx": frozenset({"snapshot_solo"}),
    "snapshot_solo_sign": frozenset({"snapshot_solo"}),
    "min_depth_achieved": frozenset({"snapshot_solo"}),
    "force_progress_tx": frozenset({"force_progress"}),
    "force_progress_sign": frozenset({"force_progress"}),
    "closing": frozenset({"shutdown", "close_solo", "slash"}),
    "solo_closing": frozenset({"close_solo", "slash"}),
    "closed_confirmed": frozenset({"shutdown", "settle"}),
    "channel_closed": frozenset({"shutdown", "settle"}),
}
_KINDS_OF_TX: Final[dict[str, frozenset[str]]] = {
    "channel_deposit_tx": frozenset({"deposit"}),
    "channel_withdraw_tx": frozenset({"withdraw"}),
    "channel_close_mutual_tx": frozenset({"shutdown"}),
    "channel_close_solo_tx": frozenset({"close_solo"}),
    "channel_slash_tx": frozenset({"slash"}),
    "channel_settle_tx": frozenset({"settle"}),
    "channel_snapshot_solo_tx": frozenset({"snapshot_solo"}),
    "channel_force_progress_tx": frozenset({"force_progress"}),
}


def fitting_kinds(frame: Frame) -> frozenset[str] | None:
    """The operation kinds a flow frame can belong to (None: any kind)."""
    method = frame.method or ""
    if method == "channels.update" and frame.direction is Direction.RECEIVED:
        return STATE_FLOWS
    if method == "channels.leave":
        return frozenset({"leave"})
    if method.startswith("channels.sign."):
        return _KINDS_OF_TAG.get(method.removeprefix("channels.sign."))
    if frame.direction is Direction.SENT:
        return _KINDS_OF_TAG.get(method.removeprefix("channels."))
    if method == "channels.on_chain_tx":
        by_tx = _KINDS_OF_TX.get(frame.tx_type or "")
        return by_tx if by_tx is not None else _KINDS_OF_TAG.get(frame.info or "")
    if method == "channels.info":
        return _KINDS_OF_TAG.get(frame.event or "")
    return None


def _sign_tag(kind: str) -> str:
    return {
        "update": "update",
        "new_contract": "update",
        "call_contract": "update",
        "deposit": "deposit_tx",
        "withdraw": "withdraw_tx",
        "shutdown": "shutdown_sign",
        "close_solo": "close_solo_sign",
        "settle": "settle_sign",
        "slash": "slash_tx",
        "snapshot_solo": "snapshot_solo_tx",
        "force_progress": "force_progress_tx",
    }.get(kind, "")


def _succeeded(
    kind: str, frame: Frame, method: str | None, event: str | None, info: str | None
) -> bool:
    if kind in STATE_FLOWS:
        return method == "channels.update"
    if kind == "leave":
        return method == "channels.leave"
    if kind in ("shutdown", "close_solo"):
        return event == "closing" or info in ("close_mutual", "solo_closing")
    if kind == "slash":
        return info == "solo_closing"
    if kind == "settle":
        return info == "channel_closed" or event == "closed_confirmed"
    if kind == "snapshot_solo":
        return info == "channel_changed" or event == "min_depth_achieved"
    if kind == "force_progress":
        return method == "channels.on_chain_tx" and frame.tx_type == "channel_force_progress_tx"
    return False


def _query_kind(frame: Frame) -> str:
    method = (frame.method or "other").removeprefix("channels.")
    if method == "system" and isinstance(frame.message, dict):
        params = frame.message.get("params")
        action = params.get("action") if isinstance(params, dict) else None
        return str(action) if isinstance(action, str) else method
    return method


def _connect_time_error(frame: Frame) -> bool:
    error = frame.message.get("error") if isinstance(frame.message, dict) else None
    return isinstance(error, dict) and error.get("request") == {}


def operations(frames: Sequence[Frame]) -> list[Operation]:
    """The operations of ``frames`` in start order (see the module docstring)."""
    return _Grouper(frames).run()
