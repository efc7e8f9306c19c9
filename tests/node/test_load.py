"""The load test, small: many channels at once on one node, nothing lost, memory bounded.

``chan-nb bench`` runs the full 1,000 channels × 100 transfers (BENCHMARKS.md); CI runs
the same code with fewer channels and transfers.
"""

from __future__ import annotations

import asyncio
import resource

import pytest

from benchmarks import load as loadtest
from benchmarks.peers import open_signing_pair as open_pair
from chan_nb.node import EmbeddedNode

pytestmark = pytest.mark.slow

CHANNELS = 60
TRANSFERS = 20


async def test_many_channels_lose_nothing_and_conserve_balances() -> None:
    async with EmbeddedNode(port=0, minimum_depth=0) as node:
        report = await loadtest.run_load(node.url, node.network_id, CHANNELS, TRANSFERS)
        assert report.problems == []
        assert report.transfers == CHANNELS * TRANSFERS
        # the node holds every channel, each at the round the transfers reached
        rounds = [f.cosigned.round for f in node.core.fsms if f.cosigned is not None]
        assert len(rounds) == 2 * CHANNELS and set(rounds) == {TRANSFERS + 1}
    figures = report.figures()
    assert figures["channels"] == CHANNELS and figures["load_problems"] == 0
    assert figures["peak_rss_mb"] >= report.rss_end_mb - 1 > 0  # (two sources, KiB apart)
    # bounded: once the channels are open, more transfers do not keep taking memory
    assert report.rss_end_mb - report.rss_half_mb < 25, figures


async def test_a_lost_or_repeated_update_and_a_wrong_balance_are_reported() -> None:
    """The checks can fail: feed them what a faulty node would have produced."""
    async with EmbeddedNode(port=0, minimum_depth=0) as node:
        i, r = await open_pair(node.url, node.network_id, 7000, track_rounds=True)
        start = await i.balances([i.key.address, r.key.address])
        for n in range(3):
            payer, payee = (i, r) if n % 2 == 0 else (r, i)
            await payer.transfer(payee.key.address, loadtest.amount_of(n))
        assert await loadtest._check_channel(0, i, r, start, 3) == []
        r.rounds.remove(3)  # a lost update
        i.rounds.append(4)  # a repeated one
        problems = await loadtest._check_channel(0, i, r, start, 3)
        assert any("lost [3]" in p for p in problems) and any("repeated [4]" in p for p in problems)
        await i.transfer(r.key.address, 5)  # one transfer more than the expectation knows
        problems = await loadtest._check_channel(0, i, r, start, 3)
        assert any("balances" in p for p in problems)
        await asyncio.gather(i.close(), r.close())


def test_expected_balances_alternate_and_conserve() -> None:
    start = {"a": 100, "b": 50}
    after = loadtest.expected_balances(start, "a", "b", 4)  # a→b 1, b→a 2, a→b 3, b→a 4
    assert after == {"a": 102, "b": 48}
    assert sum(after.values()) == sum(start.values())


def test_the_fd_limit_is_raised_within_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        wanted = soft + 10 if hard == resource.RLIM_INFINITY else min(soft + 10, hard)
        assert loadtest.ensure_fd_limit(wanted) >= wanted
        assert loadtest.ensure_fd_limit(1) == resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_memory_figures_are_plausible() -> None:
    assert 0 < loadtest.rss_mb() <= loadtest.peak_rss_mb() * 1.01 + 1
