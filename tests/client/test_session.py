"""Sessions against the embedded node, over loopback WebSockets and in memory."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from chan_nb.client import (
    ChannelConflict,
    ConnectionLost,
    MemoryTransport,
    NodeError,
    Recorder,
    Session,
    SigningPolicy,
    Status,
    Timeout,
    WebSocketTransport,
    new_pair,
    open_pair,
    pair_params,
)
from chan_nb.client import events as ev
from chan_nb.codec import trees, txs
from chan_nb.codec.encoding import decode
from chan_nb.codec.keys import Keypair
from chan_nb.node import EmbeddedNode
from chan_nb.recording import load

STEP = 10.0  # seconds any single await in these tests may take


@pytest.fixture
async def node() -> AsyncIterator[EmbeddedNode]:
    async with EmbeddedNode() as started:
        yield started


@pytest.fixture(params=["websocket", "memory"])
def via(request: pytest.FixtureRequest, node: EmbeddedNode) -> dict[str, Any]:
    """Session options selecting the transport (real loopback sockets or in memory)."""
    if request.param == "memory":
        return {"transport": MemoryTransport(node)}
    return {}


async def pair(node: EmbeddedNode, via: dict[str, Any], **kw: Any) -> tuple[Session, Session]:
    return await open_pair(node, timeout=STEP, **via, **kw)


def pk(address: str) -> bytes:
    return decode(address, "ak")


async def test_open_pair_gives_two_open_sessions(node: EmbeddedNode, via: dict[str, Any]) -> None:
    i, r = await pair(node, via)
    assert i.status is Status.OPEN and r.status is Status.OPEN
    assert i.round == r.round == 1
    expected = {i.address: 70_000_000_000_000 - 1, r.address: 40_000_000_000_000 + 1}
    assert i.balances == r.balances == expected
    assert i.channel_id is not None and i.channel_id == r.channel_id
    assert i.fsm_id is not None and r.fsm_id is not None and i.fsm_id != r.fsm_id
    assert i.offchain_tx == r.offchain_tx
    assert i.log is r.log and i.recorder is r.recorder
    await asyncio.gather(i.close(), r.close())


async def test_transfers_both_ways_agree_with_the_node(
    node: EmbeddedNode, via: dict[str, Any]
) -> None:
    i, r = await pair(node, via)
    state = await i.transfer(r.address, 10)
    assert state.round == 2 and i.round == 2
    await r.wait_for(lambda e: r.round == 2, timeout=STEP, include_past=True)
    state = await r.transfer(i.address, 3)
    assert state.round == 3
    await i.wait_for(lambda e: i.round == 3, timeout=STEP, include_past=True)
    reported = await i.balances()
    assert reported == {i.address: 69_999_999_999_992, r.address: 40_000_000_000_008}
    assert i.balances.known and dict(i.balances) == reported
    assert i.balances == r.balances == reported
    assert await r.balances_of([r.address]) == {r.address: 40_000_000_000_008}
    await asyncio.gather(i.close(), r.close())


async def test_message_offchain_state_and_poi(node: EmbeddedNode, via: dict[str, Any]) -> None:
    i, r = await pair(node, via)
    waiting = asyncio.ensure_future(r.wait_for("channels.message", timeout=STEP))
    await asyncio.sleep(0)
    await i.message(r.address, "Hello")
    message = await waiting
    assert isinstance(message, ev.Message)
    assert (message.sender, message.recipient, message.info) == (i.address, r.address, "Hello")
    await r.message(i.address, "Hello back", with_id=True)  # confirmed by the node's "ok"
    state = await i.offchain_state()
    assert state.signed_tx == i.offchain_tx
    assert state.half_signed_tx == ""
    assert trees.StateTrees.from_api(state.trees).balances() == {
        pk(a): b for a, b in (i.balances or {}).items()
    }
    proof = trees.Poi.from_api(await r.poi())
    assert proof.balance_of(pk(i.address)) == 69_999_999_999_999
    inner = txs.decode_api(state.signed_tx)
    assert isinstance(inner, txs.SignedTx)
    assert proof.state_hash() == inner.innermost.state_hash  # type: ignore[attr-defined]
    assert await i.ping() == {"action": "system", "tag": "pong"}
    await asyncio.gather(i.close(), r.close())


async def test_shutdown_closes_both_sides(node: EmbeddedNode, via: dict[str, Any]) -> None:
    i, r = await pair(node, via)
    await i.transfer(r.address, 5)
    close_tx = await r.shutdown(timeout=STEP)
    await i.wait_closed(timeout=STEP)
    assert r.status is Status.DIED and i.status is Status.DIED
    assert not i.connected and not r.connected
    signed = txs.decode_api(close_tx)
    assert isinstance(signed, txs.SignedTx)
    close = signed.innermost
    assert isinstance(close, txs.ChannelCloseMutualTx)
    assert close.from_id.api == r.address
    total = 70_000_000_000_000 + 40_000_000_000_000
    assert close.initiator_amount_final + close.responder_amount_final + close.fee == total
    names = [e.name for e in i.events]
    assert names.index("closing") < names.index("closed_confirmed") < names.index("died")


async def test_node_errors_are_typed(node: EmbeddedNode, via: dict[str, Any]) -> None:
    i, r = await pair(node, via)
    with pytest.raises(NodeError) as too_much:
        await i.transfer(r.address, 10**20)
    assert (too_much.value.code, too_much.value.data_code) == (3, 1001)
    assert too_much.value.data_message == "Insufficient balance"
    assert too_much.value.request["method"] == "channels.update.new"
    with pytest.raises(NodeError) as negative:
        await i.transfer(r.address, -1)
    assert negative.value.data_code == 1002
    with pytest.raises(NodeError) as garbled:
        await i.transfer("ABCDEF", 1)
    assert garbled.value.data_code == 1005
    with pytest.raises(NodeError) as unknown:
        await i.call("channels.no_such_method", {})
    assert unknown.value.code == -32601
    assert i.round == 1 and i.status is Status.OPEN  # nothing changed
    await asyncio.gather(i.close(), r.close())


async def test_every_wait_has_a_timeout_naming_what_was_awaited(
    node: EmbeddedNode, via: dict[str, Any]
) -> None:
    i, r = new_pair(node, timeout=0.3, **via)
    await i.connect()
    with pytest.raises(Timeout) as opening:
        await i.open()  # the responder never comes
    assert "the channel to open" in str(opening.value)
    with pytest.raises(Timeout) as nothing:
        await i.wait_for("zombie_channel", timeout=0.05)
    assert "zombie_channel (initiator)" in str(nothing.value)
    assert nothing.value.seconds == 0.05
    await i.close()
    await r.close()


async def test_lost_node_is_a_connection_error() -> None:
    async with EmbeddedNode() as gone:
        url = gone.url
    i, _ = new_pair(url, network_id="local_iris_testnet", timeout=2.0)
    with pytest.raises(ConnectionLost, match="cannot open"):
        await i.connect()


async def test_connect_time_errors_raise_and_close(node: EmbeddedNode, via: dict[str, Any]) -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    bad = pair_params(ikey, rkey, channel_reserve=-1)
    i, _ = new_pair(node, initiator_key=ikey, responder_key=rkey, params=bad, **via)
    with pytest.raises(NodeError) as rejected:
        await i.connect(timeout=STEP)
    assert (rejected.value.code, rejected.value.data_code) == (3, 105)
    assert rejected.value.request == {}
    assert not i.connected
    assert [f.direction.value for f in i.log] == ["open", "received", "close"]


async def test_disconnect_conflict_cosign_and_reconnect(
    node: EmbeddedNode, via: dict[str, Any]
) -> None:
    """The seed session's story, step by step."""
    i, r = await pair(node, via)
    rkey = Keypair.from_seed(r.signer.keypair.secret_seed())
    await r.disconnect()
    assert r.status is Status.DISCONNECTED and not r.connected
    with pytest.raises(ChannelConflict) as conflict:
        await i.transfer(r.address, 1, timeout=STEP)
    assert (conflict.value.error_code, conflict.value.error_msg, conflict.value.round) == (
        2,
        "conflict",
        1,
    )
    assert i.round == 1
    state = await i.transfer(r.address, 1, cosigners=[rkey], timeout=STEP)
    assert state.round == 2 and i.round == 2
    for fsm_id, code in ((None, 2000), ("Invalid", 1016), ("ba_0l8E77UMjdvRtTsx", 1016)):
        with pytest.raises(NodeError) as refused:
            await r.reconnect(fsm_id, timeout=STEP)
        assert refused.value.data_code == code
        assert not r.connected
    stranger = "ba_KhTOHOVl3M8xvXcfbJWs4t5asEPIrJcDgsw9t9PyiFJ/ZPT6"
    with pytest.raises(NodeError, match="1016"):
        await r.reconnect(stranger, timeout=STEP)
    before = r.fsm_id
    up = await r.reconnect(timeout=STEP)
    assert up.fsm_id == before and r.fsm_id == before
    assert r.status is Status.OPEN and r.round == 2  # resynchronised from the node
    # round 2 was made while away: its balances come from the trees of the node's
    # get.offchain_state reply, taken because they hash to the verified round-2 state
    assert r.balances.known and r.balances == i.balances
    reported = await r.balances()
    assert r.balances == reported == i.balances
    await r.shutdown(timeout=STEP)
    await i.wait_closed(timeout=STEP)


async def test_leave_and_reestablish(node: EmbeddedNode, via: dict[str, Any]) -> None:
    i, r = await pair(node, via)
    await i.transfer(r.address, 7)
    await r.wait_for(lambda e: r.round == 2, timeout=STEP, include_past=True)
    left = await i.leave(timeout=STEP)
    assert left.round == 2 and left.state == i.offchain_tx
    await r.wait_closed(timeout=STEP)
    assert i.status is Status.DIED and r.status is Status.DIED
    old_i, old_r = i.fsm_id, r.fsm_id
    opened = await asyncio.gather(r.reestablish(timeout=STEP), i.reestablish(timeout=STEP))
    assert [s.round for s in opened] == [2, 2]
    assert i.status is Status.OPEN and r.status is Status.OPEN
    assert i.fsm_id != old_i and r.fsm_id != old_r  # a reestablish starts new FSMs
    assert i.balances == r.balances == await i.balances_of()
    state = await r.transfer(i.address, 2)
    assert state.round == 3
    await asyncio.gather(i.close(), r.close())


async def test_deposit_and_withdraw(node: EmbeddedNode, via: dict[str, Any]) -> None:
    i, r = await pair(node, via)
    before = dict(i.balances or {})
    state = await i.deposit(1000, timeout=STEP)
    assert state.round == 2 and state.tx_type == "channel_deposit_tx"
    await r.wait_for(lambda e: r.round == 2, timeout=STEP, include_past=True)
    state = await r.withdraw(400, timeout=STEP)
    assert state.round == 3 and state.tx_type == "channel_withdraw_tx"
    await i.wait_for(lambda e: i.round == 3, timeout=STEP, include_past=True)
    expected = {i.address: before[i.address] + 1000, r.address: before[r.address] - 400}
    assert i.balances == r.balances == expected == await r.balances_of()
    await asyncio.gather(i.close(), r.close())


async def test_manual_signing_approve_and_reject(node: EmbeddedNode, via: dict[str, Any]) -> None:
    i, r = await pair(node, via)
    r.policy = SigningPolicy(mode="manual")
    transfer = asyncio.ensure_future(i.transfer(r.address, 4, timeout=STEP))
    pending = await r.wait_for_signature_request(timeout=STEP)
    assert pending.tag == "update_ack" and pending.problems == ()
    assert pending.describe()["updates"][0]["amount"] == 4
    await r.approve(pending)
    assert (await transfer).round == 2
    transfer = asyncio.ensure_future(i.transfer(r.address, 4, timeout=STEP))
    pending = await r.wait_for_signature_request(timeout=STEP)
    await r.reject(pending, code=200)
    with pytest.raises(ChannelConflict) as refused:
        await transfer
    assert (refused.value.error_code, refused.value.error_msg) == (200, "user-defined")
    assert i.round == 2 and r.pending_signatures == []
    await asyncio.gather(i.close(), r.close())


async def test_auto_policy_refusal_aborts(node: EmbeddedNode, via: dict[str, Any]) -> None:
    i, r = await pair(node, via)
    r.policy = SigningPolicy(accept=lambda request: False)
    with pytest.raises(ChannelConflict) as refused:
        await i.transfer(r.address, 1, timeout=STEP)
    assert refused.value.error_code == r.policy.abort_code
    found = await r.wait_for("refused", include_past=True, timeout=STEP)
    assert isinstance(found, ev.Refused) and found.problems == ("declined by the accept hook",)
    await asyncio.gather(i.close(), r.close())


async def test_recording_merges_both_roles_without_secrets(
    node: EmbeddedNode, via: dict[str, Any], tmp_path: Any
) -> None:
    recorder = Recorder("live")
    ikey, rkey = Keypair.generate(), Keypair.generate()
    i, r = await pair(node, via, recorder=recorder, initiator_key=ikey, responder_key=rkey)
    await i.transfer(r.address, 1)
    await r.disconnect()
    await r.reconnect(timeout=STEP)
    await r.shutdown(timeout=STEP)
    await i.wait_closed(timeout=STEP)
    frames = recorder.frames
    assert [f.seq for f in frames] == list(range(1, len(frames) + 1))
    assert {f.role for f in frames} == {"initiator", "responder"}
    assert [f.conn for f in frames if f.role == "responder" and f.direction.value == "open"] == [
        1,
        2,
    ]
    assert all(f.t_wall is not None and f.t_mono is not None for f in frames)
    monotonic = [f.t_mono for f in frames if f.t_mono is not None]
    assert monotonic == sorted(monotonic)
    df = i.frames
    assert len(df) == len(frames) and "error_code" in df.columns
    jsonl = recorder.save(tmp_path / "live.jsonl")
    md = recorder.save(tmp_path / "live.md")
    assert [f.primary() for f in load(jsonl).frames] == [f.primary() for f in frames]
    assert [f.raw for f in load(md).frames] == [f.raw for f in frames]
    for key in (ikey, rkey):
        seed = key.secret_seed()
        for text in (jsonl.read_text(), md.read_text()):
            assert seed.hex() not in text
            assert seed.hex().upper() not in text
            assert base64.b64encode(seed).decode()[:40] not in text


CutRule = Callable[[str, str, str], bool]


class CuttingTransport:
    """Wraps a transport; closes ``role``'s first socket after a matching frame."""

    def __init__(self, inner: Any, when: CutRule) -> None:
        self.inner = inner
        self.when = when
        self.armed = False  # only cut once the channel is open
        self.cut = asyncio.Event()

    async def connect(self, url: str) -> Any:
        conn = await self.inner.connect(url)
        return _CuttingConnection(conn, self)


class _CuttingConnection:
    def __init__(self, conn: Any, owner: CuttingTransport) -> None:
        self.conn = conn
        self.owner = owner

    async def _maybe_cut(self, direction: str, text: str) -> None:
        owner = self.owner
        if owner.armed and not owner.cut.is_set() and owner.when(direction, text, ""):
            owner.cut.set()
            await self.conn.close()

    def send_now(self, text: str) -> bool:
        return False

    async def send(self, text: str) -> None:
        await self.conn.send(text)
        await self._maybe_cut("sent", text)

    async def recv(self) -> str:
        text: str = await self.conn.recv()
        await self._maybe_cut("received", text)
        return text

    async def close(self) -> None:
        await self.conn.close()


def _has(fragment: str) -> CutRule:
    return lambda direction, text, _: fragment in text


#: (name, who is cut, the frame after which the socket is cut, coins the cut transfer moved):
#: before the starter's or the acknowledger's signature left, the round is rolled back
#: (the FSM's timers fire); after both signatures left, it is made.
CUT_POINTS = [
    ("starter-after-update.new", "initiator", _has('"channels.update.new"'), 0),
    ("starter-after-sign.update", "initiator", _has('"channels.sign.update"'), 0),
    ("starter-after-signing", "initiator", _has('"method":"channels.update","params":{"signed'), 5),
    ("acknowledger-after-info.update", "responder", _has('"event":"update"'), 0),
    ("acknowledger-after-sign.update_ack", "responder", _has('"channels.sign.update_ack"'), 0),
    ("acknowledger-after-signing", "responder", _has('"channels.update_ack"'), 5),
    ("acknowledger-after-new-state", "responder", _has('"data":{"state"'), 5),
]


@pytest.mark.parametrize(
    ("name", "victim", "rule", "moved"), CUT_POINTS, ids=[c[0] for c in CUT_POINTS]
)
async def test_socket_cut_during_a_transfer_then_reconnect(
    name: str, victim: str, rule: CutRule, moved: int, via: dict[str, Any], node: EmbeddedNode
) -> None:
    """Whatever step the cut hits, after reconnecting both sides agree on round and balances."""
    inner = via.get("transport")
    cutter = CuttingTransport(inner or WebSocketTransport(), rule)
    ikey, rkey = Keypair.generate(), Keypair.generate()
    # short FSM timers, so an update left hanging by the cut is rolled back quickly
    params = pair_params(ikey, rkey, timeouts={"sign": 600, "accept": 600})
    keys = {"initiator_key": ikey, "responder_key": rkey, "params": params}
    i, r = new_pair(node, timeout=STEP, **keys, **via)
    target = i if victim == "initiator" else r
    target.transport = cutter
    await i.connect()
    await r.connect()
    await asyncio.gather(i.open(), r.open())
    cutter.armed = True
    with contextlib.suppress(ConnectionLost, ChannelConflict):
        await i.transfer(r.address, 5)
    await cutter.cut.wait()
    await target.wait_for("closed", include_past=True, timeout=STEP)
    target.transport = inner or WebSocketTransport()
    await target.reconnect(timeout=STEP)
    # keep trying until the node is out of the interrupted round (its timers roll it back)
    for _attempt in range(20):
        try:
            final = await i.transfer(r.address, 1, timeout=STEP)
            break
        except ChannelConflict:
            await asyncio.sleep(0.1)
    else:
        raise AssertionError("the channel never became usable again")
    await r.wait_for(lambda e: r.round == final.round, timeout=STEP, include_past=True)
    node_view = await i.balances_of()
    await r.balances_of()  # the reconnected side may have missed a round: ask the node
    assert i.round == r.round == final.round
    assert i.balances == r.balances == node_view
    assert sum(node_view.values()) == 110_000_000_000_000
    # the cut transfer happened entirely or not at all, then the retry moved 1 more
    assert node_view[r.address] - 40_000_000_000_001 == moved + 1, name
    assert final.round == (3 if moved else 2)
    await asyncio.gather(i.close(), r.close())
