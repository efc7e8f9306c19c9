"""Disputes on the embedded node: close_solo, slash, settle, snapshot_solo and the chain model.

Driven in virtual time with blocks mined by hand (tests/node/harness.Harness), so each
test states exactly which frames each client gets and what the chain holds
(disputes-and-current-node.md part 1).
"""

from __future__ import annotations

import pytest

from chan_nb.codec import encoding, signing, trees, txs
from chan_nb.codec.ids import Id
from chan_nb.node import NodeConfig, NodeCore
from chan_nb.node.chain import Chain, ChannelObject, TxRejected
from chan_nb.node.fsm import State
from chan_nb.node.outofband import stale_close_solo
from chan_nb.protocol import methods
from tests.node.harness import (
    Harness,
    OpenChannel,
    decode_tx,
    error,
    info,
    note,
    open_channel,
    result,
)

ON_CHAIN = methods.ON_CHAIN_TX
LOCK_PERIOD = 10  # node_helpers' RECORDED_AMOUNTS open the channel with lock_period 10


@pytest.fixture
def h() -> Harness:
    return Harness(NodeCore(NodeConfig(block_interval=None)))


def channel_object(ch: OpenChannel) -> ChannelObject:
    on_chain = ch.h.core.chain.channel(encoding.decode(ch.channel_id, "ch"))
    assert on_chain is not None
    return on_chain


def on_chain_infos(frames: list[dict[str, object]]) -> list[tuple[str, str]]:
    found = []
    for frame in frames:
        if frame.get("method") == ON_CHAIN:
            data = frame["params"]["data"]
            found.append((data["info"], data["type"]))
    return found


def close_solo(ch: OpenChannel, conn: int, **params: int) -> txs.SignedTx:
    """Request, sign and return this side's close_solo (pushed, not yet mined)."""
    ch.h.request(conn, methods.CLOSE_SOLO, params, request_id=7)
    request = ch.h.last_sign_request(conn)
    assert request["method"] == "channels.sign.close_solo_sign"
    ch.sign_last(conn)
    return decode_tx(request["params"]["data"]["signed_tx"])


def settle_to_the_end(ch: OpenChannel, conn: int) -> None:
    ch.h.request(conn, methods.SETTLE, {})
    ch.sign_last(conn)
    for _ in range(LOCK_PERIOD + 5):
        ch.h.mine()


def test_close_solo_on_the_latest_state_then_settle(h: Harness) -> None:
    ch = open_channel(h)
    ch.transfer(ch.i, 5)
    h.take(ch.i), h.take(ch.r)
    before = {k.address: h.core.balance(k.address) for k in (ch.ikey, ch.rkey)}
    posted = close_solo(ch, ch.i)
    tx = posted.tx
    assert isinstance(tx, txs.ChannelCloseSoloTx)
    assert tx.payload_tx() is not None  # round 2 is not on chain yet: it goes as payload
    assert h.keys(ch.i) == [result(), note("channels.sign.close_solo_sign")]
    h.mine()
    frames_i, frames_r = h.take(ch.i), h.take(ch.r)
    assert on_chain_infos(frames_i) == [("solo_closing", "channel_close_solo_tx")]
    assert on_chain_infos(frames_r) == [("solo_closing", "channel_close_solo_tx")]
    assert [f["params"]["data"].get("event") for f in frames_r if f["method"] == methods.INFO] == [
        "closing"
    ]
    obj = channel_object(ch)
    assert obj.locked_until == h.core.chain.height + LOCK_PERIOD
    assert obj.round == 2
    # settle is signed at once and held until the lock expires
    h.request(ch.r, methods.SETTLE, {}, request_id=8)
    settle = decode_tx(h.last_sign_request(ch.r)["params"]["data"]["signed_tx"]).tx
    assert isinstance(settle, txs.ChannelSettleTx)
    balances = ch.balances(ch.r)
    assert (settle.initiator_amount_final, settle.responder_amount_final) == (
        balances[ch.ikey.address],
        balances[ch.rkey.address],
    )
    ch.sign_last(ch.r)
    h.take(ch.i), h.take(ch.r)
    h.mine(LOCK_PERIOD - 1)
    assert h.take(ch.i) == [] and not h.core.chain.mempool  # held: nothing posted yet
    h.mine(3)
    assert on_chain_infos(h.take(ch.i)) == [("channel_closed", "channel_settle_tx")]
    h.mine(5)
    assert [k for k in h.keys(ch.r) if k[1] == methods.INFO] == [
        info("closed_confirmed"),
        info("died"),
    ]
    h.sleep(0.1)  # the node closes the sockets just after died
    assert ch.i in h.closed and ch.r in h.closed
    after = {k.address: h.core.balance(k.address) for k in (ch.ikey, ch.rkey)}
    assert after[ch.ikey.address] - before[ch.ikey.address] == (balances[ch.ikey.address] - tx.fee)
    assert after[ch.rkey.address] - before[ch.rkey.address] == (
        balances[ch.rkey.address] - settle.fee
    )


def test_close_solo_on_the_on_chain_state_has_an_empty_payload(h: Harness) -> None:
    ch = open_channel(h)
    h.take(ch.i)
    posted = close_solo(ch, ch.i, fee=123456789876543)
    tx = posted.tx
    assert isinstance(tx, txs.ChannelCloseSoloTx)
    assert tx.payload == b"" and tx.fee == 123456789876543
    assert tx.nonce == h.core.chain.next_nonce(ch.ikey.public_key) - 1  # the one pushed
    poi = trees.Poi.decode(tx.poi)
    assert poi.state_hash() == channel_object(ch).state_hash


def test_a_stale_close_posted_out_of_band_is_slashed_then_settled(h: Harness) -> None:
    """As the node's test suite does: the responder pushes a round-1 close_solo itself."""
    ch = open_channel(h)
    poi = ch.ask(ch.i, methods.GET_POI, {"accounts": [ch.ikey.address, ch.rkey.address]})["poi"]
    ch.transfer(ch.i, 1)
    h.take(ch.i), h.take(ch.r)
    chain = h.core.chain
    channel = encoding.decode(ch.channel_id, "ch")
    signed = stale_close_solo(chain, channel, ch.rkey, encoding.decode(poi, "pi"))
    h.post(signed)
    h.mine()
    for conn in (ch.i, ch.r):  # both hold round 2: both may slash
        frames = h.take(conn)
        assert on_chain_infos(frames) == [("can_slash", "channel_offchain_tx")]
        assert frames[-1]["params"]["data"] == {"event": "closing"}
        assert h.core.fsm_of(conn).state is State.CHANNEL_CLOSING
    assert channel_object(ch).round == 1
    h.request(ch.i, methods.SLASH, {}, request_id=3)
    slash = decode_tx(h.last_sign_request(ch.i)["params"]["data"]["signed_tx"]).tx
    assert isinstance(slash, txs.ChannelSlashTx) and slash.payload_tx() is not None
    ch.sign_last(ch.i)
    h.take(ch.i)
    h.mine()
    assert on_chain_infos(h.take(ch.i)) == [("solo_closing", "channel_slash_tx")]
    frames_r = h.take(ch.r)
    assert on_chain_infos(frames_r) == [("solo_closing", "channel_slash_tx")]
    assert not any(f.get("params", {}).get("data") == {"event": "closing"} for f in frames_r)
    obj = channel_object(ch)
    assert obj.round == 2 and obj.locked_until == h.core.chain.height + LOCK_PERIOD
    settle_to_the_end(ch, ch.r)
    assert on_chain_infos(h.take(ch.i))[0] == ("channel_closed", "channel_settle_tx")
    assert channel_object(ch).closed


def test_snapshot_rules_and_reports(h: Harness) -> None:
    ch = open_channel(h)
    h.take(ch.i)
    h.request(ch.i, methods.SNAPSHOT_SOLO, {}, request_id=1)  # round 1 is the create tx
    assert h.keys(ch.i) == [error(2, 1012)]
    ch.transfer(ch.i, 1)
    h.take(ch.i), h.take(ch.r)
    h.request(ch.i, methods.SNAPSHOT_SOLO, {}, request_id=2)
    assert h.inbox[ch.i][0].get("result") == "ok"  # before the sign request
    ch.sign_last(ch.i)
    assert h.core.fsm_of(ch.i).state is State.OPEN
    ch.transfer(ch.r, 1)  # updates go on while the snapshot waits for a block
    h.take(ch.i), h.take(ch.r)
    h.mine(5)
    frames_i, frames_r = h.take(ch.i), h.take(ch.r)
    assert on_chain_infos(frames_i) == [("channel_changed", "channel_snapshot_solo_tx")]
    assert on_chain_infos(frames_r) == [("channel_changed", "channel_snapshot_solo_tx")]
    depth = [f["params"]["data"] for f in frames_i if f.get("method") == methods.INFO]
    assert [d["event"] for d in depth] == ["min_depth_achieved"]
    assert not any(f.get("method") == methods.INFO for f in frames_r)  # only the poster
    assert channel_object(ch).round == 2
    h.request(ch.r, methods.SNAPSHOT_SOLO, {}, request_id=3)  # round 3 is newer: fine
    assert h.inbox[ch.r][0].get("result") == "ok"
    ch.sign_last(ch.r)
    h.mine(5)
    h.take(ch.r)
    h.request(ch.r, methods.SNAPSHOT_SOLO, {}, request_id=4)  # nothing newer
    assert h.keys(ch.r) == [error(3, 1013)]


def test_wrong_use_gets_the_nodes_answers(h: Harness) -> None:
    ch = open_channel(h)
    h.take(ch.i)
    for method in (methods.SLASH, methods.SETTLE):
        h.request(ch.i, method, {}, request_id=1)
        assert h.keys(ch.i) == [error(-32603)]  # channel_not_closing
    h.request(ch.i, methods.CLOSE_SOLO, {"fee": "abc"}, request_id=1)
    assert h.keys(ch.i) == [error(-32603)]  # {fee, invalid}
    h.request(ch.i, methods.CLOSE_SOLO, {"fee": 1}, request_id=1)
    assert h.keys(ch.i) == [error(-32603)]  # too_low_fee
    h.request(ch.i, methods.CLOSE_SOLO, {"fee": "123456789876543"}, request_id=1)
    assert h.keys(ch.i) == [result(), note("channels.sign.close_solo_sign")]
    h.send(ch.i, {"jsonrpc": "2.0", "method": "channels.close_solo_sign", "params": {"error": 42}})
    assert h.keys(ch.i) == [info("aborted_update")]
    close_solo(ch, ch.i)
    h.mine()
    h.take(ch.i)
    for method in (methods.CLOSE_SOLO, methods.SNAPSHOT_SOLO):
        h.request(ch.i, method, {}, request_id=1)
        assert h.keys(ch.i) == [error(-32603)]  # channel_closing
    h.request(ch.i, methods.SLASH, {}, request_id=2)  # nothing newer: built anyway
    assert h.keys(ch.i)[-1] == note("channels.sign.slash_tx")
    h.send(ch.i, {"jsonrpc": "2.0", "method": "channels.slash_tx", "params": {"error": 42}})
    assert h.keys(ch.i) == [info("aborted_update")]
    assert h.core.fsm_of(ch.i).state is State.CHANNEL_CLOSING
    h.send(
        ch.i, {"jsonrpc": "2.0", "method": "channels.slash_tx", "params": {"error": 42}, "id": 9}
    )
    assert h.keys(ch.i) == [error(3, 1018)]


def test_a_push_the_mempool_refuses_is_a_code_5_conflict(h: Harness) -> None:
    ch = open_channel(h)
    h.take(ch.i)
    h.request(ch.i, methods.CLOSE_SOLO, {"nonce": 1234567}, request_id=1)
    assert decode_tx(h.last_sign_request(ch.i)["params"]["data"]["signed_tx"]).tx.nonce == 1234567
    ch.sign_last(ch.i)
    frames = h.take(ch.i)
    conflict = [f for f in frames if f.get("method") == methods.CONFLICT]
    assert conflict and conflict[0]["params"]["data"]["error_code"] == 5
    assert not h.core.chain.mempool
    assert h.core.fsm_of(ch.i).state is State.OPEN


def test_the_chain_checks_solo_txs_as_the_node_does(h: Harness) -> None:
    ch = open_channel(h)
    chain: Chain = h.core.chain
    obj = channel_object(ch)
    closer = close_solo(ch, ch.i)
    h.mine()
    assert not obj.active
    # a second close_solo on a closing channel is refused at inclusion
    again = txs.ChannelCloseSoloTx(
        closer.tx.channel_id,
        Id.account(ch.rkey.public_key),
        b"",
        closer.tx.poi,
        0,
        10**15,
        chain.next_nonce(ch.rkey.public_key),
    )
    signed = txs.SignedTx.wrap(again)
    signed = signed.with_signature(signing.sign(signed.tx_bytes, ch.rkey, chain.network_id))
    chain.post(signed)
    chain.mine()
    assert "channel_not_active" in chain.rejected[signed.hash]
    # a settle with amounts other than the closing state's never makes it
    wrong = txs.ChannelSettleTx(
        closer.tx.channel_id,
        Id.account(ch.rkey.public_key),
        1,
        2,
        0,
        10**15,
        chain.next_nonce(ch.rkey.public_key),
    )
    signed = txs.SignedTx.wrap(wrong)
    signed = signed.with_signature(signing.sign(signed.tx_bytes, ch.rkey, chain.network_id))
    chain.post(signed)
    chain.mine()
    assert signed.hash in [s.hash for s in chain.mempool]  # locked: kept for later
    for _ in range(LOCK_PERIOD + 1):
        chain.mine()
    assert "wrong_amt" in chain.rejected[signed.hash]
    with pytest.raises(TxRejected, match="window"):
        bad = txs.ChannelSettleTx(
            closer.tx.channel_id,
            Id.account(ch.rkey.public_key),
            1,
            2,
            0,
            10**15,
            99,
        )
        wrapped = txs.SignedTx.wrap(bad)
        chain.check_push(
            wrapped.with_signature(signing.sign(wrapped.tx_bytes, ch.rkey, chain.network_id))
        )


def test_with_blocks_on_a_timer_a_held_settle_goes_through_by_itself() -> None:
    h = Harness(NodeCore(NodeConfig(block_interval=0.01)))
    ch = open_channel(h, confirm=False)
    h.sleep(1.0)  # blocks come while a tx waits: the channel opens
    h.take(ch.i), h.take(ch.r)
    close_solo(ch, ch.i)
    h.sleep(0.5)
    assert on_chain_infos(h.take(ch.r)) == [("solo_closing", "channel_close_solo_tx")]
    h.take(ch.i)
    h.request(ch.r, methods.SETTLE, {})
    ch.sign_last(ch.r)
    assert h.core.fsm_of(ch.r).held_settle is not None
    h.sleep(2.0)  # nothing else needs blocks: the held settle keeps the chain moving
    assert on_chain_infos(h.take(ch.i)) == [("channel_closed", "channel_settle_tx")]
    assert channel_object(ch).closed
