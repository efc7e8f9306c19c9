"""Stack and memory, integer arithmetic, comparisons and booleans (fate.md §3.1, §3.5)."""

from __future__ import annotations

from collections.abc import Callable

from chan_nb.codec.fate.bytecode import Operand
from chan_nb.codec.fate.values import Value
from chan_nb.codec.fate.values import order_key as fate_key
from chan_nb.vm import erlang
from chan_nb.vm.errors import VmNotImplemented
from chan_nb.vm.gas import words
from chan_nb.vm.machine import NEXT, Machine, lenient

Handler = Callable[[Machine, tuple[Operand, ...]], int]


def is_int(v: Value) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


# -- stack and memory ------------------------------------------------------------------


def _push(m: Machine, a: tuple[Operand, ...]) -> int:
    m.push(m.read(a[0]))
    return NEXT


def _dupa(m: Machine, a: tuple[Operand, ...]) -> int:
    if not m.stack:
        raise VmNotImplemented("DUPA on an empty stack (the old node's void) is not modelled")
    m.push(m.stack[-1])
    return NEXT


def _dup(m: Machine, a: tuple[Operand, ...]) -> int:
    n = m.read(a[0])
    if not is_int(n) or not 0 <= n < len(m.stack):
        raise VmNotImplemented("DUP beyond the stack (a crash in the node) is not modelled")
    m.push(m.stack[-1 - n])
    return NEXT


def _pop(m: Machine, a: tuple[Operand, ...]) -> int:
    m.write(a[0], m.pop())
    return NEXT


def _store(m: Machine, a: tuple[Operand, ...]) -> int:
    m.write(a[0], m.read(a[1]))
    return NEXT


def _call_value(m: Machine, a: tuple[Operand, ...]) -> int:
    m.write(a[0], m.call_value)
    return NEXT


# -- integers ------------------------------------------------------------------------


def _step(m: Machine, target: Operand, source: Operand, delta: int) -> int:
    value = m.read(source)
    if not is_int(value):
        raise lenient(m, value, "integer")
    m.write(target, value + delta)
    return NEXT


def _inca(m: Machine, a: tuple[Operand, ...]) -> int:
    return _step(m, Operand.stack(), Operand.stack(), 1)


def _inc(m: Machine, a: tuple[Operand, ...]) -> int:
    return _step(m, a[0], a[0], 1)


def _deca(m: Machine, a: tuple[Operand, ...]) -> int:
    return _step(m, Operand.stack(), Operand.stack(), -1)


def _dec(m: Machine, a: tuple[Operand, ...]) -> int:
    return _step(m, a[0], a[0], -1)


def erlang_div(x: int, y: int) -> int:
    """Erlang ``div``: truncates toward zero."""
    q = abs(x) // abs(y)
    return q if (x >= 0) == (y >= 0) else -q


def erlang_rem(x: int, y: int) -> int:
    """Erlang ``rem``: the sign of the dividend."""
    return x - y * erlang_div(x, y)


def _arith(name: str, op: Callable[[Machine, int, int], int]) -> Handler:
    def handler(m: Machine, a: tuple[Operand, ...]) -> int:
        x = m.read(a[1])
        y = m.read(a[2])
        if not (is_int(x) and is_int(y)):
            raise m.bad_args(name, x, y)
        result = op(m, x, y)
        m.spend_cells(words(result))
        m.write(a[0], result)
        return NEXT

    return handler


def _div(m: Machine, x: int, y: int) -> int:
    if y == 0:
        raise m.error("Arithmetic error: division by zero")
    return erlang_div(x, y)


def _mod(m: Machine, x: int, y: int) -> int:
    if y == 0:
        raise m.error("Arithmetic error: mod by zero")
    return erlang_rem(x, y)


def _pow(m: Machine, a: tuple[Operand, ...]) -> int:
    base = m.read(a[1])
    exponent = m.read(a[2])
    if not (is_int(base) and is_int(exponent)):
        if m.profile.strict_types:
            raise m.bad_args("pow", base, exponent)
        raise VmNotImplemented("POW of non-integers (a crash in the old node) is not modelled")
    if exponent < 0:
        raise m.error("Arithmetic error: ~p", ("p", erlang.Atom("negative_exponent")))
    result, square, e = 1, base, exponent
    while e:  # square and multiply, charging as the node does (§3.2.1)
        if e % 2 == 0:
            m.spend_cells(words(square) * 2)
        else:
            m.spend_cells(words(result) + words(square) * 3)
            result *= square
        square *= square
        e >>= 1
    m.write(a[0], result)
    return NEXT


# -- comparisons and booleans ---------------------------------------------------------

_COMPARE: dict[str, Callable[[object, object], bool]] = {
    "LT": lambda x, y: x < y,  # type: ignore[operator]
    "GT": lambda x, y: x > y,  # type: ignore[operator]
    "ELT": lambda x, y: x <= y,  # type: ignore[operator]
    "EGT": lambda x, y: x >= y,  # type: ignore[operator]
    "EQ": lambda x, y: x == y,
    "NEQ": lambda x, y: x != y,
}


def _comparison(name: str) -> Handler:
    compare = _COMPARE[name]

    def handler(m: Machine, a: tuple[Operand, ...]) -> int:
        x = m.read(a[1])
        m.traverse(x, "simple")  # unfold_compare only when store maps unfold (not modelled)
        y = m.read(a[2])
        m.traverse(y, "simple")
        key = fate_key if m.profile.fate_order else erlang.order_key
        m.write(a[0], compare(key(x), key(y)))
        return NEXT

    return handler


def _bool_op(name: str, op: Callable[[bool, bool], bool]) -> Handler:
    def handler(m: Machine, a: tuple[Operand, ...]) -> int:
        x = m.read(a[1])
        y = m.read(a[2])
        if not (isinstance(x, bool) and isinstance(y, bool)):
            raise m.bad_args(name, x, y)
        m.write(a[0], op(x, y))
        return NEXT

    return handler


def _not(m: Machine, a: tuple[Operand, ...]) -> int:
    x = m.read(a[1])
    if not isinstance(x, bool):
        raise lenient(m, x, "boolean")
    m.write(a[0], not x)
    return NEXT


HANDLERS: dict[str, Handler] = {
    "PUSH": _push,
    "DUPA": _dupa,
    "DUP": _dup,
    "POP": _pop,
    "STORE": _store,
    "CALL_VALUE": _call_value,
    "INCA": _inca,
    "INC": _inc,
    "DECA": _deca,
    "DEC": _dec,
    "ADD": _arith("add", lambda m, x, y: x + y),
    "SUB": _arith("sub", lambda m, x, y: x - y),
    "MUL": _arith("mul", lambda m, x, y: x * y),
    "DIV": _arith("div", _div),
    "MOD": _arith("mod", _mod),
    "POW": _pow,
    **{name: _comparison(name) for name in _COMPARE},
    "AND": _bool_op("and", lambda x, y: x and y),
    "OR": _bool_op("or", lambda x, y: x or y),
    "NOT": _not,
}

__all__ = ["HANDLERS", "erlang_div", "erlang_rem", "is_int"]
