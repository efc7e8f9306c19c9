"""A recorded session as one object to explore (in the spirit of Scapy's PacketList).

:class:`SessionLog` holds the records, what could not be read, and offers the table
(``.df`` to read, ``.table()`` with every column), a one-line-per-frame ``summary()``,
``filter()``, request/reply ``pairs()``, flow ``operations()``, ``balances()``,
``audit()``, diagrams and exports.
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

    from chan_nb.audit import AuditReport
    from chan_nb.recording.balances import BalancePoint
    from chan_nb.recording.diagram import Ladder
    from chan_nb.recording.operations import Operation
    from chan_nb.recording.pairing import Pair

_OP_COLUMNS = [
    "op_id",
    "kind",
    "starter",
    "channel_id",
    "outcome",
    "start_seq",
    "end_seq",
    "frames",
    "span",
    "round",
    "detail",
    "latency_s",
    "seqs",
]


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
        self._table: pd.DataFrame | None = None
        self._ops: list[Operation] | None = None

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

    def _repr_html_(self) -> str:
        from html import escape

        from chan_nb.display import WARN, badge, card, code_block

        counts = self.counts()
        label = self.name or self.title or "session"

        def listing(counter: Counter[str], limit: int = 6) -> str:
            top = counter.most_common(limit)
            more = f" +{len(counter) - limit} more" if len(counter) > limit else ""
            return escape(", ".join(f"{k.removeprefix('channels.')} {v}" for k, v in top) + more)

        rows = [
            ("records", f"{len(self.frames):,}"),
            ("roles", listing(counts["role"])),
            ("kinds", listing(counts["kind"])),
            ("methods", listing(counts["method"]) or "—"),
        ]
        walls = [f.t_wall for f in self.frames if f.t_wall is not None]
        if walls:
            from datetime import UTC, datetime

            start = datetime.fromtimestamp(min(walls), UTC).isoformat(timespec="seconds")
            rows.append(("time", escape(f"{start}, {max(walls) - min(walls):.3f} s")))
        if self.source:
            rows.append(("source", escape(self.source)))
        status = badge(f"{len(self.problems)} unread parts", WARN) if self.problems else ""
        lines = [frame.brief() for frame in self.frames[:8]]
        if len(self.frames) > 8:
            lines.append(f"… {len(self.frames) - 8} more: .summary(), .df, .ladder()")
        return card(f"SessionLog {label}", rows, status=status, extra=code_block("\n".join(lines)))

    @property
    def df(self) -> pd.DataFrame:
        """The records to read: ``seq`` as the index, ``time`` (tz-aware wall clock), role,
        connection, what happened, and the raw text last (built once). The full table with
        every column of :data:`~chan_nb.recording.frame.SCHEMA` is :meth:`table`."""
        if self._df is None:
            from chan_nb.recording.table import view_df

            self._df = view_df(self.table())
        return self._df

    def table(self) -> pd.DataFrame:
        """The full frame table: one column per :data:`~chan_nb.recording.frame.SCHEMA`
        entry, in schema order, a 0-based index (built once; what CSV/Parquet hold)."""
        if self._table is None:
            from chan_nb.recording.table import frames_to_df

            self._table = frames_to_df(self.frames)
        return self._table

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

    # -- analysis ------------------------------------------------------------------
    def pairs(self) -> list[Pair]:
        """Every request with its reply (by id, echoed request or reply notification)."""
        from chan_nb.recording.pairing import pairs

        return pairs(self.frames)

    def operations(self) -> list[Operation]:
        """The session's flows with outcome and latency (computed once)."""
        if self._ops is None:
            from chan_nb.recording.operations import operations

            self._ops = operations(self.frames)
        return self._ops

    def operations_df(self) -> pd.DataFrame:
        """One row per operation: op_id, kind, starter, channel, outcome, seqs, latency …"""
        import pandas as pd

        rows = [
            {
                "op_id": op.op_id,
                "kind": op.kind,
                "starter": op.starter,
                "channel_id": op.channel_id,
                "outcome": str(op.outcome),
                "start_seq": op.start_seq,
                "end_seq": op.end_seq,
                "frames": len(op.seqs),
                "span": op.span,
                "round": op.round,
                "detail": op.detail,
                "latency_s": op.latency_s,
                "seqs": op.seqs,
            }
            for op in self.operations()
        ]
        df = pd.DataFrame(rows, columns=_OP_COLUMNS)
        for name in ("kind", "starter", "channel_id", "outcome"):
            df[name] = df[name].astype("category")
        for name in ("end_seq", "round"):
            df[name] = df[name].astype("Int64")
        return df

    def op_ids(self) -> dict[int, int]:
        """seq -> op_id for every record that belongs to an operation."""
        return {seq: op.op_id for op in self.operations() for seq in op.seqs}

    def with_ops(self) -> pd.DataFrame:
        """The frame table plus ``op_id``, ``op_kind`` and ``outcome`` columns."""
        ops = {op.op_id: op for op in self.operations()}
        owner = self.op_ids()
        df = self.table().copy()
        ids = [owner.get(seq) for seq in df["seq"]]
        df["op_id"] = pd_array(ids, "Int64")
        df["op_kind"] = pd_array([ops[i].kind if i else None for i in ids], "category")
        df["outcome"] = pd_array([str(ops[i].outcome) if i else None for i in ids], "category")
        return df

    def balances(self) -> pd.DataFrame:
        """Balances over rounds: replayed from states (``state``) and replies (``reply``)."""
        import pandas as pd

        from chan_nb.recording.balances import balance_points

        points = balance_points(self.frames)
        columns = ["seq", "role", "channel_id", "round", "account", "balance", "source"]
        df = pd.DataFrame([_point_row(p) for p in points], columns=columns)
        df["balance"] = df["balance"].astype(object)
        df["round"] = df["round"].astype("Int64")
        for name in ("role", "channel_id", "account", "source"):
            df[name] = df[name].astype("category")
        return df

    def audit(self, network_id: str | None = None) -> AuditReport:
        """Decode every tx, verify signatures, recompute ids and hashes (per-frame findings)."""
        from chan_nb.audit import audit_frames

        return audit_frames(
            self.frames, network_id=network_id, source=self.source or self.name or "session"
        )

    # -- diagrams --------------------------------------------------------------------
    def ladder(
        self,
        *,
        collapse: bool = True,
        notes: bool = True,
        max_steps: int | None = 400,
    ) -> Ladder:
        """Ladder diagram (initiator | node | responder); Mermaid in Jupyter, ``.figure()``
        for matplotlib. Filter first for a part: ``log.filter(conn=2).ladder()``."""
        from chan_nb.recording.diagram import Ladder

        return Ladder(
            self.frames,
            self.operations(),
            collapse=collapse,
            notes=notes,
            max_steps=max_steps,
            title=self.name or self.title,
        )

    def plot_balances(self) -> Any:
        """Each participant's balance change over rounds, labelled by role (a matplotlib
        figure, shown once as a cell's value; ``fig.savefig(...)`` to keep it)."""
        from chan_nb.recording.balances import account_roles, balance_points
        from chan_nb.recording.diagram import balances_figure

        return balances_figure(
            balance_points(self.frames),
            names=account_roles(self.frames),
            title=self.name or self.title,
        )

    def plot_latency(self) -> Any:
        """How long each operation took, start to outcome (a matplotlib figure); without
        clocks (published logs) the number of records it took instead."""
        from chan_nb.recording.diagram import latency_figure

        return latency_figure(self.operations(), title=self.name or self.title)

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


def _point_row(point: BalancePoint) -> dict[str, Any]:
    return {
        "seq": point.seq,
        "role": point.role,
        "channel_id": point.channel_id,
        "round": point.round,
        "account": point.account,
        "balance": point.balance,
        "source": point.source,
    }


def pd_array(values: list[Any], dtype: str) -> Any:
    import pandas as pd

    dtype_: Any = dtype
    return pd.array(values, dtype=dtype_)
