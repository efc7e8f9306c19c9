"""Control flow: returns, local and remote calls, jumps, switches, ABORT, EXIT, NOP (§3.1)."""

from __future__ import annotations

from collections.abc import Callable

from chan_nb.codec.fate.bytecode import Operand
from chan_nb.codec.fate.values import Variant
from chan_nb.vm import calls, erlang
from chan_nb.vm.errors import FateError, FateRevert
from chan_nb.vm.machine import NEXT, Machine, lenient

Handler = Callable[[Machine, tuple[Operand, ...]], int]


def _return(m: Machine, a: tuple[Operand, ...]) -> int:
    return calls.do_return(m)


def _returnr(m: Machine, a: tuple[Operand, ...]) -> int:
    m.push(m.read(a[0]))
    return calls.do_return(m)


def _call(m: Machine, a: tuple[Operand, ...]) -> int:
    function = calls.lookup(m, m.code, calls.fun_id_of(m, m.read(a[0])))
    args = m.drop(len(function.arg_types))
    calls.push_frame(m)
    calls.bind_args(m, args)
    calls.guard_init(m, function, m.vm_version == 5)
    return calls.enter_local(m, function)


def _call_t(m: Machine, a: tuple[Operand, ...]) -> int:
    function = calls.lookup(m, m.code, calls.fun_id_of(m, m.read(a[0])))
    args = m.drop(len(function.arg_types))
    calls.bind_args(m, args)
    calls.guard_init(m, function, m.vm_version == 5)
    return calls.enter_local(m, function)


def _call_r(m: Machine, a: tuple[Operand, ...]) -> int:
    contract, arg_t, ret_t, value = (m.read(x) for x in (a[0], a[2], a[3], a[4]))
    return calls.remote_call(m, contract, a[1].value, arg_t, ret_t, value, None)


def _call_gr(m: Machine, a: tuple[Operand, ...]) -> int:
    contract, arg_t, ret_t, value, cap = (m.read(x) for x in (a[0], a[2], a[3], a[4], a[5]))
    return calls.remote_call(m, contract, a[1].value, arg_t, ret_t, value, cap)


def _call_pgr(m: Machine, a: tuple[Operand, ...]) -> int:
    contract, arg_t, ret_t, value, cap, protected = (
        m.read(x) for x in (a[0], a[2], a[3], a[4], a[5], a[6])
    )
    if not isinstance(protected, bool):
        raise m.type_error(protected, "bool")
    return calls.remote_call(m, contract, a[1].value, arg_t, ret_t, value, cap, protected)


def _jump(m: Machine, a: tuple[Operand, ...]) -> int:
    return int(a[0].value)


def _jumpif(m: Machine, a: tuple[Operand, ...]) -> int:
    value = m.read(a[0])
    if value is True:
        return int(a[1].value)
    if value is False:
        return NEXT
    raise lenient(m, value, "boolean")


def _variant(m: Machine, value: object, size: int | None) -> Variant:
    if not isinstance(value, Variant):
        raise m.type_error(value, "variant")
    if size is not None and len(value.arities) != size:
        raise m.error("Type error in switch: wrong size ~p", ("p", len(value.arities)))
    return value


def _switch_v2(m: Machine, a: tuple[Operand, ...]) -> int:
    v = _variant(m, m.read(a[0]), 2)
    return int(a[1 + v.tag].value)


def _switch_v3(m: Machine, a: tuple[Operand, ...]) -> int:
    v = _variant(m, m.read(a[0]), 3)
    return int(a[1 + v.tag].value)


def _switch_vn(m: Machine, a: tuple[Operand, ...]) -> int:
    targets = a[1].value
    v = _variant(m, m.read(a[0]), None)
    if len(v.arities) != len(targets):
        raise m.error("Type error in switch: tag ~p is larger than switch op", ("p", v.tag))
    return int(targets[v.tag])


def _abort(m: Machine, a: tuple[Operand, ...]) -> int:
    value = m.read(a[0])
    if isinstance(value, str | bytes):
        raise FateRevert(value)
    raise m.type_error(value, "string")


class FateExit(FateError):
    """``EXIT``: an error whose text is the string given; all gas is used."""


def _exit(m: Machine, a: tuple[Operand, ...]) -> int:
    value = m.read(a[0])
    if isinstance(value, str | bytes):
        raise FateExit(erlang.raw_string(value))
    raise m.type_error(value, "string")


def _nop(m: Machine, a: tuple[Operand, ...]) -> int:
    return NEXT


HANDLERS: dict[str, Handler] = {
    "RETURN": _return,
    "RETURNR": _returnr,
    "CALL": _call,
    "CALL_T": _call_t,
    "CALL_R": _call_r,
    "CALL_GR": _call_gr,
    "CALL_PGR": _call_pgr,
    "JUMP": _jump,
    "JUMPIF": _jumpif,
    "SWITCH_V2": _switch_v2,
    "SWITCH_V3": _switch_v3,
    "SWITCH_VN": _switch_vn,
    "ABORT": _abort,
    "EXIT": _exit,
    "NOP": _nop,
}

__all__ = ["HANDLERS", "FateExit", "Handler"]
