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
from typing import TYPE_CHECKING

from chan_nb.recording import Direction, Frame, SessionLog

if TYPE_CHECKING:
    import pandas as pd

FrameListener = Callable[[Frame], None]


class Recorder:
    """Collects the frames of one or more sessions in arrival order."""

    def __init__(self, title: str | None = None, *, decode_txs: bool = True) -> None:
        self.title = title
        self.decode_txs = decode_txs
        self.frames: list[Frame] = []
        self.listeners: list[FrameListener] = []
        self._connections: dict[str, int] = {}
        self._log: SessionLog | None = None

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
        self._add(
            Frame.from_message(
                role,
                direction,
                text,
                seq=self._seq(),
                conn=conn,
                t_wall=wall,
                t_mono=mono,
                decode_txs=self.decode_txs,
            )
        )

    def _seq(self) -> int:
        return len(self.frames) + 1

    def _add(self, frame: Frame) -> None:
        self.frames.append(frame)
        self._log = None
        for listener in list(self.listeners):
            listener(frame)

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
        return len(self.frames)

    def __repr__(self) -> str:
        return f"<Recorder {self.title or ''} {len(self.frames)} records>"


def _now() -> tuple[float, float]:
    return time.time(), time.monotonic()
