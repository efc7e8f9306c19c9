"""Random FATE programs never crash the VM: a result, or VmNotImplemented, nothing else.

The node runs contract code a peer sends; an unexpected Python exception inside the VM
would take the node's handler down. Programs are drawn (fixed seeds, so a failure
reproduces) from the whole opcode table with every operand mode and a spread of
values, and run under both profiles.
"""

from __future__ import annotations

import random
from typing import Any

from chan_nb import vm
from chan_nb.codec import contracts as ct
from chan_nb.codec.fate import decode, encode_call, opcodes
from chan_nb.codec.fate import types as ft
from chan_nb.codec.fate.bytecode import FateCode, Function, Instruction, Operand, function_blocks
from chan_nb.codec.fate.code import CodeObject
from chan_nb.codec.fate.types import ObjectKind
from chan_nb.codec.fate.values import Address, Bits, Bytes, FateMap, Variant
from chan_nb.codec.ids import Id
from chan_nb.codec.trees import Account

ME, OWNER, CONTRACT, OTHER = (bytes([b]) * 32 for b in (0x11, 0x22, 0x33, 0x44))
MAIN = b"\xb8\x17\x7e\xec"
VALUES: list[Any] = [
    0,
    1,
    -1,
    2**70,
    True,
    False,
    "",
    "abc",
    b"\xff",
    (),
    (1, 2),
    [],
    [1, 2],
    [(1, True)],
    FateMap({1: True}),
    Bits(5),
    Bits(-1),
    Bytes(b"ab"),
    Variant((0, 1), 1, (3,)),
    Address(ObjectKind.ADDRESS, ME),
    Address(ObjectKind.CONTRACT, OTHER),
    ft.INT,
    ft.TTuple((ft.INT,)),
]
OPS = [op for op in opcodes.OPS if op.name != "RETURN"]


def _operand(rng: random.Random, fmt: str) -> Operand:
    if fmt == "ii":
        return Operand.imm(rng.randint(0, 3))
    if fmt == "li":
        return Operand.imm([rng.randint(0, 3) for _ in range(rng.randint(0, 3))])
    if fmt == "is":
        return Operand.imm(rng.choice(["main", MAIN, "f"]))
    kind = rng.randint(0, 4)
    if kind == 0:
        return Operand.stack()
    if kind == 1:
        return Operand.arg(rng.randint(0, 1))
    if kind == 2:
        return Operand.var(rng.randint(0, 2))
    if kind == 3:
        return Operand.store(1)
    return Operand.imm(rng.choice(VALUES))


def _program(rng: random.Random) -> FateCode:
    body = []
    for _ in range(rng.randint(1, 12)):
        op = rng.choice(OPS)
        body.append(Instruction(op, tuple(_operand(rng, f) for f in op.args)))
    body.append(Instruction.of("RETURNR", Operand.imm(1)))
    main = Function(MAIN, 2, (ft.INT, ft.ANY), ft.ANY, function_blocks(body))
    return FateCode((main,))


def _world(code: FateCode) -> vm.World:
    raw = CodeObject(b"\x00" * 32, (), code.serialize(), b"", True).serialize()
    world = vm.World()
    world.accounts[ME] = Account(0, 10**9)
    for pubkey in (CONTRACT, OTHER):  # OTHER runs the same code (remote calls land there)
        world.contracts[pubkey] = ct.ContractObject(Id.account(OWNER), (7 << 16) | 3, raw, 0)
        world.accounts[pubkey] = Account(0, 5)
        world.stores[pubkey] = {**ct.initial_store(), b"\x00\x01": b"\x54"}
    return world


def test_random_programs_give_a_result_or_refuse() -> None:
    rng = random.Random(1)
    outcomes = {"ok": 0, "error": 0, "revert": 0, "refused": 0}
    for _ in range(600):
        code = _program(rng)
        world = _world(code)
        arg = rng.choice(VALUES)
        for profile in (vm.RECORDED_2020, vm.IRIS):
            spec = vm.CallSpec(
                CONTRACT, code, 7, encode_call(MAIN, [1, arg]), ME, ME, rng.randint(0, 1), 10**5, 1
            )
            try:
                result = vm.execute(world, spec, vm.RECORDED_ENV, vm.StaticOnChain(), profile)
            except vm.VmNotImplemented:
                outcomes["refused"] += 1
                continue
            outcomes[result.return_type] += 1
            assert 0 <= result.gas_used <= 10**5
            assert (result.world is not None) == result.ok
            if result.ok:
                assert decode(result.return_value) == result.value
            if result.return_type == "revert":
                assert isinstance(decode(result.return_value), str | bytes)
    assert outcomes["ok"] and outcomes["error"] and outcomes["refused"], outcomes
