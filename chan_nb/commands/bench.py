"""``chan-nb bench``: measure what the targets in BENCHMARKS.md are about."""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


#: modules with a ``benchmarks() -> {name: fn}`` function, run after the codec's
EXTRA_BENCHMARKS: tuple[str, ...] = ("chan_nb.node.bench", "chan_nb.loadtest")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "bench",
        help="run the benchmarks and print a table (or JSON)",
        description="Measure codec, import, audit and embedded-node speed on this machine.",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--recordings",
        type=Path,
        default=None,
        help="recorded sessions to import/audit (default: ../shared/recordings when present)",
    )
    parser.add_argument(
        "--only", action="append", default=None, help="run only these groups (repeatable)"
    )
    parser.set_defaults(func=run)


def _default_recordings() -> Path | None:
    here = Path.cwd() / ".." / "shared" / "recordings"
    return here.resolve() if here.is_dir() else None


def _recording_files(root: Path) -> list[Path]:
    return sorted(root.glob("json-rpc/**/*.md")) + sorted(root.glob("rendered/*.txt"))


def groups(recordings: Path | None) -> dict[str, Callable[[], dict[str, Any]]]:
    """Benchmark groups by name; each returns a dict of figures."""
    from chan_nb import bench
    from chan_nb.recording.bench import import_throughput

    # layer by layer, bottom up: the codec, recorded sessions, client sessions, then the
    # node's own groups and the load (which grows the process the most) last
    out: dict[str, Callable[[], dict[str, Any]]] = {"verify": bench.verify_per_s}
    if recordings is not None:
        files = _recording_files(recordings)
        out["import"] = lambda: import_throughput(files)
        out["audit"] = lambda: bench.audit_seconds(files)
    out["sessions"] = bench.session_throughput
    for module in EXTRA_BENCHMARKS:
        # each layer contributes its own groups through a `benchmarks()` function
        groups_of: Callable[[], dict[str, Callable[[], dict[str, Any]]]] = importlib.import_module(
            module
        ).benchmarks
        out.update(groups_of())
    return out


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Figures derived from two others measured in the same run."""
    out: dict[str, Any] = {}
    ours, theirs = results.get("transfers_per_s"), results.get("sdkjs_transfers_per_s")
    if ours and theirs:
        out["sdkjs_ratio"] = round(ours / theirs, 2)  # chan_nb sessions vs the JS SDK
    return out


def run(args: argparse.Namespace) -> int:
    recordings = args.recordings or _default_recordings()
    results: dict[str, Any] = {}
    for name, fn in groups(recordings).items():
        if args.only and name not in args.only:
            continue
        print(f"bench: running {name} …", file=sys.stderr, flush=True)
        # every group starts on a collected heap, and what earlier groups left alive is
        # not scanned again by the collector: a figure does not depend on the groups
        # that happened to run before it (garbage collection stays on while measuring)
        gc.collect()
        gc.freeze()
        results.update({k: v for k, v in fn().items() if not k.startswith("_")})
    results.update(ratios(results))
    if args.json:
        print(json.dumps(results, sort_keys=True))
        return 0
    width = max((len(k) for k in results), default=10)
    print(f"{'figure':<{width}}  {'value':>14}  target")
    for key, value in results.items():
        target = TARGETS.get(key)
        mark = ""
        if target is not None:
            mark = f"{target[0]} ({'met' if target[1](value) else 'NOT met'})"
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        print(f"{key:<{width}}  {shown:>14}  {mark}")
    return 0
