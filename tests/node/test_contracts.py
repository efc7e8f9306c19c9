"""Contracts in the embedded node: requests, the node's checks and codes, state hashes, reads.

Driven over the pure NodeCore (tests/node_helpers.Harness) in virtual time. The error
cases are the recorded ones (fate.md §6.8, ``contracts/sc_ws_basic_contracts.md``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from chan_nb import vm
from chan_nb.codec import contracts as ct
from chan_nb.codec import encoding, trees, txs
from chan_nb.codec import state as codec_state
from chan_nb.codec import updates as upd
from chan_nb.codec.fate import Address, CodeObject, assemble, decode_result, encode_call
from chan_nb.codec.keys import Keypair
from chan_nb.node import NodeConfig, NodeCore, force_progress
from chan_nb.node import contracts as node_contracts
from chan_nb.protocol import methods
from tests.node.harness import Harness, OpenChannel, connect_params, decode_tx, open_channel

Json = Any

#: the Identity contract's code object and init call data, as recorded (round 2)
IDENTITY_CODE = (
    "cb_+GZGA6AjCkIf8nA06kWznUewlO/mb+ZZlS2EaOxIL/ivjLd9tsC4OZ7+RNZEHwA3ADcAGg6CPwEDP/64F37sBD"
    "cBBwcBAQCWLwIRRNZEHxFpbml0EbgXfuwRbWFpboIvAIU0LjIuMADT5f3r"
)
INIT_CALL = "cb_KxFE1kQfP4oEp9E="
MAIN_42 = "cb_KxG4F37sG1Q/+F7e"
SOME_CONTRACT = encoding.encode("ct", bytes(range(32)))
ON_CHAIN = methods.ON_CHAIN_TX


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
    ch.h.take(ch.i)
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
    assert node_contracts.channel_state_hash(balances) == codec_state.state_hash(balances)
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
    assert node_contracts.channel_state_hash(balances, contracts) == expected
    pruned = contracts.pruned()
    assert pruned.calls == {} and pruned.contracts == contracts.contracts
    assert node_contracts.channel_state_hash(balances, pruned) != expected  # the calls root counts
    assert node_contracts.channel_state_hash(balances, pruned) != codec_state.state_hash(balances)


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
    assert poi.state_hash() == node_contracts.channel_state_hash(balances, contracts)
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
    assert node_contracts.profile_of("recorded") is vm.RECORDED_2020
    assert node_contracts.profile_of("older") is vm.RECORDED_2020
    assert node_contracts.profile_of("current") is vm.IRIS


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


# -- contracts running on the VM ---------------------------------------------------------------

COUNTER = assemble(
    """
FUNCTION init(int) : unit
  STORE store1 arg0
  RETURNR ()
FUNCTION payable get() : int
  RETURNR store1
FUNCTION payable tick() : unit
  INC store1
  RETURNR ()
"""
)
COUNTER_CODE = CodeObject(
    source_hash=bytes(32), type_info=(), byte_code=COUNTER.serialize(), compiler_version=b"t"
).to_api()


def _harness(era: str) -> Harness:
    version = 1 if era == "recorded" else 2
    return Harness(NodeCore(NodeConfig(block_interval=None, create_tx_version=version)))


def _round(ch: OpenChannel, starter: int, method: str, params: dict[str, Any]) -> list[Json]:
    """A contract round both sign; the starter's frames (sign request first)."""
    ch.h.take(starter)
    ch.h.take(ch.other(starter))
    ch.h.request(starter, method, params)
    frames = ch.h.take(starter)
    assert frames and frames[0]["method"] == "channels.sign.update", frames
    ch.h.inbox[starter] = frames
    ch.sign_last(starter)
    ch.sign_last(ch.other(starter))
    return frames


def _latest(ch: OpenChannel, conn: int) -> Any:
    fsm = ch.h.core.fsm_of(conn)
    assert fsm is not None and fsm.cosigned is not None
    return fsm.cosigned


def _create_counter(ch: OpenChannel, start: int = 21) -> str:
    params = {
        "vm_version": 7,
        "abi_version": 3,
        "deposit": 10,
        "code": COUNTER_CODE,
        "call_data": encoding.encode("cb", encode_call("init", [start])),
    }
    frames = _round(ch, ch.i, methods.NEW_CONTRACT, params)
    (update,) = frames[0]["params"]["data"]["updates"]
    assert update == {
        "op": "OffChainNewContract",
        "owner": ch.ikey.address,
        "vm_version": 7,
        "abi_version": 3,
        "deposit": 10,
        "code": COUNTER_CODE,
        "call_data": params["call_data"],
    }
    round_ = _latest(ch, ch.i).round
    return encoding.encode("ct", ct.contract_pubkey(ch.ikey.public_key, round_))


def _call(ch: OpenChannel, conn: int, contract: str, fun: str, *args: Any, amount: int = 0) -> None:
    params = {
        "contract_id": contract,
        "abi_version": 3,
        "amount": amount,
        "call_data": encoding.encode("cb", encode_call(fun, list(args))),
    }
    _round(ch, conn, methods.CALL_CONTRACT, params)


def _contract_call(ch: OpenChannel, conn: int, contract: str, caller: Keypair, round_: int) -> Json:
    return ch.ask(
        conn,
        methods.GET_CONTRACT_CALL,
        {"contract_id": contract, "caller_id": caller.address, "round": round_},
    )


@pytest.mark.parametrize(("era", "gas_get"), [("recorded", 11), ("current", 2014)])
def test_a_contract_round_is_co_signed_and_hashes_as_the_vm_computes(
    era: str, gas_get: int
) -> None:
    h = _harness(era)
    ch = open_channel(h)
    before = _latest(ch, ch.i)
    contract = _create_counter(ch)
    after_i, after_r = _latest(ch, ch.i), _latest(ch, ch.r)
    assert after_i.round == after_r.round == before.round + 1
    assert after_i.signed.serialize() == after_r.signed.serialize()
    assert len(after_i.signed.signatures) == 2
    # the signed state hash is the VM's for that round, computed independently
    profile = vm.RECORDED_2020 if era == "recorded" else vm.IRIS
    ctx = vm.ChannelContext(
        env=vm.ChainEnv(h.core.chain.height, 0, bytes(32)), profile=profile, reserve=2
    )
    start = node_contracts.state_trees(before.balances, before.contracts)
    created = upd.OffChainNewContract(
        ct.Id.account(ch.ikey.public_key),
        upd.pack_ct_version(7, 3),
        encoding.decode(COUNTER_CODE, "cb"),
        10,
        encode_call("init", [21]),
    )
    expected = vm.apply_round(start, [created], after_i.round, ctx)
    assert after_i.signed.innermost.state_hash == expected.state_hash
    # the contract, its store and its account
    reply = ch.ask(ch.r, methods.GET_CONTRACT, {"pubkey": contract})
    assert reply["contract"]["owner_id"] == ch.ikey.address
    assert reply["contract"]["deposit"] == 10
    register1 = encoding.encode("ck", ct.register_key(1))
    assert reply["contract_state"][register1] == encoding.encode("cv", b"\x2a")  # int 21
    # a call: its call object for both sides, the recorded figure per era
    _call(ch, ch.r, contract, "get")
    round_ = _latest(ch, ch.r).round
    for conn in (ch.i, ch.r):
        call = _contract_call(ch, conn, contract, ch.rkey, round_)
        assert call["caller_nonce"] == call["height"] == round_
        assert call["return_type"] == "ok"
        assert call["return_value"] == "cb_" + encoding.encode("cb", b"\x2a")[3:]
        assert call["gas_used"] == gas_get
        assert call["gas_price"] == 1


def test_dry_run_answers_for_the_next_round_and_changes_nothing(ch: OpenChannel) -> None:
    contract = _create_counter(ch)
    latest = _latest(ch, ch.i)
    params = {
        "contract_id": contract,
        "abi_version": 3,
        "amount": 0,
        "call_data": encoding.encode("cb", encode_call("tick", [])),
    }
    reply = ch.ask(ch.i, methods.DRY_RUN_CALL_CONTRACT, params)
    assert reply["caller_nonce"] == reply["height"] == latest.round + 1
    assert reply["return_type"] == "ok" and reply["caller_id"] == ch.ikey.address
    assert _latest(ch, ch.i) is latest  # no round
    ch.h.take(ch.i)
    ch.h.request(ch.i, methods.DRY_RUN_CALL_CONTRACT, params)  # no id: a .reply notification
    (note,) = ch.h.take(ch.i)
    assert note["method"] == "channels.dry_run.call_contract.reply"
    assert note["params"]["data"] == reply


def test_state_writes_calls_tree_poi_and_clean_contract_calls(ch: OpenChannel) -> None:
    contract = _create_counter(ch)
    _call(ch, ch.i, contract, "tick")
    tick_round = _latest(ch, ch.i).round
    _call(ch, ch.r, contract, "get")
    get_round = _latest(ch, ch.r).round
    got = _contract_call(ch, ch.i, contract, ch.rkey, get_round)
    assert got["return_value"] == encoding.encode("cb", b"\x2c")  # 22
    latest = _latest(ch, ch.i)
    state_hash = latest.signed.innermost.state_hash
    # get.offchain_state: the trees hash to the signed state; calls hold this round's call only
    state = ch.ask(ch.i, methods.GET_OFFCHAIN_STATE, {})
    assert trees.StateTrees.from_api(state["trees"]).state_hash() == state_hash
    calls = trees.calls_from_api(state["calls"])
    assert len(calls) == 1
    (raw,) = calls.values()
    assert ct.CallObject.deserialize(raw).caller_nonce == get_round
    # get.poi with the contract: proves the signed state, store included
    poi = trees.Poi.from_api(
        ch.ask(ch.i, methods.GET_POI, {"accounts": [ch.ikey.address], "contracts": [contract]})[
            "poi"
        ]
    )
    assert poi.state_hash() == state_hash
    pubkey = encoding.decode(contract, "ct")
    assert poi.lookup("contracts", ct.store_prefix(pubkey) + ct.register_key(1)) == b"\x2c"
    # the call log keeps earlier rounds until it is cleaned
    assert _contract_call(ch, ch.i, contract, ch.ikey, tick_round)["return_type"] == "ok"
    assert ch.ask(ch.i, methods.CLEAN_CONTRACT_CALLS, {}) == {"action": "calls_pruned"}
    ask = {"contract_id": contract, "caller_id": ch.ikey.address, "round": tick_round}
    assert _ask_error(ch, methods.GET_CONTRACT_CALL, ask) == (3, [1004])
    # the other side's log is its own
    assert _contract_call(ch, ch.r, contract, ch.ikey, tick_round)["return_type"] == "ok"


def test_a_failing_call_is_still_a_co_signed_round(ch: OpenChannel) -> None:
    contract = _create_counter(ch)
    before = _latest(ch, ch.i).round
    _call(ch, ch.i, contract, "nope")  # no such function
    assert _latest(ch, ch.i).round == _latest(ch, ch.r).round == before + 1
    call = _contract_call(ch, ch.i, contract, ch.ikey, before + 1)
    assert call["return_type"] == "error"
    assert call["gas_used"] == node_contracts.WS_GAS  # an error burns all gas
    text = encoding.decode(call["return_value"], "cb").decode()
    assert text.startswith("Trying to call undefined function")


def test_node_refusals_of_contract_calls(ch: OpenChannel) -> None:
    contract = _create_counter(ch)
    call = encoding.encode("cb", encode_call("get", []))
    base = {"contract_id": contract, "abi_version": 3, "amount": 0, "call_data": call}
    assert _ask_error(ch, methods.CALL_CONTRACT, {**base, "abi_version": 1}) == (3, [1019])
    too_much = ch.balances()[ch.ikey.address]
    assert _ask_error(ch, methods.CALL_CONTRACT, {**base, "amount": too_much}) == (3, [1001])
    assert _ask_error(ch, methods.DRY_RUN_CALL_CONTRACT, {**base, "abi_version": 1}) == (
        3,
        [1019],
    )
    failing_init = {
        "vm_version": 7,
        "abi_version": 3,
        "deposit": 10,
        "code": COUNTER_CODE,
        "call_data": encoding.encode("cb", encode_call("init", ["not an int"])),
    }
    assert _ask_error(ch, methods.NEW_CONTRACT, failing_init) == (3, [1007])


def test_a_second_round_while_a_contract_round_awaits_its_signature_is_a_conflict(
    ch: OpenChannel,
) -> None:
    contract = _create_counter(ch)
    latest = _latest(ch, ch.i).round
    params = {
        "contract_id": contract,
        "abi_version": 3,
        "amount": 0,
        "call_data": encoding.encode("cb", encode_call("tick", [])),
    }
    ch.h.request(ch.i, methods.CALL_CONTRACT, params)
    assert ch.h.take(ch.i)[0]["method"] == "channels.sign.update"
    ch.h.request(ch.i, methods.CALL_CONTRACT, params)
    frames = ch.h.take(ch.i)
    conflicts = [f for f in frames if f.get("method") == methods.CONFLICT]
    assert conflicts and conflicts[0]["params"]["data"]["round"] == latest
    assert _latest(ch, ch.i).round == latest


def test_the_peer_refuses_a_proposal_whose_state_hash_is_not_the_calls(ch: OpenChannel) -> None:
    """The responder recomputes a contract round itself: a starter whose node claims
    another state (here: the tx re-signed over a forged hash) is answered with a conflict."""
    contract = _create_counter(ch)
    ch.h.take(ch.r)
    params = {
        "contract_id": contract,
        "abi_version": 3,
        "amount": 0,
        "call_data": encoding.encode("cb", encode_call("tick", [])),
    }
    ch.h.request(ch.i, methods.CALL_CONTRACT, params)
    fsm_i = ch.h.core.fsm_of(ch.i)
    assert fsm_i is not None and fsm_i.pending is not None
    tx = fsm_i.pending.signed.tx
    forged = dataclasses.replace(tx, state_hash=bytes(32))
    fsm_i.pending.signed = txs.SignedTx.wrap(forged)
    ch.h.take(ch.i)
    request = {
        "method": "channels.sign.update",
        "params": {"data": {"signed_tx": fsm_i.pending.signed.to_api()}},
    }
    ch.h.inbox[ch.i] = [request]
    ch.sign_last(ch.i)
    assert [f.get("method") for f in ch.h.take(ch.r)] == []  # no sign request for R
    assert any(f.get("method") == methods.CONFLICT for f in ch.h.take(ch.i))


def test_force_progress_on_chain_is_consumed_by_both(ch: OpenChannel) -> None:
    contract = _create_counter(ch)
    latest = _latest(ch, ch.r)
    params = {
        "contract_id": contract,
        "abi_version": 3,
        "amount": 0,
        "call_data": encoding.encode("cb", encode_call("tick", [])),
        "gas_price": 1_000_000_000,
    }
    ch.h.take(ch.r)
    ch.h.request(ch.r, methods.FORCE_PROGRESS, params, request_id=3)
    frames = ch.h.take(ch.r)
    assert frames[0]["result"] == "ok"
    request = frames[1]
    assert request["method"] == "channels.sign.force_progress_tx"
    (update,) = request["params"]["data"]["updates"]
    assert update["op"] == "OffChainCallContract" and update["gas"] == node_contracts.WS_GAS
    fp_tx = decode_tx(request["params"]["data"]["signed_tx"]).tx
    assert isinstance(fp_tx, txs.ChannelForceProgressTx)
    assert fp_tx.round == latest.round + 1
    assert fp_tx.payload == latest.signed.serialize()  # the latest round is not on chain
    assert trees.StateTrees.decode(fp_tx.offchain_trees).state_hash() == (
        latest.signed.innermost.state_hash
    )
    assert fp_tx.fee == force_progress.tx_gas(fp_tx) * 1_000_000_000
    ch.h.inbox[ch.r] = [request]
    ch.sign_last(ch.r)
    ch.h.take(ch.r)
    ch.h.mine()
    for conn in (ch.i, ch.r):
        infos = [
            f["params"]["data"]["info"]
            for f in ch.h.take(conn)
            if f.get("method") == methods.ON_CHAIN_TX
        ]
        assert infos == ["consumed_forced_progress"], (conn, infos)
        now = _latest(ch, conn)
        assert now.round == fp_tx.round
        assert node_contracts.channel_state_hash(now.balances, now.contracts) == fp_tx.state_hash
    channel = ch.h.core.chain.channel(encoding.decode(ch.channel_id, "ch"))
    assert channel is not None
    assert (channel.round, channel.state_hash) == (fp_tx.round, fp_tx.state_hash)
    # the forced call is in both call logs; the counter moved on chain and off
    forced = _contract_call(ch, ch.i, contract, ch.rkey, fp_tx.round)
    assert forced["return_type"] == "ok" and forced["gas_price"] == 1_000_000_000
    _call(ch, ch.i, contract, "get")
    got = _contract_call(ch, ch.i, contract, ch.ikey, fp_tx.round + 1)
    assert got["return_value"] == encoding.encode("cb", b"\x2c")  # 22


def test_force_progress_in_the_2020_build_is_reported_as_channel_changed() -> None:
    h = _harness("recorded")
    ch = open_channel(h)
    contract = _create_counter(ch)
    params = {
        "contract_id": contract,
        "abi_version": 3,
        "amount": 0,
        "call_data": encoding.encode("cb", encode_call("tick", [])),
        "gas_price": 1_000_000_000,
    }
    h.take(ch.i)
    h.take(ch.r)
    h.request(ch.i, methods.FORCE_PROGRESS, params)
    ch.sign_last(ch.i)
    h.take(ch.i)
    h.mine()
    for conn in (ch.i, ch.r):
        infos = [
            f["params"]["data"]["info"]
            for f in h.take(conn)
            if f.get("method") == methods.ON_CHAIN_TX
        ]
        assert infos == ["channel_changed"]


def test_an_older_force_progress_is_something_to_snapshot() -> None:
    latest_hash = bytes([7]) * 32
    state = node_contracts.state_trees({bytes([1]) * 32: 5})

    def fp_at(round_: int) -> txs.ChannelForceProgressTx:
        return txs.ChannelForceProgressTx(
            ct.Id.channel(bytes(32)),
            ct.Id.account(bytes([1]) * 32),
            b"",
            round_,
            b"",
            bytes(32),
            state.serialize(),
            0,
            1,
            1,
        )

    assert force_progress.classify(fp_at(5), 6, latest_hash) == "can_snapshot"
    assert force_progress.classify(fp_at(9), 6, latest_hash) == "unknown"  # a future state
    assert force_progress.classify(fp_at(7), 6, state.state_hash()) == "consumed"
    assert force_progress.classify(fp_at(7), 6, latest_hash) == "unknown"


def test_a_channel_holding_a_contract_closes_mutually_without_the_contracts_coins(
    ch: OpenChannel,
) -> None:
    _create_counter(ch)  # deposit 10 goes to the contract's account
    latest = _latest(ch, ch.i)
    i_balance, r_balance = latest.balances[ch.ikey.public_key], latest.balances[ch.rkey.public_key]
    before = ch.h.core.balance(ch.ikey.address), ch.h.core.balance(ch.rkey.address)
    ch.h.take(ch.i)
    ch.h.take(ch.r)
    ch.h.request(ch.i, methods.SHUTDOWN, {})
    ch.sign_last(ch.i)
    ch.sign_last(ch.r)
    for _ in range(12):
        ch.h.mine()
    closed = ch.h.core.chain.channel(encoding.decode(ch.channel_id, "ch"))
    assert closed is not None and closed.closed
    after = ch.h.core.balance(ch.ikey.address), ch.h.core.balance(ch.rkey.address)
    assert before[0] is not None and before[1] is not None
    assert after[0] is not None and after[1] is not None
    paid = (after[0] - before[0]) + (after[1] - before[1])
    (close,) = [
        inc.signed.tx
        for inc in ch.h.core.chain.included.values()
        if isinstance(inc.signed.tx, txs.ChannelCloseMutualTx)
    ]
    # the participants get their off-chain balances less the fee; the contract's 10 stay
    assert paid == i_balance + r_balance - close.fee
    assert closed.amount == 0


CHAIN_READER = assemble(
    """
FUNCTION init() : unit
  RETURNR ()
FUNCTION payable resolves(string, string) : bool
  AENS_RESOLVE a arg0 arg1 'variant(unit, tuple(string))
  SWITCH_V2 a 1 2
  RETURNR false
  RETURNR true
FUNCTION payable balance_of(address) : int
  BALANCE_OTHER a arg0
  RETURN
FUNCTION payable height() : int
  GENERATION a
  RETURN
"""
)


def test_a_contract_reads_the_pinned_block_names_and_on_chain_balances(ch: OpenChannel) -> None:
    code = CodeObject(
        source_hash=bytes(32), type_info=(), byte_code=CHAIN_READER.serialize()
    ).to_api()
    params = {
        "vm_version": 7,
        "abi_version": 3,
        "deposit": 0,
        "code": code,
        "call_data": encoding.encode("cb", encode_call("init", [])),
    }
    _round(ch, ch.i, methods.NEW_CONTRACT, params)
    contract = encoding.encode(
        "ct", ct.contract_pubkey(ch.ikey.public_key, _latest(ch, ch.i).round)
    )
    chain = ch.h.core.chain
    outsider = Keypair.generate()
    chain.fund(outsider.public_key, 777)
    before = encoding.encode("kh", bytes([1]) * 32)
    chain.pin_block(bytes([1]) * 32)  # a snapshot: no name yet, the chain's height
    chain.set_name("Example.chain", {"account_pubkey": ("account", outsider.public_key)})
    after = encoding.encode("kh", bytes([2]) * 32)
    chain.pin_block(bytes([2]) * 32, dataclasses.replace(chain.env(), height=1903))

    def dry(fun: str, *args: Any, block: str | None = None) -> Any:
        call = {
            "contract_id": contract,
            "abi_version": 3,
            "amount": 0,
            "call_data": encoding.encode("cb", encode_call(fun, list(args))),
        }
        if block is not None:
            call["block_hash"] = block
        reply = ch.ask(ch.i, methods.DRY_RUN_CALL_CONTRACT, call)
        assert reply["return_type"] == "ok", (fun, encoding.decode(reply["return_value"], "cb"))
        return decode_result("ok", encoding.decode(reply["return_value"], "cb")).value

    name, key = "example.chain", "account_pubkey"
    assert dry("resolves", name, key, block=before) is False
    assert dry("resolves", name, key, block=after) is True
    assert dry("resolves", name, key) is True  # the top sees the name too
    assert dry("resolves", name, "oracle", block=after) is False
    assert dry("height", block=after) == 1903
    assert dry("height") == chain.height
    outsider_address = Address.from_api(outsider.address)
    assert dry("balance_of", outsider_address) == 777  # not in the channel: on chain
    own = Address.from_api(ch.ikey.address)
    assert dry("balance_of", own) == _latest(ch, ch.i).balances[ch.ikey.public_key]


def test_dry_runs_and_call_lookups_wait_for_open_while_a_round_is_under_way(
    ch: OpenChannel,
) -> None:
    contract = _create_counter(ch)
    round_ = _latest(ch, ch.i).round
    ch.h.take(ch.i)
    ch.h.take(ch.r)
    ch.h.request(
        ch.i, methods.UPDATE_NEW, {"from": ch.ikey.address, "to": ch.rkey.address, "amount": 1}
    )
    ch.sign_last(ch.i)  # the initiator now awaits the responder's update_ack
    ask = {"contract_id": contract, "caller_id": ch.ikey.address, "round": round_}
    ch.h.take(ch.i)
    ch.h.request(ch.i, methods.GET_CONTRACT_CALL, ask, request_id=11)
    assert [f for f in ch.h.take(ch.i) if f.get("id") == 11] == []  # postponed
    ch.sign_last(ch.r)
    replies = [f for f in ch.h.take(ch.i) if f.get("id") == 11]
    assert len(replies) == 1 and replies[0]["result"]["caller_nonce"] == round_
