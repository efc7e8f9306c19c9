"""The FATE machine state (fate.md §4.1) and the primitives every instruction uses.

The accumulator stack, the frame's memory (``arg N`` / ``var N``), the call stack of
frames, return checks and gas reservations, gas and memory cells, the current contract
and function, the per-call store caches and the event log. Instruction handlers
(``ops_*`` modules) read operands and write results through :class:`Machine` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from chan_nb.codec import contracts as ct
from chan_nb.codec.fate.bytecode import ArgMode, FateCode, Function, Operand
from chan_nb.codec.fate.types import ObjectKind
from chan_nb.codec.fate.values import Address, Value
from chan_nb.vm import erlang, gas
from chan_nb.vm.chain import ChainEnv, OnChain
from chan_nb.vm.errors import FateError, VmNotImplemented
from chan_nb.vm.gas import Model
from chan_nb.vm.profile import Profile
from chan_nb.vm.store import StoreCache
from chan_nb.vm.world import World

#: handler results besides a BB number to jump to
NEXT: Final = -1
STOP: Final = -2


@dataclass
class Frame:
    """A saved caller: restored when the callee returns (local when contract is unchanged)."""

    caller: Address
    contract: bytes
    code: FateCode
    function: Function
    tvars: dict[int, Any]
    bb: int  # where to resume
    stack: list[Value]
    memory: dict[tuple[str, int], Value]
    value: int
    vm_version: int


@dataclass
class ReturnCheck:
    """A remote call's expected return type (checked when the callee returns).

    A protected call (``CALL_PGR`` with true) also keeps the world and the store caches
    as they were before its value transfer: a failure in the callee rolls back to them.
    """

    ret_type: Any
    tvars: dict[int, Any]
    protected: bool = False
    world: World | None = None
    stores: dict[bytes, StoreCache] | None = None


@dataclass
class GasStore:
    """Gas held back while a gas-capped remote call runs."""

    gas: int


@dataclass
class Machine:
    """Everything one execution needs; handlers mutate it."""

    profile: Profile
    env: ChainEnv
    onchain: OnChain
    world: World
    origin: bytes
    gas_price: int
    gas: int
    contract: bytes
    code: FateCode
    function: Function
    caller: Address
    call_value: int
    vm_version: int
    vm_of: dict[bytes, int] = field(default_factory=dict)  # vm version of each contract
    bb: int = 0
    tvars: dict[int, Any] = field(default_factory=dict)
    stack: list[Value] = field(default_factory=list)
    memory: dict[tuple[str, int], Value] = field(default_factory=dict)
    call_stack: list[Frame | ReturnCheck | GasStore] = field(default_factory=list)
    cells: int = 0
    logs: list[ct.LogEntry] = field(default_factory=list)  # most recent first (add_log)
    code_cache: dict[bytes, FateCode] = field(default_factory=dict)
    seen: list[bytes] = field(default_factory=list)  # contracts on the remote call chain
    stores: dict[bytes, StoreCache] = field(default_factory=dict)

    # -- gas --------------------------------------------------------------------------
    def spend(self, amount: int) -> None:
        if self.gas - amount < 0:
            raise self.error("Out of gas")
        self.gas -= amount

    def spend_cells(self, n: int) -> None:
        if n < 0 and self.profile.iris_gas:
            raise VmNotImplemented("Iris gas for a negative cell count is not modelled")
        cost = gas.cell_cost(self.cells, n)
        self.cells += n
        self.spend(cost)

    def traverse(self, value: Value, model: Model) -> None:
        """Iris+ traversal gas (nothing in the recorded node)."""
        if not self.profile.iris_gas:
            return
        left = gas.traversal_gas(self.gas, value, model)
        if left < 0:
            raise self.error("Out of gas")
        self.gas = left

    # -- errors -------------------------------------------------------------------------
    def error(self, template: str, *args: tuple[str, Any]) -> FateError:
        """A ``runtime_error`` with the node's text (``~p``/``~w`` slots filled from terms)."""
        depth = self.profile.depth_limited_messages
        return FateError(erlang.format_message(template, list(args), depth))

    def type_error(self, value: Value, type_name: str) -> FateError:
        """``value_does_not_match_type``: "Type error on call: V is not of type T"."""
        return self.error(
            "Type error on call: ~p is not of type ~p",
            ("p", erlang.to_term(value)),
            ("p", erlang.Atom(type_name)),
        )

    def bad_args(self, op: str, *values: Value) -> FateError:
        """``{type_error, Op, Args}``: "Bad arguments to op: [args]"."""
        return self.error(
            "Bad arguments to ~p: ~p",
            ("p", erlang.Atom(op)),
            ("p", [erlang.to_term(v) for v in values]),
        )

    # -- the accumulator stack ----------------------------------------------------------
    def push(self, value: Value) -> None:
        self.stack.append(value)
        self.spend_cells(1)

    def pop(self) -> Value:
        if not self.stack:
            if self.profile.strict_types:
                raise self.error("Stack overflow when pop:ing ~p elements", ("p", 1))
            raise VmNotImplemented("popping an empty stack (the old node's void) is not modelled")
        self.cells -= 1
        return self.stack.pop()

    def drop(self, n: int) -> list[Value]:
        """Pop ``n`` values, first popped first (a call's arguments)."""
        if len(self.stack) < n:
            if self.profile.strict_types:
                raise self.error("Stack overflow when pop:ing ~p elements", ("p", n))
            raise VmNotImplemented("popping an empty stack (the old node's void) is not modelled")
        return [self.pop() for _ in range(n)]

    # -- operands -------------------------------------------------------------------------
    def read(self, arg: Operand) -> Value:
        mode = arg.mode
        if mode is ArgMode.STACK:
            return self.pop()
        if mode is ArgMode.IMMEDIATE:
            return arg.value
        n = arg.value
        if mode is ArgMode.VAR and n < 0:
            return self.read_register(-n)
        key = ("arg" if mode is ArgMode.ARG else "var", n)
        if key not in self.memory:
            raise self.error("Undefined var: ~p", ("p", (erlang.Atom(key[0]), n)))
        return self.memory[key]

    def write(self, arg: Operand, value: Value) -> None:
        mode = arg.mode
        if mode is ArgMode.STACK:
            self.push(value)
        elif mode is ArgMode.VAR and arg.value < 0:
            self.store_of(self.contract).write(-arg.value, value)
        elif mode in (ArgMode.ARG, ArgMode.VAR):
            self.memory[("arg" if mode is ArgMode.ARG else "var", arg.value)] = value
        else:
            raise VmNotImplemented("writing to an immediate operand (a bad-bytecode crash)")

    # -- snapshots (protected calls) -------------------------------------------------------
    def copy_stores(self) -> dict[bytes, StoreCache]:
        return {pk: c.copy() for pk, c in self.stores.items()}

    def snapshot(self) -> dict[str, Any]:
        """The mutable parts of the machine, copied (restore with :meth:`restore`)."""
        return {
            "gas": self.gas,
            "cells": self.cells,
            "stack": list(self.stack),
            "memory": self.memory,
            "call_stack": list(self.call_stack),
            "logs": list(self.logs),
            "seen": list(self.seen),
            "world": self.world.copy(),
            "stores": self.copy_stores(),
            "contract": self.contract,
            "code": self.code,
            "function": self.function,
            "caller": self.caller,
            "call_value": self.call_value,
            "vm_version": self.vm_version,
            "tvars": self.tvars,
            "bb": self.bb,
        }

    def unwind_point(self) -> dict[str, Any]:
        """What a failure inside a protected call unwinds from (the rest is rolled back
        from the protected call's return check)."""
        return {
            "gas": self.gas,
            "cells": self.cells,
            "logs": list(self.logs),
            "call_stack": list(self.call_stack),
            "seen": list(self.seen),
            "contract": self.contract,
        }

    def restore(self, snap: dict[str, Any]) -> None:
        for name, value in snap.items():
            setattr(self, name, value)

    def has_protected(self) -> bool:
        return any(isinstance(e, ReturnCheck) and e.protected for e in self.call_stack)

    # -- the store ------------------------------------------------------------------------
    def store_of(self, contract: bytes) -> StoreCache:
        cache = self.stores.get(contract)
        if cache is None:
            cache = StoreCache(dict(self.world.stores.get(contract, {})))
            self.stores[contract] = cache
        return cache

    def read_register(self, register: int) -> Value:
        cache = self.store_of(self.contract)
        if self.profile.iris_gas and not cache.is_cached(register):
            self.spend(gas.STORE_READ_GAS)
        value = cache.read(register)
        if value is None:
            raise VmNotImplemented(f"reading store register {register}, absent from the store")
        return value

    # -- values of the environment --------------------------------------------------------
    @property
    def address(self) -> Address:
        """The current contract as an *address* (``make_address``: ADDRESS, a remote
        callee's CALLER), not as a contract value."""
        return Address(ObjectKind.ADDRESS, self.contract)


def lenient(m: Machine, value: Value, type_name: str) -> FateError:
    """A type error that aborts from Iris on and that the old node let through (or crashed on)."""
    if not m.profile.strict_types:
        raise VmNotImplemented(
            f"the pre-Iris node's lenient handling of a {type_name} type error is not modelled"
        )
    return m.type_error(value, type_name)


__all__ = ["NEXT", "STOP", "Frame", "GasStore", "Machine", "ReturnCheck", "lenient"]
