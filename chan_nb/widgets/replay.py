"""A cursor over a recorded session, and what to show at each step (no widgets here).

:class:`Replay` is the replay stepper's whole logic: where the cursor is, where
"forward" and "back" go under a *stop at* filter, and a :class:`StepView` of the
current record — its JSON, its decoded transaction, the ladder rows up to it, the
operation it belongs to, and every account's balance as known at that point.
Keeping this pure lets the tests drive it without a browser or a kernel; the
ipywidgets front (:mod:`chan_nb.widgets.stepper`) only draws it.

A live recording grows while it is watched: :meth:`Replay.sync` picks up new
records (the analyses are cached per length, so a grown log is re-read once).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from chan_nb.errors import ChanNbError
from chan_nb.recording.balances import BalancePoint, account_roles, balance_points
from chan_nb.recording.diagram import Step, build_steps, lanes_for
from chan_nb.recording.frame import Direction, Frame, Kind
from chan_nb.recording.operations import Operation, operations

StopRule = Callable[[Frame], bool]


def _is_trouble(frame: Frame) -> bool:
    return frame.kind is Kind.ERROR or frame.method in ("channels.conflict", "channels.error")


def _is_new_state(frame: Frame) -> bool:
    return frame.method == "channels.update" and frame.kind is Kind.NOTIFICATION


#: Where "forward" and "back" stop; the slider always reaches every record.
STOPS: Final[dict[str, StopRule]] = {
    "every record": lambda frame: True,
    "frames only": lambda frame: frame.is_frame,
    "transactions": lambda frame: frame.tx is not None,
    "new states (channels.update)": _is_new_state,
    "errors and conflicts": _is_trouble,
    "socket open / close": lambda frame: frame.direction in (Direction.OPEN, Direction.CLOSE),
}


def stop_rules(roles: Sequence[str]) -> dict[str, StopRule]:
    """:data:`STOPS` plus one "only <role>" rule per participant."""
    rules = dict(STOPS)
    for role in roles:
        rules[f"only {role}"] = lambda frame, role=role: frame.role == role  # type: ignore[misc]
    return rules


@dataclass(frozen=True, slots=True)
class BalanceRow:
    """One account's balance as known at a step: the replayed state and the last reply."""

    channel_id: str | None
    account: str
    balance: int | None  # from the replayed co-signed state
    round: int | None  # round of that state
    reply: int | None  # the last channels.get.balances answer
    changed: bool  # this step produced a new value for the account


@dataclass(frozen=True, slots=True)
class StepView:
    """Everything the stepper shows for one record."""

    index: int  # 0-based position in the log
    total: int
    frame: Frame
    headline: str  # the record's one-line description
    body: str  # the frame's JSON (pretty), the URL and its params, or the note
    tx: dict[str, Any] | None  # the decoded transaction (expanded), if the frame has one
    tx_error: str | None  # why the frame's tx could not be decoded
    operation: Operation | None  # the flow this record belongs to
    lanes: tuple[str, ...]
    ladder: tuple[Step, ...]  # one row per record, from the first up to this one
    balances: tuple[BalanceRow, ...]
    round: int | None  # the latest co-signed round seen so far


class Replay:
    """A cursor over ``log`` (any sequence of frames, e.g. a :class:`SessionLog`)."""

    def __init__(self, log: Sequence[Frame], *, stop_at: str = "every record") -> None:
        self.log = log
        self.position = 0
        self._known = -1
        self._frames: list[Frame] = []
        self._steps: list[Step] = []
        self._points: list[BalancePoint] = []
        self._op_of: dict[int, Operation] = {}
        self._rounds: list[int | None] = []  # latest co-signed round up to each position
        self._lanes: tuple[str, ...] = ()
        self.rules: dict[str, StopRule] = {}
        self.names: dict[str, str] = {}
        self.stop_at = stop_at
        self.sync()

    # -- the log -----------------------------------------------------------------------
    def sync(self) -> bool:
        """Re-read the log if it grew (a live recording); True when something changed."""
        if len(self.log) == self._known:
            return False
        self._frames = list(self.log)
        self._known = len(self._frames)
        self._steps = build_steps(self._frames, collapse=False, notes=True, max_steps=None)
        self._points = balance_points(self._frames)
        self.names = account_roles(self._frames)  # ak_ -> role, for tables
        self._op_of = {seq: op for op in operations(self._frames) for seq in op.seqs}
        self._rounds = _running_rounds(self._frames)
        roles = list(dict.fromkeys(frame.role for frame in self._frames))
        self._lanes = tuple(lanes_for(roles))
        self.rules = stop_rules(roles)
        if self.stop_at not in self.rules:
            raise ChanNbError(f"unknown stop rule {self.stop_at!r}; known: {list(self.rules)}")
        self.position = min(self.position, max(0, self._known - 1))
        return True

    def __len__(self) -> int:
        return self._known

    @property
    def frame(self) -> Frame:
        if not self._frames:
            raise ChanNbError("the recording is empty: there is no step to show")
        return self._frames[self.position]

    @property
    def stop_at(self) -> str:
        return self._stop_at

    @stop_at.setter
    def stop_at(self, name: str) -> None:
        if self.rules and name not in self.rules:
            raise ChanNbError(f"unknown stop rule {name!r}; known: {list(self.rules)}")
        self._stop_at = name

    # -- moving ------------------------------------------------------------------------
    def goto(self, index: int) -> int:
        """Move to ``index`` (clamped to the log); returns the new position."""
        self.position = max(0, min(index, self._known - 1))
        return self.position

    def forward(self) -> int:
        """The next record the stop rule accepts (stays put when there is none)."""
        found = self._find(range(self.position + 1, self._known))
        return self.goto(self.position if found is None else found)

    def back(self) -> int:
        """The previous record the stop rule accepts (stays put when there is none)."""
        found = self._find(range(self.position - 1, -1, -1))
        return self.goto(self.position if found is None else found)

    def first(self) -> int:
        return self.goto(0)

    def last(self) -> int:
        return self.goto(self._known - 1)

    @property
    def can_go_forward(self) -> bool:
        return self._find(range(self.position + 1, self._known)) is not None

    @property
    def can_go_back(self) -> bool:
        return self._find(range(self.position - 1, -1, -1)) is not None

    def _find(self, indices: range) -> int | None:
        rule = self.rules[self.stop_at]
        return next((i for i in indices if rule(self._frames[i])), None)

    # -- what to show ------------------------------------------------------------------
    def view(self) -> StepView:
        """The current record and the session's state at that point."""
        frame = self.frame
        tx, tx_error = decoded_tx(frame)
        return StepView(
            index=self.position,
            total=self._known,
            frame=frame,
            headline=frame.brief(),
            body=frame_body(frame),
            tx=tx,
            tx_error=tx_error,
            operation=self._op_of.get(frame.seq),
            lanes=self._lanes,
            ladder=tuple(self._steps[: self.position + 1]),
            balances=self._balances_at(self.position),
            round=self._rounds[self.position],
        )

    def _balances_at(self, position: int) -> tuple[BalanceRow, ...]:
        """Latest state and reply per account among the records up to ``position``."""
        seen = {frame.seq for frame in self._frames[: position + 1]}
        here = self._frames[position].seq
        state: dict[tuple[str | None, str], BalancePoint] = {}
        reply: dict[tuple[str | None, str], BalancePoint] = {}
        for point in self._points:
            if point.seq in seen:
                chosen = state if point.source == "state" else reply
                chosen[(point.channel_id, point.account)] = point
        rows = []
        for key in dict.fromkeys([*state, *reply]):
            got, answered = state.get(key), reply.get(key)
            rows.append(
                BalanceRow(
                    channel_id=key[0],
                    account=key[1],
                    balance=None if got is None else got.balance,
                    round=None if got is None else got.round,
                    reply=None if answered is None else answered.balance,
                    changed=any(p is not None and p.seq == here for p in (got, answered)),
                )
            )
        return tuple(rows)


def _running_rounds(frames: Sequence[Frame]) -> list[int | None]:
    """For each position, the highest round announced by ``channels.update`` so far."""
    latest: int | None = None
    out: list[int | None] = []
    for frame in frames:
        if _is_new_state(frame) and frame.round is not None:
            latest = frame.round if latest is None else max(latest, frame.round)
        out.append(latest)
    return out


def frame_body(frame: Frame) -> str:
    """What the record holds, readable: pretty JSON, or the URL with its parameters."""
    if frame.direction is Direction.OPEN:
        params = "\n".join(f"  {k} = {v}" for k, v in (frame.params or {}).items())
        return f"{frame.url}\n\nparameters:\n{params}" if params else str(frame.url)
    if frame.direction is Direction.CLOSE:
        return "(the WebSocket was closed)"
    if frame.direction is Direction.INFO:
        return frame.raw
    if frame.kind is Kind.INVALID or frame.message is None:
        return frame.raw
    return json.dumps(frame.message, indent=2, ensure_ascii=False)


def decoded_tx(frame: Frame) -> tuple[dict[str, Any] | None, str | None]:
    """The frame's transaction as a dict (every layer expanded), or why it failed."""
    if frame.tx is None or not frame.tx.startswith("tx_"):
        return None, None
    from chan_nb.codec import txs

    try:
        return txs.decode_api(frame.tx).to_dict(expand=True), None
    except (ChanNbError, ValueError) as exc:
        return None, str(exc)
