"""Load on the embedded node: many channels at once, many transfers each, nothing lost.

:func:`run_load` opens ``channels`` channels on one node over loopback WebSockets
(two minimal signing clients each, :class:`~benchmarks.peers.SigningPeer`, on the
node's event loop), makes ``transfers`` transfers in every channel — all channels at
once, alternating payer, amounts 1, 2, 3 … — and then checks what must hold:

* every client saw every round exactly once, in order (no lost or duplicated update);
* every channel's balances, as the node reports them, are exactly what the transfers
  add up to, and their sum is what the channel was opened with (conservation);
* the process's memory stopped growing once the channels were open (bounded).

The CI test runs it small (``tests/node/test_load.py``); ``chan-nb bench`` runs the full
1,000 channels × 100 transfers and reports ``aggregate_transfers_per_s`` and
``peak_rss_mb``. Every figure comes back in a :class:`LoadReport`.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.peers import SigningPeer, open_signing_pair

#: what the bench runs: the issue's full count
FULL_CHANNELS = 1000
FULL_TRANSFERS = 100
#: channels opened at the same time (more only queues up handshakes)
OPEN_BATCH = 50
#: file descriptors one channel needs in this process: two client and two server sockets
FDS_PER_CHANNEL = 4


@dataclass
class LoadReport:
    """What one load run did and measured; ``problems`` is empty when all checks held."""

    channels: int
    transfers_per_channel: int
    open_s: float
    transfer_s: float
    rss_before_mb: float
    rss_open_mb: float  # all channels open
    rss_half_mb: float  # half the transfers done
    rss_end_mb: float
    peak_rss_mb: float
    problems: list[str] = field(default_factory=list)

    @property
    def transfers(self) -> int:
        return self.channels * self.transfers_per_channel

    @property
    def aggregate_transfers_per_s(self) -> float:
        return self.transfers / self.transfer_s if self.transfer_s > 0 else float("inf")

    @property
    def ok(self) -> bool:
        return not self.problems

    def figures(self) -> dict[str, Any]:
        """The report as ``chan-nb bench`` figures."""
        return {
            "channels": self.channels,
            "load_transfers": self.transfers,
            "aggregate_transfers_per_s": round(self.aggregate_transfers_per_s),
            "load_open_s": round(self.open_s, 2),
            "peak_rss_mb": round(self.peak_rss_mb, 1),  # the whole process, so far
            "load_rss_open_channels_mb": round(self.rss_open_mb - self.rss_before_mb, 1),
            "load_rss_growth_second_half_mb": round(self.rss_end_mb - self.rss_half_mb, 1),
            "load_problems": len(self.problems),
        }


def rss_mb() -> float:
    """Resident memory of this process now (Linux /proc; else the peak so far)."""
    statm = Path("/proc/self/statm")
    if statm.exists():
        pages = int(statm.read_text().split()[1])
        return pages * resource.getpagesize() / 2**20
    return peak_rss_mb()


def peak_rss_mb() -> float:
    """Highest resident memory of this process so far."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes vs KiB


def ensure_fd_limit(needed: int) -> int:
    """Raise the soft file-descriptor limit towards ``needed`` (up to the hard limit)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return int(soft)


def amount_of(n: int) -> int:
    """The amount of the ``n``-th transfer of a channel (1, 2, 3 …: every round differs)."""
    return n + 1


def expected_balances(
    start: dict[str, int], payer_first: str, payee_first: str, transfers: int
) -> dict[str, int]:
    """Balances after ``transfers`` alternating transfers (the first from ``payer_first``)."""
    out = dict(start)
    for n in range(transfers):
        payer, payee = (payer_first, payee_first) if n % 2 == 0 else (payee_first, payer_first)
        out[payer] -= amount_of(n)
        out[payee] += amount_of(n)
    return out


async def run_load(
    url: str,
    network_id: str,
    channels: int,
    transfers: int,
    *,
    progress: Callable[[str], None] | None = None,
    timeout: float = 60.0,
) -> LoadReport:
    """Open ``channels`` channels at ``url``, make ``transfers`` transfers in each, check."""
    ensure_fd_limit(channels * FDS_PER_CHANNEL + 256)
    say = progress or (lambda _: None)
    rss_before = rss_mb()
    started = time.perf_counter()
    pairs: list[tuple[SigningPeer, SigningPeer]] = []
    for first in range(0, channels, OPEN_BATCH):
        batch = range(first, min(first + OPEN_BATCH, channels))
        pairs += await asyncio.gather(
            *(open_signing_pair(url, network_id, 20_000 + n, track_rounds=True) for n in batch)
        )
        say(f"{len(pairs)} channels open")
    open_s = time.perf_counter() - started
    rss_open = rss_mb()
    start_balances = [await i.balances([i.key.address, r.key.address]) for i, r in pairs]
    half = max(1, transfers // 2)
    reached = {"n": 0}
    rss_half = rss_open
    total, done = channels * transfers, 0
    tenth = max(1, total // 10)  # a progress line every tenth of the transfers

    async def drive(pair: tuple[SigningPeer, SigningPeer]) -> None:
        nonlocal rss_half, done
        initiator, responder = pair
        for n in range(transfers):
            payer, payee = (initiator, responder) if n % 2 == 0 else (responder, initiator)
            await payer.transfer(payee.key.address, amount_of(n), timeout)
            done += 1
            if done % tenth == 0:
                say(f"{done:,} of {total:,} transfers")
            if n + 1 == half:
                reached["n"] += 1
                if reached["n"] == len(pairs):  # the last channel is halfway
                    rss_half = rss_mb()

    started = time.perf_counter()
    await asyncio.gather(*(drive(pair) for pair in pairs))
    transfer_s = time.perf_counter() - started
    rss_end = rss_mb()
    say(f"{channels * transfers} transfers in {transfer_s:.1f} s")
    problems: list[str] = []
    for number, ((initiator, responder), start) in enumerate(
        zip(pairs, start_balances, strict=True)
    ):
        problems += await _check_channel(number, initiator, responder, start, transfers)
    for initiator, responder in pairs:
        await initiator.close()
        await responder.close()
    return LoadReport(
        channels,
        transfers,
        open_s,
        transfer_s,
        rss_before,
        rss_open,
        rss_half,
        rss_end,
        peak_rss_mb(),
        problems,
    )


async def _check_channel(
    number: int,
    initiator: SigningPeer,
    responder: SigningPeer,
    start: dict[str, int],
    transfers: int,
) -> list[str]:
    """Rounds seen exactly once each, balances as the transfers add up, total conserved."""
    problems: list[str] = []
    wanted = list(range(1, transfers + 2))  # round 1 is the open
    for peer in (initiator, responder):
        if peer.rounds != wanted:
            lost = sorted(set(wanted) - set(peer.rounds))
            repeated = sorted({r for r in peer.rounds if peer.rounds.count(r) > 1})
            problems.append(
                f"channel {number}: {peer.key.address[:10]}… rounds lost {lost[:5]}, "
                f"repeated {repeated[:5]}, {len(peer.rounds)} updates for {len(wanted)} rounds"
            )
        if "conflict" in peer.events:
            problems.append(f"channel {number}: a transfer ended in a conflict")
    i_addr, r_addr = initiator.key.address, responder.key.address
    expected = expected_balances(start, i_addr, r_addr, transfers)
    reported = await responder.balances([i_addr, r_addr])
    if reported != expected:
        problems.append(f"channel {number}: balances {reported}, expected {expected}")
    if sum(reported.values()) != sum(start.values()):
        problems.append(f"channel {number}: the total changed from {sum(start.values())}")
    return problems


async def measure(
    channels: int = FULL_CHANNELS,
    transfers: int = FULL_TRANSFERS,
    progress: Callable[[str], None] | None = None,
) -> LoadReport:
    """The load run on a fresh embedded node on a free port."""
    from chan_nb.node.server import EmbeddedNode

    async with EmbeddedNode(port=0, minimum_depth=0) as node:
        return await run_load(node.url, node.network_id, channels, transfers, progress=progress)
