"""The published Markdown form of a recorded session (aeternity/protocol examples).

Each step is a ``#### <role> …`` heading followed by a fenced block (frames: a
``javascript`` fence holding the JSON; opens: a plain fence holding the URL), a ``> ``
quote (info notes) or nothing (closes). Steps are separated by one blank line and the
file starts with one. The writer reproduces a published file byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable

from chan_nb.recording.connections import Entry, build_frames
from chan_nb.recording.frame import Direction, Frame
from chan_nb.recording.headings import EXPECTED_HEADING, heading, parse_heading
from chan_nb.recording.reading import ProblemSink, Reading

_PREFIX = "#### "
_FENCE = "```"
_FRAME_FENCE = "```javascript"


def read_markdown(
    text: str, *, source: str = "<markdown>", strict: bool = True, decode_txs: bool = True
) -> Reading:
    """Parse a Markdown log. Strict: the first malformed line raises DecodeError."""
    sink = ProblemSink(source, strict)
    entries = list(_entries(text.split("\n"), sink))
    return Reading(list(build_frames(entries, decode_txs=decode_txs)), sink.problems)


def _entries(lines: list[str], sink: ProblemSink) -> Iterable[Entry]:
    count = len(lines)
    i = 0
    while i < count:
        line = lines[i]
        if not line:
            i += 1
            continue
        parsed = parse_heading(line[len(_PREFIX) :]) if line.startswith(_PREFIX) else None
        if parsed is None:
            sink.report(i + 1, f"'#### ' and {EXPECTED_HEADING}", line)
            i = _next_heading(lines, i + 1)
            continue
        role, direction = parsed
        start = i + 1
        if direction is Direction.CLOSE:
            yield Entry(role, direction, "", start)
            i += 1
        elif direction is Direction.INFO:
            j = i + 1
            while j < count and lines[j].startswith(">"):
                j += 1
            if j == i + 1:
                sink.report(j + 1, "a '> ' note after an info heading", _at(lines, j))
                i = _next_heading(lines, j)
                continue
            note = "\n".join(q[2:] if q.startswith("> ") else q[1:] for q in lines[i + 1 : j])
            yield Entry(role, direction, note, start)
            i = j
        else:
            fence = _at(lines, i + 1)
            if fence is None or not fence.startswith(_FENCE):
                sink.report(i + 2, f"a ``` fence after '{line}'", fence)
                i = _next_heading(lines, i + 1)
                continue
            j = i + 2
            while j < count and lines[j] != _FENCE:
                if lines[j].startswith(_PREFIX):
                    break
                j += 1
            if j >= count or lines[j] != _FENCE:
                sink.report(
                    j + 1, f"a closing ``` for the block opened at line {i + 2}", _at(lines, j)
                )
                i = _next_heading(lines, i + 2)
                continue
            raw = "\n".join(lines[i + 2 : j])
            if direction is Direction.OPEN and ("\n" in raw or not raw):
                sink.report(i + 3, "exactly one URL line in the open block", raw)
            yield Entry(role, direction, raw, start)
            i = j + 1
        following = _at(lines, i)
        if following:  # the step must be followed by a blank line or the end
            sink.report(i + 1, "a blank line after the step", following)
            i = _next_heading(lines, i)


def _at(lines: list[str], index: int) -> str | None:
    return lines[index] if index < len(lines) else None


def _next_heading(lines: list[str], index: int) -> int:
    while index < len(lines) and not lines[index].startswith(_PREFIX):
        index += 1
    return index


def write_markdown(frames: Iterable[Frame]) -> str:
    """The published Markdown form of ``frames`` (inverse of :func:`read_markdown`)."""
    blocks = [_block(frame) for frame in frames]
    return "\n" + "\n\n".join(blocks) + "\n" if blocks else ""


def _block(frame: Frame) -> str:
    head = _PREFIX + heading(frame.role, frame.direction)
    if frame.direction is Direction.CLOSE:
        return head
    if frame.direction is Direction.INFO:
        quoted = "\n".join(f"> {q}" if q else ">" for q in frame.raw.split("\n"))
        return f"{head}\n{quoted}"
    fence = _FENCE if frame.direction is Direction.OPEN else _FRAME_FENCE
    return f"{head}\n{fence}\n{frame.raw}\n{_FENCE}"
