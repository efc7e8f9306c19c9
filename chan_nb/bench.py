"""Benchmarks of the codec and the audit (``chan-nb bench``).

Measurements only — no targets are asserted here; ``chan-nb bench`` prints
them next to the targets and ``BENCHMARKS.md`` keeps the latest table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from chan_nb.codec import signing, txs
from chan_nb.codec.ids import Id
from chan_nb.codec.keys import Keypair


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def verify_per_s(seconds: float = 1.0) -> dict[str, Any]:
    """Signature checks per second over co-signed off-chain txs, as the node verifies.

    Distinct signatures (one per round), so no cache helps. ``verify_per_s``
    uses raw-preimage signatures (one Ed25519 check each, like every recorded
    signature); ``verify_hashed_per_s`` uses the JS SDK's hashed preimage,
    which the node's order (raw first, then hashed) makes cost two checks.
    """
    key = Keypair.generate()
    channel = Id.channel(bytes(range(32)))
    out: dict[str, Any] = {}
    for name, preimage in (("verify_per_s", "raw"), ("verify_hashed_per_s", "hashed")):
        work: list[tuple[bytes, bytes]] = []
        for rnd in range(2, 502):
            tx_bytes = txs.ChannelOffchainTx(channel, rnd, bytes(32)).serialize()
            work.append((signing.sign(tx_bytes, key, "ae_uat", preimage), tx_bytes))  # type: ignore[arg-type]
        done = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            for sig, tx_bytes in work:
                if signing.verify(sig, key.public_key, tx_bytes, "ae_uat") != preimage:
                    raise AssertionError("benchmark signature failed to verify")
            done += len(work)
        out[name] = round(_rate(done, time.perf_counter() - start))
    return out


def audit_seconds(paths: Sequence[Path]) -> dict[str, Any]:
    """Wall time to read and audit every given recording (what ``chan-nb audit`` does)."""
    from chan_nb.audit import audit_frames
    from chan_nb.recording import load

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


def timed(fn: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Run one benchmark and add how long it took overall."""
    start = time.perf_counter()
    out = fn()
    out.setdefault("_elapsed_s", round(time.perf_counter() - start, 2))
    return out
