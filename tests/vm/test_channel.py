"""The channel-level VM API: new-contract and call-contract updates on a state (§6.3–6.5)."""

from __future__ import annotations

import pytest

from chan_nb import vm
from chan_nb.codec import contracts as ct
from chan_nb.codec import updates as upd
from chan_nb.codec.fate import CodeObject, assemble, decode, encode, encode_call
from chan_nb.codec.ids import Id
from chan_nb.codec.trees import StateTrees

A = b"\x0a" * 32
B = b"\x0b" * 32
VM_ABI = (7 << 16) | 3
COUNTER = """
FUNCTION init(int) : unit
  STORE store1 arg0
  RETURNR ()
FUNCTION payable get() : int
  RETURNR store1
FUNCTION payable tick() : unit
  INC store1
  RETURNR ()
FUNCTION payable boom() : unit
  ABORT "boom"
FUNCTION payable balance() : int
  BALANCE a
  RETURN
"""
CODE = CodeObject(b"\x00" * 32, (), assemble(COUNTER).serialize(), b"asm", True).serialize()


def ctx(profile: vm.Profile = vm.RECORDED_2020) -> vm.ChannelContext:
    return vm.ChannelContext(vm.RECORDED_ENV, vm.StaticOnChain(), profile, reserve=2)


def opened() -> StateTrees:
    return StateTrees.from_balances({A: 1000, B: 500})


def create(
    trees: StateTrees, round_: int = 2, profile: vm.Profile = vm.RECORDED_2020
) -> vm.ContractUpdate:
    update = upd.OffChainNewContract(Id.account(A), VM_ABI, CODE, 10, encode_call("init", [21]))
    return vm.apply_new_contract(vm.new_round(trees), update, round_, ctx(profile))


def call(
    trees: StateTrees,
    contract: bytes,
    fun: str,
    round_: int,
    amount: int = 0,
    profile: vm.Profile = vm.RECORDED_2020,
    who: bytes = B,
) -> vm.ContractUpdate:
    update = upd.OffChainCallContract(
        Id.account(who), Id.contract(contract), 3, amount, 1_000_000, 1, encode_call(fun), ()
    )
    return vm.apply_call_contract(vm.new_round(trees), update, round_, ctx(profile))


def test_create_runs_init_and_makes_the_contract() -> None:
    done = create(opened())
    pubkey = ct.contract_pubkey(A, 2)
    assert done.contract == pubkey
    assert done.call.caller_nonce == done.call.height == 2
    assert (done.call.gas_price, done.call.gas_used, done.call.return_value) == (0, 56, b"\x3f")
    state = done.trees
    assert state.balances() == {A: 990, B: 500, pubkey: 10}
    assert state.contract_store(pubkey) == {b"\x00\x00": b"\x2f\x00", b"\x00\x01": encode(21)}
    obj = state.contract_objects()[pubkey]
    assert obj.version == 1 and obj.deposit == 10 and obj.owner == Id.account(A)
    assert b"init" not in CodeObject.deserialize(obj.code).fate().names().values()  # stripped
    assert state.call_objects() == {done.call.key: done.call}
    assert done.state_hash == state.state_hash()


def test_iris_keeps_init_and_writes_contract_objects_v2() -> None:
    done = create(opened(), profile=vm.IRIS)
    obj = done.trees.contract_objects()[done.contract]
    assert obj.version == 2 and obj.code == CODE
    assert done.call.gas_used == 61  # fate.md §8.2 (derived)
    again = vm.apply_call_contract(
        done.trees,
        upd.OffChainCallContract(
            Id.account(A),
            Id.contract(done.contract),
            3,
            0,
            1_000_000,
            1,
            encode_call("init", [1]),
            (),
        ),
        3,
        ctx(vm.IRIS),
    )
    assert again.call.return_value == b"Calling init is not allowed in this context"


def test_calls_change_the_store_and_the_round_prunes_calls() -> None:
    made = create(opened())
    tick = call(made.trees, made.contract, "tick", 3)
    assert tick.call.gas_used == 56 and tick.call.return_type == 0
    assert list(tick.trees.call_objects()) == [tick.call.key]  # round 2's init call is gone
    get = call(tick.trees, made.contract, "get", 4)
    assert decode(get.call.return_value) == 22
    assert get.trees.contract_store(made.contract)[b"\x00\x01"] == encode(22)


def test_failed_call_keeps_or_refunds_the_amount_by_profile() -> None:
    made = create(opened())
    failed = call(made.trees, made.contract, "boom", 3, amount=5)
    assert failed.call.return_type == 2 and decode(failed.call.return_value) == "boom"
    assert failed.trees.balances()[made.contract] == 15  # the recorded node keeps it
    assert failed.trees.balances()[B] == 495
    iris = create(opened(), profile=vm.IRIS)
    refunded = call(iris.trees, iris.contract, "boom", 3, amount=5, profile=vm.IRIS)
    assert refunded.trees.balances()[iris.contract] == 10
    assert refunded.trees.balances()[B] == 500


def test_dry_run_uses_the_next_round_and_changes_nothing() -> None:
    made = create(opened())
    before = made.trees.state_hash()
    update = upd.OffChainCallContract(
        Id.account(B), Id.contract(made.contract), 3, 3, 1_000_000, 1, encode_call("balance"), ()
    )
    result = vm.dry_run(made.trees, update, 2, ctx())
    assert result.caller_nonce == result.height == 3
    assert decode(result.return_value) == 13  # the amount is paid in before the call
    assert made.trees.state_hash() == before


def test_refusals_carry_the_node_codes() -> None:
    trees = opened()
    bad_init = upd.OffChainNewContract(Id.account(A), VM_ABI, CODE, 10, encode_call("get"))
    with pytest.raises(vm.UpdateRefused) as info:
        vm.apply_new_contract(trees, bad_init, 2, ctx())
    assert (info.value.reason, info.value.code) == ("contract_init_failed", 1007)
    rich = upd.OffChainNewContract(Id.account(A), VM_ABI, CODE, 999, encode_call("init", [1]))
    with pytest.raises(vm.UpdateRefused) as info:
        vm.apply_new_contract(trees, rich, 2, ctx())
    assert info.value.code == 1001  # 1000 - 999 < reserve 2
    failing_init = upd.OffChainNewContract(
        Id.account(A), VM_ABI, CODE, 10, encode_call("init", ["not an int"])
    )
    with pytest.raises(vm.UpdateRefused) as info:
        vm.apply_new_contract(trees, failing_init, 2, ctx())
    assert info.value.code == 1007
    made = create(trees)
    wrong_abi = upd.OffChainCallContract(
        Id.account(B), Id.contract(made.contract), 1, 0, 1_000_000, 1, encode_call("get"), ()
    )
    with pytest.raises(vm.UpdateRefused) as info:
        vm.apply_call_contract(made.trees, wrong_abi, 3, ctx())
    assert info.value.code == 1019
    with pytest.raises(vm.UpdateRefused) as info:
        call(made.trees, b"\x77" * 32, "get", 3)
    assert info.value.reason == "unknown_contract" and info.value.code is None
    with pytest.raises(vm.UpdateRefused) as info:
        call(made.trees, made.contract, "get", 3, amount=499)
    assert info.value.code == 1001


def test_bad_call_data_is_a_failed_call_not_a_refusal() -> None:
    made = create(opened())
    update = upd.OffChainCallContract(
        Id.account(B), Id.contract(made.contract), 3, 0, 1_000_000, 1, b"\x01\x02", ()
    )
    done = vm.apply_call_contract(vm.new_round(made.trees), update, 3, ctx())
    assert (done.call.return_type, done.call.return_value) == (1, b"bad_call_data")
    assert done.call.gas_used == 1_000_000


def test_apply_round_mixes_transfers_and_contract_updates() -> None:
    made = create(opened())
    ups: list[upd.Update] = [
        upd.OffChainTransfer(Id.account(A), Id.account(B), 100),
        upd.OffChainCallContract(
            Id.account(B), Id.contract(made.contract), 3, 0, 1_000_000, 1, encode_call("tick"), ()
        ),
    ]
    result = vm.apply_round(made.trees, ups, 3, ctx())
    assert result.trees.balances()[A] == 890 and result.trees.balances()[B] == 600
    assert len(result.calls) == 1 and result.calls[0].gas_used == 56
    assert result.state_hash == result.trees.state_hash()
    with pytest.raises(Exception, match="reserve"):
        vm.apply_round(
            made.trees, [upd.OffChainTransfer(Id.account(A), Id.account(B), 989)], 3, ctx()
        )


def test_transfers_name_only_the_participants() -> None:
    made = create(opened())
    stranger = b"\x0c" * 32
    spent = made.trees.accounts | {stranger: made.trees.accounts[B]}  # an account SPEND made
    state = StateTrees(accounts=spent, contracts=made.trees.contracts)
    pay = upd.OffChainTransfer(Id.account(A), Id.account(stranger), 1)
    strict = vm.ChannelContext(
        vm.RECORDED_ENV, vm.StaticOnChain(), vm.RECORDED_2020, 2, frozenset({A, B})
    )
    with pytest.raises(Exception, match="participants"):
        vm.apply_round(state, [pay], 3, strict)
    assert vm.apply_round(state, [pay], 3, ctx()).trees.balances()[stranger] == 501
