"""Running one call: setup, the instruction loop, finalization and the result (fate.md §4.2–§4.6).

:func:`execute` is pure: it takes a :class:`World` and returns a :class:`ExecResult`
with the new world (only when the call succeeded), the gas used, the return value as
the call object stores it, and the events. Errors and reverts are results; a case the
VM does not model raises :class:`~chan_nb.vm.errors.VmNotImplemented`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from chan_nb.codec import contracts as ct
from chan_nb.codec.fate.bytecode import FateCode, Instruction
from chan_nb.codec.fate.types import ObjectKind
from chan_nb.codec.fate.values import Address, Value, decode, encode
from chan_nb.errors import DecodeError
from chan_nb.vm import (
    calls,
    erlang,
    gas,
    ops_chain,
    ops_collections,
    ops_data,
    ops_flow,
    ops_strings,
)
from chan_nb.vm.chain import ChainEnv, OnChain
from chan_nb.vm.errors import FateError, FateRevert, VmNotImplemented
from chan_nb.vm.machine import NEXT, STOP, GasStore, Machine
from chan_nb.vm.profile import Profile
from chan_nb.vm.world import World

ReturnType = Literal["ok", "error", "revert"]

#: every implemented instruction, by mnemonic (the rest raise VmNotImplemented)
HANDLERS: Final[dict[str, ops_data.Handler]] = {
    **ops_flow.HANDLERS,
    **ops_data.HANDLERS,
    **ops_collections.HANDLERS,
    **ops_strings.HANDLERS,
    **ops_chain.HANDLERS,
}


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one call."""

    return_type: ReturnType
    return_value: bytes  # ok: FATE value; revert: FATE string; error: the raw text
    gas_used: int
    logs: tuple[ct.LogEntry, ...]
    world: World | None  # the state after a successful call; None when it failed
    value: Value = None  # the decoded result of an ok call

    @property
    def ok(self) -> bool:
        return self.return_type == "ok"


@dataclass(frozen=True)
class CallSpec:
    """What to run: a contract, its code, the call data and the call's context."""

    contract: bytes
    code: FateCode
    vm_version: int
    call_data: bytes
    caller: bytes
    origin: bytes
    value: int
    gas: int
    gas_price: int
    allow_init: bool = False


def valid_call(call_data: bytes) -> tuple[bytes, list[Value]] | None:
    """``is_valid_calldata``: a 2-tuple of a string and a tuple, else None."""
    try:
        value = decode(call_data)
    except (DecodeError, ValueError):
        return None
    if (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str | bytes)
        and isinstance(value[1], tuple)
    ):
        return erlang.raw_string(value[0]), list(value[1])
    return None


def execute(
    world: World, spec: CallSpec, env: ChainEnv, onchain: OnChain, profile: Profile
) -> ExecResult:
    """Run ``spec`` against ``world`` (not modified) with the node rules of ``profile``.

    Values nested deeper than the codec encodes (``MAX_NESTING``) or than Python's
    recursion allows raise VmNotImplemented: the node would handle them, this VM refuses.
    """
    try:
        return _execute(world, spec, env, onchain, profile)
    except RecursionError:
        raise VmNotImplemented("a value nested too deep for this VM") from None
    except ValueError as exc:
        if "nested deeper" in str(exc):
            raise VmNotImplemented(f"a value the codec cannot encode: {exc}") from None
        raise


def _execute(
    world: World, spec: CallSpec, env: ChainEnv, onchain: OnChain, profile: Profile
) -> ExecResult:
    parsed = valid_call(spec.call_data)
    if parsed is None:
        return ExecResult("error", b"bad_call_data", spec.gas, (), None)
    fun_id, args = parsed
    if not spec.code.functions:
        raise VmNotImplemented("running code without functions")
    m = Machine(
        profile=profile,
        env=env,
        onchain=onchain,
        world=world.copy(),
        origin=spec.origin,
        gas_price=spec.gas_price,
        gas=spec.gas,
        contract=spec.contract,
        code=spec.code,
        function=spec.code.functions[0],
        caller=Address(ObjectKind.ADDRESS, spec.caller),
        call_value=spec.value,
        vm_version=spec.vm_version,
    )
    m.code_cache[spec.contract] = spec.code
    try:
        function = calls.lookup(m, spec.code, fun_id)
        calls.check_flags(m, function, spec.value > 0, True)
        calls.guard_init(m, function, spec.allow_init)
        m.tvars = calls.check_signature(m, args, function)
        calls.bind_args(m, args)
        calls.enter_local(m, function)
        _run(m)
        result = m.stack[-1]
        stores = _finalize(m)
        m.traverse(result, "final")
    except FateRevert as exc:
        left = m.gas + _reserved(m)
        return ExecResult("revert", encode(exc.value), spec.gas - left, (), None)
    except FateError as exc:
        return ExecResult("error", exc.message, spec.gas - _reserved(m), (), None)
    for pubkey, store in stores.items():
        m.world.stores[pubkey] = store
    return ExecResult("ok", encode(result), spec.gas - m.gas, tuple(m.logs), m.world, result)


def _reserved(m: Machine) -> int:
    return sum(e.gas for e in m.call_stack if isinstance(e, GasStore))


def _run(m: Machine) -> None:
    """The instruction loop (``aefa_fate:execute``)."""
    while True:
        blocks = m.function.blocks
        if not 0 <= m.bb < len(blocks):
            raise m.error("Trying to jump to non existing bb: ~p", ("p", m.bb))
        target = NEXT
        for instruction in blocks[m.bb]:
            if not m.has_protected():
                target = _step(m, instruction)
            else:  # a failure may be caught: note the machine as it was before the step
                before = m.unwind_point()
                try:
                    target = _step(m, instruction)
                except (FateError, FateRevert):
                    resume = calls.catch_protected(m, before)
                    if resume is None:
                        raise
                    target = resume
            if target != NEXT:
                break
        if target == STOP:
            return
        m.bb = m.bb + 1 if target == NEXT else target


def _step(m: Machine, instruction: Instruction) -> int:
    op = instruction.op
    if not op.off_chain:
        raise m.error("Operation ~p not allowed off chain", ("p", erlang.Atom(op.name)))
    if not m.profile.iris_gas and (0xA3 <= op.code <= 0xB6 or 0xF0 <= op.code <= 0xF3):
        raise VmNotImplemented(f"{op.name} is not in the recorded node's instruction set")
    if m.vm_version < op.from_vm or (op.until_vm is not None and m.vm_version > op.until_vm):
        raise VmNotImplemented(f"{op.name} under vm {m.vm_version} (the node's version check)")
    handler = HANDLERS.get(op.name)
    if handler is None:
        raise VmNotImplemented(f"instruction {op.name} is not implemented by this VM")
    m.spend(m.profile.base_gas(op))
    return handler(m, instruction.args)


def _finalize(m: Machine) -> dict[bytes, dict[bytes, bytes]]:
    """Write back every dirty store, paying for the bytes (§3.2.4, §4.6 step 2)."""
    out: dict[bytes, dict[bytes, bytes]] = {}
    for pubkey, cache in m.stores.items():
        if not cache.dirty:
            continue
        for _, value in cache.dirty_values():
            m.traverse(value, "serial")
        store, writes = cache.finalize()
        for key, raw in writes:
            m.spend(gas.store_write_gas(key, raw))
        out[pubkey] = store
    return out


__all__ = ["HANDLERS", "CallSpec", "ExecResult", "execute", "valid_call"]
