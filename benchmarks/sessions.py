"""Off-chain transfers per second between two chan_nb sessions (group ``sessions``).

Measurements only — no targets are asserted here; ``chan-nb bench`` prints
them next to the targets and ``BENCHMARKS.md`` keeps the latest table.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from benchmarks.codec import rate
from chan_nb.client import Recorder, new_pair
from chan_nb.codec import clear_caches
from chan_nb.node import EmbeddedNode


def session_throughput(
    transfers: int = 1000, repeat: int = 5, progress: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Off-chain transfers per second between two chan_nb sessions, recording on and off.

    One channel on an embedded node, the two :class:`~chan_nb.client.Session` s over
    real loopback WebSockets, all on one event loop (as in a notebook kernel). Each
    transfer is awaited before the next, alternating payer. Recording on (the default
    :class:`~chan_nb.client.Recorder`, decoding txs) and off alternate, ``repeat``
    times each on fresh channels; the best of each is reported, so that other load on
    the machine stays out of the comparison.
    """
    say = progress or (lambda _: None)
    best = {True: 0.0, False: 0.0}
    frames = 0
    for run in range(max(1, repeat)):
        for recording in (True, False):
            per_s, recorded = asyncio.run(_session_rate(transfers, recording))
            best[recording] = max(best[recording], per_s)
            if recording:
                frames = recorded
        say(f"run {run + 1} of {max(1, repeat)}: best {best[True]:.0f}/s recording on")
    return {
        "transfers_per_s": round(best[True]),
        "transfers_per_s_no_recording": round(best[False]),
        "recording_overhead_pct": round(100 * (1 - best[True] / best[False]), 1),
        "session_transfers": transfers,
        "session_frames_recorded": frames,
    }


async def _session_rate(transfers: int, recording: bool) -> tuple[float, int]:
    clear_caches()  # each run starts cold: nothing decoded or verified by an earlier one
    recorder = Recorder("bench") if recording else NotRecording()
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
    return rate(transfers, elapsed), len(recorder.frames)


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
