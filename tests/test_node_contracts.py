"""Contracts in the embedded node: requests, the node's checks and codes, state hashes, reads.

Driven over the pure NodeCore (tests/node_helpers.Harness) in virtual time. The error
cases are the recorded ones (fate.md §6.8, ``contracts/sc_ws_basic_contracts.md``).
"""

from __future__ import annotations

from typing import Any

import pytest
from node_helpers import Harness, OpenChannel, connect_params, decode_tx, open_channel

from chan_nb.codec import contracts as ct
from chan_nb.codec import encoding, trees
from chan_nb.codec import state as codec_state
from chan_nb.codec.fate import assemble, encode_call
from chan_nb.codec.keys import Keypair
from chan_nb.node import NodeConfig, NodeCore
from chan_nb.node import contracts as node_contracts
from chan_nb.protocol import methods

Json = Any

#: the Identity contract's code object and init call data, as recorded (round 2)
IDENTITY_CODE = (
    "cb_+GZGA6AjCkIf8nA06kWznUewlO/mb+ZZlS2EaOxIL/ivjLd9tsC4OZ7+RNZEHwA3ADcAGg6CPwEDP/64F37sBD"
    "cBBwcBAQCWLwIRRNZEHxFpbml0EbgXfuwRbWFpboIvAIU0LjIuMADT5f3r"
)
INIT_CALL = "cb_KxFE1kQfP4oEp9E="
MAIN_42 = "cb_KxG4F37sG1Q/+F7e"
SOME_CONTRACT = encoding.encode("ct", bytes(range(32)))


@pytest.fixture
def h() -> Harness:
    return Harness(NodeCore(NodeConfig(block_interval=None)))


@pytest.fixture
def ch(h: Harness) -> OpenChannel:
    channel = open_channel(h)
    h.take(channel.i)
    h.take(channel.r)
    return channel


def _error_codes(frame: Json) -> tuple[int, list[int]]:
    error = frame["error"]
    return error["code"], [d["code"] for d in error.get("data", [])]


def _ask_error(ch: OpenChannel, method: str, params: Json) -> tuple[int, list[int]]:
    ch.h.request(ch.i, method, params, request_id=7)
    frames = ch.h.take(ch.i)
    assert len(frames) == 1, frames
    assert frames[0]["id"] == 7
    return _error_codes(frames[0])


def _call_params(**overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "abi_version": 3,
        "amount": 0,
        "call_data": MAIN_42,
        "contract_id": SOME_CONTRACT,
    }
    params.update(overrides)
    return params


# -- parameters: the recorded codes and their order --------------------------------------------


@pytest.mark.parametrize("method", [methods.CALL_CONTRACT, methods.DRY_RUN_CALL_CONTRACT])
@pytest.mark.parametrize(
    ("overrides", "codes"),
    [
        ({"amount": "1"}, [1008]),
        ({"abi_version": "1"}, [1008]),
        ({"call_data": "ABCDEFG"}, [1009]),
        ({"contract_id": "ABCDEFG"}, [1006]),
        ({"contract_id": "ABCDEFG", "call_data": "ABCDEFG"}, [1006, 1009]),
        ({"contract_id": "ABCDEFG", "amount": "1"}, [1006]),
        ({"call_data": "ABCDEFG", "amount": "1"}, [1008]),
    ],
)
def test_call_contract_params_are_checked_in_the_nodes_order(
    ch: OpenChannel, method: str, overrides: dict[str, Any], codes: list[int]
) -> None:
    assert _ask_error(ch, method, _call_params(**overrides)) == (3, codes)


@pytest.mark.parametrize(
    ("params", "codes"),
    [
        ({"round": "2"}, [1008]),
        ({"caller_id": "ABCEDFG"}, [1005]),
        ({"contract_id": "ABCDEFG"}, [1006]),
        ({}, [1004]),  # well-formed, but no such call
    ],
)
def test_get_contract_call_codes(ch: OpenChannel, params: dict[str, Any], codes: list[int]) -> None:
    base = {"caller_id": ch.ikey.address, "contract_id": SOME_CONTRACT, "round": 3}
    assert _ask_error(ch, methods.GET_CONTRACT_CALL, {**base, **params}) == (3, codes)


def test_new_contract_params(ch: OpenChannel) -> None:
    base = {
        "vm_version": 7,
        "abi_version": 3,
        "deposit": 10,
        "code": IDENTITY_CODE,
        "call_data": INIT_CALL,
    }
    assert _ask_error(ch, methods.NEW_CONTRACT, {**base, "deposit": "10"}) == (3, [1008])
    assert _ask_error(ch, methods.NEW_CONTRACT, {**base, "code": "ABC"}) == (3, [1009])
    assert _ask_error(ch, methods.NEW_CONTRACT, {**base, "call_data": "ABC"}) == (3, [1009])


def test_get_contract_unknown_and_broken(ch: OpenChannel) -> None:
    assert _ask_error(ch, methods.GET_CONTRACT, {"pubkey": SOME_CONTRACT}) == (3, [100])
    assert _ask_error(ch, methods.GET_CONTRACT, {"pubkey": "ct_3NTNtGF"}) == (3, [1006])


def test_get_poi_of_an_unknown_contract_is_100(ch: OpenChannel) -> None:
    assert _ask_error(ch, methods.GET_POI, {"accounts": [], "contracts": [SOME_CONTRACT]}) == (
        3,
        [100],
    )
    assert _ask_error(ch, methods.GET_POI, {"accounts": [], "contracts": ["ct_3NTNtGF"]}) == (
        3,
        [1006],
    )


def test_clean_contract_calls_with_and_without_an_id(ch: OpenChannel) -> None:
    ch.h.request(ch.i, methods.CLEAN_CONTRACT_CALLS, {}, request_id=5)
    assert ch.h.take(ch.i) == [
        {
            "jsonrpc": "2.0",
            "id": 5,
            "channel_id": ch.channel_id,
            "result": {"action": "calls_pruned"},
            "version": 1,
        }
    ]
    ch.h.request(ch.i, methods.CLEAN_CONTRACT_CALLS, {})
    (frame,) = ch.h.take(ch.i)
    assert frame["method"] == "channels.calls_pruned.reply"
    assert frame["params"]["data"] == {"action": "calls_pruned"}


# -- the node's checks before any code runs ------------------------------------------------------


def _new_contract(ch: OpenChannel, conn: int, **overrides: Any) -> list[Json]:
    params = {
        "vm_version": 7,
        "abi_version": 3,
        "deposit": 10,
        "code": IDENTITY_CODE,
        "call_data": INIT_CALL,
        **overrides,
    }
    ch.h.request(conn, methods.NEW_CONTRACT, params, request_id=9)
    return ch.h.take(conn)


def test_new_contract_whose_call_data_does_not_call_init_is_1007(ch: OpenChannel) -> None:
    (frame,) = _new_contract(ch, ch.i, call_data=MAIN_42)  # wrong_call_data's case
    assert _error_codes(frame) == (3, [1007])
    assert ch.h.take(ch.r) == []  # no round started


def test_new_contract_deposit_beyond_the_reserve_is_1001(ch: OpenChannel) -> None:
    balance = ch.balances()[ch.rkey.address]
    (frame,) = _new_contract(ch, ch.r, deposit=balance - 1)  # reserve is 2
    assert _error_codes(frame) == (3, [1001])


@pytest.mark.parametrize(("vm", "abi"), [(7, 1), (6, 3), (9, 3)])
def test_an_illegal_vm_abi_pair_is_an_internal_error(ch: OpenChannel, vm: int, abi: int) -> None:
    (frame,) = _new_contract(ch, ch.i, vm_version=vm, abi_version=abi)
    assert _error_codes(frame) == (-32603, [])


def test_calling_a_contract_the_channel_does_not_hold_is_an_internal_error(
    ch: OpenChannel,
) -> None:
    assert _ask_error(ch, methods.CALL_CONTRACT, _call_params()) == (-32603, [])
    assert _ask_error(ch, methods.DRY_RUN_CALL_CONTRACT, _call_params()) == (-32603, [])


def test_contract_requests_before_the_channel_exists_are_not_ready(h: Harness) -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    i = h.connect(connect_params(ikey, rkey, "initiator"))  # no responder: awaiting_connect
    h.take(i)
    for method, params in (
        (methods.GET_CONTRACT, {"pubkey": SOME_CONTRACT}),
        (methods.DRY_RUN_CALL_CONTRACT, _call_params()),
        (methods.CALL_CONTRACT, _call_params()),
        (
            methods.GET_CONTRACT_CALL,
            {"caller_id": ikey.address, "contract_id": SOME_CONTRACT, "round": 1},
        ),
    ):
        h.request(i, method, params, request_id=1)
        (frame,) = h.take(i)
        assert _error_codes(frame) == (3, [108]), (method, frame)


# -- the state with contracts ----------------------------------------------------------------


def test_an_empty_contracts_state_hashes_as_balances_alone() -> None:
    balances = {bytes([1]) * 32: 5, bytes([2]) * 32: 7}
    assert node_contracts.state_hash(balances) == codec_state.state_hash(balances)
    state = node_contracts.state_trees(balances)
    assert state.state_hash() == codec_state.state_hash(balances)


def _one_contract_state() -> tuple[dict[bytes, int], node_contracts.ContractsState, bytes]:
    owner = bytes([1]) * 32
    pubkey = ct.contract_pubkey(owner, 2)
    obj = ct.ContractObject(
        owner=ct.Id.account(owner), ct_version=0x70003, code=b"\x01\x02", deposit=10
    )
    store = {**ct.initial_store(), ct.register_key(1): b"\x3f"}
    entries = ct.contract_entries(pubkey, obj, store)
    call = ct.CallObject(
        caller=ct.Id.account(owner),
        caller_nonce=2,
        height=2,
        contract=ct.Id.contract(pubkey),
        gas_price=0,
        gas_used=56,
        return_value=b"\x3f",
        return_type=0,
        log=(),
    )
    contracts = node_contracts.ContractsState(entries, {call.key: call.serialize()})
    return {owner: 90, bytes([2]) * 32: 100, pubkey: 10}, contracts, pubkey


def test_state_hash_covers_contracts_calls_and_contract_accounts() -> None:
    balances, contracts, _ = _one_contract_state()
    expected = trees.StateTrees(
        accounts=trees.StateTrees.from_balances(balances).accounts,
        calls=contracts.calls,
        contracts=contracts.contracts,
    ).state_hash()
    assert node_contracts.state_hash(balances, contracts) == expected
    pruned = contracts.pruned()
    assert pruned.calls == {} and pruned.contracts == contracts.contracts
    assert node_contracts.state_hash(balances, pruned) != expected  # the calls root counts
    assert node_contracts.state_hash(balances, pruned) != codec_state.state_hash(balances)


def test_get_contract_reply_shape() -> None:
    _, contracts, pubkey = _one_contract_state()
    reply = node_contracts.contract_json(contracts, pubkey)
    assert reply["contract"] == {
        "id": encoding.encode("ct", pubkey),
        "owner_id": encoding.encode("ak", bytes([1]) * 32),
        "vm_version": 7,
        "abi_version": 3,
        "active": True,
        "referrer_ids": [],
        "deposit": 10,
    }
    assert reply["contract_state"] == {
        encoding.encode("ck", b"\x00\x00"): encoding.encode("cv", b"\x2f\x00"),
        encoding.encode("ck", b"\x00\x01"): encoding.encode("cv", b"\x3f"),
    }


def test_poi_of_a_contract_carries_its_store_and_proves_the_state() -> None:
    balances, contracts, pubkey = _one_contract_state()
    text = node_contracts.poi_api(balances, contracts, [bytes([1]) * 32], [pubkey])
    poi = trees.Poi.from_api(text)
    assert poi.state_hash() == node_contracts.state_hash(balances, contracts)
    assert poi.lookup("contracts", pubkey) == contracts.contracts[pubkey]
    assert poi.lookup("contracts", ct.store_prefix(pubkey) + ct.register_key(1)) == b"\x3f"
    with pytest.raises(node_contracts.ContractRejected):
        node_contracts.poi_api(balances, contracts, [], [bytes(32)])


def test_the_call_log_answers_by_contract_caller_and_round() -> None:
    _, contracts, pubkey = _one_contract_state()
    log = node_contracts.CallLog()
    log.add_round(contracts)
    found = log.lookup(pubkey, bytes([1]) * 32, 2)
    assert found is not None and found.gas_used == 56
    assert log.lookup(pubkey, bytes([1]) * 32, 3) is None
    log.clear()
    assert log.lookup(pubkey, bytes([1]) * 32, 2) is None


def test_profiles_per_era() -> None:
    assert node_contracts.profile_of("recorded") == "recorded"
    assert node_contracts.profile_of("older") == "recorded"
    assert node_contracts.profile_of("current") == "iris"


def test_assembled_code_calls_init_by_its_id() -> None:
    code = assemble("FUNCTION init() : unit\n  RETURNR ()\n")
    assert code.function("init") is not None
    assert encode_call("init", [])[2:6] == node_contracts.INIT_FUNCTION_ID


def test_transfers_after_no_contract_keep_the_balances_only_hash(ch: OpenChannel) -> None:
    ch.transfer(ch.i, 5)
    state = ch.h.take(ch.i)
    latest = [f for f in state if f.get("method") == methods.UPDATE][-1]
    tx = decode_tx(latest["params"]["data"]["state"]).innermost
    fsm = ch.h.core.fsm_of(ch.i)
    assert fsm is not None and fsm.cosigned is not None
    balances = dict(fsm.cosigned.balances)
    assert getattr(tx, "state_hash", None) == codec_state.state_hash(balances)
    assert fsm.cosigned.contracts.empty
