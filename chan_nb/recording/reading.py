"""What a reader returns: the records it could read and a list of what it could not.

Readers are strict by default (the first problem raises :class:`DecodeError` naming the
line and what was expected). With ``strict=False`` they keep going and report every
unreadable part as a :class:`Problem`, so nothing is dropped silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final

from chan_nb.errors import DecodeError
from chan_nb.recording.frame import Frame, Kind

#: The largest frame a recording may hold. The node itself sets no frame limit
#: (cowboy's ``max_frame_size`` is infinity) and its largest real frames (contract
#: bytecode in a create or a call) stay far below a MiB; 16 MiB keeps a hostile file
#: from costing a reader gigabytes.
MAX_RECORDED_FRAME_BYTES: Final = 16 * 2**20
#: The deepest JSON a frame may nest. Node frames nest fewer than ten levels; the limit
#: keeps every recursive walk over a frame (audit, replay, pairing) far from Python's
#: recursion limit, which a frame nested 100,000 deep would otherwise hit.
MAX_JSON_DEPTH: Final = 100


@dataclass(frozen=True, slots=True)
class Problem:
    """One unreadable part of a log: where it starts, what was expected, what was found."""

    line: int
    expected: str
    found: str | None  # the offending line, None at end of file

    def __str__(self) -> str:
        return f"line {self.line}: expected {self.expected}, found {_show(self.found)}"


@dataclass(frozen=True, slots=True)
class Reading:
    """The result of reading one log."""

    frames: list[Frame]
    problems: list[Problem] = field(default_factory=list)
    title: str | None = None  # the case name on top of a rendered log


class ProblemSink:
    """Collects problems, or raises the first one when strict."""

    def __init__(self, source: str, strict: bool) -> None:
        self.source = source
        self.strict = strict
        self.problems: list[Problem] = []

    def report(self, line: int, expected: str, found: str | None) -> None:
        problem = Problem(line, expected, found)
        if self.strict:
            raise DecodeError(f"expected {expected}, found {_show(found)}", f"{self.source}:{line}")
        self.problems.append(problem)


def check_frames(reading: Reading, source: str, strict: bool) -> Reading:
    """The rules every reader shares, whatever the format: a recording holds at least one
    record, no frame is larger than :data:`MAX_RECORDED_FRAME_BYTES` or nested deeper than
    :data:`MAX_JSON_DEPTH`, and the file does not end inside a frame (a cut file)."""
    sink = ProblemSink(source, strict)
    frames = reading.frames
    if not frames and not reading.problems:
        sink.report(1, "at least one record", None)
    last_frame = max((i for i, f in enumerate(frames) if f.is_frame), default=-1)
    for index, frame in enumerate(frames):
        line = frame.line or frame.seq
        if frame.size > MAX_RECORDED_FRAME_BYTES:
            limit = f"a frame of at most {MAX_RECORDED_FRAME_BYTES} bytes"
            sink.report(line, limit, f"{frame.size} bytes")
        elif frame.kind is Kind.INVALID:
            if _too_deep(frame.raw):
                sink.report(line, f"JSON nested at most {MAX_JSON_DEPTH} deep", _head(frame.raw))
            elif index == last_frame:
                sink.report(line, "a complete JSON frame (the file ends inside one)", frame.raw)
        elif (
            frame.message is not None
            and frame.raw.count("{") + frame.raw.count("[") > MAX_JSON_DEPTH  # cheap filter
            and _nesting(frame.message) > MAX_JSON_DEPTH
        ):
            sink.report(line, f"JSON nested at most {MAX_JSON_DEPTH} deep", _head(frame.raw))
    if not sink.problems:
        return reading
    problems = sorted([*reading.problems, *sink.problems], key=lambda p: p.line)
    return Reading(reading.frames, problems, reading.title)


def _too_deep(raw: str) -> bool:
    """True when ``raw`` is JSON the parser gave up on for its depth (not a syntax error)."""
    try:
        json.loads(raw)
    except RecursionError:
        return True
    except ValueError:
        return False
    return False


def _nesting(value: Any) -> int:
    """How deep a parsed JSON value nests (iterative: the value may be deep)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            items: Any = item.values()
        elif isinstance(item, list):
            items = item
        else:
            continue
        deepest = max(deepest, depth)
        if depth > MAX_JSON_DEPTH:
            break
        stack.extend((child, depth + 1) for child in items)
    return deepest


def _head(text: str) -> str:
    return text[:40]


def _show(text: str | None, limit: int = 60) -> str:
    if text is None:
        return "end of file"
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
