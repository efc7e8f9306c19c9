"""JSON-RPC framing, connect parameters, error tables and the chain model of the embedded node."""

from __future__ import annotations

import contextlib
import json
import logging
import random
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chan_nb.codec import encoding, signing
from chan_nb.codec.ids import Id
from chan_nb.codec.keys import Keypair
from chan_nb.codec.txs import SignedTx, SpendTx
from chan_nb.node import NodeConfig, NodeCore
from chan_nb.node import params as node_params
from chan_nb.node.chain import Chain
from chan_nb.node.fees import close_mutual_amounts, minimum_depth
from chan_nb.node.params import DepthStrategy, ExistingParams, OpenParams, Rejection
from chan_nb.protocol import codes, frames, methods
from chan_nb.protocol.codes import Reason
from tests.node.harness import Harness, connect_params, error, info, note, open_channel, result


@pytest.fixture
def h() -> Harness:
    return Harness(NodeCore(NodeConfig(block_interval=None)))


# -- frames and codes ----------------------------------------------------------------------------


def test_error_frames_carry_the_nodes_exact_messages() -> None:
    frame = frames.error(None, None, Reason.EXISTING_FSM_ID_MISSING, {})
    assert frame == {
        "jsonrpc": "2.0",
        "id": None,
        "channel_id": None,
        "error": {
            "code": 3,
            "message": "Rejected",
            "data": [{"code": 2000, "message": "Missing field: existing_fsm_id"}],
            "request": {},
        },
        "version": 1,
    }
    internal = frames.error(7, "ch_x", Reason.INTERNAL, {"method": "m"})
    assert internal["error"] == {
        "code": -32603,
        "message": "Internal error",
        "request": {"method": "m"},
    }
    assert codes.conflict_message(2) == "conflict"
    assert codes.conflict_message(42) == "unknown"
    assert codes.conflict_message(128) == "user-defined"
    assert codes.reason_of(3, (1016,)) is Reason.INVALID_FSM_ID
    assert frames.encode({"b": 1, "a": [2]}) == '{"a":[2],"b":1}'


def test_summaries_classify_node_frames() -> None:
    s = frames.summarize(frames.info(None, "fsm_up", fsm_id="ba_x"))
    assert (s.kind, s.method, s.event, s.channel_id) == (
        frames.FrameKind.NOTIFICATION,
        methods.INFO,
        "fsm_up",
        None,
    )
    conflict = frames.notification(methods.CONFLICT, "ch_1", {"error_code": 3})
    assert frames.summarize(conflict).error_code == 3
    sign = frames.notification("channels.sign.update", "ch_1", {})
    assert frames.summarize(sign).kind is frames.FrameKind.SIGN_REQUEST
    err = frames.summarize(frames.error(1, None, Reason.NOT_READY, {}))
    assert (err.kind, err.error_code, err.data_codes) == (frames.FrameKind.ERROR, 3, (108,))
    assert frames.summarize([1, 2]).kind is frames.FrameKind.OTHER


def test_every_reason_maps_to_known_codes() -> None:
    for reason, spec in codes.REASONS.items():
        assert spec.code in codes.RPC_MESSAGES, reason
        assert all(code in codes.DATA_MESSAGES for code in spec.data), reason
    assert all(kind.replies for kind in methods.SIGN_KINDS)
    assert methods.SIGN_BY_REPLY["channels.slash_tx"].fsm_tag == "slash_tx"


# -- the JSON-RPC layer ----------------------------------------------------------------------------


@pytest.mark.parametrize("request_id", [0, -576460752303423456, 2**70, "abc", 1.5])
def test_ids_are_echoed_exactly(h: Harness, request_id: object) -> None:
    ch = open_channel(h)
    h.take(ch.i)
    h.request(ch.i, methods.SYSTEM, {"action": "ping"}, request_id=request_id)
    (reply,) = h.take(ch.i)
    assert reply["id"] == request_id and type(reply["id"]) is type(request_id)
    assert reply["result"] == {"action": "system", "tag": "pong"}
    assert reply["channel_id"] == ch.channel_id


def test_silently_dropped_frames(h: Harness) -> None:
    ch = open_channel(h)
    h.take(ch.i)
    for text in (
        "not json",
        '{"jsonrpc":"1.0","method":"channels.system","params":{}}',
        '{"jsonrpc":"2.0","params":{}}',
        "42",
        "[]",
    ):
        h.send(ch.i, text)
    assert h.take(ch.i) == []


def test_unknown_methods_and_missing_params(h: Harness) -> None:
    ch = open_channel(h)
    h.take(ch.i)
    for method, params in (
        ("channels.nope", {}),
        (methods.UPDATE_NEW, {"from": ch.ikey.address}),
        (methods.GET_BALANCES, {}),
        (methods.SYSTEM, {"action": "dance"}),
        ("channels.get.round", {}),
    ):
        h.request(ch.i, method, params)
    assert h.keys(ch.i) == [error(-32601)] * 5


def test_reads_without_an_id_come_back_as_reply_notifications(h: Harness) -> None:
    ch = open_channel(h)
    h.take(ch.i)
    h.request(ch.i, methods.GET_BALANCES, {"accounts": [ch.rkey.address]})
    h.request(ch.i, methods.SYSTEM, {"action": "ping"})
    h.request(ch.i, methods.GET_BALANCES, {"accounts": [ch.rkey.address, "ak_broken"]})
    frames_ = h.take(ch.i)
    assert [f.get("method") for f in frames_] == [
        "channels.get.balances.reply",
        methods.PONG,
        None,
    ]
    assert frames_[0]["params"]["data"] == [
        {"account": ch.rkey.address, "balance": 40_000_000_000_001}
    ]
    assert frames_[0]["params"]["channel_id"] == ch.channel_id
    assert frames_[2]["id"] is None and frames_[2]["error"]["data"][0]["code"] == 1005


def test_balances_keep_request_order_and_omit_strangers(h: Harness) -> None:
    ch = open_channel(h)
    stranger = Keypair.generate().address
    entries = ch.ask(
        ch.i, methods.GET_BALANCES, {"accounts": [ch.rkey.address, stranger, ch.ikey.address]}
    )
    assert [e["account"] for e in entries] == [ch.rkey.address, ch.ikey.address]


def test_a_batch_gets_one_array_of_replies(h: Harness) -> None:
    ch = open_channel(h)
    h.take(ch.i)
    batch = [
        frames.request(methods.SYSTEM, {"action": "ping"}, 1),
        frames.request(methods.GET_BALANCES, {"accounts": [ch.ikey.address]}, 2),
        frames.request("channels.nope", {}, 3),
    ]
    h.send(ch.i, json.dumps(batch))
    (replies,) = h.take(ch.i)
    assert [r["id"] for r in replies] == [1, 2, 3]
    assert replies[2]["error"]["code"] == -32601
    h.send(ch.i, json.dumps(batch[:1]))
    (single,) = h.take(ch.i)
    assert single["id"] == 1


def test_pong_carries_the_handlers_cached_channel_id(h: Harness) -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    i = h.connect(connect_params(ikey, rkey, "initiator"))
    h.request(i, methods.SYSTEM, {"action": "ping"})
    assert h.take(i)[-1]["params"]["channel_id"] is None


def test_calls_in_handshake_states_are_not_ready(h: Harness) -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    i = h.connect(connect_params(ikey, rkey, "initiator"))
    h.take(i)
    h.request(i, methods.GET_BALANCES, {"accounts": []}, 1)
    h.request(i, methods.MESSAGE, {"to": rkey.address, "info": "hi"}, 2)
    assert h.keys(i) == [error(3, 108, null_channel=True)] * 2


def test_an_update_during_funding_lock_waits_for_open(h: Harness) -> None:
    ch = open_channel(h, confirm=False)
    h.take(ch.i)
    h.request(
        ch.i, methods.UPDATE_NEW, {"from": ch.ikey.address, "to": ch.rkey.address, "amount": 1}, 9
    )
    h.request(ch.i, methods.SYSTEM, {"action": "ping"}, 10)
    assert h.take(ch.i) == []  # the handler is blocked: later frames wait too
    for _ in range(6):
        h.mine()
    assert h.keys(ch.i) == [
        result(),  # the postponed call is answered first …
        note(ON_CHAIN, "channel_changed"),  # … then what the FSM reported meanwhile
        info("own_funding_locked"),
        info("funding_locked"),
        info("open"),
        note(methods.UPDATE),
        note(methods.SIGN_PREFIX + "update"),
        result(),  # and the ping that waited behind it
    ]


ON_CHAIN = methods.ON_CHAIN_TX


def test_messages_reach_the_peer_and_unknown_recipients_fail(h: Harness) -> None:
    ch = open_channel(h)
    h.take(ch.r)
    h.request(ch.i, methods.MESSAGE, {"to": ch.rkey.address, "info": "hej"}, 3)
    assert h.take(ch.i)[-1]["result"] == "ok"
    (msg,) = h.take(ch.r)
    assert msg["params"]["data"]["message"] == {
        "channel_id": ch.channel_id,
        "from": ch.ikey.address,
        "to": ch.rkey.address,
        "info": "hej",
    }
    h.request(ch.i, methods.MESSAGE, {"to": Keypair.generate().address, "info": "x"})
    h.request(ch.i, methods.MESSAGE, {"to": ch.rkey.address, "info": 17})
    h.request(ch.i, methods.MESSAGE, {"to": ch.rkey.address, "info": "x" * 65_001})
    assert [f["error"]["code"] for f in h.take(ch.i)] == [-32603, -32000, -32000]


def test_malformed_contract_requests_get_the_nodes_errors(h: Harness) -> None:
    ch = open_channel(h)
    h.take(ch.i)
    contract = encoding.encode("ct", bytes(32))
    h.request(ch.i, methods.FORCE_PROGRESS, {})
    h.request(
        ch.i,
        methods.NEW_CONTRACT,
        {
            "vm_version": 5,
            "abi_version": 3,
            "deposit": 1,
            "code": "nope",
            "call_data": "cb_AAAAAAAAAA==",
        },
    )
    h.request(
        ch.i,
        methods.CALL_CONTRACT,
        {
            "contract_id": contract,
            "abi_version": "1",
            "amount": 0,
            "call_data": "cb_AAAAAAAAAA==",
        },
    )
    h.request(ch.i, methods.GET_CONTRACT, {"pubkey": contract})
    h.request(ch.i, methods.GET_POI, {"accounts": ["ak_x"], "contracts": ["ct_y"]})
    h.request(ch.i, methods.GET_POI, {"accounts": [Keypair.generate().address]})
    assert h.keys(ch.i) == [
        error(-32601),  # force_progress without its mandatory params, as any request
        error(3, 1009),
        error(3, 1008),
        error(3, 100),
        error(3, 1005, 1006),
        error(3, 100),
    ]


def test_one_broken_client_does_not_disturb_another_channel(h: Harness) -> None:
    good = open_channel(h, port=1)
    bad = open_channel(h, port=2)
    for junk in (
        "{",
        '{"jsonrpc":"2.0","method":"channels.update","params":{"signed_tx":"tx_AAAA"}}',
        json.dumps(frames.request(methods.SYSTEM, {"action": "stop"}, 1)),
    ):
        h.send(bad.i, junk)
    good.transfer(good.i, 5)
    assert good.balances()[good.rkey.address] == 40_000_000_000_006
    h.sleep(0.2)
    assert bad.r in h.closed and good.r not in h.closed


# -- connect parameters ------------------------------------------------------------------------


def test_fresh_and_existing_parameters_parse() -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    query = urlencode(connect_params(ikey, rkey, "responder", timeout_idle=5, report_info="false"))
    parsed = node_params.parse(f"/channel?{query}")
    assert isinstance(parsed, OpenParams)
    assert parsed.responder == rkey.public_key and parsed.push_amount == 1
    assert (
        parsed.options.timeout_ms("idle") == 5 and parsed.options.timeout_ms("awaiting_open") == 5
    )
    assert parsed.options.timeout_ms("sign") == 500_000 and not parsed.options.keep_running
    assert parsed.options.reports("info") is False and parsed.options.reports("update")
    anyone = node_params.parse(
        "/channel?" + urlencode(connect_params(ikey, rkey, "responder", initiator_id="any"))
    )
    assert isinstance(anyone, OpenParams) and anyone.initiator is None
    fsm_id = encoding.encode("ba", bytes(range(32)))
    existing = node_params.parse(
        "/channel?"
        + urlencode(
            {
                "existing_channel_id": encoding.encode("ch", bytes(32)),
                "existing_fsm_id": fsm_id,
                "protocol": "json-rpc",
                "role": "responder",
                "port": 1,
                "reestablish": "true",
            }
        )
    )
    assert isinstance(existing, ExistingParams) and existing.fsm_id == bytes(range(32))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"protocol": None}, None),
        ({"protocol": "legacy"}, None),
        ({"role": "observer"}, None),
        ({"host": None}, None),
        ({"port": "x"}, None),
        ({"push_amount": None}, None),
        ({"initiator_amount": "1e3"}, None),
        ({"responder_id": "ak_nope"}, None),
        ({"keep_running": "yes"}, None),
        ({"timeout_idle": "soon"}, None),
        ({"minimum_depth_strategy": "fast"}, None),
    ],
)
def test_bad_parameters_close_silently(change: dict[str, object], reason: Reason | None) -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    query = connect_params(ikey, rkey, "initiator")
    query.update(change)
    query = {k: v for k, v in query.items() if v is not None}
    parsed = node_params.parse("/channel?" + urlencode(query))
    assert isinstance(parsed, Rejection) and parsed.reason is reason and parsed.silent


def test_the_wrong_path_is_refused() -> None:
    assert isinstance(node_params.parse("/other?protocol=json-rpc"), Rejection)


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_any_query_parses_or_is_rejected_without_crashing(query: str) -> None:
    parsed = node_params.parse("/channel?" + query)
    assert isinstance(parsed, OpenParams | ExistingParams | Rejection)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"initiator_id": "ak_11111111111111111111111111111115rHyByZ"}, 1011),
        ({"responder_amount": -1}, 105),
        ({"channel_reserve": -1}, 105),
        ({"push_amount": -1}, 105),
        ({"lock_period": -1}, 105),
        ({"initiator_amount": 2}, 105),
    ],
)
def test_start_checks_answer_with_an_error_frame_then_close(
    h: Harness, change: dict[str, object], code: int
) -> None:
    conn = h.connect(connect_params(Keypair.generate(), Keypair.generate(), "responder", **change))
    h.send(conn, json.dumps(frames.request(methods.SYSTEM, {"action": "ping"}, 1)))  # ignored
    assert h.keys(conn) == [error(3, code, null_channel=True)]
    h.sleep(0.01)
    assert conn in h.closed


def test_without_auto_funding_only_funded_accounts_exist() -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    h = Harness(
        NodeCore(NodeConfig(block_interval=None, auto_fund=False, funded={ikey.address: 10**18}))
    )
    conn = h.connect(connect_params(ikey, rkey, "initiator"))
    assert h.keys(conn) == [error(3, 1011, null_channel=True)]
    h.core.fund(rkey.address, 10**18)
    conn = h.connect(connect_params(ikey, rkey, "initiator"))
    assert h.keys(conn) == [info("fsm_up", null_channel=True)]


# -- fees and the chain ------------------------------------------------------------------------


def test_fee_split_and_depth_rules() -> None:
    assert close_mutual_amounts(100, 100, 11) == (94, 95)
    assert close_mutual_amounts(3, 100, 11) == (0, 92)
    assert close_mutual_amounts(100, 2, 11) == (91, 0)
    with pytest.raises(Exception, match="exceeds"):
        close_mutual_amounts(1, 1, 3)
    assert minimum_depth(DepthStrategy.TXFEE, None, 17_620_000_000_000, 10**9) == 3
    assert minimum_depth(DepthStrategy.TXFEE, 1, 17_620_000_000_000, 10**9) == 17_620
    assert minimum_depth(DepthStrategy.TXFEE, 0, 1, 10**9) == 1
    assert minimum_depth(DepthStrategy.PLAIN, 4, 17_620_000_000_000, 10**9) == 4


def _spend(sender: Keypair, to: Keypair, amount: int, nonce: int, network: str) -> SignedTx:
    tx = SpendTx(
        Id.account(sender.public_key), Id.account(to.public_key), amount, 20_000, 0, nonce, b""
    )
    signed = SignedTx.wrap(tx)
    return signed.with_signature(signing.sign(signed.tx_bytes, sender, network))


def test_the_chain_checks_signatures_nonces_and_balances() -> None:
    chain = Chain("net_a")
    alice, bob = Keypair.generate(), Keypair.generate()
    chain.fund(alice.public_key, 1_000_000)
    good = _spend(alice, bob, 10, 1, "net_a")
    wrong_net = _spend(alice, bob, 10, 2, "net_b")
    stale = _spend(alice, bob, 10, 1, "net_a")  # same nonce again
    broke = _spend(bob, alice, 10, 1, "net_a")  # bob has nothing (yet) for the fee
    for tx in (good, wrong_net, stale, broke):
        chain.post(tx)
    assert chain.next_nonce(alice.public_key) == 2 + 1  # two pending from alice (one repeats)
    block = chain.mine()
    assert [inc.tx_hash for inc in block] == [good.hash]
    assert chain.depth(good.hash) == 0
    chain.mine()
    assert chain.depth(good.hash) == 1
    assert chain.account(bob.public_key) is not None and chain.account(bob.public_key).balance == 10  # type: ignore[union-attr]
    assert set(chain.rejected) == {wrong_net.hash, broke.hash}


# -- robustness ---------------------------------------------------------------------------------


def _random_value(rnd: random.Random, depth: int = 0) -> object:
    roll = rnd.random()
    if depth > 2 or roll < 0.3:
        return rnd.choice(
            [0, -1, 1, 2**70, "1", "", "ak_x", "tx_AAAA", None, True, 1.5, "cb_AAAAAAAAAA==", "ba_"]
        )
    if roll < 0.6:
        return [_random_value(rnd, depth + 1) for _ in range(rnd.randint(0, 3))]
    keys = [
        "from",
        "to",
        "amount",
        "accounts",
        "contracts",
        "info",
        "signed_tx",
        "error",
        "action",
        "meta",
        "fee",
        "nonce",
        "tx_hash",
        "pubkey",
        "round",
        "call_data",
    ]
    return {rnd.choice(keys): _random_value(rnd, depth + 1) for _ in range(rnd.randint(0, 4))}


def test_random_requests_never_break_the_node(caplog: pytest.LogCaptureFixture) -> None:
    """Garbage, half-valid and valid requests in any state: answered, never a crash."""
    rnd = random.Random(20240611)
    names = [*vars(methods).values(), *methods.SIGN_BY_REPLY, "channels.x"]
    known = [m for m in names if isinstance(m, str) and m.startswith("channels.")]
    caplog.set_level(logging.ERROR, logger="chan_nb")
    for _ in range(60):
        h = Harness(NodeCore(NodeConfig(block_interval=None)))
        ch = open_channel(h, confirm=rnd.random() < 0.8)
        for step in range(30):
            conn = rnd.choice([ch.i, ch.r])
            method = rnd.choice(known)
            params = _random_value(rnd)
            if isinstance(params, dict) and rnd.random() < 0.3:
                params.update(
                    {"from": ch.ikey.address, "to": ch.rkey.address, "amount": rnd.randint(-2, 5)}
                )
            if method in methods.SIGN_BY_REPLY and rnd.random() < 0.3:
                with contextlib.suppress(AssertionError):  # no sign request yet
                    ch.sign_last(conn)
                    continue
            h.request(conn, method, params, request_id=step if rnd.random() < 0.5 else None)
            if rnd.random() < 0.2:
                h.mine()
            if rnd.random() < 0.1:
                h.sleep(rnd.choice([0.01, 1.0, 700.0]))
            if rnd.random() < 0.03:
                h.disconnect(conn)
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_a_crashing_fsm_dies_alone(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    victim = open_channel(h, port=1)
    bystander = open_channel(h, port=2)
    machine = h.core.fsm_of(victim.r)
    assert machine is not None

    def boom(*args: object) -> None:
        raise RuntimeError("bug")

    machine.on_peer = boom  # type: ignore[method-assign]
    h.take(victim.r)
    with caplog.at_level(logging.ERROR, logger="chan_nb"):
        transfer = {"from": victim.ikey.address, "to": victim.rkey.address, "amount": 1}
        h.request(victim.i, methods.UPDATE_NEW, transfer)
        victim.sign_last(victim.i)  # the update reaches R's FSM, which crashes on it
        h.sleep(0.2)
    assert "crashed" in caplog.text
    assert h.keys(victim.r)[-1] == info("died")
    assert {victim.i, victim.r} <= h.closed
    bystander.transfer(bystander.r, 3)
    assert bystander.balances()[bystander.ikey.address] == 70_000_000_000_002
