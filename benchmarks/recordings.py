"""Recorded sessions: import throughput and audit time (``chan-nb bench``, ``import``, ``audit``).

The import group measures reading every file into records *with tx decoding on* (every
codec cache is cleared before each run, so each distinct tx is decoded once, as in a
cold import) and building each session's DataFrame once. The best of ``repeat`` runs is reported, as
``timeit`` does, to keep other load on the machine out of the figure. Measurements
only: no target is asserted here.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chan_nb.audit import audit_frames
from chan_nb.codec import clear_caches
from chan_nb.recording import contractinfo
from chan_nb.recording.formats import load
from chan_nb.recording.txinfo import describe_tx


def _run(paths: Sequence[Path], build_df: bool) -> tuple[float, int]:
    describe_tx.cache_clear()
    contractinfo.clear_caches()
    clear_caches()
    records = 0
    start = time.perf_counter()
    for path in paths:
        log = load(path)
        records += len(log)
        if build_df:
            _ = log.df
    return time.perf_counter() - start, records


def import_throughput(paths: Sequence[Path], *, repeat: int = 5) -> dict[str, Any]:
    """MB/s (10^6 bytes) over ``paths``: records with decoded txs, and with their tables."""
    import pandas  # noqa: F401  (import time is not throughput)

    total = sum(Path(p).stat().st_size for p in paths)
    with_df = min(_run(paths, True)[0] for _ in range(max(1, repeat)))
    records_only, records = min(_run(paths, False) for _ in range(max(1, repeat)))

    def rate(seconds: float) -> float:
        return round(total / 1e6 / seconds, 1) if seconds > 0 else float("inf")

    return {
        "import_mb_per_s": rate(with_df),
        "import_records_mb_per_s": rate(records_only),
        "import_files": len(paths),
        "import_mb": round(total / 1e6, 2),
        "import_records": records,
        "import_s": round(with_df, 3),
    }


def recording_files(root: Path) -> list[Path]:
    """The recordings under ``root`` the import and audit groups read (json-rpc logs, rendered)."""
    return sorted(root.glob("json-rpc/**/*.md")) + sorted(root.glob("rendered/*.txt"))


def audit_seconds(paths: Sequence[Path]) -> dict[str, Any]:
    """Wall time to read and audit every given recording (what ``chan-nb audit`` does)."""
    start = time.perf_counter()
    bad = 0
    for path in paths:
        report = audit_frames(load(path).frames, source=str(path))
        bad += not report.ok
    elapsed = time.perf_counter() - start
    size = sum(p.stat().st_size for p in paths)
    return {
        "audit_files": len(paths),
        "audit_mb": round(size / 1e6, 2),
        "audit_s": round(elapsed, 3),
        "audit_bad_files": bad,
    }
