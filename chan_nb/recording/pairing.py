"""Replies matched to the requests that caused them.

A request with an id gets the node frame echoing that id (``result`` or ``error``) on
the same role. Without an id the node still answers some requests: errors carry the
request itself (``error.request``), read methods answer with a
``channels.<method>.reply`` notification, and ping with ``channels.system.pong``
(websocket-api §2.1). Pure: works on a list of frames.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from chan_nb.recording.frame import Direction, Frame, Kind


@dataclass(frozen=True, slots=True)
class Pair:
    """A request and its reply (``reply_seq`` None: no reply in the log)."""

    request_seq: int
    reply_seq: int | None
    role: str
    method: str | None
    rpc_id: int | str | None
    ok: bool | None  # True: result or reply notification; False: error; None: no reply
    latency_s: float | None  # from the recorded clocks (live recordings only)


def reply_method(request: Frame) -> str | None:
    """The notification that answers an id-less read request, if any."""
    if request.method is None:
        return None
    if request.method == "channels.system":
        params = request.message.get("params") if isinstance(request.message, dict) else None
        action = params.get("action") if isinstance(params, dict) else None
        return "channels.system.pong" if action == "ping" else None
    return _REPLY_METHODS.get(request.method, f"{request.method}.reply")


#: Read methods whose reply notification is not simply ``<method>.reply``.
_REPLY_METHODS: Final = {"channels.clean_contract_calls": "channels.calls_pruned.reply"}


def pairs(frames: Sequence[Frame]) -> list[Pair]:
    """Every request of ``frames``, in order, with its reply (if one was recorded)."""
    by_id: dict[tuple[str, Any], deque[Frame]] = {}
    by_method: dict[tuple[str, str], deque[Frame]] = {}
    idless: dict[str, list[Frame]] = {}
    replies: dict[int, Frame] = {}
    requests: list[Frame] = []
    for frame in frames:
        if frame.direction is Direction.SENT and frame.kind is Kind.REQUEST:
            requests.append(frame)
            if frame.rpc_id is not None:
                by_id.setdefault((frame.role, frame.rpc_id), deque()).append(frame)
            else:
                idless.setdefault(frame.role, []).append(frame)
                expected = reply_method(frame)
                if expected is not None:
                    by_method.setdefault((frame.role, expected), deque()).append(frame)
            continue
        if frame.direction is not Direction.RECEIVED:
            continue
        request = _request_of(frame, by_id, by_method, idless)
        if request is not None:
            replies[request.seq] = frame
    return [_pair(request, replies.get(request.seq)) for request in requests]


def _request_of(
    frame: Frame,
    by_id: dict[tuple[str, Any], deque[Frame]],
    by_method: dict[tuple[str, str], deque[Frame]],
    idless: dict[str, list[Frame]],
) -> Frame | None:
    if frame.kind in (Kind.RESPONSE, Kind.ERROR) and frame.rpc_id is not None:
        waiting = by_id.get((frame.role, frame.rpc_id))
        return waiting.popleft() if waiting else None
    if frame.kind is Kind.ERROR:
        error = frame.message.get("error") if isinstance(frame.message, dict) else None
        echoed = error.get("request") if isinstance(error, dict) else None
        if not echoed:  # connect-time errors echo {}: no request caused them
            return None
        candidates = idless.get(frame.role, [])
        for index in range(len(candidates) - 1, -1, -1):
            if candidates[index].message == echoed:
                request = candidates.pop(index)
                _discard(by_method, request)
                return request
        return None
    if frame.kind is Kind.NOTIFICATION and frame.method is not None:
        waiting = by_method.get((frame.role, frame.method))
        if waiting:
            request = waiting.popleft()
            candidates = idless.get(frame.role, [])
            if request in candidates:
                candidates.remove(request)
            return request
    return None


def _discard(by_method: dict[tuple[str, str], deque[Frame]], request: Frame) -> None:
    expected = reply_method(request)
    if expected is not None:
        waiting = by_method.get((request.role, expected))
        if waiting and request in waiting:
            waiting.remove(request)


def _pair(request: Frame, reply: Frame | None) -> Pair:
    ok = None if reply is None else reply.kind is not Kind.ERROR
    return Pair(
        request.seq,
        None if reply is None else reply.seq,
        request.role,
        request.method,
        request.rpc_id,
        ok,
        None if reply is None else elapsed(request, reply),
    )


def elapsed(start: Frame, end: Frame) -> float | None:
    """Seconds between two records by the monotonic clock, else the wall clock."""
    if start.t_mono is not None and end.t_mono is not None:
        return end.t_mono - start.t_mono
    if start.t_wall is not None and end.t_wall is not None:
        return end.t_wall - start.t_wall
    return None
