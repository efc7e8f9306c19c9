"""``chan-nb bench``: measure what the targets in BENCHMARKS.md are about.

The benchmarks live in the source checkout's ``benchmarks/`` folder, not in the
installed package; this command finds them and prints their figures.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import chan_nb

#: the module of the checkout's benchmarks that lists the groups (benchmarks/groups.py)
GROUPS_MODULE = "benchmarks.groups"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "bench",
        help="run the benchmarks and print a table (or JSON)",
        description="Measure codec, import, audit and embedded-node speed on this machine "
        "(needs a source checkout: the benchmarks are not installed with the package).",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="every group, small and fast (checks the bench runs; figures not comparable)",
    )
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


def checkout_root() -> Path | None:
    """The source checkout holding ``benchmarks/``: the package's parent, else the cwd."""
    for root in (Path(chan_nb.__file__).resolve().parents[1], Path.cwd()):
        if (root / "benchmarks" / "groups.py").is_file():
            return root
    return None


def load_benchmarks() -> ModuleType | None:
    """The checkout's :mod:`benchmarks.groups`, or None when there is no checkout.

    Imported by name (``importlib``) because it is not part of the package: the
    checkout's root goes on ``sys.path`` first.
    """
    root = checkout_root()
    if root is None:
        return None
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    module = importlib.import_module(GROUPS_MODULE)
    if not Path(module.__file__ or "").resolve().is_relative_to(root):
        return None  # some other `benchmarks` package shadows the checkout's
    return module


def _say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    bench = load_benchmarks()
    if bench is None:
        print(
            "chan-nb bench: the benchmarks are not installed with the package; run this "
            "from a source checkout of chan_nb (the folder holding benchmarks/, e.g. an "
            "editable install: pip install -e .)",
            file=sys.stderr,
        )
        return 2
    recordings = args.recordings or _default_recordings()
    every: dict[str, Callable[[], dict[str, Any]]] = bench.groups(
        recordings, quick=args.quick, progress=_say
    )
    unknown = sorted(set(args.only or ()) - set(every))
    if unknown:
        print(
            f"chan-nb bench: no group {', '.join(unknown)} (groups: {', '.join(every)})",
            file=sys.stderr,
        )
        return 2
    chosen = [name for name in every if not args.only or name in args.only]
    if recordings is None:
        _say("no recordings (../shared/recordings or --recordings): import and audit left out")
    results: dict[str, Any] = {}
    for number, name in enumerate(chosen, 1):
        _say(f"[{number}/{len(chosen)}] {name} …")
        # every group starts on a collected heap, and what earlier groups left alive is
        # not scanned again by the collector: a figure does not depend on the groups
        # that happened to run before it (garbage collection stays on while measuring)
        gc.collect()
        gc.freeze()
        started = time.perf_counter()
        results.update({k: v for k, v in every[name]().items() if not k.startswith("_")})
        _say(f"[{number}/{len(chosen)}] {name} done in {time.perf_counter() - started:.1f} s")
    results.update(bench.ratios(results))
    if args.quick:
        results["quick"] = True  # small sizes: nothing here is comparable with the targets
    if args.json:
        print(json.dumps(results, sort_keys=True))
        return 0
    targets: dict[str, tuple[str, Callable[[Any], bool]]] = bench.TARGETS
    width = max((len(k) for k in results), default=10)
    print(f"{'figure':<{width}}  {'value':>14}  target")
    for key, value in results.items():
        target = targets.get(key)
        mark = ""
        if target is not None and args.quick:
            mark = f"{target[0]} (not judged: --quick)"
        elif target is not None:
            mark = f"{target[0]} ({'met' if target[1](value) else 'NOT met'})"
        shown = f"{value:,}" if isinstance(value, int) else str(value)
        print(f"{key:<{width}}  {shown:>14}  {mark}")
    return 0
