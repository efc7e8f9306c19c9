"""What a reader returns: the records it could read and a list of what it could not.

Readers are strict by default (the first problem raises :class:`DecodeError` naming the
line and what was expected). With ``strict=False`` they keep going and report every
unreadable part as a :class:`Problem`, so nothing is dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chan_nb.errors import DecodeError
from chan_nb.recording.frame import Frame


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


def _show(text: str | None, limit: int = 60) -> str:
    if text is None:
        return "end of file"
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")
