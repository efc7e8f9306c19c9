"""What ``chan-nb bench`` runs: the groups in order, their sizes, the targets.

``chan-nb bench`` (``chan_nb/commands/bench.py``) finds this folder in the source
checkout, calls :func:`groups` and prints the figures next to :data:`TARGETS`.
:data:`FULL` is the method BENCHMARKS.md reports; :data:`QUICK` (``--quick``) runs
every group small, to see that each one works — its figures are not comparable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import codec, load, node, recordings, sessions

Figures = dict[str, Any]
Progress = Callable[[str], None]

#: key -> (target text, check) for the figures that have targets
TARGETS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "verify_per_s": (">= 15,000/s", lambda v: v >= 15_000),
    "audit_s": ("< 2 s for ../shared/recordings", lambda v: v < 2.0),
    "import_mb_per_s": (">= 20 MB/s", lambda v: v >= 20),
    "transfers_per_s": (">= 1,000/s", lambda v: v >= 1000),
    "recording_overhead_pct": ("<= 5%", lambda v: v <= 5),
    "channels": (">= 1,000 held at once", lambda v: v >= 1000),
    "load_problems": ("0 (no lost/duplicated update, balances conserved)", lambda v: v == 0),
}


@dataclass(frozen=True)
class Sizes:
    """How much work each group does."""

    verify_seconds: float
    import_repeat: int
    session_transfers: int
    session_repeat: int
    node_transfers: int
    node_channels: int
    node_per_channel: int
    sdkjs_transfers: int
    load_channels: int
    load_transfers: int
    session_calls: int = 200


#: the method of BENCHMARKS.md (about 2 minutes on its machine)
FULL = Sizes(1.0, 5, 1000, 5, 2000, 20, 200, 300, load.FULL_CHANNELS, load.FULL_TRANSFERS)
#: every group, small (seconds): checks that the bench runs, not how fast
QUICK = Sizes(0.1, 1, 50, 1, 100, 4, 25, 10, 20, 5, session_calls=10)


def groups(
    recorded: Path | None, *, quick: bool = False, progress: Progress | None = None
) -> dict[str, Callable[[], Figures]]:
    """Benchmark groups by name, in the order they run; each returns a dict of figures.

    Layer by layer, bottom up: the codec, recorded sessions, client sessions, then the
    node's own groups and the load (which grows the process the most) last — a group
    that grows the process leaves the next ones slower (BENCHMARKS.md).
    """
    size = QUICK if quick else FULL
    say = progress or (lambda _: None)
    out: dict[str, Callable[[], Figures]] = {
        "verify": lambda: codec.verify_per_s(size.verify_seconds)
    }
    if recorded is not None:
        files = recordings.recording_files(recorded)
        out["import"] = lambda: recordings.import_throughput(files, repeat=size.import_repeat)
        out["audit"] = lambda: recordings.audit_seconds(files)
    out["sessions"] = lambda: sessions.session_throughput(
        size.session_transfers, size.session_repeat, progress=say, calls=size.session_calls
    )
    out["node"] = lambda: asyncio.run(
        node.measure(size.node_transfers, size.node_channels, size.node_per_channel)
    )
    out["sdkjs"] = lambda: node.sdkjs_throughput(size.sdkjs_transfers)
    out["load"] = lambda: _load(size, say)
    return out


def _load(size: Sizes, say: Progress) -> Figures:
    report = asyncio.run(load.measure(size.load_channels, size.load_transfers, progress=say))
    for problem in report.problems[:20]:
        say(f"problem: {problem}")
    return report.figures()


def ratios(results: Figures) -> Figures:
    """Figures derived from two others measured in the same run."""
    out: Figures = {}
    ours, theirs = results.get("transfers_per_s"), results.get("sdkjs_transfers_per_s")
    if ours and theirs:
        out["sdkjs_ratio"] = round(ours / theirs, 2)  # chan_nb sessions vs the JS SDK
    return out
