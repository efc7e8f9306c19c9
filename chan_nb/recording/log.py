"""A recorded session as one object to explore (in the spirit of Scapy's PacketList).

:class:`SessionLog` holds the records, what could not be read, and offers the table
(``.df``, built once), a one-line-per-frame ``summary()``, ``filter()``, request/reply
``pairs()``, flow ``operations()``, ``balances()``, ``audit()``, diagrams and exports.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from chan_nb.recording.frame import Direction, Frame
from chan_nb.recording.reading import Problem

if TYPE_CHECKING:
    import pandas as pd


class SessionLog(Sequence[Frame]):
    """The records of one session plus what could not be read."""

    def __init__(
        self,
        frames: Sequence[Frame],
        *,
        problems: Sequence[Problem] = (),
        title: str | None = None,
        source: str | None = None,
        name: str | None = None,
    ) -> None:
        self.frames: list[Frame] = list(frames)
        self.problems: list[Problem] = list(problems)
        self.title = title
        self.source = source
        self.name = name
        self._df: pd.DataFrame | None = None

    # -- sequence protocol -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.frames)

    @overload
    def __getitem__(self, index: int) -> Frame: ...
    @overload
    def __getitem__(self, index: slice) -> SessionLog: ...
    def __getitem__(self, index: int | slice) -> Frame | SessionLog:
        if isinstance(index, slice):
            return self._derived(self.frames[index])
        return self.frames[index]

    def __iter__(self) -> Iterator[Frame]:
        return iter(self.frames)

    def _derived(self, frames: Sequence[Frame]) -> SessionLog:
        return SessionLog(frames, title=self.title, source=self.source, name=self.name)

    # -- views ---------------------------------------------------------------------------
    def counts(self) -> dict[str, Counter[str]]:
        """Counts by role, kind (frames) or direction (events), and method."""
        roles: Counter[str] = Counter()
        kinds: Counter[str] = Counter()
        methods: Counter[str] = Counter()
        for frame in self.frames:
            roles[frame.role] += 1
            kinds[str(frame.kind) if frame.kind is not None else str(frame.direction)] += 1
            if frame.method:
                methods[frame.method] += 1
        return {"role": roles, "kind": kinds, "method": methods}

    def __repr__(self) -> str:
        counts = self.counts()
        label = self.name or self.title or "session"
        parts = [f"<SessionLog {label}: {len(self.frames)} records"]
        for key in ("role", "kind"):
            parts.append(" ".join(f"{k}:{v}" for k, v in counts[key].most_common()))
        top = counts["method"].most_common(4)
        if top:
            more = len(counts["method"]) - len(top)
            parts.append(
                " ".join(f"{k.removeprefix('channels.')}:{v}" for k, v in top)
                + (f" +{more} methods" if more > 0 else "")
            )
        if self.problems:
            parts.append(f"{len(self.problems)} unread")
        return " | ".join(parts) + ">"

    @property
    def df(self) -> pd.DataFrame:
        """The frame table (see :data:`chan_nb.recording.frame.SCHEMA`), built once."""
        if self._df is None:
            from chan_nb.recording.table import frames_to_df

            self._df = frames_to_df(self.frames)
        return self._df

    def summary(self) -> str:
        """One line per record."""
        return "\n".join(frame.brief() for frame in self.frames)

    def show(self) -> None:
        print(self.summary())

    def filter(
        self,
        predicate: Callable[[Frame], bool] | None = None,
        **equals: Any,
    ) -> SessionLog:
        """Records matching ``predicate`` and every ``column=value`` (a set/list/tuple of
        values matches any of them), e.g. ``log.filter(role="initiator", kind="error")``."""
        checks: list[Callable[[Frame], bool]] = []
        for column, wanted in equals.items():
            if column not in Frame.__dataclass_fields__:
                raise KeyError(f"no column {column!r} to filter on")
            checks.append(_matcher(column, wanted))
        if predicate is not None:
            checks.append(predicate)
        return self._derived([f for f in self.frames if all(check(f) for check in checks)])

    def conversation(self, role: str) -> SessionLog:
        """What one participant saw: its frames, socket events and notes."""
        return self.filter(role=role)

    @property
    def roles(self) -> list[str]:
        """Participants in order of first appearance."""
        return list(dict.fromkeys(frame.role for frame in self.frames))

    def frame_records(self) -> SessionLog:
        """Only WebSocket frames (no socket events or notes)."""
        return self.filter(lambda f: f.direction in (Direction.SENT, Direction.RECEIVED))

    # -- export ----------------------------------------------------------------------
    def to(self, format: str) -> str:
        """This session as text: ``md``, ``txt`` or ``jsonl``."""
        from chan_nb.recording.formats import dumps

        return dumps(self, format)

    def save(self, path: str | Path, format: str | None = None) -> Path:
        """Write to ``path`` (md, txt, jsonl, csv, parquet; from the suffix by default)."""
        from chan_nb.recording.formats import save

        return save(self, path, format)


def _matcher(column: str, wanted: Any) -> Callable[[Frame], bool]:
    if isinstance(wanted, set | frozenset | list | tuple):
        allowed = set(wanted)
        return lambda frame: getattr(frame, column) in allowed
    return lambda frame: bool(getattr(frame, column) == wanted)
