"""The rendered-text form of a recorded session: the Markdown log as a web page shows it.

Headings and fences are gone: a "Skip to content" line and the case name on top, then
each step's heading line, a blank line and its content (the JSON, the URL or the note),
steps separated by one blank line, no newline at the end. Pretty-printed JSON has no
blank lines, so a blank line ends a step's content. The writer reproduces the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from chan_nb.recording.connections import Entry, build_frames
from chan_nb.recording.frame import Direction, Frame
from chan_nb.recording.headings import EXPECTED_HEADING, heading, parse_heading
from chan_nb.recording.reading import ProblemSink, Reading

SKIP_LINE = "Skip to content"


def read_rendered(
    text: str, *, source: str = "<rendered>", strict: bool = True, decode_txs: bool = True
) -> Reading:
    """Parse a rendered-text log. Strict: the first malformed line raises DecodeError."""
    sink = ProblemSink(source, strict)
    lines = text.split("\n")
    title, start = _header(lines)
    entries = list(_entries(lines, start, sink))
    return Reading(list(build_frames(entries, decode_txs=decode_txs)), sink.problems, title)


def _header(lines: list[str]) -> tuple[str | None, int]:
    """(case title, index of the first step line)."""
    i = _skip_blank(lines, 0)
    if i < len(lines) and lines[i] == SKIP_LINE:
        i = _skip_blank(lines, i + 1)
        if i < len(lines) and parse_heading(lines[i]) is None:
            return lines[i], i + 1
    return None, i


def _entries(lines: list[str], i: int, sink: ProblemSink) -> Iterator[Entry]:
    count = len(lines)
    while True:
        i = _skip_blank(lines, i)
        if i >= count:
            return
        parsed = parse_heading(lines[i])
        if parsed is None:
            sink.report(i + 1, EXPECTED_HEADING, lines[i])
            i = _skip_block(lines, i)
            continue
        role, direction = parsed
        line_no = i + 1
        if direction is Direction.CLOSE:
            yield Entry(role, direction, "", line_no)
            i += 1
            continue
        if i + 2 >= count or lines[i + 1] != "" or lines[i + 2] == "":
            found = lines[i + 2] if i + 2 < count else None
            sink.report(i + 2, f"a blank line and the content of '{lines[i]}'", found)
            i = _skip_block(lines, i + 1)
            continue
        end = _skip_block(lines, i + 2)
        raw = "\n".join(lines[i + 2 : end])
        if direction is Direction.OPEN and "\n" in raw:
            sink.report(i + 3, "exactly one URL line after an open heading", raw)
        yield Entry(role, direction, raw, line_no)
        i = end


def _skip_blank(lines: list[str], i: int) -> int:
    while i < len(lines) and lines[i] == "":
        i += 1
    return i


def _skip_block(lines: list[str], i: int) -> int:
    while i < len(lines) and lines[i] != "":
        i += 1
    return i


def write_rendered(
    frames: Iterable[Frame], title: str | None = None, *, render_markup: bool = False
) -> str:
    """The rendered-text form of ``frames`` (inverse of :func:`read_rendered`).

    ``render_markup`` drops the backticks of inline code in notes, as a web page does
    (that is how the published rendered file was made from its Markdown log); off by
    default, so that reading the output back gives the same records."""
    parts = [SKIP_LINE]
    if title is not None:
        parts.append(title)
    for frame in frames:
        head = heading(frame.role, frame.direction)
        if frame.direction is Direction.CLOSE:
            parts.append(head)
        elif frame.direction is Direction.INFO:
            note = render_note(frame.raw) if render_markup else frame.raw
            parts.append(f"{head}\n\n{note}")
        else:
            parts.append(f"{head}\n\n{frame.raw}")
    return "\n\n".join(parts)


_INLINE_CODE = re.compile(r"`([^`\n]+)`")


def render_note(text: str) -> str:
    """A note as a page shows it: Markdown inline code loses its backticks."""
    return _INLINE_CODE.sub(r"\1", text)


def title_for(name: str) -> str:
    """The case name a rendered page shows for a log file stem (``sc_ws_x`` -> ``x``)."""
    return name.removeprefix("sc_ws_")
