"""The embedded node's pure core: open, transfer, close, with every transaction checked.

Driven synchronously in virtual time (tests/node/harness.Harness) with blocks
mined by hand, so each test states exactly which frames each client gets.
"""

from __future__ import annotations

import json

import pytest

from chan_nb.codec import encoding, hashing, signing, trees, txs
from chan_nb.codec.ids import Id
from chan_nb.codec.keys import Keypair
from chan_nb.node import NodeConfig, NodeCore
from chan_nb.node.fsm import State
from chan_nb.protocol import methods
from tests.node.harness import (
    Harness,
    OpenChannel,
    connect_params,
    decode_tx,
    error,
    info,
    note,
    open_channel,
    result,
    sign_reply,
)

ON_CHAIN = methods.ON_CHAIN_TX


@pytest.fixture
def h() -> Harness:
    return Harness(NodeCore(NodeConfig(block_interval=None)))


def _fresh(h: Harness) -> OpenChannel:
    return open_channel(h)


# -- open --------------------------------------------------------------------------------------


def test_open_reports_every_step_in_the_nodes_order(h: Harness) -> None:
    ch = open_channel(h, confirm=False)
    assert h.keys(ch.i) == [
        info("fsm_up", null_channel=True),
        info("channel_accept", null_channel=True),
        (*note(methods.SIGN_PREFIX + "initiator_sign")[:5], True),
        result(null_channel=True),
        info("funding_signed"),
        note(ON_CHAIN, "funding_signed"),
    ]
    assert h.keys(ch.r) == [
        info("fsm_up", null_channel=True),
        info("channel_open", null_channel=True),
        info("funding_created"),
        note(methods.SIGN_PREFIX + "responder_sign"),
        result(),
        note(ON_CHAIN, "funding_created"),
    ]
    h.mine()
    assert h.keys(ch.i) == [note(ON_CHAIN, "channel_changed")]
    assert h.keys(ch.r) == [note(ON_CHAIN, "channel_changed")]
    for _ in range(5):
        h.mine()
    expected = [
        info("own_funding_locked"),
        info("funding_locked"),
        info("open"),
        note(methods.UPDATE),
    ]
    assert h.keys(ch.i) == expected
    assert h.keys(ch.r) == expected


def test_create_tx_is_real_version_2_with_the_nodes_fee_and_channel_id(h: Harness) -> None:
    ch = _fresh(h)
    state = ch.state(ch.i)
    create = state.tx
    assert isinstance(create, txs.ChannelCreateTx)
    assert create.version == 2
    assert create.fee == 17_640_000_000_000  # (15 000 + 20 × 132 bytes) × 10⁹
    assert create.ttl == 0
    assert create.initiator_amount == 70_000_000_000_000
    expected_id = hashing.channel_id(ch.ikey.public_key, create.nonce, ch.rkey.public_key)
    assert ch.channel_id == expected_id
    balances = {ch.ikey.public_key: 69_999_999_999_999, ch.rkey.public_key: 40_000_000_000_001}
    assert create.state_hash == trees.state_hash_of_balances(balances)
    for pubkey in (ch.ikey.public_key, ch.rkey.public_key):
        assert any(
            signing.verify(sig, pubkey, state.tx_bytes, ch.network_id) for sig in state.signatures
        )
    assert list(state.signatures) == sorted(state.signatures)


def test_recorded_era_node_builds_version_1_with_the_recorded_fee() -> None:
    h = Harness(NodeCore(NodeConfig(block_interval=None, create_tx_version=1)))
    create = open_channel(h).state(1).tx
    assert isinstance(create, txs.ChannelCreateTx)
    assert (create.version, create.fee) == (1, 17_620_000_000_000)


def test_chain_debits_amounts_and_fee_and_creates_the_channel(h: Harness) -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    h.core.fund(ikey.address, 10**20)
    h.core.fund(rkey.address, 10**20)
    ch = open_channel(h, ikey, rkey)
    create = ch.state(ch.i).tx
    assert isinstance(create, txs.ChannelCreateTx)
    assert h.core.balance(ikey.address) == 10**20 - create.initiator_amount - create.fee
    assert h.core.balance(rkey.address) == 10**20 - create.responder_amount
    onchain = h.core.chain.channel(encoding.decode(ch.channel_id, "ch"))
    assert onchain is not None and onchain.amount == 110_000_000_000_000


def test_hashed_signatures_are_accepted_like_the_js_sdk_makes_them(h: Harness) -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    i = h.connect(connect_params(ikey, rkey, "initiator"))
    r = h.connect(connect_params(ikey, rkey, "responder"))
    for conn, key in ((i, ikey), (r, rkey)):
        request = h.last_sign_request(conn)
        signed = decode_tx(request["params"]["data"]["signed_tx"])
        sig = signing.sign(signed.tx_bytes, key, h.core.config.network_id, "hashed")
        h.request(
            conn,
            f"channels.{request['method'].split('.')[-1]}",
            {"signed_tx": signed.with_signature(sig).to_api()},
        )
    assert any(
        f.get("params", {}).get("data", {}).get("info") == "funding_signed" for f in h.inbox[i]
    )


@pytest.mark.parametrize("problem", ["wrong_key", "wrong_network"])
def test_a_bad_create_signature_is_reported_and_the_fsm_keeps_waiting(
    h: Harness, problem: str
) -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    i = h.connect(connect_params(ikey, rkey, "initiator"))
    r = h.connect(connect_params(ikey, rkey, "responder"))
    request = h.last_sign_request(i)
    h.take(r)
    key = Keypair.generate() if problem == "wrong_key" else ikey
    network = "ae_mainnet" if problem == "wrong_network" else h.core.config.network_id
    h.take(i)
    h.send(i, sign_reply(request, [key], network, request_id=5))
    frames = h.take(i)
    assert [f.get("method") for f in frames] == [None, methods.ERROR]
    assert frames[1]["params"]["data"] == {"message": "bad_signature"}
    assert h.take(r) == []  # the responder heard nothing of the bad one
    h.send(i, sign_reply(request, [ikey], h.core.config.network_id, request_id=6))
    assert [f.get("method") for f in h.take(i)] == [None]
    assert h.keys(r) == [info("funding_created"), note(methods.SIGN_PREFIX + "responder_sign")]


# -- transfers ------------------------------------------------------------------------------------


def test_transfer_both_ways_updates_balances_and_real_state(h: Harness) -> None:
    ch = _fresh(h)
    h.take(ch.i), h.take(ch.r)
    ch.transfer(ch.i, 10)
    assert h.keys(ch.i) == [note(methods.SIGN_PREFIX + "update"), note(methods.UPDATE)]
    assert h.keys(ch.r) == [
        info("update"),
        note(methods.SIGN_PREFIX + "update_ack"),
        note(methods.UPDATE),
    ]
    ch.transfer(ch.r, 3)
    balances = ch.balances()
    assert balances == {ch.ikey.address: 69_999_999_999_992, ch.rkey.address: 40_000_000_000_008}
    h.take(ch.r)
    h.request(ch.r, methods.GET_OFFCHAIN_STATE, {}, request_id=0)
    (reply,) = h.take(ch.r)
    assert reply["id"] == 0
    state = reply["result"]
    signed = decode_tx(state["signed_tx"])
    assert isinstance(signed.tx, txs.ChannelOffchainTx) and signed.tx.round == 3
    assert trees.StateTrees.from_api(state["trees"]).state_hash() == signed.tx.state_hash
    assert state["half_signed_tx"] == ""
    assert trees.calls_from_api(state["calls"]) == {}
    h.request(ch.i, methods.GET_POI, {"accounts": [ch.ikey.address]}, request_id=7)
    poi = trees.Poi.from_api(h.take(ch.i)[-1]["result"]["poi"])
    assert poi.state_hash() == signed.tx.state_hash
    assert poi.balance_of(ch.ikey.public_key) == 69_999_999_999_992


def test_meta_updates_travel_beside_the_transfer(h: Harness) -> None:
    ch = _fresh(h)
    h.request(
        ch.i,
        methods.UPDATE_NEW,
        {
            "from": ch.ikey.address,
            "to": ch.rkey.address,
            "amount": 1,
            "meta": ["note 1", "n2"],
        },
    )
    updates = h.last_sign_request(ch.i)["params"]["data"]["updates"]
    assert [u["op"] for u in updates] == ["OffChainTransfer", "OffChainMeta", "OffChainMeta"]
    assert updates[1]["data"] == "note 1"


@pytest.mark.parametrize(
    ("params", "data_code"),
    [
        ({"amount": "1"}, 1008),
        ({"from": "ABCDEF"}, 1005),
        ({"to": "ABCDEF"}, 1005),
        ({"meta": 17}, 1014),
        ({"amount": -1}, 1002),
        ({"to": "FROM"}, 1003),
        ({"amount": 69_999_999_999_998}, 1001),
    ],
)
def test_bad_transfers_get_the_nodes_error_and_change_nothing(
    h: Harness, params: dict[str, object], data_code: int
) -> None:
    ch = _fresh(h)
    before = ch.balances()
    request = {"from": ch.ikey.address, "to": ch.rkey.address, "amount": 1, **params}
    if request["to"] == "FROM":
        request["to"] = ch.ikey.address
    h.take(ch.i)
    h.request(ch.i, methods.UPDATE_NEW, request)
    (frame,) = h.take(ch.i)
    assert (frame["id"], frame["error"]["code"]) == (None, 3)
    assert [d["code"] for d in frame["error"]["data"]] == [data_code]
    assert frame["error"]["request"]["params"] == request
    assert ch.balances() == before


def test_a_transfer_may_leave_exactly_the_reserve(h: Harness) -> None:
    ch = _fresh(h)
    ch.transfer(ch.i, 69_999_999_999_997)  # 69 999 999 999 999 − reserve 2
    assert ch.balances()[ch.ikey.address] == 2


@pytest.mark.parametrize("problem", ["wrong_key", "wrong_network", "other_tx"])
def test_a_bad_update_signature_is_a_validation_conflict(h: Harness, problem: str) -> None:
    ch = _fresh(h)
    before = ch.balances()
    h.request(
        ch.i,
        methods.UPDATE_NEW,
        {
            "from": ch.ikey.address,
            "to": ch.rkey.address,
            "amount": 5,
        },
    )
    request = h.last_sign_request(ch.i)
    if problem == "other_tx":  # e.g. a stale round: the tx the client returns is not the one sent
        request = json.loads(json.dumps(request))
        request["params"]["data"]["signed_tx"] = ch.state(ch.i).to_api()
    key = Keypair.generate() if problem == "wrong_key" else ch.ikey
    network = "ae_uat" if problem == "wrong_network" else ch.network_id
    h.take(ch.i), h.take(ch.r)
    h.send(ch.i, sign_reply(request, [key], network))
    frames = h.take(ch.i)
    assert [f["method"] for f in frames] == [methods.ERROR, methods.CONFLICT]
    assert frames[1]["params"]["data"]["error_code"] == 1
    assert frames[1]["params"]["data"]["error_msg"] == "validation error"
    assert frames[1]["params"]["data"]["round"] == 1
    assert h.take(ch.r) == []  # the peer never saw it
    assert ch.balances() == before
    ch.transfer(ch.i, 5)  # and the channel still works
    assert ch.balances()[ch.rkey.address] == before[ch.rkey.address] + 5


def test_an_acknowledger_signing_with_the_wrong_key_changes_nothing(h: Harness) -> None:
    ch = _fresh(h)
    before = ch.balances()
    h.request(
        ch.i, methods.UPDATE_NEW, {"from": ch.ikey.address, "to": ch.rkey.address, "amount": 5}
    )
    ch.sign_last(ch.i)
    request = h.last_sign_request(ch.r)
    h.take(ch.r)
    h.send(ch.r, sign_reply(request, [Keypair.generate()], ch.network_id))
    frames = h.take(ch.r)
    assert [f["method"] for f in frames] == [methods.ERROR, methods.CONFLICT]
    assert ch.balances(ch.r) == before


# -- conflicts and aborts ----------------------------------------------------------------------


def test_simultaneous_updates_give_each_side_one_conflict(h: Harness) -> None:
    ch = _fresh(h)
    h.take(ch.i), h.take(ch.r)
    transfer = {"from": ch.ikey.address, "to": ch.rkey.address}
    h.request(ch.i, methods.UPDATE_NEW, {**transfer, "amount": 1})
    h.request(ch.r, methods.UPDATE_NEW, {**transfer, "amount": 2})
    ch.sign_last(ch.i)
    ch.sign_last(ch.r)
    conflict = note(methods.CONFLICT, code=2)
    assert h.keys(ch.i) == [note(methods.SIGN_PREFIX + "update"), conflict]
    assert h.keys(ch.r) == [note(methods.SIGN_PREFIX + "update"), conflict]
    assert ch.balances()[ch.ikey.address] == 69_999_999_999_999


def test_a_second_update_while_the_first_awaits_signing_is_a_conflict(h: Harness) -> None:
    ch = _fresh(h)
    h.take(ch.i)
    transfer = {"from": ch.ikey.address, "to": ch.rkey.address, "amount": 1}
    h.request(ch.i, methods.UPDATE_NEW, transfer)
    h.request(ch.i, methods.UPDATE_NEW, transfer, request_id=3)
    assert h.keys(ch.i) == [
        note(methods.SIGN_PREFIX + "update"),
        result(),
        note(methods.CONFLICT, code=2),
    ]


def test_aborts(h: Harness) -> None:
    ch = _fresh(h)
    h.take(ch.i), h.take(ch.r)
    transfer = {"from": ch.ikey.address, "to": ch.rkey.address, "amount": 1}
    # the starter aborts: only it hears about it
    h.request(ch.i, methods.UPDATE_NEW, transfer)
    h.request(ch.i, methods.UPDATE, {"error": 147}, request_id=8)
    assert h.keys(ch.i)[1:] == [result(), info("aborted_update")]
    # the acknowledger aborts: the starter gets a conflict with the user's code
    h.request(ch.i, methods.UPDATE_NEW, transfer)
    ch.sign_last(ch.i)
    h.take(ch.i)
    h.request(ch.r, "channels.update_ack", {"error": 300})
    assert h.keys(ch.r)[-1] == info("aborted_update")
    (conflict,) = h.take(ch.i)
    assert conflict["params"]["data"]["error_code"] == 300
    assert conflict["params"]["data"]["error_msg"] == "user-defined"
    # nothing to abort now / an impossible code
    h.request(ch.i, methods.UPDATE, {"error": 42})
    assert h.keys(ch.i) == [error(3, 1018)]
    h.request(ch.i, methods.UPDATE, {"error": 0})
    assert h.keys(ch.i) == [error(-32603)]
    assert ch.balances()[ch.ikey.address] == 69_999_999_999_999


def test_an_absent_peer_client_refuses_unless_its_signature_is_already_there(h: Harness) -> None:
    """The seed session (websocket-api.md §4.10): R gone, I updates twice."""
    ch = _fresh(h)
    h.disconnect(ch.r)
    transfer = {"from": ch.ikey.address, "to": ch.rkey.address, "amount": 1}
    h.take(ch.i)
    h.request(ch.i, methods.UPDATE_NEW, transfer)
    ch.sign_last(ch.i)
    assert h.keys(ch.i) == [note(methods.SIGN_PREFIX + "update"), note(methods.CONFLICT, code=2)]
    h.request(ch.i, methods.UPDATE_NEW, transfer)
    ch.sign_last(ch.i, keys=[ch.ikey, ch.rkey])
    assert h.keys(ch.i)[-1] == note(methods.UPDATE)
    assert ch.balances()[ch.rkey.address] == 40_000_000_000_002


# -- reconnect, leave, reestablish -------------------------------------------------------------


def _existing(ch: OpenChannel, role: str, fsm_id: str | None, **extra: object) -> dict[str, object]:
    params: dict[str, object] = {
        "existing_channel_id": ch.channel_id,
        "protocol": "json-rpc",
        "role": role,
        "port": 13180,
        **extra,
    }
    if fsm_id is not None:
        params["existing_fsm_id"] = fsm_id
    if role == "initiator":
        params["host"] = "localhost"
    return params


def test_reconnect_checks_the_fsm_id_and_keeps_it(h: Harness) -> None:
    ch = _fresh(h)
    h.disconnect(ch.r)
    random_id = encoding.encode("ba", bytes(32))
    for fsm_id, code in (
        (None, 2000),
        ("Invalid", 1016),
        ("ba_0l8E77UMjdvRtTsx", 1016),
        (random_id, 1016),
    ):
        conn = h.connect(_existing(ch, "responder", fsm_id))
        (frame,) = h.take(conn)
        assert (frame["id"], frame["channel_id"], frame["error"]["request"]) == (None, None, {})
        assert frame["error"]["data"][0]["code"] == code
        h.sleep(0.01)
        assert conn in h.closed
    conn = h.connect(_existing(ch, "responder", ch.fsm_ids["responder"]))
    (up,) = h.take(conn)
    assert up["params"]["data"] == {"event": "fsm_up", "fsm_id": ch.fsm_ids["responder"]}
    assert up["params"]["channel_id"] == ch.channel_id
    ch.r = conn
    ch.transfer(ch.i, 4)
    assert ch.balances()[ch.rkey.address] == 40_000_000_000_005


def test_a_second_client_kicks_out_one_that_spoke_but_not_one_that_did_not(h: Harness) -> None:
    ch = _fresh(h)
    params = _existing(ch, "initiator", ch.fsm_ids["initiator"])
    quiet = h.connect(params)  # the old client (ch.i) never sent a frame after open? it did:
    assert quiet not in h.closed and ch.i in h.closed  # it had signed: it is kicked out
    fresh = h.connect(params)
    h.sleep(0.01)
    assert fresh in h.closed and quiet not in h.closed  # the new one had said nothing


def test_losing_the_client_before_funding_ends_both_fsms(h: Harness) -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    i = h.connect(connect_params(ikey, rkey, "initiator"))
    r = h.connect(connect_params(ikey, rkey, "responder"))
    h.take(r)
    h.disconnect(i)
    h.sleep(1.0)
    assert h.keys(r) == [info("died", null_channel=True)]
    assert r in h.closed
    assert h.core.fsms == ()


def test_leave_then_reestablish_with_new_fsm_ids(h: Harness) -> None:
    ch = _fresh(h)
    ch.transfer(ch.i, 7)
    h.take(ch.i), h.take(ch.r)
    h.request(ch.i, methods.LEAVE, {})
    assert h.keys(ch.r) == [note(methods.LEAVE), info("died")]
    assert h.keys(ch.i) == [note(methods.LEAVE), info("died")]
    h.sleep(0.1)
    assert {ch.i, ch.r} <= h.closed
    bad = h.connect(_existing(ch, "responder", encoding.encode("ba", bytes(32))))
    assert h.take(bad)[0]["error"]["data"][0]["code"] == 1016
    r = h.connect(_existing(ch, "responder", ch.fsm_ids["responder"]))
    i = h.connect(_existing(ch, "initiator", ch.fsm_ids["initiator"]))
    r_frames, i_frames = h.take(r), h.take(i)
    assert r_frames[0]["params"]["data"]["fsm_id"] != ch.fsm_ids["responder"]
    assert i_frames[0]["params"]["data"]["fsm_id"] != ch.fsm_ids["initiator"]
    # current era: the channel id is shown from fsm_up on
    assert r_frames[0]["params"]["channel_id"] == ch.channel_id
    expected = [info("channel_reestablished"), info("open"), note(methods.UPDATE)]
    assert [json_key(f) for f in r_frames[1:]] == expected
    assert [json_key(f) for f in i_frames[1:]] == expected
    ch.i, ch.r = i, r
    ch.transfer(ch.r, 2)
    assert ch.balances()[ch.ikey.address] == 69_999_999_999_994


def json_key(frame: dict[str, object]) -> tuple[object, ...]:
    from tests.node.harness import frame_key

    return frame_key(frame)


def test_a_kept_running_responder_survives_its_peer_leaving(h: Harness) -> None:
    ch = open_channel(h, keep_running=None)  # the WS default: true, for R only
    h.take(ch.r)
    h.request(ch.i, methods.LEAVE, {})
    h.sleep(0.1)
    assert h.keys(ch.r) == [note(methods.LEAVE), info("peer_disconnected")]
    assert ch.r not in h.closed
    i = h.connect(_existing(ch, "initiator", ch.fsm_ids["initiator"]))
    assert [json_key(f) for f in h.take(ch.r)] == [
        info("channel_reestablished"),
        info("open"),
        note(methods.UPDATE),
    ]
    ch.i = i
    ch.transfer(ch.i, 1)


def test_reestablish_needs_the_channel_on_chain_and_a_cached_state(h: Harness) -> None:
    ch = _fresh(h)
    unknown = encoding.encode("ch", bytes(32))
    conn = h.connect(
        {**_existing(ch, "initiator", ch.fsm_ids["initiator"]), "existing_channel_id": unknown}
    )
    assert h.take(conn) == [] and conn in h.closed


# -- deposit, withdraw, shutdown ---------------------------------------------------------------


def test_deposit_and_withdraw_go_on_chain(h: Harness) -> None:
    ch = _fresh(h)
    before = h.core.balance(ch.ikey.address)
    assert before is not None
    h.take(ch.i), h.take(ch.r)
    h.request(ch.i, methods.DEPOSIT, {"amount": 10})
    ch.sign_last(ch.i)
    ch.sign_last(ch.r)
    for _ in range(6):
        h.mine()
    assert [k[2] for k in h.keys(ch.i)] == [
        None,
        "deposit_signed",
        "channel_changed",
        "own_deposit_locked",
        "deposit_locked",
        None,
    ]
    assert [k[2] for k in h.keys(ch.r)] == [
        "deposit_created",
        None,
        "deposit_created",
        "channel_changed",
        "own_deposit_locked",
        "deposit_locked",
        None,
    ]
    signed = ch.state(ch.i)
    assert isinstance(signed.tx, txs.ChannelDepositTx) and signed.tx.round == 2
    assert h.core.balance(ch.ikey.address) == before - 10 - signed.tx.fee
    assert signed.tx.fee == 17_320_000_000_000
    assert ch.balances()[ch.ikey.address] == 69_999_999_999_999 + 10
    h.request(ch.r, methods.WITHDRAW, {"amount": 5})
    ch.sign_last(ch.r)
    ch.sign_last(ch.i)
    for _ in range(6):
        h.mine()
    assert ch.balances()[ch.rkey.address] == 40_000_000_000_001 - 5
    onchain = h.core.chain.channel(encoding.decode(ch.channel_id, "ch"))
    assert onchain is not None and onchain.amount == 110_000_000_000_005 and onchain.round == 3


@pytest.mark.parametrize(
    ("method", "amount", "code"),
    [
        (methods.DEPOSIT, "2", (3, 1008)),
        (methods.DEPOSIT, -2, (3, 1002)),
        (methods.DEPOSIT, 0, (-32603,)),
        (methods.WITHDRAW, 40_000_000_000_000, (-32603,)),
    ],
)
def test_bad_deposits_and_withdrawals(
    h: Harness, method: str, amount: object, code: tuple[int, ...]
) -> None:
    ch = _fresh(h)
    conn = ch.r
    h.take(conn)
    h.request(conn, method, {"amount": amount})
    (frame,) = h.take(conn)
    assert (frame["error"]["code"], *[d["code"] for d in frame["error"].get("data", [])]) == code


def test_mutual_close_pays_out_and_ends_both_sessions(h: Harness) -> None:
    ch = _fresh(h)
    ch.transfer(ch.i, 1_000)
    i_before, r_before = h.core.balance(ch.ikey.address), h.core.balance(ch.rkey.address)
    assert i_before is not None and r_before is not None
    h.take(ch.i), h.take(ch.r)
    h.request(ch.r, methods.SHUTDOWN, {})
    ch.sign_last(ch.r, request_id=1)
    ch.sign_last(ch.i, request_id=2)
    close = decode_tx(h.inbox[ch.i][-2]["params"]["data"]["tx"]).tx
    assert isinstance(close, txs.ChannelCloseMutualTx)
    assert close.fee == 16_900_000_000_000
    for _ in range(6):
        h.mine()
    h.sleep(0.1)
    assert [k[2] for k in h.keys(ch.r)] == [
        None,
        None,
        "close_mutual",
        "closing",
        "channel_closed",
        "closed_confirmed",
        "died",
    ]
    assert [k[2] for k in h.keys(ch.i)] == [
        "shutdown",
        None,
        None,
        "close_mutual",
        "closing",
        "channel_closed",
        "closed_confirmed",
        "died",
    ]
    assert {ch.i, ch.r} <= h.closed
    half = close.fee // 2
    assert close.initiator_amount_final == 69_999_999_999_999 - 1_000 - half
    assert close.responder_amount_final == 40_000_000_000_001 + 1_000 - half
    assert h.core.balance(ch.ikey.address) == i_before + close.initiator_amount_final
    assert h.core.balance(ch.rkey.address) == r_before + close.responder_amount_final
    # a closed channel cannot be reestablished
    conn = h.connect(_existing(ch, "initiator", ch.fsm_ids["initiator"]))
    assert h.take(conn) == [] and conn in h.closed


# -- timers ------------------------------------------------------------------------------------


def test_a_lone_initiator_times_out(h: Harness) -> None:
    conn = h.connect(
        connect_params(Keypair.generate(), Keypair.generate(), "initiator", timeout_accept=500)
    )
    h.sleep(0.4)
    assert h.keys(conn) == [info("fsm_up", null_channel=True)]
    h.sleep(0.2)
    assert h.keys(conn) == [info("timeout", null_channel=True), info("died", null_channel=True)]
    assert conn in h.closed


def test_an_unsigned_update_times_out_as_a_conflict(h: Harness) -> None:
    ch = open_channel(h, timeout_sign=1000)
    h.take(ch.i)
    h.request(
        ch.i, methods.UPDATE_NEW, {"from": ch.ikey.address, "to": ch.rkey.address, "amount": 1}
    )
    h.sleep(1.1)
    assert h.keys(ch.i) == [note(methods.SIGN_PREFIX + "update"), note(methods.CONFLICT, code=3)]
    assert h.core.fsm_of(ch.i) is not None and h.core.fsm_of(ch.i).state is State.OPEN  # type: ignore[union-attr]


def test_idle_timeout_closes_the_initiator_but_not_a_kept_running_responder(h: Harness) -> None:
    ch = open_channel(h, timeout_idle=2000, keep_running=None)
    h.take(ch.i), h.take(ch.r)
    h.sleep(2.5)
    assert h.keys(ch.i) == [info("timeout"), info("died")]
    assert h.keys(ch.r) == [info("peer_disconnected")]
    assert ch.r not in h.closed


def test_pings_do_not_reach_the_fsm_but_calls_keep_it_alive(h: Harness) -> None:
    ch = open_channel(h, timeout_idle=1000)
    for _ in range(3):
        h.sleep(0.6)
        for conn in (ch.i, ch.r):  # each FSM has its own idle timer
            h.request(conn, methods.GET_BALANCES, {"accounts": []}, request_id=1)
    assert ch.i not in h.closed
    for _ in range(3):
        h.sleep(0.4)
        h.request(ch.i, methods.SYSTEM, {"action": "ping"})
    assert ch.i in h.closed


def test_an_unconfirmed_create_tx_times_out_both_sides(h: Harness) -> None:
    """Both timers fall due together; the responder notices its peer's end first and
    gets only `died` (sc_ws_min_depth_not_reached_timeout)."""
    ch = open_channel(h, confirm=False, timeout_funding_lock=3000)
    h.take(ch.i), h.take(ch.r)
    h.sleep(3.5)  # no block is ever mined
    assert h.keys(ch.i) == [info("timeout"), info("died")]
    assert h.keys(ch.r) == [info("died")]


def test_a_generalized_account_reply_is_refused_without_harm(h: Harness) -> None:
    """GA authentication is not simulated: a meta-tx reply is not the tx that was sent."""
    ikey, rkey = Keypair.generate(), Keypair.generate()
    i = h.connect(connect_params(ikey, rkey, "initiator"))
    h.connect(connect_params(ikey, rkey, "responder"))
    request = h.last_sign_request(i)
    inner = decode_tx(request["params"]["data"]["signed_tx"])
    meta = txs.GaMetaTx(
        Id.account(ikey.public_key), b"\x01", 3, 10**14, 50_000, 10**9, inner.serialize()
    )
    h.take(i)
    h.request(i, "channels.initiator_sign", {"signed_tx": txs.SignedTx.wrap(meta).to_api()}, 1)
    frames = h.take(i)
    assert [f.get("method") for f in frames] == [None, methods.ERROR]
    assert frames[1]["params"]["data"] == {"message": "not_the_expected_tx"}
    ch_fsm = h.core.fsm_of(i)
    assert ch_fsm is not None and ch_fsm.state is State.AWAITING_SIGNATURE
