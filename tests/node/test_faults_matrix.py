"""The fault matrix: cut a participant's connection at every step of every channel flow.

For open, transfer, deposit, withdraw and shutdown, a dry run lists each role's frames
(:attr:`FaultPlan.frames`); then, for every role and every step, a fresh channel runs
the flow with that role's connection cut at that frame. The client must either finish,
or fail with a typed :class:`~chan_nb.client.ClientError` and recover by reconnecting
(or reestablishing); afterwards both participants, and the node, agree on the round and
the balances — or, when the cut came before the channel existed, neither has a channel.

The whole matrix runs over in-memory connections (the node ends them as it would a
socket: the client reads ``closed by the node``) and again over real loopback sockets
(the node drops the TCP connection), every case on its own node and all of a flow's
cases at once. A round whose sign request was lost rolls back when its FSM timer
(``timeout_sign``/``timeout_accept`` …) fires. Those timers are long (30 s), so that no
timer fires during a step on a busy machine — a 300 ms ``timeout_accept`` once ended an
initiator's FSM while its responder's socket was still connecting, and the open saw
ConnectionLost — and the test fires them itself (``EmbeddedNode.expire_timers``) once
the cut happened and the flow step is over: what a timer does does not depend on when
it fires, so the outcome no longer depends on the machine's speed.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from chan_nb.client import (
    ClientError,
    ConnectionLost,
    MemoryTransport,
    Session,
    Status,
    new_pair,
    pair_params,
)
from chan_nb.client.events import SignRequest
from chan_nb.codec import encoding, hashing, txs
from chan_nb.codec.keys import Keypair
from chan_nb.node import EmbeddedNode
from chan_nb.node.faults import FrameInfo
from chan_nb.node.fsm import State

pytestmark = pytest.mark.slow

#: seconds a flow step may take before the client gives up (typed Timeout): a step
#: stuck on a lost signature ends this way (its FSM timer has not fired yet)
STEP_TIMEOUT = 2.0
#: the bound on steps that must succeed however busy the machine: the open a case
#: starts from (no fault yet), and the recovery and queries after the cut
MUST_TIMEOUT = 60.0
#: FSM timers (ms), fired by the test (expire_timers) rather than by the clock
FSM_TIMERS = {"sign": 30_000, "accept": 30_000, "funding_create": 30_000, "funding_sign": 30_000}
#: expire_timers window (s): the timers above, never idle (600 s) or funding_lock (360 s)
EXPIRE_WITHIN = 31.0
AMOUNT = 10**15

Flow = Callable[[Session, Session], Awaitable[object]]


async def _open(i: Session, r: Session, timeout: float = STEP_TIMEOUT) -> object:
    await i.connect(timeout)
    await r.connect(timeout)
    return await asyncio.gather(_opened(i, timeout), _opened(r, timeout))


async def _opened(s: Session, timeout: float = STEP_TIMEOUT) -> object:
    """Wait for the open on the socket we have.

    ``open()`` on a cut session would start a fresh channel, and it misses an open that
    completed before it was called (in memory that can happen during the peer's
    ``connect``): ``wait_open`` looks at what already arrived first.
    """
    if not s.connected:
        seen = [type(e).__name__ + ":" + str(getattr(e, "event", "")) for e in s.events][-6:]
        raise ConnectionLost(f"{s.role}: the socket was cut during the open (last events {seen})")
    return await s.wait_open(timeout)


async def _transfer(i: Session, r: Session) -> object:
    return await i.transfer(r.address, 7, timeout=STEP_TIMEOUT)


async def _deposit(i: Session, r: Session) -> object:
    return await r.deposit(1000, timeout=STEP_TIMEOUT)


async def _withdraw(i: Session, r: Session) -> object:
    return await i.withdraw(500, timeout=STEP_TIMEOUT)


async def _shutdown(i: Session, r: Session) -> object:
    return await i.shutdown(timeout=STEP_TIMEOUT)


FLOWS: dict[str, Flow] = {
    "open": _open,
    "transfer": _transfer,
    "deposit": _deposit,
    "withdraw": _withdraw,
    "shutdown": _shutdown,
}


@dataclass
class Case:
    flow: str
    role: str
    step: int
    what: str  # the frame cut at, for messages


@dataclass
class Outcome:
    error: str | None  # the typed error the flow raised, if any
    kind: str  # "open": channel agreed open; "closed": agreed closed; "none": no channel


def _node(sockets: bool = False) -> EmbeddedNode:
    return EmbeddedNode(port=0, serve_sockets=sockets, block_interval=0.002, minimum_depth=1)


def _pair(node: EmbeddedNode, sockets: bool) -> tuple[Session, Session]:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    params = pair_params(ikey, rkey, timeouts=FSM_TIMERS)
    if sockets:
        return new_pair(node, initiator_key=ikey, responder_key=rkey, params=params, timeout=5.0)
    return new_pair(
        "ws://memory/channel",  # never dialled: the memory transport reaches the node
        network_id=node.network_id,
        transport=MemoryTransport(node),
        initiator_key=ikey,
        responder_key=rkey,
        params=params,
        timeout=5.0,
    )


async def _close_all(*sessions: Session) -> None:
    await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)


async def _steps(flow: str) -> list[FrameInfo]:
    """The frames of one undisturbed run of ``flow`` (both roles)."""
    async with _node() as node:
        i, r = _pair(node, sockets=False)
        try:
            if flow != "open":
                await _open(i, r, MUST_TIMEOUT)
            node.faults.trace = True
            await FLOWS[flow](i, r)
            await asyncio.sleep(0.05)  # late notifications belong to the flow too
            return list(node.faults.frames)
        finally:
            await _close_all(i, r)


def _cases(flow: str, frames: list[FrameInfo]) -> list[Case]:
    return [Case(flow, f.role or "?", f.step, f.describe()) for f in frames if f.role]


def _known_channel(s: Session) -> str | None:
    """The channel id the client knows, or derives from the create tx it was asked to sign.

    The session derives it itself (``expected_channel_id``); this checks it against an
    independent derivation from the create tx in the events.
    """
    if s.channel_id is not None:
        return s.channel_id
    for event in s.events:
        if isinstance(event, SignRequest) and event.tag in ("initiator_sign", "responder_sign"):
            create = event.decoded().innermost
            assert isinstance(create, txs.ChannelCreateTx)
            derived = hashing.channel_id(
                create.initiator_id.value, create.nonce, create.responder_id.value
            )
            assert s.expected_channel_id == derived
            return derived
    assert s.expected_channel_id is None
    return None


async def _recover(s: Session) -> None:
    """Bring a session back to its channel: reconnect to its FSM, else reestablish."""
    channel_id = _known_channel(s)
    if s.connected or channel_id is None or s.status is Status.CLOSED:
        return
    try:
        await s.reconnect(timeout=MUST_TIMEOUT)  # the session knows (or derives) its channel
        return
    except ClientError:
        pass
    with contextlib.suppress(ClientError):
        await s.close()
        await s.reestablish(channel_id=channel_id, timeout=MUST_TIMEOUT)


def _live_fsms(node: EmbeddedNode) -> list[State]:
    """States of the node's running FSMs (each case has a node of its own)."""
    return [f.state for f in node.core.fsms if f.alive]


async def _settle(node: EmbeddedNode) -> None:
    """Wait (bounded) until every FSM is idle — open — or gone; timers end the rest."""
    for _ in range(1000):
        if all(s is State.OPEN for s in _live_fsms(node)):
            return
        await asyncio.sleep(0.01)


async def _until(condition: Callable[[], bool], failure: str, limit: float = 10.0) -> None:
    """Wait until ``condition`` holds (polling; ``limit`` seconds at most)."""
    for _ in range(int(limit / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(failure)


#: how a completed flow changes the channel's total (a deposit adds, a withdrawal takes)
TOTAL_CHANGE = {"open": 0, "transfer": 0, "deposit": 1000, "withdraw": -500, "shutdown": 0}


async def _agreement(node: EmbeddedNode, flow: str, i: Session, r: Session, total: int) -> str:
    """Check that both sides and the node agree; returns what they agree on."""
    node.expire_timers(EXPIRE_WITHIN)  # rounds stuck on the lost frame roll back now
    await _settle(node)
    channel_id = _known_channel(i) or _known_channel(r)
    chain = None
    if channel_id is not None:
        chain = node.core.chain.channel(encoding.decode(channel_id, "ch"))
    if chain is None:
        # the cut came before the create tx was posted: no channel, no live FSM
        assert not _live_fsms(node), "an FSM outlived a channel that never was"
        assert i.status is not Status.OPEN and r.status is not Status.OPEN
        return "none"
    if chain.closed:
        assert not _live_fsms(node), "a closed channel still has FSMs"
        close = _close_tx(node, channel_id)
        paid_out = close.initiator_amount_final + close.responder_amount_final + close.fee
        assert paid_out == total, f"the close pays out {paid_out} of {total}"
        return "closed"
    for s in (i, r):
        await _recover(s)
    si = await i.offchain_state(timeout=MUST_TIMEOUT)
    sr = await r.offchain_state(timeout=MUST_TIMEOUT)
    assert si.signed_tx and si.signed_tx == sr.signed_tx, "the two sides hold different states"
    node_round = _round_of(si.signed_tx)
    assert i.round == r.round == node_round, (i.round, r.round, node_round)
    bi = await i.balances_of(timeout=MUST_TIMEOUT)
    br = await r.balances_of(timeout=MUST_TIMEOUT)
    assert bi == br and set(bi) == {i.address, r.address}, (bi, br)
    assert i.balances == r.balances == bi, "a client's own view differs from the node's"
    assert sum(bi.values()) in (total, total + TOTAL_CHANGE[flow]), (flow, bi, total)
    return "open"


def _close_tx(node: EmbeddedNode, channel_id: str) -> txs.ChannelCloseMutualTx:
    """The mutual close of ``channel_id`` on the node's chain."""
    for inclusion in node.core.chain.included.values():
        tx = inclusion.signed.innermost
        if isinstance(tx, txs.ChannelCloseMutualTx) and tx.channel_id.api == channel_id:
            return tx
    raise AssertionError(f"no mutual close of {channel_id} on chain")


def _round_of(signed_tx: str) -> int:
    """Round of a co-signed state (offchain, deposit or withdraw tx; the create tx is 1)."""
    tx = txs.decode_signed(encoding.decode(signed_tx, "tx")).innermost
    if isinstance(tx, txs.ChannelOffchainTx | txs.ChannelDepositTx | txs.ChannelWithdrawTx):
        return tx.round
    assert isinstance(tx, txs.ChannelCreateTx), f"unexpected state {tx.TYPE}"
    return 1


async def _run_case(case: Case, sockets: bool = False) -> Outcome:
    async with _node(sockets) as node:
        i, r = _pair(node, sockets)
        total = i.params.initiator_amount + i.params.responder_amount
        try:
            if case.flow != "open":
                await _open(i, r, MUST_TIMEOUT)
            node.faults.cut(role=case.role, nth=case.step)
            error: str | None = None
            try:
                await FLOWS[case.flow](i, r)
            except ClientError as exc:  # the typed errors are the only acceptable failures
                error = type(exc).__name__
            # the flow may end before its last frames (the cut one) went out, and a
            # client notices a cut only when its reader gets to it: wait for both
            cut = i if case.role == "initiator" else r
            await _until(lambda: bool(node.faults.fired), f"{case}: the cut never happened")
            await _until(lambda: not cut.connected, f"{case}: the cut socket still looks open")
            node.faults.clear()
            kind = await _agreement(node, case.flow, i, r, total)
            return Outcome(error, kind)
        finally:
            await _close_all(i, r)


def _failures(cases: list[Case], outcomes: list[Outcome | BaseException]) -> list[str]:
    return [
        f"{c.role} step {c.step} ({c.what}): {type(o).__name__}: {o}"
        for c, o in zip(cases, outcomes, strict=True)
        if isinstance(o, BaseException)
    ]


def _check_outcomes(flow: str, cases: list[Case], outcomes: list[Outcome | BaseException]) -> None:
    failures = _failures(cases, outcomes)
    assert not failures, f"{flow}: " + "\n".join(failures)
    done = [o for o in outcomes if isinstance(o, Outcome)]
    kinds = {o.kind for o in done}
    # a cut is noticed: the side that was cut, at least, gets a typed error
    assert sum(o.error is not None for o in done) >= len(done) // 2, done
    if flow == "open":
        assert kinds == {"none", "open"}  # before the create tx is signed, after it
    elif flow == "shutdown":
        assert kinds == {"open", "closed"}  # the close happened or is still to do
    else:
        assert kinds == {"open"}


@pytest.mark.parametrize("flow", list(FLOWS))
async def test_a_cut_at_every_step_ends_in_agreement(flow: str) -> None:
    frames = await _steps(flow)
    cases = _cases(flow, frames)
    roles = {c.role for c in cases}
    assert roles == {"initiator", "responder"}, f"{flow}: both roles take part ({frames})"
    outcomes = await asyncio.gather(*(_run_case(c) for c in cases), return_exceptions=True)
    _check_outcomes(flow, cases, outcomes)


@pytest.mark.parametrize("flow", list(FLOWS))
async def test_cuts_over_real_sockets_end_in_agreement(flow: str) -> None:
    """The same over loopback WebSockets: the node drops the TCP connection itself."""
    cases = _cases(flow, await _steps(flow))
    outcomes = await asyncio.gather(
        *(_run_case(c, sockets=True) for c in cases), return_exceptions=True
    )
    _check_outcomes(flow, cases, outcomes)
    assert any(isinstance(o, Outcome) and o.error == "ConnectionLost" for o in outcomes)
