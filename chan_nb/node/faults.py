"""Fault injection for the embedded node: drop, delay, duplicate or cut at a chosen frame.

A :class:`FaultPlan` is a list of rules the node's I/O layer consults for every frame a
client sends (``"in"``) and every frame the node sends (``"out"``). It is pure — it sees
frame texts and connection ids and answers with a :class:`Verdict` — so it works the
same over sockets and in-memory connections, and in a notebook::

    node.faults.drop(method="channels.sign.update_ack")       # lose one frame
    node.faults.delay(0.5, direction="out", event="open")     # hold the socket up
    node.faults.duplicate(method="channels.update")           # deliver twice
    node.faults.cut(role="responder", nth=3)                  # its 3rd frame: socket gone
    node.faults.stall(role="initiator")                       # stop answering it
    node.faults.clear()

A rule counts the frames that match its filters from the moment it is added; ``nth``
picks the one it acts on and ``times`` how often it fires (None: on every match from
``nth`` on). :attr:`FaultPlan.fired` lists what fired; with ``trace=True`` every frame is
listed in :attr:`FaultPlan.frames` (the steps a fault matrix can cut at).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit

Direction = Literal["in", "out"]  # in: client -> node; out: node -> client
FaultKind = Literal["drop", "delay", "duplicate", "cut", "close", "stall"]

_KINDS: Final = frozenset({"drop", "delay", "duplicate", "cut", "close", "stall"})
#: Kinds that end a connection when they fire.
_ENDING: Final = frozenset({"cut", "close"})


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """One frame as the plan saw it (``step``: the role's count, both directions)."""

    direction: Direction
    conn_id: int
    role: str | None
    step: int
    method: str | None
    event: str | None

    def describe(self) -> str:
        what = self.method or "?"
        if self.event:
            what += f" {self.event}"
        arrow = "->" if self.direction == "in" else "<-"
        return f"{self.role or 'client'} {arrow} node: {what}"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one frame.

    ``copies`` 0 drops it, 2+ duplicates it; ``delay`` holds it (and everything after it
    on that connection and direction, which keeps the order a socket keeps);
    ``end`` closes the connection — ``"cut"`` without a WebSocket close handshake,
    ``"close"`` with one — before the frame when ``end_before``, else after it.
    """

    copies: int = 1
    delay: float = 0.0
    end: Literal["cut", "close"] | None = None
    end_before: bool = True


PASS: Final = Verdict()
DROP: Final = Verdict(copies=0)


@dataclass
class Rule:
    """One fault: what it does and which frames it applies to (None matches anything)."""

    kind: FaultKind
    direction: Direction | None = None
    role: str | None = None
    method: str | None = None
    event: str | None = None
    conn_id: int | None = None
    nth: int = 1
    times: int | None = 1
    seconds: float = 0.0  # delay
    copies: int = 2  # duplicate
    before: bool = True  # cut/close: before the frame (it is lost) or after it
    seen: int = 0
    fired: int = 0

    def __post_init__(self) -> None:
        if self.kind not in _KINDS:
            raise ValueError(f"unknown fault {self.kind!r}; one of {', '.join(sorted(_KINDS))}")
        if self.nth < 1:
            raise ValueError(f"nth counts from 1, got {self.nth}")
        if self.times is not None and self.times < 1:
            raise ValueError(f"times must be >= 1 or None, got {self.times}")
        if self.seconds < 0:
            raise ValueError(f"a delay cannot be negative, got {self.seconds}")
        if self.copies < 2:
            raise ValueError(f"a duplicate delivers at least 2 copies, got {self.copies}")

    @property
    def needs_frame(self) -> bool:
        return self.method is not None or self.event is not None

    @property
    def spent(self) -> bool:
        return self.times is not None and self.fired >= self.times

    def matches(self, info: FrameInfo) -> bool:
        return (
            (self.direction is None or self.direction == info.direction)
            and (self.role is None or self.role == info.role)
            and (self.conn_id is None or self.conn_id == info.conn_id)
            and (self.method is None or self.method == info.method)
            and (self.event is None or self.event == info.event)
        )


@dataclass
class FaultPlan:
    """The faults an embedded node applies; empty (and free) until a rule is added."""

    rules: list[Rule] = field(default_factory=list)
    trace: bool = False
    frames: list[FrameInfo] = field(default_factory=list)
    fired: list[tuple[Rule, FrameInfo]] = field(default_factory=list)
    stalled_all: bool = False
    _roles: dict[int, str | None] = field(default_factory=dict)
    _stalled: set[int] = field(default_factory=set)
    _steps: dict[str | None, int] = field(default_factory=dict)

    # -- building the plan (notebooks, tests) ---------------------------------------------------
    def add(self, rule: Rule) -> Rule:
        self.rules.append(rule)
        return rule

    def drop(self, **match: Any) -> Rule:
        """Lose the matching frame (``nth`` one, ``times`` times)."""
        return self.add(Rule("drop", **match))

    def delay(self, seconds: float, **match: Any) -> Rule:
        """Hold the matching frame ``seconds`` (later frames on that connection wait too)."""
        return self.add(Rule("delay", seconds=seconds, **match))

    def duplicate(self, copies: int = 2, **match: Any) -> Rule:
        """Deliver the matching frame ``copies`` times."""
        return self.add(Rule("duplicate", copies=copies, **match))

    def cut(self, *, before: bool = True, **match: Any) -> Rule:
        """Drop the connection at the matching frame, without a close handshake."""
        return self.add(Rule("cut", before=before, **match))

    def close(self, *, before: bool = True, **match: Any) -> Rule:
        """Close the connection cleanly at the matching frame."""
        return self.add(Rule("close", before=before, **match))

    def stall(self, **match: Any) -> Rule:
        """Stop responding on the matching frame's connection, from that frame on.

        Everything after it, both ways, is swallowed; the FSMs and the chain go on and
        the socket stays open (:meth:`resume` ends it).
        """
        return self.add(Rule("stall", **match))

    def stall_all(self) -> None:
        """The whole node stops responding (every frame both ways is swallowed)."""
        self.stalled_all = True

    def resume(self) -> None:
        """End every stall (frames swallowed meanwhile stay lost)."""
        self.stalled_all = False
        self._stalled.clear()

    def clear(self) -> None:
        """Remove every rule and stall; counters and history start again."""
        self.rules.clear()
        self.resume()
        self.frames.clear()
        self.fired.clear()
        self._steps.clear()

    # -- what the I/O layer asks ----------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Whether any frame can be affected (the node skips the plan entirely otherwise)."""
        return bool(self.rules) or self.trace or self.stalled_all or bool(self._stalled)

    def connected(self, conn_id: int, path: str) -> None:
        """A connection was opened at ``path`` (its ``role`` parameter names its side)."""
        role = dict(parse_qsl(urlsplit(path).query)).get("role")
        self._roles[conn_id] = role if role in ("initiator", "responder") else None

    def disconnected(self, conn_id: int) -> None:
        self._roles.pop(conn_id, None)
        self._stalled.discard(conn_id)

    def role_of(self, conn_id: int) -> str | None:
        return self._roles.get(conn_id)

    def judge(self, direction: Direction, conn_id: int, text: str | bytes) -> Verdict:
        """What to do with one frame (every live rule that matches counts it)."""
        if self.stalled_all or conn_id in self._stalled:
            return DROP
        role = self._roles.get(conn_id)
        step = self._steps.get(role, 0) + 1
        self._steps[role] = step
        method, event = (None, None)
        if self.trace or any(r.needs_frame for r in self.rules):
            method, event = _summary(text)
        info = FrameInfo(direction, conn_id, role, step, method, event)
        if self.trace:
            self.frames.append(info)
        verdict = PASS
        for rule in self.rules:
            if rule.spent or not rule.matches(info):
                continue
            rule.seen += 1
            if rule.seen < rule.nth:
                continue
            rule.fired += 1
            self.fired.append((rule, info))
            verdict = _combine(verdict, rule)
            if rule.kind == "stall":
                self._stalled.add(conn_id)
                return DROP
            if rule.kind in _ENDING and rule.before:
                break
        return verdict


def _combine(verdict: Verdict, rule: Rule) -> Verdict:
    if rule.kind == "drop":
        return Verdict(0, verdict.delay, verdict.end, verdict.end_before)
    if rule.kind == "delay":
        return Verdict(
            verdict.copies, verdict.delay + rule.seconds, verdict.end, verdict.end_before
        )
    if rule.kind == "duplicate":
        copies = rule.copies if verdict.copies else 0
        return Verdict(copies, verdict.delay, verdict.end, verdict.end_before)
    if rule.kind in _ENDING:
        end: Literal["cut", "close"] = "cut" if rule.kind == "cut" else "close"
        return Verdict(verdict.copies, verdict.delay, end, rule.before)
    return verdict


def _summary(text: str | bytes) -> tuple[str | None, str | None]:
    """The frame's method and its info/on-chain event, for matching (None when unreadable)."""
    try:
        frame = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if isinstance(frame, list):
        frame = frame[0] if frame else None
    if not isinstance(frame, dict):
        return None, None
    method = frame.get("method")
    if not isinstance(method, str):
        method = "error" if "error" in frame else "result" if "result" in frame else None
        return method, None
    params = frame.get("params")
    data = params.get("data") if isinstance(params, dict) else None
    event = None
    if isinstance(data, dict):
        found = data.get("event", data.get("info"))
        event = found if isinstance(found, str) else None
    return method, event
