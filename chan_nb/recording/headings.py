"""The step headings shared by the published Markdown and rendered-text logs.

``<role> ---> node``, ``<role> <--- node``, ``<role> info``,
``<role> opens a WebSocket connection``, ``<role> closes WebSocket connection``;
the role is any single word (multi-channel logs may use other names).

Internal: the Markdown and rendered-text readers' helper; not public API (may change).
"""

from __future__ import annotations

import re
from typing import Final

from chan_nb.recording.frame import Direction

HEADING_TAIL: Final[dict[Direction, str]] = {
    Direction.SENT: "---> node",
    Direction.RECEIVED: "<--- node",
    Direction.INFO: "info",
    Direction.OPEN: "opens a WebSocket connection",
    Direction.CLOSE: "closes WebSocket connection",
}
_DIRECTION_OF_TAIL: Final = {tail: direction for direction, tail in HEADING_TAIL.items()}
_HEADING: Final = re.compile(
    r"(\S+) (" + "|".join(re.escape(t) for t in _DIRECTION_OF_TAIL) + r")\Z"
)

EXPECTED_HEADING: Final = "a step heading '<role> ---> node|<--- node|info|opens …|closes …'"


def parse_heading(text: str) -> tuple[str, Direction] | None:
    """(role, direction) of a heading line (without any ``#### ``), or None."""
    match = _HEADING.match(text)
    if match is None:
        return None
    return match.group(1), _DIRECTION_OF_TAIL[match.group(2)]


def heading(role: str, direction: Direction) -> str:
    """The heading text for a record (without any ``#### ``)."""
    if not role or any(c.isspace() for c in role):
        raise ValueError(f"a role must be one word to be written as a heading, got {role!r}")
    return f"{role} {HEADING_TAIL[direction]}"
