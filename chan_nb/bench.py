"""Benchmarks of the codec and the audit (``chan-nb bench``).

Measurements only — no targets are asserted here; ``chan-nb bench`` prints
them next to the targets and ``BENCHMARKS.md`` keeps the latest table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chan_nb.codec import clear_caches, signing, txs
from chan_nb.codec.ids import Id
from chan_nb.codec.keys import Keypair

if TYPE_CHECKING:
    from chan_nb.client import Recorder


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds > 0 else float("inf")


def verify_per_s(seconds: float = 1.0) -> dict[str, Any]:
    """Signature checks per second over co-signed off-chain txs, as the node verifies.

    Distinct signatures (one per round), and the verification cache is cleared before
    each pass over them, so every check is computed. ``verify_per_s``
    uses raw-preimage signatures (one Ed25519 check each, like every recorded
    signature); ``verify_hashed_per_s`` uses the JS SDK's hashed preimage (one
    check too: :func:`~chan_nb.codec.signing.verify` tries a key's usual rule first).
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
            signing.clear_verify_cache()  # each pass checks every signature for real
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


def session_throughput(transfers: int = 1000, repeat: int = 5) -> dict[str, Any]:
    """Off-chain transfers per second between two chan_nb sessions, recording on and off.

    One channel on an embedded node, the two :class:`~chan_nb.client.Session` s over
    real loopback WebSockets, all on one event loop (as in a notebook kernel). Each
    transfer is awaited before the next, alternating payer. Recording on (the default
    :class:`~chan_nb.client.Recorder`, decoding txs) and off alternate, ``repeat``
    times each on fresh channels; the best of each is reported, so that other load on
    the machine stays out of the comparison.
    """
    import asyncio

    best = {True: 0.0, False: 0.0}
    frames = 0
    for _ in range(max(1, repeat)):
        for recording in (True, False):
            rate, recorded = asyncio.run(_session_rate(transfers, recording))
            best[recording] = max(best[recording], rate)
            if recording:
                frames = recorded
    return {
        "transfers_per_s": round(best[True]),
        "transfers_per_s_no_recording": round(best[False]),
        "recording_overhead_pct": round(100 * (1 - best[True] / best[False]), 1),
        "session_transfers": transfers,
        "session_frames_recorded": frames,
    }


async def _session_rate(transfers: int, recording: bool) -> tuple[float, int]:
    import asyncio

    from chan_nb.client import Recorder, new_pair
    from chan_nb.node import EmbeddedNode

    clear_caches()  # each run starts cold: nothing decoded or verified by an earlier one
    recorder = Recorder("bench") if recording else _not_recording()()
    async with EmbeddedNode(port=0, minimum_depth=0) as node:
        initiator, responder = new_pair(node, recorder=recorder)
        try:
            await initiator.connect()
            await responder.connect()
            # wait_open, not open: the open may complete while the responder connects
            await asyncio.gather(initiator.wait_open(), responder.wait_open())
            start = time.perf_counter()
            for n in range(transfers):
                payer, payee = (initiator, responder) if n % 2 == 0 else (responder, initiator)
                await payer.transfer(payee.address, 1)
            elapsed = time.perf_counter() - start
            if initiator.round != transfers + 1 or responder.round != transfers + 1:
                raise AssertionError("benchmark transfers did not all complete")
        finally:
            await initiator.close()
            await responder.close()
    return _rate(transfers, elapsed), len(recorder.frames)


def _not_recording() -> type[Recorder]:
    from chan_nb.client import Recorder

    class NotRecording(Recorder):
        """A recorder that keeps nothing: the sessions' cost without recording."""

        def opened(self, role: str, url: str) -> int:
            return 1

        def sent(self, role: str, text: str, conn: int) -> None:
            return None

        def received(self, role: str, text: str, conn: int) -> None:
            return None

        def closed(self, role: str, conn: int) -> None:
            return None

        def note(self, role: str, text: str, conn: int) -> None:
            return None

    return NotRecording
