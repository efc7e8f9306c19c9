"""Off-chain transfers and contract calls per second between two chan_nb sessions
(group ``sessions``).

Measurements only — no targets are asserted here; ``chan-nb bench`` prints
them next to the targets and ``BENCHMARKS.md`` keeps the latest table.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from benchmarks.codec import rate
from chan_nb.client import Recorder, Session, new_pair
from chan_nb.codec import clear_caches
from chan_nb.codec.fate.examples import counter_code
from chan_nb.node import EmbeddedNode


def session_throughput(
    transfers: int = 1000,
    repeat: int = 5,
    progress: Callable[[str], None] | None = None,
    calls: int = 200,
) -> dict[str, Any]:
    """Off-chain transfers per second between two chan_nb sessions, recording on and off.

    One channel on an embedded node, the two :class:`~chan_nb.client.Session` s over
    real loopback WebSockets, all on one event loop (as in a notebook kernel). Each
    transfer is awaited before the next, alternating payer. Recording on (the default
    :class:`~chan_nb.client.Recorder`, decoding txs) and off alternate, ``repeat``
    times each on fresh channels; the best of each is reported, so that other load on
    the machine stays out of the comparison.

    Contract calls are measured the same way on one channel (recording on): the
    initiator creates :data:`~chan_nb.codec.fate.examples.COUNTER`, then the two sides
    call ``tick`` in turn — each round run by the node's VM and by both clients' own
    VMs before they sign (``calls`` per run, best of ``repeat``).
    """
    say = progress or (lambda _: None)
    best = {True: 0.0, False: 0.0}
    best_calls = 0.0
    frames = 0
    for run in range(max(1, repeat)):
        for recording in (True, False):
            per_s, recorded = asyncio.run(_session_rate(transfers, recording))
            best[recording] = max(best[recording], per_s)
            if recording:
                frames = recorded
        if calls > 0:
            best_calls = max(best_calls, asyncio.run(_contract_rate(calls)))
        say(
            f"run {run + 1} of {max(1, repeat)}: best {best[True]:.0f} transfers/s, "
            f"{best_calls:.0f} contract calls/s recording on"
        )
    return {
        "transfers_per_s": round(best[True]),
        "contract_calls_per_s": round(best_calls),
        "session_contract_calls": calls,
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


async def _contract_rate(calls: int) -> float:
    """Contract calls per second on one channel: ``tick`` by each side in turn."""
    clear_caches()
    async with EmbeddedNode(port=0, minimum_depth=0) as node:
        initiator, responder = new_pair(node, recorder=Recorder("bench"))
        try:
            await initiator.connect()
            await responder.connect()
            await asyncio.gather(initiator.wait_open(), responder.wait_open())
            made = await initiator.create_contract(counter_code(), "init", [0])
            # the responder's view of round 2 first: its own call must follow it
            await responder.wait_for(lambda e: responder.round == 2, include_past=True)
            start = time.perf_counter()
            for n in range(calls):
                caller, other = (initiator, responder) if n % 2 == 0 else (responder, initiator)
                result = await caller.call_contract(made.contract_id, "tick")
                if not result.verified or result.value != n + 1:
                    raise AssertionError(f"tick {n + 1} returned {result}")
                await _reached(other, result.round)
            elapsed = time.perf_counter() - start
        finally:
            await initiator.close()
            await responder.close()
    return rate(calls, elapsed)


async def _reached(session: Session, round_: int) -> None:
    """Until ``session`` holds round ``round_`` (its side of the call's round)."""
    await session.wait_for(lambda e: session.round == round_, include_past=True)


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
