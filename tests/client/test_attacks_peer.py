"""A malicious peer behind an honest node: the embedded node relays what the peer asks.

The attacker is a real session (its own policy signs whatever it proposes); the victim
is a session with the default policy. Over loopback WebSockets and in memory. Each
attack asserts the victim's refusal, that no valid signature of the victim left it, and
that its view of the channel is unchanged; the controls show that what costs the
victim nothing (incoming transfers, the peer's deposits and withdrawals, a fair
close) is still signed.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chan_nb.client import ClientError, MemoryTransport, Session, open_pair, pair_params
from chan_nb.client import events as ev
from chan_nb.codec.keys import Keypair
from chan_nb.node import EmbeddedNode
from chan_nb.recording import Direction
from tests.client.attack_kit import signatures_of, view

STEP = 10.0
# real-sized deposits (0.7 and 0.4 AE), so that a fee the node's way is small beside them
AMOUNTS = {"initiator_amount": 7 * 10**17, "responder_amount": 4 * 10**17, "push_amount": 0}


@pytest.fixture
async def node() -> AsyncIterator[EmbeddedNode]:
    async with EmbeddedNode() as started:
        yield started


@pytest.fixture(params=["websocket", "memory"])
def via(request: pytest.FixtureRequest, node: EmbeddedNode) -> dict[str, Any]:
    return {"transport": MemoryTransport(node)} if request.param == "memory" else {}


@pytest.fixture(params=["initiator", "responder"])
async def sides(
    request: pytest.FixtureRequest, node: EmbeddedNode, via: dict[str, Any]
) -> AsyncIterator[tuple[Session, Session, EmbeddedNode]]:
    """(victim, attacker) on an open channel; the victim plays the parametrised role."""
    ikey, rkey = Keypair.generate(), Keypair.generate()
    params = pair_params(ikey, rkey, **AMOUNTS)
    i, r = await open_pair(
        node, initiator_key=ikey, responder_key=rkey, params=params, timeout=STEP, **via
    )
    victim, attacker = (i, r) if request.param == "initiator" else (r, i)
    try:
        yield victim, attacker, node
    finally:
        await i.close()
        await r.close()


def _sent_by(victim: Session, since: int) -> list[dict[str, Any]]:
    return [
        json.loads(f.raw)
        for f in victim.recorder.frames
        if f.seq > since and f.role == victim.role and f.direction is Direction.SENT
    ]


async def _attacked(victim: Session, node: EmbeddedNode, attack: Any, expect: str) -> None:
    before, seq, mark = view(victim), len(victim.recorder), victim.mark()
    with pytest.raises(ClientError):
        await attack
    refused = await victim.wait_for(ev.Refused, STEP, since=mark)
    assert isinstance(refused, ev.Refused)
    assert any(expect in p for p in refused.problems), refused.problems
    assert list(signatures_of(_sent_by(victim, seq), victim.address, node.network_id)) == []
    assert view(victim) == before


async def test_peer_moves_our_coins_to_itself(sides: tuple[Session, Session, EmbeddedNode]) -> None:
    victim, attacker, node = sides
    attack = attacker.transfer(attacker.address, 5_000, sender=victim.address, timeout=STEP)
    await _attacked(victim, node, attack, "lowers our balance by 5,000")


async def test_peer_moves_our_coins_with_a_meta_note(
    sides: tuple[Session, Session, EmbeddedNode],
) -> None:
    victim, attacker, node = sides
    attack = attacker.transfer(
        attacker.address, 1, sender=victim.address, meta=["a gift"], timeout=STEP
    )
    await _attacked(victim, node, attack, "lowers our balance by 1")


async def test_peer_closes_with_a_fee_we_would_half_pay(
    sides: tuple[Session, Session, EmbeddedNode],
) -> None:
    victim, attacker, node = sides
    await _attacked(victim, node, attacker.shutdown(timeout=STEP, fee=10**17), "above the cap")


async def test_costless_proposals_are_still_signed(
    sides: tuple[Session, Session, EmbeddedNode],
) -> None:
    victim, attacker, _ = sides
    mine = victim.balances[victim.address]
    await attacker.transfer(victim.address, 3_000, timeout=STEP)
    await attacker.deposit(10**15, timeout=STEP)
    await attacker.withdraw(10**15, timeout=STEP)
    assert victim.balances[victim.address] == mine + 3_000
    assert victim.round == attacker.round == 4
    assert not [e for e in victim.events if isinstance(e, ev.Refused)]
    await attacker.shutdown(timeout=STEP)  # a fair close, at the node's fee
    assert victim.closing_tx is not None or attacker.closing_tx is not None
