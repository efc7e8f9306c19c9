"""The client's contract awaitables and typed results, against a scripted node.

The node is a script (``tests.client.attack_kit``): it answers ``dry_run``, ``get.contract``,
``get.contract_call`` and ``get.offchain_state`` with frames built here, so the test
sees what the session makes of them — typed values, and which answers it takes.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from chan_nb.client import Session
from chan_nb.client import contracts as cts
from chan_nb.codec import contracts as ct
from chan_nb.codec import encoding
from chan_nb.codec.encoding import decode
from chan_nb.codec.fate import assemble, decode_call, encode, function_id
from chan_nb.codec.ids import Id
from chan_nb.codec.trees import StateTrees
from tests.client.attack_kit import STEP, Forge, MemoryScript, open_victim

OWNER = "ak_x2mdjJG7A7ocKf9T5qiDT1AGzE2RdKeKmH1wntYeDDY113eha"
#: fate.md §6.7's recorded call object (round 3, ``main(42)`` → 42)
RECORDED_CALL = {
    "caller_id": OWNER,
    "caller_nonce": 3,
    "contract_id": encoding.encode("ct", ct.contract_pubkey(encoding.decode(OWNER, "ak"), 2)),
    "gas_price": 1,
    "gas_used": 11,
    "height": 3,
    "log": [],
    "return_type": "ok",
    "return_value": encoding.encode("cb", encode(42)),
}


def reply(asked: dict[str, Any], result: Any) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": asked["id"], "version": 1, "result": result}


def test_a_call_object_decodes_to_its_value() -> None:
    call = cts.ContractCall.from_json(RECORDED_CALL)
    assert (call.ok, call.value, call.gas_used, call.round) == (True, 42, 11, 3)
    assert call.contract_id == RECORDED_CALL["contract_id"] and not call.verified
    assert str(call) == "42 (gas 11, round 3)"
    reverted = {
        **RECORDED_CALL,
        "return_type": "revert",
        "return_value": encoding.encode("cb", encode("not your turn")),
    }
    failed = cts.ContractCall.from_json(reverted)
    assert not failed.ok and failed.result.message == "not your turn"


def test_call_data_and_code_bytes() -> None:
    code = assemble("FUNCTION init() : unit\n  RETURNR ()\n")
    raw = cts.code_bytes(code)
    assert cts.code_bytes(raw) is raw
    decoded = decode_call(cts.call_data("main", [1, 2]))
    assert decoded.function_id == function_id("main") and decoded.args == (1, 2)
    with pytest.raises(ValueError, match="no arguments"):
        cts.call_data(b"\x00", [1])


def test_the_updates_a_request_must_become() -> None:
    f = Forge()
    new = cts.new_contract_update(f.me, b"code", b"data", 10)
    assert (new.vm_version, new.abi_version, new.deposit) == (7, 3, 10)
    ct_id = Id.contract(bytes(32)).api
    call = cts.call_contract_update(f.me, ct_id, b"data", 5)
    assert (call.gas, call.gas_price, call.amount, call.call_stack) == (1_000_000, 1, 5, ())


def test_contract_state_of_a_get_contract_reply() -> None:
    data = {
        "contract": {
            "id": RECORDED_CALL["contract_id"],
            "owner_id": RECORDED_CALL["caller_id"],
            "vm_version": 7,
            "abi_version": 3,
            "active": True,
            "referrer_ids": [],
            "deposit": 10,
        },
        "contract_state": {
            encoding.encode("ck", b"\x00\x00"): encoding.encode("cv", b"\x2f\x00"),
        },
    }
    state = cts.ContractState.from_json(data)
    assert state.store == {b"\x00\x00": b"\x2f\x00"} and state.deposit == 10
    with pytest.raises(Exception, match="contract"):
        cts.ContractState.from_json({"contract": {"id": "ct_x"}})


async def _victim() -> tuple[Forge, MemoryScript, Session]:
    forge, script = Forge(), MemoryScript()
    await script.start()
    return forge, script, await open_victim(forge, script)


async def test_dry_run_without_a_verified_contract_state_is_the_nodes_word() -> None:
    _, script, session = await _victim()
    try:
        task = asyncio.ensure_future(
            session.dry_run(RECORDED_CALL["contract_id"], "main", [42], timeout=STEP)
        )
        asked = await script.wait_sent("channels.dry_run.call_contract")
        params = asked["params"]
        assert (params["abi_version"], params["amount"]) == (3, 0)
        assert encoding.decode(params["call_data"], "cb") == cts.call_data("main", [42])
        script.push(reply(asked, RECORDED_CALL))
        call = await asyncio.wait_for(task, STEP)
        assert call.value == 42 and not call.verified
    finally:
        await session.close()


async def test_call_result_asks_for_our_call_of_the_latest_round() -> None:
    forge, script, session = await _victim()
    try:
        task = asyncio.ensure_future(session.call_result(RECORDED_CALL["contract_id"]))
        asked = await script.wait_sent("channels.get.contract_call")
        assert asked["params"] == {
            "contract_id": RECORDED_CALL["contract_id"],
            "caller_id": forge.me,
            "round": 1,
        }
        script.push(reply(asked, RECORDED_CALL))
        assert (await asyncio.wait_for(task, STEP)).value == 42
    finally:
        await session.close()


async def test_trees_restore_unknown_balances_only_when_they_hash_to_our_state() -> None:
    forge, script, session = await _victim()
    try:
        # a co-signed round 2 whose updates the client never saw: balances unknown
        moves = (forge.pay(forge.them, forge.me, 500),)
        tx = forge.offchain(moves)
        mark = session.mark()
        script.push(forge.update(forge.advance(tx, moves)))
        await session.wait_for(lambda e: session.round == 2, STEP, since=mark)
        assert not session.balances.known

        def trees_of(balances: dict[str, int]) -> str:
            keyed = {encoding.decode(k, "ak"): v for k, v in balances.items()}
            return StateTrees.from_balances(keyed).to_api()

        async def read_back(trees: str) -> None:
            since = len(script.sent)
            task = asyncio.ensure_future(session.offchain_state())
            asked = await script.wait_sent("channels.get.offchain_state", since)
            result = {"signed_tx": forge.latest.to_api(), "half_signed_tx": "", "trees": trees}
            script.push(reply(asked, {**result, "calls": ""}))
            await asyncio.wait_for(task, STEP)

        total = sum(forge.balances.values())
        await read_back(trees_of({forge.me: total, forge.them: 0}))  # a lie: not taken
        assert not session.balances.known
        await read_back("ss_garbage")
        assert not session.balances.known
        await read_back(trees_of(forge.balances))  # the true trees of round 2
        assert session.balances == forge.balances
    finally:
        await session.close()


def test_a_ledger_keeps_the_calls_it_verified() -> None:
    from chan_nb.client.ledger import Ledger

    owner, contract = bytes(range(32)), bytes(32)
    call = ct.CallObject(Id.account(owner), 3, 3, Id.contract(contract), 1, 11, b"\x54", 0)
    ledger = Ledger()
    ledger._keep_calls(3, (call,))
    assert ledger.verified_call(contract, owner, 3) == call
    assert ledger.verified_call(contract, owner, 4) is None
    assert (
        ledger.dry_run(
            cts.call_contract_update(Id.account(owner).api, Id.contract(contract).api, b"", 0)
        )
        is None
    )


# -- on the embedded node (which runs the same VM) ----------------------------------------------


async def _pair_with_game(node: Any, deposit: int = 1_000) -> tuple[Session, Session, str]:
    from chan_nb.client import open_pair
    from chan_nb.codec.fate import Address
    from chan_nb.codec.fate.examples import race21_code

    i, r = await open_pair(node, timeout=STEP)
    players = [Address.from_api(i.address), Address.from_api(r.address)]
    made = await i.create_contract(race21_code(), "init", players, deposit=deposit, timeout=STEP)
    assert made.round == 2 and made.init is not None and made.init.verified
    await r.wait_for(lambda e: r.round == 2, STEP, include_past=True)
    return i, r, made.contract_id


@pytest.fixture
async def node() -> Any:
    from chan_nb.node import EmbeddedNode

    async with EmbeddedNode() as started:
        yield started


async def test_a_game_on_the_embedded_node(node: Any) -> None:
    from chan_nb.client import ChannelConflict
    from chan_nb.client import events as ev

    i, r, game = await _pair_with_game(node)
    start_i = i.balances[i.address]
    assert i.balances == r.balances and start_i == 70_000_000_000_000 - 1 - 1_000
    first = await i.call_contract(game, "play", [3], timeout=STEP)
    assert first.verified and first.value == 3 and first.round == 3
    second = await r.call_contract(game, "play", [2], timeout=STEP)
    assert second.verified and second.value == 5
    await i.wait_for(lambda e: i.round == 4, STEP, include_past=True)
    # a cheating move: the contract reverts it, the initiator does not co-sign it
    mark = i.mark()
    with pytest.raises(ChannelConflict):
        await r.call_contract(game, "play", [3], timeout=STEP)
    refused = await i.wait_for(ev.Refused, STEP, since=mark)
    assert isinstance(refused, ev.Refused)
    assert "ends in revert: not your turn" in refused.problems[0]
    assert i.round == r.round == 4
    # reads: the node's answers agree with what each side verified itself
    dry = await i.dry_run(game, "play", [1], timeout=STEP)
    assert dry.verified and dry.value == 6 and dry.round == 5
    again = await i.call_result(game, 3, timeout=STEP)
    assert again.verified and again.call == first.call
    state = await r.contract_state(game, timeout=STEP)
    assert state.store[ct.register_key(1)] == encode(5) and state.deposit == 1_000
    # play it out: the initiator reaches 21 and takes the pot back through the contract
    total = 5
    for mover, n in ((i, 3), (r, 2), (i, 3), (r, 1), (i, 3), (r, 1), (i, 3)):
        call = await mover.call_contract(game, "play", [n], timeout=STEP)
        total += n
        assert call.verified and call.value == total
    assert total == 21
    await r.wait_for(lambda e: r.round == i.round, STEP, include_past=True)
    assert i.balances == r.balances and i.balances[i.address] == start_i + 1_000
    # the recording's operations: each contract flow, the refused move with its reason
    ops = i.log.operations()
    kinds = [op.kind for op in ops if op.kind not in ("open",)]
    assert kinds[:4] == ["new_contract", "call_contract", "call_contract", "call_contract"]
    cheat = ops[[op.kind for op in ops].index("call_contract") + 2]
    assert (cheat.starter, cheat.outcome.value, cheat.round) == ("responder", "conflict", 5)
    assert cheat.detail is not None and "initiator refused to sign update_ack" in cheat.detail
    assert "ends in revert: not your turn" in cheat.detail
    assert {"dry_run.call_contract", "get.contract_call", "get.contract"} <= set(kinds)
    await i.shutdown(timeout=STEP)


async def test_force_progress_on_the_embedded_node(node: Any) -> None:
    from chan_nb.client import events as ev

    i, r, game = await _pair_with_game(node, deposit=0)
    before = i.round
    event = await i.force_progress(game, "play", [3], gas_price=10**9, timeout=STEP)
    assert event.tx_type == "channel_force_progress_tx"
    requests = [
        e for e in i.events if isinstance(e, ev.SignRequest) and e.tag == "force_progress_tx"
    ]
    assert requests and not [e for e in i.events if isinstance(e, ev.Refused)]
    # both sides ran the forced call themselves and moved on by one round
    await r.wait_for(lambda e: r.round == before + 1, STEP, include_past=True)
    assert i.round == r.round == before + 1 and i.balances == r.balances
    assert (
        i.core.ledger.verified_call(decode(game, "ct"), decode(i.address, "ak"), before + 1)
        is not None
    )
    # and the channel goes on from there: the responder's move is verified as usual
    move = await r.call_contract(game, "play", [2], timeout=STEP)
    assert move.verified and move.value == 5 and move.round == before + 2
