"""Fault injection: the pure plan, and each fault on a live embedded node."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from chan_nb.client import (
    ChannelConflict,
    ClientError,
    ConnectionLost,
    MemoryTransport,
    Session,
    Timeout,
    new_pair,
)
from chan_nb.client import events as ev
from chan_nb.node import EmbeddedNode, ThreadedNode
from chan_nb.node.faults import DROP, PASS, FaultPlan, Rule, Verdict
from chan_nb.protocol import frames, methods

I_URL = "/channel?role=initiator&port=1"
R_URL = "/channel?role=responder&port=1"


def _note(method: str, **data: Any) -> str:
    return frames.encode(frames.notification(method, "ch_x", data))


def _req(method: str) -> str:
    return frames.encode(frames.request(method, {}))


# -- the pure plan ----------------------------------------------------------------------------


def test_an_empty_plan_is_inactive_and_passes_everything() -> None:
    plan = FaultPlan()
    assert not plan.active
    plan.connected(1, I_URL)
    assert plan.judge("in", 1, _req(methods.UPDATE_NEW)) is PASS


def test_rules_count_their_matches_and_fire_on_the_nth_for_times() -> None:
    plan = FaultPlan()
    plan.connected(1, I_URL)
    plan.connected(2, R_URL)
    rule = plan.drop(role="responder", method=methods.UPDATE, nth=2, times=2)
    assert plan.active
    update = _note(methods.UPDATE, state="tx_")
    verdicts = [plan.judge("out", conn, update) for conn in (1, 2, 1, 2, 2, 2)]
    # the initiator's frames never match; the responder's 2nd and 3rd are dropped
    assert verdicts == [PASS, PASS, PASS, DROP, DROP, PASS]
    assert (rule.seen, rule.fired, rule.spent) == (3, 2, True)  # a spent rule stops counting
    assert [info.conn_id for _, info in plan.fired] == [2, 2]


def test_filters_on_direction_event_and_connection() -> None:
    plan = FaultPlan()
    plan.connected(7, R_URL)
    plan.duplicate(direction="out", event="open", times=None)
    plan.delay(0.25, conn_id=7, method=methods.SYSTEM)
    open_info = _note(methods.INFO, event="open")
    assert plan.judge("out", 7, open_info) == Verdict(copies=2)
    assert plan.judge("in", 7, open_info) == PASS  # wrong direction
    assert plan.judge("out", 7, _note(methods.INFO, event="died")) == PASS
    assert plan.judge("out", 7, open_info) == Verdict(copies=2)  # times=None: every time
    assert plan.judge("in", 7, _req(methods.SYSTEM)) == Verdict(delay=0.25)
    assert plan.judge("in", 8, _req(methods.SYSTEM)) == PASS  # another connection


def test_cut_and_close_say_before_or_after_and_stop_later_rules() -> None:
    plan = FaultPlan()
    plan.connected(1, I_URL)
    plan.cut(nth=2)
    plan.close(before=False, nth=3)
    plan.duplicate(times=None)
    text = _req(methods.UPDATE_NEW)
    assert plan.judge("in", 1, text) == Verdict(copies=2)
    # the cut comes first and ends the frame's journey: no duplicate of a lost frame
    assert plan.judge("in", 1, text) == Verdict(end="cut", end_before=True)
    # the cut frame never reached the later rules, so the close counts it as unseen
    assert plan.judge("in", 1, text) == Verdict(copies=2)
    assert plan.judge("in", 1, text) == Verdict(copies=2, end="close", end_before=False)


def test_stall_swallows_both_ways_until_resumed() -> None:
    plan = FaultPlan()
    plan.connected(1, I_URL)
    plan.connected(2, R_URL)
    plan.stall(role="initiator", direction="in")
    assert plan.judge("out", 1, _note(methods.INFO, event="x")) == PASS  # not yet
    assert plan.judge("in", 1, _req(methods.UPDATE_NEW)) == DROP  # the stall begins
    assert plan.judge("out", 1, _note(methods.INFO, event="x")) == DROP
    assert plan.judge("out", 2, _note(methods.INFO, event="x")) == PASS  # other side unaffected
    plan.resume()
    assert plan.judge("out", 1, _note(methods.INFO, event="x")) == PASS
    plan.stall_all()
    assert plan.judge("out", 2, _note(methods.INFO, event="x")) == DROP
    plan.clear()
    assert not plan.active


def test_trace_numbers_each_roles_frames_across_directions() -> None:
    plan = FaultPlan(trace=True)
    plan.connected(1, I_URL)
    plan.connected(2, R_URL)
    plan.judge("in", 1, _req(methods.UPDATE_NEW))
    plan.judge("out", 2, _note(methods.INFO, event="update"))
    plan.judge("out", 1, frames.encode(frames.result(0, None, "ok")))
    plan.judge("out", 1, "not json")
    steps = [(f.role, f.step, f.direction, f.method, f.event) for f in plan.frames]
    assert steps == [
        ("initiator", 1, "in", methods.UPDATE_NEW, None),
        ("responder", 1, "out", methods.INFO, "update"),
        ("initiator", 2, "out", "result", None),
        ("initiator", 3, "out", None, None),
    ]
    assert plan.frames[1].describe() == "responder <- node: channels.info update"
    plan.disconnected(1)
    plan.judge("in", 1, _req(methods.UPDATE_NEW))
    assert plan.frames[-1].role is None  # a forgotten connection has no role


@pytest.mark.parametrize(
    "bad",
    [{"nth": 0}, {"times": 0}, {"seconds": -1.0}, {"copies": 1}, {"kind": "explode"}],
    ids=str,
)
def test_nonsense_rules_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Rule(**{"kind": "delay", **bad})


# -- on a live node ---------------------------------------------------------------------------


@pytest.fixture(params=["memory", "websocket"])
async def setup(
    request: pytest.FixtureRequest,
) -> AsyncIterator[tuple[EmbeddedNode, Session, Session]]:
    """A node and an open channel (sockets or memory); short FSM timers for lost frames."""
    async with EmbeddedNode(port=0, minimum_depth=0) as node:
        via: dict[str, Any] = {}
        if request.param == "memory":
            via = {"transport": MemoryTransport(node)}
        i, r = await _open_pair(node, **via)
        try:
            yield node, i, r
        finally:
            await asyncio.gather(i.close(), r.close(), return_exceptions=True)


async def _open_pair(node: EmbeddedNode, **via: Any) -> tuple[Session, Session]:
    """Like ``open_pair``, but waiting with ``wait_open``: ``open()`` misses an open that
    completed while the responder was connecting (possible on a loaded machine)."""
    i, r = new_pair(node, timeout=10, **via)
    await i.connect()
    await r.connect()
    await asyncio.gather(i.wait_open(), r.wait_open())
    return i, r


async def _agree(i: Session, r: Session) -> int:
    """Both sides hold the same state (resynchronised from the node); its round."""
    si, sr = await i.offchain_state(timeout=5), await r.offchain_state(timeout=5)
    assert si.signed_tx == sr.signed_tx
    bi, br = await i.balances_of(timeout=5), await r.balances_of(timeout=5)
    assert bi == br and i.balances == r.balances == bi
    assert i.round == r.round and i.round is not None
    return i.round


async def test_a_dropped_sign_request_times_out_and_the_channel_recovers(
    setup: tuple[EmbeddedNode, Session, Session],
) -> None:
    node, i, r = setup
    node.faults.drop(method="channels.sign.update")
    with pytest.raises(Timeout):
        await i.transfer(r.address, 5, timeout=0.3)
    assert [info.method for _, info in node.faults.fired] == ["channels.sign.update"]
    node.faults.clear()
    # the starter's FSM still waits for the signature: abort the request never seen
    mark = i.mark()
    await i.send(methods.UPDATE, {"error": 147})
    await i.wait_for(
        lambda e: isinstance(e, ev.Info) and e.event == "aborted_update", timeout=5, since=mark
    )
    assert await _agree(i, r) == 1
    await r.transfer(i.address, 3, timeout=5)
    assert await _agree(i, r) == 2


async def test_duplicated_frames_change_nothing_twice(
    setup: tuple[EmbeddedNode, Session, Session],
) -> None:
    node, i, r = setup
    start = await _agree(i, r)
    node.faults.duplicate(direction="in", method=methods.UPDATE, times=None)  # signing replies
    node.faults.duplicate(direction="out", method=methods.UPDATE, times=None)  # new states
    for n in range(4):
        payer, payee = (i, r) if n % 2 == 0 else (r, i)
        await payer.transfer(payee.address, 10 + n, timeout=5)
    assert len(node.faults.fired) >= 8
    node.faults.clear()
    assert await _agree(i, r) == start + 4  # one round per transfer, not two
    balances = await i.balances_of()
    assert balances[i.address] - balances[r.address] == (70_000_000_000_000 - 1) - (
        40_000_000_000_000 + 1
    ) + 2 * (-10 + 11 - 12 + 13)


async def test_delayed_frames_keep_their_order(
    setup: tuple[EmbeddedNode, Session, Session],
) -> None:
    node, i, r = setup
    node.faults.delay(0.05, role="responder", event="update")
    node.faults.delay(0.02, direction="in", role="initiator", method=methods.UPDATE)
    mark = r.mark()
    await i.transfer(r.address, 1, timeout=5)
    await r.wait_for(ev.StateUpdate, timeout=5, since=mark)
    assert len(node.faults.fired) == 2
    kinds = ev.Info | ev.SignRequest | ev.StateUpdate
    names = [e.name for e in r.events[mark:] if isinstance(e, kinds)]
    assert names == ["update", "sign.update_ack", "channels.update"], names


async def test_a_cut_after_a_frame_delivers_it_then_drops_the_socket(
    setup: tuple[EmbeddedNode, Session, Session],
) -> None:
    node, i, r = setup
    node.faults.cut(before=False, method="channels.sign.update")
    with pytest.raises(ConnectionLost):
        await i.transfer(r.address, 1, timeout=5)
    received = [
        f.method
        for f in i.recorder.frames
        if f.role == "initiator" and f.direction.value == "received"
    ]
    assert received[-1] == "channels.sign.update", received  # delivered, then the cut
    assert not i.connected
    await i.reconnect(timeout=5)
    await _agree(i, r)


async def test_a_clean_close_at_a_frame_is_a_lost_connection_too(
    setup: tuple[EmbeddedNode, Session, Session],
) -> None:
    node, _i, r = setup
    node.faults.close(role="responder", method=methods.SYSTEM)
    with pytest.raises(ClientError):
        await r.ping(timeout=5)
    assert not r.connected
    await r.reconnect(timeout=5)
    assert await r.ping(timeout=5) == {"action": "system", "tag": "pong"}


async def test_a_stalled_side_times_out_others_are_unaffected_and_it_resumes(
    setup: tuple[EmbeddedNode, Session, Session],
) -> None:
    node, i, r = setup
    async with EmbeddedNode(port=0, minimum_depth=0) as other_node:
        node.faults.stall(role="responder")
        with pytest.raises(Timeout):
            await r.ping(timeout=0.2)
        # the initiator still gets answers, and its transfer fails in a typed way
        assert await i.ping(timeout=5) == {"action": "system", "tag": "pong"}
        with pytest.raises((ChannelConflict, Timeout)):
            await i.transfer(r.address, 1, timeout=1.0)
        node.faults.resume()
        assert await r.ping(timeout=5) == {"action": "system", "tag": "pong"}
        node.faults.stall_all()
        with pytest.raises(Timeout):
            await i.ping(timeout=0.2)
        # another node is not touched by this one's faults
        x, y = await _open_pair(other_node)
        await x.transfer(y.address, 1, timeout=5)
        assert x.round == y.round == 2
        await asyncio.gather(x.close(), y.close())
        node.faults.clear()
        assert await i.ping(timeout=5) == {"action": "system", "tag": "pong"}


def test_the_threaded_node_exposes_its_plan() -> None:
    with ThreadedNode(port=0) as node:
        plan = node.faults
        assert isinstance(plan, FaultPlan) and not plan.active
        plan.trace = True
        assert node.node is not None and node.node.faults is plan
