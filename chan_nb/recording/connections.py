"""Which socket a logged frame travelled on: the per-role connection number.

Published logs name only the role, not the socket. A role may hold more than one socket
at a time (``sc_ws_close_mutual``: the first channel's ``died`` arrives after the second
channel's socket was opened), so the number is inferred from the channel id the node put
in the frame, and from which sockets are dying (after ``died`` or a connect-time error).
Live recorders know the socket and set ``conn`` themselves.

Internal: the Markdown and rendered-text readers' helper; not public API (may change).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

from chan_nb.recording.frame import Direction, Frame, Kind


class Entry(NamedTuple):
    """A record as a reader found it, before it gets its sequence and connection number."""

    role: str
    direction: Direction
    raw: str
    line: int | None = None


@dataclass(slots=True)
class _Socket:
    number: int
    channel_id: str | None
    dying: bool = False


@dataclass(slots=True)
class ConnectionTracker:
    """Assigns ``conn`` numbers record by record (1 at a role's first open, +1 per open)."""

    _open: dict[str, list[_Socket]] = field(default_factory=dict)
    _count: dict[str, int] = field(default_factory=dict)
    _last: dict[str, int] = field(default_factory=dict)

    def conn_for(self, direction: Direction, role: str, frame_channel: str | None) -> int:
        """The connection number of the next record, before it is built."""
        sockets = self._open.setdefault(role, [])
        if direction is Direction.OPEN:
            number = self._count.get(role, 0) + 1
            self._count[role] = number
            sockets.append(_Socket(number, frame_channel))
        elif direction is Direction.CLOSE:
            number = self._closing_socket(role)
        elif direction is Direction.INFO:
            number = self._last.get(role, sockets[-1].number if sockets else 0)
        elif direction is Direction.RECEIVED and frame_channel is not None:
            number = next(
                (s.number for s in reversed(sockets) if s.channel_id == frame_channel), 0
            ) or self._newest(role, frame_channel)
        else:
            number = self._newest(role, None)
        self._last[role] = number
        return number

    def observe(self, frame: Frame) -> None:
        """Learn from a built record: sockets that are about to be closed by the node."""
        if frame.direction is not Direction.RECEIVED:
            return
        dying = frame.event == "died" or (
            frame.kind is Kind.ERROR
            and isinstance(frame.message, dict)
            and isinstance(frame.message.get("error"), dict)
            and frame.message["error"].get("request") == {}
        )
        if dying:
            for socket in self._open.get(frame.role, []):
                if socket.number == frame.conn:
                    socket.dying = True

    def _newest(self, role: str, channel_id: str | None) -> int:
        sockets = self._open.get(role, [])
        if not sockets:
            return self._last.get(role, 0)
        newest = sockets[-1]
        if channel_id is not None and newest.channel_id is None:
            newest.channel_id = channel_id
        return newest.number

    def _closing_socket(self, role: str) -> int:
        sockets = self._open.get(role, [])
        if not sockets:
            return self._last.get(role, 0)
        chosen = next((s for s in sockets if s.dying), sockets[-1])
        sockets.remove(chosen)
        return chosen.number


def build_frames(entries: Iterable[Entry], *, decode_txs: bool = True) -> Iterator[Frame]:
    """Number the entries 1.. and give each its connection number."""
    tracker = ConnectionTracker()
    for seq, entry in enumerate(entries, start=1):
        role, direction, raw, line = entry
        frame = Frame(seq, role, direction, 0, raw, None, None, line, decode_txs)
        # The channel id is only known once the record is parsed; setting the number on the
        # fresh record (before anyone sees it) avoids parsing the frame twice.
        conn = tracker.conn_for(direction, role, frame.channel_id)
        object.__setattr__(frame, "conn", conn)
        tracker.observe(frame)
        yield frame
