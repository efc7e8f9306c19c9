"""Pictures of a session: a ladder (sequence) diagram, balances over rounds, latencies.

The ladder has one lane per participant with the node in the middle
(``initiator | node | responder``). It renders as Mermaid text (``_repr_mimebundle_``
offers ``text/vnd.mermaid``, which JupyterLab ≥ 4.1 draws offline) or as a matplotlib
figure. Big sessions stay readable: runs of identical operations collapse into one
note (``⋯ 4 × update (error)``) and ``max_steps`` caps the length.

matplotlib is optional: only the figure functions need it, and they raise
:class:`PlottingUnavailable` with the install hint when it is missing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from chan_nb.errors import ChanNbError
from chan_nb.recording.balances import BalancePoint
from chan_nb.recording.frame import NODE, Direction, Frame, Kind
from chan_nb.recording.operations import Operation, Outcome

DEFAULT_MAX_STEPS: Final = 400


class PlottingUnavailable(ChanNbError, ImportError):
    """matplotlib is not installed."""


def _new_figure(width: float, height: float) -> tuple[Any, Any]:
    """A figure and its axes, closed in pyplot at once: a notebook shows it once, as the
    value of the cell (an open pyplot figure was drawn a second time by the inline
    backend at the end of a cell whose last expression returned it)."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PlottingUnavailable(
            "figures need matplotlib: pip install 'chan-nb[plot]' (or pip install matplotlib)"
        ) from exc
    fig, ax = plt.subplots(figsize=(width, height))
    plt.close(fig)
    return fig, ax


@dataclass(frozen=True, slots=True)
class Step:
    """One row of the ladder."""

    seq: int | None
    role: str | None  # None: a note over every lane
    what: str  # "to_node", "from_node", "error", "note", "open", "close", "collapsed"
    label: str


def label(frame: Frame) -> str:
    """Short text for a frame's arrow: method without ``channels.``, event, round, errors."""
    if frame.direction is Direction.OPEN:
        params = frame.params or {}
        return "open ws" + (" (reconnect)" if params.get("existing_channel_id") else "")
    if frame.direction is Direction.CLOSE:
        return "close ws"
    if frame.direction is Direction.INFO:
        return frame.raw
    parts: list[str] = []
    if frame.kind is Kind.RESPONSE:
        result = frame.message.get("result") if isinstance(frame.message, dict) else None
        parts.append(f"result {result}" if isinstance(result, str) else "result")
    elif frame.kind is Kind.ERROR:
        code = f"{frame.error_code}" + (
            f"/{frame.error_data_code}" if frame.error_data_code is not None else ""
        )
        parts.append(f"error {code} {frame.error_data_message or frame.error_message or ''}")
    elif frame.method:
        parts.append(frame.method.removeprefix("channels."))
    else:
        parts.append(str(frame.kind))
    for extra in (frame.event, frame.info):
        if extra:
            parts.append(extra)
    if frame.method == "channels.conflict" and frame.error_code is not None:
        parts.append(f"code {frame.error_code}")
    if frame.amount is not None:
        parts.append(f"amount {frame.amount}")
    if frame.round is not None and frame.kind is not Kind.ERROR:
        parts.append(f"r{frame.round}")
    return " ".join(p.strip() for p in parts if p.strip())


def _step(frame: Frame) -> Step:
    what = {
        Direction.SENT: "to_node",
        Direction.RECEIVED: "error" if frame.kind is Kind.ERROR else "from_node",
        Direction.INFO: "note",
        Direction.OPEN: "open",
        Direction.CLOSE: "close",
    }[frame.direction]
    return Step(frame.seq, frame.role, what, label(frame))


def _shape(steps: Sequence[Step]) -> tuple[tuple[str | None, str, str], ...]:
    """What makes two operations 'the same' for collapsing: lanes, arrows, labels."""
    return tuple((s.role, s.what, s.label) for s in steps)


def build_steps(
    frames: Sequence[Frame],
    operations: Sequence[Operation] = (),
    *,
    collapse: bool = True,
    notes: bool = True,
    max_steps: int | None = DEFAULT_MAX_STEPS,
) -> list[Step]:
    """The ladder's rows: one per record, repeated operations collapsed, capped."""
    chosen = [f for f in frames if notes or f.direction is not Direction.INFO]
    hidden: dict[int, Step | None] = {}  # seq -> None (hide) or the note replacing it
    if collapse and operations:
        by_seq = {f.seq: f for f in chosen}
        previous: tuple[Any, ...] | None = None
        run: list[Operation] = []

        def flush() -> None:
            if len(run) > 1:
                first_extra = run[1]
                for op in run[1:]:
                    for seq in op.seqs:
                        hidden[seq] = None
                hidden[first_extra.start_seq] = Step(
                    first_extra.start_seq,
                    None,
                    "collapsed",
                    f"⋯ {len(run) - 1} more × {first_extra.kind} by {first_extra.starter} "
                    f"({first_extra.outcome})",
                )

        for op in operations:
            op_steps = [_step(by_seq[s]) for s in op.seqs if s in by_seq]
            key = (op.kind, op.starter, str(op.outcome), _shape(op_steps))
            if key == previous:
                run.append(op)
            else:
                flush()
                run = [op]
                previous = key
        flush()
    steps: list[Step] = []
    for frame in chosen:
        if frame.seq in hidden:
            replacement = hidden[frame.seq]
            if replacement is not None:
                steps.append(replacement)
            continue
        steps.append(_step(frame))
    if max_steps is not None and len(steps) > max_steps:
        rest = len(steps) - max_steps
        steps = [*steps[:max_steps], Step(None, None, "collapsed", f"⋯ {rest} more steps")]
    return steps


def lanes_for(roles: Sequence[str]) -> list[str]:
    """Lane order: the initiator (or first participant) left of the node, the rest right."""
    ordered = list(dict.fromkeys(roles))
    if not ordered:
        return [NODE]
    left = "initiator" if "initiator" in ordered else ordered[0]
    right = [r for r in ordered if r != left]
    return [left, NODE, *right]


class Ladder:
    """A ladder diagram of some records; shows itself as Mermaid in Jupyter."""

    def __init__(
        self,
        frames: Sequence[Frame],
        operations: Sequence[Operation] = (),
        *,
        collapse: bool = True,
        notes: bool = True,
        max_steps: int | None = DEFAULT_MAX_STEPS,
        title: str | None = None,
    ) -> None:
        self.lanes = lanes_for([f.role for f in frames])
        self.steps = build_steps(
            frames, operations, collapse=collapse, notes=notes, max_steps=max_steps
        )
        self.title = title

    def __repr__(self) -> str:
        return f"<Ladder {' | '.join(self.lanes)}: {len(self.steps)} steps>"

    # -- Mermaid ---------------------------------------------------------------------
    def mermaid(self) -> str:
        """Mermaid ``sequenceDiagram`` text."""
        alias = {lane: f"p{i}" for i, lane in enumerate(self.lanes)}
        lines = ["sequenceDiagram"]
        if self.title:
            lines.append(f"    title {_mermaid_text(self.title)}")
        lines += [f"    participant {alias[lane]} as {_mermaid_text(lane)}" for lane in self.lanes]
        node = alias[NODE]
        first, last = alias[self.lanes[0]], alias[self.lanes[-1]]
        for step in self.steps:
            text = _mermaid_text(step.label) or " "
            who = alias.get(step.role or "", node)
            if step.what == "to_node":
                lines.append(f"    {who}->>{node}: {text}")
            elif step.what == "from_node":
                lines.append(f"    {node}-->>{who}: {text}")
            elif step.what == "error":
                lines.append(f"    {node}--x{who}: {text}")
            elif step.what == "collapsed":
                lines.append(f"    Note over {first},{last}: {text}")
            else:
                lines.append(f"    Note over {who}: {text}")
        return "\n".join(lines) + "\n"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        text = self.mermaid()
        return {
            "text/vnd.mermaid": text,
            "text/markdown": f"```mermaid\n{text}```\n",
            "text/plain": repr(self),
        }

    # -- matplotlib ------------------------------------------------------------------
    def figure(self, *, width: float = 11.0, row_height: float = 0.26) -> Any:
        """The ladder as a matplotlib figure (rows top to bottom)."""
        rows = len(self.steps)
        fig, ax = _new_figure(width, max(2.0, 0.8 + row_height * (rows + 1)))
        x = {lane: float(i) for i, lane in enumerate(self.lanes)}
        bottom = rows + 0.5
        for lane, pos in x.items():
            ax.plot([pos, pos], [-0.5, bottom], color="0.75", lw=1, zorder=0)
            ax.text(
                pos,
                -0.9,
                lane,
                ha="center",
                va="bottom",
                fontsize=9,
                weight="bold",
                bbox={"boxstyle": "round", "fc": "0.93", "ec": "0.6"},
            )
        node = x[NODE]
        for row, step in enumerate(self.steps):
            y = float(row)
            pos = x.get(step.role or "", node)
            text = _clip(step.label, 60)
            if step.what in ("to_node", "from_node", "error"):
                start, end = (pos, node) if step.what == "to_node" else (node, pos)
                color = {"to_node": "tab:blue", "from_node": "tab:green", "error": "tab:red"}[
                    step.what
                ]
                ax.annotate(
                    "",
                    xy=(end, y),
                    xytext=(start, y),
                    arrowprops={"arrowstyle": "-|>", "color": color, "lw": 1},
                )
                ax.text(
                    (start + end) / 2,
                    y - 0.12,
                    text,
                    ha="center",
                    va="bottom",
                    fontsize=6.5,
                    color=color,
                )
            elif step.what == "collapsed":
                ax.text(
                    node,
                    y,
                    text,
                    ha="center",
                    va="center",
                    fontsize=7,
                    style="italic",
                    color="0.35",
                    bbox={"fc": "0.97", "ec": "0.8", "boxstyle": "round"},
                )
            else:
                ax.text(
                    pos,
                    y,
                    text,
                    ha="center",
                    va="center",
                    fontsize=6.5,
                    style="italic",
                    color="0.3",
                    bbox={"fc": "lightyellow", "ec": "0.8", "pad": 1.5},
                )
        ax.set_xlim(-0.6, len(self.lanes) - 0.4)
        ax.set_ylim(bottom, -1.3)
        ax.axis("off")
        if self.title:
            ax.set_title(self.title, fontsize=10)
        fig.tight_layout()
        return fig


def _mermaid_text(text: str) -> str:
    """Text Mermaid will not parse as syntax: no ``;``, ``#``, angle brackets or newlines."""
    cleaned = text.replace("\n", " ").replace(";", ",").replace("#", "no. ")
    return cleaned.replace("<", "‹").replace(">", "›").replace(":", "∶").strip()


def _clip(text: str, limit: int) -> str:
    """Shortened, with ``$`` escaped so matplotlib does not read it as math."""
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return short.replace("$", r"\$")


def balances_figure(
    points: Sequence[BalancePoint],
    *,
    names: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Any:
    """Each participant's balance change over integer rounds (steps: replayed states;
    dots: ``get.balances`` replies), labelled by role (``names``: account -> role).

    Balances are ~10^13 while moves are tiny, so the y axis shows the change since the
    account's first point (exact ints, converted to float only for drawing)."""
    fig, ax = _new_figure(8, 4)
    from matplotlib.ticker import MaxNLocator

    names = names or {}
    base: dict[tuple[str | None, str], int] = {}
    series: dict[tuple[str | None, str, str], tuple[list[int], list[float]]] = {}
    for point in points:
        if point.round is None:
            continue
        key = (point.channel_id, point.account)
        base.setdefault(key, point.balance)
        xs, ys = series.setdefault((point.channel_id, point.account, point.source), ([], []))
        xs.append(point.round)
        ys.append(float(point.balance - base[key]))
    channels = list(dict.fromkeys(channel for channel, _, _ in series))
    for (channel, account, source), (xs, ys) in series.items():
        name = names.get(account) or f"{account[:9]}…"
        if len(channels) > 1:
            name += f", channel {channels.index(channel) + 1}"
        if source == "state":
            ax.step(xs, ys, where="post", label=f"{name} (state)")
        else:
            ax.plot(xs, ys, "o", ms=4, alpha=0.6, label=f"{name} (get.balances)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("round")
    ax.set_ylabel("balance change since the first round")
    if title:
        ax.set_title(title)
    if series:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def latency_figure(operations: Sequence[Operation], *, title: str | None = None) -> Any:
    """How long each operation took, start to outcome, in record order, one marker per
    operation kind and a colour per outcome. Recordings without clocks (the published
    logs) plot the span instead: how many records it took to decide the outcome."""
    fig, ax = _new_figure(8, 3.5)
    from matplotlib.ticker import MaxNLocator

    timed = any(op.latency_s is not None for op in operations)
    markers = "osD^v<>pP*X"
    kinds = list(dict.fromkeys(op.kind for op in operations))
    colors = {
        Outcome.OK: "tab:green",
        Outcome.CONFLICT: "tab:orange",
        Outcome.ERROR: "tab:red",
        Outcome.ABORTED: "tab:gray",
        Outcome.INCOMPLETE: "tab:gray",
    }
    for kind in kinds:
        ops = [op for op in operations if op.kind == kind]
        if timed:
            ops = [op for op in ops if op.latency_s is not None]
        if not ops:
            continue
        ys = [op.latency_s * 1000 if timed and op.latency_s is not None else op.span for op in ops]
        ax.scatter(
            [op.start_seq for op in ops],
            ys,
            marker=markers[kinds.index(kind) % len(markers)],
            c=[colors.get(op.outcome, "tab:blue") for op in ops],
            label=kind,
            s=28,
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("record where the operation starts (seq)")
    if timed:
        ax.set_ylabel("latency (ms)")
    else:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel("records to the outcome (no clocks)")
    if title:
        ax.set_title(title)
    if kinds:
        ax.legend(fontsize=8, title="operation (colour: outcome)", title_fontsize=8)
    fig.tight_layout()
    return fig
