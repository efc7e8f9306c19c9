"""The published Markdown form of a recorded session (aeternity/protocol examples).

Each step is a ``#### <role> …`` heading followed by a fenced block (frames: a
``javascript`` fence holding the JSON; opens: a plain fence holding the URL), a ``> ``
quote (info notes) or nothing (closes). Steps are separated by one blank line and the
file starts with one. The writer reproduces a published file byte for byte.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

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
    entries = list(_entries(text, sink))
    return Reading(list(build_frames(entries, decode_txs=decode_txs)), sink.problems)


def _entries(text: str, sink: ProblemSink) -> Iterator[Entry]:
    """Steps of the log. Works on whole steps (split at headings) with C-speed searches;
    line numbers are kept by counting newlines."""
    shift = 0
    if text.startswith(_PREFIX):
        text = "\n" + text
        shift = 1  # that newline is not in the file
    pieces = text.split("\n" + _PREFIX)
    preamble = pieces[0]
    if preamble.strip():
        offset = len(preamble) - len(preamble.lstrip())
        first = preamble[offset:].split("\n", 1)[0]
        sink.report(1 + preamble.count("\n", 0, offset), f"a '#### ' {EXPECTED_HEADING}", first)
    line = 2 + preamble.count("\n") - shift  # line of the first heading
    for piece in pieces[1:]:
        entry = _step(piece, line, sink)
        if entry is not None:
            yield entry
        line += piece.count("\n") + 1


def _step(piece: str, line: int, sink: ProblemSink) -> Entry | None:
    """One step; ``piece`` runs from its heading (on ``line``) to the next heading.

    Works with offsets into ``piece`` (no copy of the body) and counts lines only when
    it has a problem to report.
    """
    end = piece.find("\n")
    head = piece if end < 0 else piece[:end]
    parsed = parse_heading(head)
    if parsed is None:
        sink.report(line, f"'#### ' and {EXPECTED_HEADING}", _PREFIX + head)
        return None
    role, direction = parsed
    start = len(piece) if end < 0 else end + 1  # the body: what follows the heading
    if direction is Direction.CLOSE:
        _expect_blank(piece, start, line, sink)
        return Entry(role, direction, "", line)
    if direction is Direction.INFO:
        quoted: list[str] = []
        position = start
        while piece.startswith(">", position):
            stop = piece.find("\n", position)
            stop = len(piece) if stop < 0 else stop
            quote = piece[position:stop]
            quoted.append(quote[2:] if quote.startswith("> ") else quote[1:])
            position = stop + 1
        if not quoted:
            sink.report(line + 1, "a '> ' note after an info heading", _first_line(piece[start:]))
            return None
        _expect_blank(piece, position, line, sink)
        return Entry(role, direction, "\n".join(quoted), line)
    if not piece.startswith(_FENCE, start):
        sink.report(line + 1, f"a ``` fence after '{_PREFIX}{head}'", _first_line(piece[start:]))
        return None
    fence_end = piece.find("\n", start)
    if fence_end < 0:
        sink.report(line + 2, f"a closing ``` for the block opened at line {line + 1}", None)
        return None
    close = _closing_fence(piece, fence_end)
    if close < 0:
        last = line + piece.count("\n")
        sink.report(last, f"a closing ``` for the block opened at line {line + 1}", None)
        return None
    raw = piece[fence_end + 1 : close] if close > fence_end else ""
    if direction is Direction.OPEN and ("\n" in raw or not raw):
        sink.report(line + 2, "exactly one URL line in the open block", raw)
    _expect_blank(piece, close + 1 + len(_FENCE), line, sink)
    return Entry(role, direction, raw, line)


def _closing_fence(body: str, fence_end: int) -> int:
    """Index of the newline before the closing ``` line (== fence_end for empty blocks)."""
    position = fence_end
    while True:
        index = body.find("\n" + _FENCE, position)
        if index < 0:
            return -1
        after = index + 1 + len(_FENCE)
        if after == len(body) or body[after] == "\n":
            return index
        position = index + 1


def _expect_blank(piece: str, start: int, line: int, sink: ProblemSink) -> None:
    """What follows a step up to the next heading must be blank lines.

    ``line`` is the line of ``piece``'s first character (its heading).
    """
    rest = piece[start:]
    if not rest or rest.isspace():
        return
    skipped = len(rest) - len(rest.lstrip())
    sink.report(
        line + piece.count("\n", 0, start) + rest.count("\n", 0, skipped),
        "a blank line or the next '#### ' heading",
        _first_line(rest.lstrip()),
    )


def _first_line(text: str) -> str | None:
    return text.split("\n", 1)[0] if text else None


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
