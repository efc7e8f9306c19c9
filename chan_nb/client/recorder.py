"""Live recording of channel sessions into the recordings' frame model.

Every frame sent and received, every socket opened and closed becomes a
:class:`chan_nb.recording.Frame` (same schema as imported recordings), numbered in the
order it happened. Several sessions — typically the initiator and the responder — share
one :class:`Recorder`, so both roles merge into one log. Only what travels on the wire
is recorded (URLs hold public ids only), so no private key can end up in a recording.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias, cast

from chan_nb.recording import Direction, Frame, SessionLog

if TYPE_CHECKING:
    import pandas as pd

FrameListener = Callable[[Frame], None]


#: A frame as seen on the wire, not yet parsed into a :class:`Frame`: (role, direction
#: value, text, seq, conn, t_wall, t_mono). A plain tuple of atoms, cheap to make on
#: every frame, and one the garbage collector stops tracking (CPython untracks exact
#: tuples of atoms only), so a long recording does not slow collections down.
_Observed: TypeAlias = tuple[str, str, str, int, int, float, float]


class Recorder:
    """Collects the frames of one or more sessions in arrival order.

    Recording sits on every frame's path, so it only notes what was seen (role,
    direction, text, clocks); parsing into :class:`Frame` records happens when
    someone reads the log — or at once for frames a live listener wants.
    """

    def __init__(
        self, title: str | None = None, *, decode_txs: bool = True, max_frames: int | None = None
    ) -> None:
        if max_frames is not None and max_frames < 1:
            raise ValueError(f"max_frames must be at least 1, got {max_frames}")
        self.title = title
        self.decode_txs = decode_txs
        #: None (the default): keep every record; a number: keep the latest ones only
        self.max_frames = max_frames
        #: records dropped to stay within ``max_frames`` (their seq numbers are not reused)
        self.dropped = 0
        self._next_seq = 0
        self.listeners: list[FrameListener] = []
        self._entries: list[Frame | _Observed] = []
        self._parsed = 0  # entries before this index are all Frames
        self._connections: dict[str, int] = {}
        self._log: SessionLog | None = None

    @property
    def frames(self) -> list[Frame]:
        """Every record so far, in order."""
        entries = self._entries
        for index in range(self._parsed, len(entries)):
            entry = entries[index]
            if isinstance(entry, tuple):
                entries[index] = self._frame(entry)
        self._parsed = len(entries)
        return cast("list[Frame]", entries)  # every entry is a Frame now

    # -- recording -----------------------------------------------------------------------
    def opened(self, role: str, url: str) -> int:
        """A socket was opened; returns its per-role connection number (1, 2, …)."""
        conn = self._connections.get(role, 0) + 1
        self._connections[role] = conn
        wall, mono = _now()
        self._add(
            Frame.opened(
                role,
                url,
                seq=self._seq(),
                conn=conn,
                t_wall=wall,
                t_mono=mono,
                decode_txs=self.decode_txs,
            )
        )
        return conn

    def sent(self, role: str, text: str, conn: int) -> None:
        self._message(role, Direction.SENT, text, conn)

    def received(self, role: str, text: str, conn: int) -> None:
        self._message(role, Direction.RECEIVED, text, conn)

    def closed(self, role: str, conn: int) -> None:
        wall, mono = _now()
        self._add(Frame.closed(role, seq=self._seq(), conn=conn, t_wall=wall, t_mono=mono))

    def note(self, role: str, text: str, conn: int) -> None:
        """A human note about ``role``'s previous frame (as the published logs have)."""
        wall, mono = _now()
        self._add(Frame.note(role, text, seq=self._seq(), conn=conn, t_wall=wall, t_mono=mono))

    def _message(self, role: str, direction: Direction, text: str, conn: int) -> None:
        wall, mono = _now()
        observed: _Observed = (role, direction.value, text, self._seq(), conn, wall, mono)
        if self.listeners:
            self._add(self._frame(observed))
        else:
            self._entries.append(observed)
            self._log = None
            self._trim()

    def _frame(self, seen: _Observed) -> Frame:
        role, direction, text, seq, conn, t_wall, t_mono = seen
        return Frame.from_message(
            role,
            direction,
            text,
            seq=seq,
            conn=conn,
            t_wall=t_wall,
            t_mono=t_mono,
            decode_txs=self.decode_txs,
        )

    def _seq(self) -> int:
        self._next_seq += 1
        return self._next_seq

    def _add(self, frame: Frame) -> None:
        self._entries.append(frame)
        self._log = None
        self._trim()
        for listener in list(self.listeners):
            listener(frame)

    def _trim(self) -> None:
        cap = self.max_frames
        if cap is not None and len(self._entries) > cap:
            extra = len(self._entries) - cap
            del self._entries[:extra]
            self._parsed = max(self._parsed - extra, 0)
            self.dropped += extra

    # -- views -----------------------------------------------------------------------------
    @property
    def log(self) -> SessionLog:
        """The recording so far as a :class:`SessionLog` (rebuilt after new frames)."""
        if self._log is None:
            self._log = SessionLog(list(self.frames), title=self.title, name=self.title)
        return self._log

    @property
    def df(self) -> pd.DataFrame:
        """The frame table (same columns as every imported recording)."""
        return self.log.df

    def save(self, path: str | Path, format: str | None = None) -> Path:
        """Write the recording (``.jsonl``, ``.md``, ``.txt``, ``.csv``, ``.parquet``)."""
        return self.log.save(path, format)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"<Recorder {self.title or ''} {len(self._entries)} records>"


def _now() -> tuple[float, float]:
    return time.time(), time.monotonic()
