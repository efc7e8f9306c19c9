"""Entering and leaving functions: local and remote calls, returns, value transfer (fate.md §4.4).

Shared by the call instructions (:mod:`chan_nb.vm.ops_flow`) and the top-level setup
(:mod:`chan_nb.vm.engine`). The order of the checks is the node's, because it decides
which error a bad call reports and how much gas a failure keeps.
"""

from __future__ import annotations

from typing import Any

from chan_nb.codec.contracts import ContractObject
from chan_nb.codec.fate.bytecode import FateCode, Function
from chan_nb.codec.fate.code import CodeObject
from chan_nb.codec.fate.types import ObjectKind
from chan_nb.codec.fate.values import Address, Value, none, some
from chan_nb.codec.updates import unpack_ct_version
from chan_nb.errors import DecodeError
from chan_nb.vm import erlang, gas, typecheck
from chan_nb.vm.errors import FateError, FateRevert, VmNotImplemented
from chan_nb.vm.machine import NEXT, STOP, Frame, GasStore, Machine, ReturnCheck

FATE_VMS = frozenset({5, 7, 8})


def fun_id_of(m: Machine, value: Value) -> bytes:
    if isinstance(value, str | bytes):
        return erlang.raw_string(value)
    raise VmNotImplemented("a call whose function is not a string (a crash in the node)")


def lookup(m: Machine, code: FateCode, fun_id: bytes) -> Function:
    for function in code.functions:
        if function.id == fun_id:
            return function
    raise m.error("Trying to call undefined function: ~w", ("w", fun_id))


def load_code(m: Machine, pubkey: bytes) -> tuple[FateCode, int] | None:
    """The FATE code and vm version of an off-chain contract (None: no such contract)."""
    cached = m.code_cache.get(pubkey)
    if cached is None and m.profile.iris_gas:
        m.spend(gas.CODE_LOAD_GAS)  # charged before the lookup, as the node does
    obj: ContractObject | None = m.world.contracts.get(pubkey)
    if obj is None:
        return None
    vm = unpack_ct_version(obj.ct_version)[0]
    if vm not in FATE_VMS:
        raise VmNotImplemented(f"calling a vm {vm} (AEVM) contract from FATE is not modelled")
    if cached is None:
        try:
            cached = CodeObject.deserialize(obj.code).fate()
        except DecodeError as exc:
            raise VmNotImplemented(f"stored contract code does not decode: {exc}") from None
        m.code_cache[pubkey] = cached
    return cached, vm


def check_flags(m: Machine, function: Function, check_payable: bool, check_private: bool) -> None:
    if check_payable and not function.is_payable:
        raise m.error("Function with hash ~w is not payable", ("w", function.id))
    if check_private and function.is_private:
        raise m.error("Function with hash ~w is private", ("w", function.id))


def check_signature(m: Machine, args: list[Value], function: Function) -> dict[int, Any]:
    """Argument count and types against the signature; the type-variable bindings."""
    types = [typecheck.declared(t) for t in function.arg_types]
    if len(types) != len(args):
        raise m.error("Expected ~p arguments, got ~p", ("p", len(types)), ("p", len(args)))
    tvars = typecheck.check(("tuple", tuple(types)), tuple(args))
    if tvars is None:
        raise m.error(
            "Type error on call: ~p is not of type ~p",
            ("p", [erlang.to_term(a) for a in args]),
            ("p", [typecheck.type_term(t) for t in types]),
        )
    return tvars


def bind_args(m: Machine, args: list[Value]) -> None:
    m.memory = {("arg", i): a for i, a in enumerate(args)}


def enter_local(m: Machine, function: Function) -> int:
    m.function = function
    m.bb = 0
    return 0


def push_frame(m: Machine) -> None:
    """Save the caller (resume at the next BB) and give the callee an empty stack."""
    m.call_stack.append(
        Frame(
            m.caller,
            m.contract,
            m.code,
            m.function,
            m.tvars,
            m.bb + 1,
            m.stack,
            m.memory,
            m.call_value,
            m.vm_version,
        )
    )
    m.stack = []


def set_remote(m: Machine, caller: Address, pubkey: bytes) -> FateCode:
    """Switch to another contract's code (``set_remote_function``); abort if it is not one."""
    loaded = load_code(m, pubkey)
    if loaded is None:
        raise m.error("Trying to call invalid contract: ~w", ("w", pubkey))
    code, vm = loaded
    m.contract, m.code, m.caller = pubkey, code, caller
    if m.profile.iris_gas:  # from Iris each contract runs under its own vm version
        m.vm_version = vm
    return code


def check_reentrant(m: Machine, contract: Value) -> bytes:
    if not (isinstance(contract, Address) and contract.kind is ObjectKind.CONTRACT):
        raise m.type_error(contract, "contract")
    if contract.pubkey == m.contract or contract.pubkey in m.seen:
        raise m.error("Reentrant call")
    m.seen.insert(0, m.contract)
    return contract.pubkey


def remote_call(
    m: Machine,
    contract: Value,
    fun: Value,
    arg_type: Value,
    ret_type: Value,
    value: Value,
    gas_cap: Value | None,
    protected: bool = False,
) -> int:
    """CALL_R / CALL_GR / CALL_PGR: pop the arguments and enter the callee at BB 0.

    A protected call whose setup fails (no such contract, not payable, bad arguments,
    out of gas …) continues after the call with None, as if nothing had been tried.
    """
    arg_t = _typerep(arg_type)
    ret_t = _typerep(ret_type)
    if arg_t[0] != "tuple":
        raise VmNotImplemented("a remote call whose argument typerep is not a tuple (a crash)")
    fun_id = fun_id_of(m, fun)
    caller = m.address
    args = m.drop(len(arg_t[1]))
    m.traverse(args, "simple")
    if not protected:
        return _enter_remote(m, contract, fun_id, arg_t, ret_t, value, gas_cap, args, caller, False)
    before = m.snapshot()
    try:
        return _enter_remote(m, contract, fun_id, arg_t, ret_t, value, gas_cap, args, caller, True)
    except (FateError, FateRevert):
        m.restore(before)
        m.push(none())
        return NEXT


def _enter_remote(
    m: Machine,
    contract: Value,
    fun_id: bytes,
    arg_t: Any,
    ret_t: Any,
    value: Value,
    gas_cap: Value | None,
    args: list[Value],
    caller: Address,
    protected: bool,
) -> int:
    push_frame(m)
    if gas_cap is not None:
        if not isinstance(gas_cap, int) or isinstance(gas_cap, bool):
            raise m.type_error(gas_cap, "integer")
        if gas_cap <= 0:
            what: object = erlang.Atom("bad_gas_cap")
            if m.profile.strict_types:  # from Iris the cap is in the reason
                what = (erlang.Atom("bad_gas_cap"), gas_cap)
            raise m.error("Error in call: ~w", ("w", what))
        if gas_cap < m.gas:
            m.call_stack.append(GasStore(m.gas - gas_cap))
            m.gas = gas_cap
    pubkey = check_reentrant(m, contract)
    if not isinstance(value, int) or isinstance(value, bool):
        raise VmNotImplemented("a remote call with a non-integer value (Erlang term order)")
    code = set_remote(m, caller, pubkey)
    function = lookup(m, code, fun_id)
    check_flags(m, function, value > 0, True)
    guard_init(m, function, False)
    tvars = check_signature(m, args, function)
    callee_sig = (
        "tuple",
        (
            typecheck.declared(function.return_type),
            *(typecheck.declared(t) for t in function.arg_types),
        ),
    )
    caller_sig = ("tuple", (ret_t, *arg_t[1]))
    caller_tvars = typecheck.match(caller_sig, typecheck.instantiate(tvars, callee_sig))
    if caller_tvars is None:
        raise m.error("Type of remote function does not match expected type")
    if protected:
        m.call_stack.append(ReturnCheck(ret_t, caller_tvars, True, m.world.copy(), m.copy_stores()))
    else:
        m.call_stack.append(ReturnCheck(ret_t, caller_tvars))
    m.tvars = tvars
    bind_args(m, args)
    _transfer(m, caller.pubkey, pubkey, value)
    return enter_local(m, function)


def _typerep(value: Value) -> Any:
    from chan_nb.codec.fate.types import FateType

    if not isinstance(value, FateType):
        raise VmNotImplemented("a remote call whose types are not typereps (a crash)")
    return typecheck.declared(value)


def _transfer(m: Machine, source: bytes, target: bytes, value: int) -> None:
    if value < 0:
        raise m.error("Error in call: ~w", ("w", erlang.Atom("negative_value")))
    m.call_value = value
    if value == 0:
        return
    if not m.world.move(source, target, value):
        raise m.error("Error in call: ~w", ("w", erlang.Atom("insufficient_funds")))


def do_return(m: Machine) -> int:
    """Pop the call stack down to the next frame (or the end); the BB to resume or STOP."""
    while True:
        if not m.stack:
            if m.profile.strict_types:
                raise m.error("Stack overflow when pop:ing ~p elements", ("p", 1))
            raise VmNotImplemented("returning with an empty stack (the old node's void)")
        result = m.stack[-1]
        if not m.call_stack:
            m.traverse(result, "simple")
            return STOP
        entry = m.call_stack.pop()
        if isinstance(entry, ReturnCheck):
            m.traverse(result, "simple")
            found = typecheck.check(entry.ret_type, result)
            merged = None if found is None else typecheck._merge(found, entry.tvars)
            if entry.protected:
                if merged is None:  # a protected call's bad return rolls back to None
                    _roll_back(m, entry)
                else:
                    m.stack[-1] = some(result)
                continue
            if merged is None:
                shown = (
                    entry.ret_type
                    if found is None
                    else typecheck.instantiate(entry.tvars, entry.ret_type)
                )
                raise m.error(
                    "Type error on return: ~p is not of type ~p",
                    ("p", erlang.to_term(result)),
                    ("p", typecheck.type_term(shown)),
                )
            continue
        if isinstance(entry, GasStore):
            m.gas += entry.gas
            continue
        m.call_value = entry.value
        m.stack = [*entry.stack, result]
        m.memory = entry.memory
        m.tvars = entry.tvars
        if entry.contract != m.contract:  # a remote frame
            m.traverse(result, "simple")
            while m.seen and m.seen[0] != entry.contract:
                m.seen.pop(0)
            if m.seen:
                m.seen.pop(0)
            set_remote(m, entry.caller, entry.contract)
            m.vm_version = entry.vm_version
        m.code = entry.code
        m.function = entry.function
        m.bb = entry.bb
        return entry.bb


__all__ = [
    "bind_args",
    "check_flags",
    "check_signature",
    "do_return",
    "enter_local",
    "fun_id_of",
    "lookup",
    "push_frame",
    "remote_call",
    "set_remote",
]


def function_id_of_name(name: str) -> bytes:
    from chan_nb.codec.fate.bytecode import function_id

    return function_id(name)


INIT_ID = function_id_of_name("init")


def guard_init(m: Machine, function: Function, allowed: bool) -> None:
    """From Iris, ``init`` runs only when creating (vm 5 code may still call it locally)."""
    if m.profile.guards_init and not allowed and function.id == INIT_ID:
        raise m.error("Calling init is not allowed in this context")


def _roll_back(m: Machine, entry: ReturnCheck) -> None:
    assert entry.world is not None and entry.stores is not None
    m.world, m.stores = entry.world, entry.stores
    m.stack = [*m.stack[:-1], none()] if m.stack else [none()]


def catch_protected(m: Machine, before: dict[str, Any]) -> int | None:
    """Unwind a failure to the innermost protected call (``catch_protected``).

    ``before`` is the machine before the failing instruction. Returns the BB where the
    protected call's caller resumes (with None on its stack), or None when no protected
    call is on the stack (the failure ends the execution).
    """
    if not any(isinstance(e, ReturnCheck) and e.protected for e in before["call_stack"]):
        return None
    for name in ("gas", "cells", "logs", "call_stack", "seen", "contract"):
        setattr(m, name, before[name])
    while m.call_stack:
        entry = m.call_stack.pop()
        if isinstance(entry, GasStore):
            m.gas += entry.gas
        elif isinstance(entry, Frame):
            if entry.contract != m.contract:
                while m.seen and m.seen[0] != entry.contract:
                    m.seen.pop(0)
                if m.seen:
                    m.seen.pop(0)
        elif entry.protected:
            _roll_back(m, entry)
            m.stack = [none()]
            return do_return(m)
    raise AssertionError("a protected return check was on the stack")
