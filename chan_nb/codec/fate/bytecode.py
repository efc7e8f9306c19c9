"""FATE byte code: functions, signatures, basic blocks and instructions (fate.md §2.2-2.3).

``byte_code = RLP(functions) ++ RLP(symbol table) ++ RLP(annotations)``. A function is
``fe``, its 4-byte id, an attribute bit set (1 private, 2 payable), its signature (a
tuple type of the arguments, then the return type) and its instructions; a basic block
ends after every instruction that ends one (jumps, returns, calls, ABORT/EXIT), so the
blocks carry no markers. An instruction is its opcode, one mode byte (1-4 operands) or
two (5-8; the first holds operands 4-7), then the operands that are not ``stack``.

Decoding follows the node's rules and is strict where the node is (unknown opcodes,
mode bits set for missing operands, a block that does not end with a block-ending
instruction, code before the first function, ids not 4 bytes, duplicate ids, an
unknown attribute bit). Operand *formats* (an immediate where the op needs one) are
not checked when decoding, as the node does not; the assembler checks them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from chan_nb.codec.fate import opcodes
from chan_nb.codec.fate.opcodes import OpInfo
from chan_nb.codec.fate.types import FateType, TTuple, decode_type_at, encode_type
from chan_nb.codec.fate.values import FateMap, Value, decode, decode_at, encode, encode_fate_int
from chan_nb.codec.hashing import blake2b_256
from chan_nb.errors import DecodeError

PRIVATE: Final = 1
PAYABLE: Final = 2
INIT_NAME: Final = "init"


def function_id(name: str) -> bytes:
    """4-byte id of a function name: the first 4 bytes of BLAKE2b-256 of the name."""
    return blake2b_256(name.encode("utf-8"))[:4]


class ArgMode(IntEnum):
    """Addressing mode of one operand (2 bits in the mode byte)."""

    STACK = 0  # the accumulator: read = pop, write = push
    ARG = 1  # function argument N
    VAR = 2  # local variable N; negative N = store register -N
    IMMEDIATE = 3  # a FATE value in the code


@dataclass(frozen=True, slots=True)
class Operand:
    """One operand: its mode and, except for the stack, its value (index or immediate)."""

    mode: ArgMode
    value: Value = None

    @classmethod
    def stack(cls) -> Operand:
        return _STACK

    @classmethod
    def arg(cls, n: int) -> Operand:
        return cls(ArgMode.ARG, n)

    @classmethod
    def var(cls, n: int) -> Operand:
        return cls(ArgMode.VAR, n)

    @classmethod
    def store(cls, register: int) -> Operand:
        """Store register ``register`` (≥ 1) of the current contract: var −register."""
        if register < 1:
            raise ValueError(f"store registers are numbered from 1, got {register}")
        return cls(ArgMode.VAR, -register)

    @classmethod
    def imm(cls, value: Value) -> Operand:
        return cls(ArgMode.IMMEDIATE, value)

    @property
    def is_store(self) -> bool:
        return self.mode is ArgMode.VAR and isinstance(self.value, int) and self.value < 0


_STACK: Final = Operand(ArgMode.STACK)


@dataclass(frozen=True, slots=True)
class Instruction:
    """One instruction: an opcode from the table and its operands."""

    op: OpInfo
    args: tuple[Operand, ...] = ()

    def __post_init__(self) -> None:
        if len(self.args) != self.op.arity:
            raise ValueError(f"{self.op.name} takes {self.op.arity} operands, got {len(self.args)}")

    @classmethod
    def of(cls, name: str, *args: Operand) -> Instruction:
        try:
            op = opcodes.BY_NAME[name]
        except KeyError:
            raise ValueError(f"unknown instruction {name!r}") from None
        return cls(op, tuple(args))

    def encode_into(self, out: bytearray) -> None:
        out.append(self.op.code)
        n = len(self.args)
        if n == 0:
            return
        modes = [a.mode for a in self.args] + [ArgMode.STACK] * ((4 if n <= 4 else 8) - n)
        if n <= 4:
            out.append(modes[0] | modes[1] << 2 | modes[2] << 4 | modes[3] << 6)
        else:
            out.append(modes[4] | modes[5] << 2 | modes[6] << 4 | modes[7] << 6)
            out.append(modes[0] | modes[1] << 2 | modes[2] << 4 | modes[3] << 6)
        for arg in self.args:
            if arg.mode is ArgMode.STACK:
                continue
            if arg.mode in (ArgMode.ARG, ArgMode.VAR) and (
                not isinstance(arg.value, int) or isinstance(arg.value, bool)
            ):
                raise ValueError(
                    f"{self.op.name}: arg/var operands are integers, got {arg.value!r}"
                )
            out += encode(arg.value)


@dataclass(frozen=True)
class Function:
    """A function: id, attributes, signature and basic blocks of instructions."""

    id: bytes
    attributes: int
    arg_types: tuple[FateType, ...]
    return_type: FateType
    blocks: tuple[tuple[Instruction, ...], ...]

    def __post_init__(self) -> None:
        if len(self.id) != 4:
            raise ValueError(f"a function id is 4 bytes, got {len(self.id)}")
        if self.attributes & ~(PRIVATE | PAYABLE) or self.attributes < 0:
            raise ValueError(f"unknown function attribute bits in {self.attributes}")
        for i, block in enumerate(self.blocks):
            if not block:
                raise ValueError(f"basic block {i} is empty")
            for j, ins in enumerate(block):
                if ins.op.ends_bb != (j == len(block) - 1):
                    where = "must end" if ins.op.ends_bb else "cannot be the last of"
                    raise ValueError(f"basic block {i}: {ins.op.name} {where} a basic block")

    @property
    def is_private(self) -> bool:
        return bool(self.attributes & PRIVATE)

    @property
    def is_payable(self) -> bool:
        return bool(self.attributes & PAYABLE)

    def instructions(self) -> Iterator[tuple[int, Instruction]]:
        """(block number, instruction) of every instruction, in order."""
        for i, block in enumerate(self.blocks):
            for ins in block:
                yield i, ins

    def encode_into(self, out: bytearray) -> None:
        out.append(opcodes.FUNCTION)
        out += self.id
        out += encode_fate_int(self.attributes)
        encode_type(TTuple(self.arg_types), out)
        encode_type(self.return_type, out)
        for block in self.blocks:
            for ins in block:
                ins.encode_into(out)


@dataclass(frozen=True)
class FateCode:
    """A contract's FATE code: functions (in serialized order), symbols and annotations."""

    functions: tuple[Function, ...]
    symbols: FateMap = field(default_factory=FateMap)
    annotations: FateMap = field(default_factory=FateMap)

    def __post_init__(self) -> None:
        ids = [f.id for f in self.functions]
        if len(set(ids)) != len(ids):
            raise ValueError("two functions have the same id")

    # -- lookups ----------------------------------------------------------------------
    def name_of(self, fun_id: bytes) -> str | None:
        """The symbol-table name of a function id (None if it has none)."""
        name = self.symbols.get(fun_id) if fun_id in self.symbols else None
        if isinstance(name, bytes):
            return name.decode("utf-8", "replace")
        return name if isinstance(name, str) else None

    def function(self, name_or_id: str | bytes) -> Function:
        """The function with that name (or 4-byte id); KeyError when absent."""
        fun_id = function_id(name_or_id) if isinstance(name_or_id, str) else name_or_id
        for fun in self.functions:
            if fun.id == fun_id:
                return fun
        raise KeyError(name_or_id)

    def names(self) -> dict[bytes, str]:
        """Function id -> name for every function (``#hex`` when the symbol is missing)."""
        return {f.id: self.name_of(f.id) or "#" + f.id.hex() for f in self.functions}

    # -- serialization ----------------------------------------------------------------
    def serialize(self) -> bytes:
        """The ``byte_code`` field of a code object."""
        from chan_nb.codec import rlp

        body = bytearray()
        for fun in self.functions:
            fun.encode_into(body)
        return (
            rlp.encode(bytes(body))
            + rlp.encode(encode(self.symbols))
            + rlp.encode(encode(self.annotations))
        )

    @classmethod
    def deserialize(cls, data: bytes, where: str = "byte_code") -> FateCode:
        """Parse a ``byte_code`` field; malformed code raises DecodeError."""
        parts = _three_rlp_strings(bytes(data), where)
        functions = _decode_functions(parts[0], f"{where}.functions")
        tables: list[FateMap] = []
        for raw, name in ((parts[1], "symbols"), (parts[2], "annotations")):
            table = decode(raw, f"{where}.{name}")
            if not isinstance(table, FateMap):
                raise DecodeError(f"{name} must be a FATE map", where)
            tables.append(table)
        try:
            return cls(tuple(functions), tables[0], tables[1])
        except ValueError as exc:
            raise DecodeError(str(exc), where) from None

    def without_init(self) -> FateCode:
        """The code with ``init`` and its symbol removed (what older nodes store, §2.6)."""
        init = function_id(INIT_NAME)
        functions = tuple(sorted((f for f in self.functions if f.id != init), key=lambda f: f.id))
        symbols = FateMap((k, v) for k, v in self.symbols.pairs if k != init)
        return FateCode(functions, symbols, self.annotations)


def _three_rlp_strings(data: bytes, where: str) -> list[bytes]:
    from chan_nb.codec.fate.values import _rlp_bytes_at

    out: list[bytes] = []
    pos = 0
    for name in ("functions", "symbols", "annotations"):
        try:
            raw, pos = _rlp_bytes_at(data, pos)
        except DecodeError as exc:
            raise DecodeError(f"{name}: {exc.reason}", f"{where}{exc.where}") from None
        out.append(raw)
    if pos != len(data):
        raise DecodeError(f"{len(data) - pos} trailing bytes after the annotations", where)
    return out


def _decode_functions(data: bytes, where: str) -> list[Function]:
    functions: list[Function] = []
    pos = 0
    if data and data[0] != opcodes.FUNCTION:
        raise DecodeError("code before the first FUNCTION header", f"{where}@0")
    while pos < len(data):
        fun, pos = _decode_function(data, pos, where)
        functions.append(fun)
    return functions


def _decode_function(data: bytes, pos: int, where: str) -> tuple[Function, int]:
    start = pos
    try:
        if pos + 5 > len(data):
            raise DecodeError("function header ends before its 4-byte id", f"@{pos}")
        fun_id = data[pos + 1 : pos + 5]
        attrs, pos = decode_at(data, pos + 5)
        if not isinstance(attrs, int) or isinstance(attrs, bool):
            raise DecodeError(f"attributes must be an integer, got {attrs!r}", f"@{start}")
        if attrs < 0 or attrs & ~(PRIVATE | PAYABLE):
            raise DecodeError(f"unknown function attributes {attrs}", f"@{start}")
        args_t, pos = decode_type_at(data, pos)
        if not isinstance(args_t, TTuple):
            raise DecodeError("argument types must be a tuple type", f"@{start}")
        ret_t, pos = decode_type_at(data, pos)
        blocks: list[tuple[Instruction, ...]] = []
        current: list[Instruction] = []
        while pos < len(data) and data[pos] != opcodes.FUNCTION:
            ins, pos = _decode_instruction(data, pos)
            current.append(ins)
            if ins.op.ends_bb:
                blocks.append(tuple(current))
                current = []
        if current:
            raise DecodeError(
                f"the last basic block ends with {current[-1].op.name}, which does not end a block",
                f"@{start}",
            )
        return Function(fun_id, attrs, args_t.elems, ret_t, tuple(blocks)), pos
    except DecodeError as exc:
        raise DecodeError(
            f"function #{data[start + 1 : start + 5].hex()}: {exc.reason}",
            f"{where}{exc.where or ''}",
        ) from None


def _decode_instruction(data: bytes, pos: int) -> tuple[Instruction, int]:
    code = data[pos]
    op = opcodes.BY_CODE.get(code)
    if op is None:
        raise DecodeError(f"unknown opcode {code:02x}", f"@{pos}")
    n = op.arity
    cur = pos + 1
    if n == 0:
        return Instruction(op), cur
    width = 1 if n <= 4 else 2
    if cur + width > len(data):
        raise DecodeError(f"{op.name}: code ends before its mode byte", f"@{pos}")
    bits = data[cur] if width == 1 else data[cur + 1] | data[cur] << 8
    cur += width
    if bits >> (2 * n):
        raise DecodeError(f"{op.name}: mode bits set for operands it does not have", f"@{pos}")
    args: list[Operand] = []
    for i in range(n):
        mode = ArgMode((bits >> (2 * i)) & 3)
        if mode is ArgMode.STACK:
            args.append(_STACK)
            continue
        value, cur = decode_at(data, cur)
        if mode is not ArgMode.IMMEDIATE and (
            not isinstance(value, int) or isinstance(value, bool)
        ):
            raise DecodeError(
                f"{op.name}: operand {i} ({mode.name.lower()}) is not an integer", f"@{pos}"
            )
        args.append(Operand(mode, value))
    return Instruction(op, tuple(args)), cur


def function_blocks(instructions: Iterable[Instruction]) -> tuple[tuple[Instruction, ...], ...]:
    """Split a flat instruction list into basic blocks (a block ends after a block-ending op)."""
    blocks: list[tuple[Instruction, ...]] = []
    current: list[Instruction] = []
    for ins in instructions:
        current.append(ins)
        if ins.op.ends_bb:
            blocks.append(tuple(current))
            current = []
    if current:
        raise ValueError(
            f"the last instruction ({current[-1].op.name}) does not end a basic block "
            "(end the function with RETURN, RETURNR, a jump, ABORT or EXIT)"
        )
    return tuple(blocks)


#: effect names of :func:`effects`
EFFECT_OPS: Final[dict[str, str]] = {
    "SPEND": "spend",
    "CALL_R": "remote",
    "CALL_GR": "remote",
    "CALL_PGR": "remote",
    "CREATE": "create",
    "CLONE": "create",
    "CLONE_G": "create",
}


def effects(code: FateCode) -> dict[bytes, frozenset[str]]:
    """Function id -> what running it may change, read off the code (no execution).

    ``store``: writes a register of its own store; ``spend``: moves coins out of the
    contract; ``remote``: calls another contract (which may change anything that one
    may, including moving the value sent); ``create``: creates a contract; ``dynamic``:
    calls a local function chosen at run time. Local calls (CALL, CALL_T) are followed,
    so a function has the effects of every function it may call. An empty set means
    the function can change nothing but return a value (and receive the call's amount).
    """
    direct: dict[bytes, set[str]] = {}
    calls: dict[bytes, set[bytes]] = {}
    for fun in code.functions:
        found: set[str] = set()
        callees: set[bytes] = set()
        for _, ins in fun.instructions():
            name = ins.op.name
            if name in EFFECT_OPS:
                found.add(EFFECT_OPS[name])
            if ins.op.writes and ins.args and ins.args[0].is_store:
                found.add("store")
            if name in ("CALL", "CALL_T"):
                target = ins.args[0]
                if target.mode is ArgMode.IMMEDIATE and isinstance(target.value, str | bytes):
                    value = target.value
                    callees.add(value.encode("utf-8") if isinstance(value, str) else value)
                else:
                    found.add("dynamic")
        direct[fun.id] = found
        calls[fun.id] = callees
    result: dict[bytes, frozenset[str]] = {}
    for fun_id in direct:
        total: set[str] = set()
        seen: set[bytes] = set()
        todo = [fun_id]
        while todo:
            cur = todo.pop()
            if cur in seen:
                continue
            seen.add(cur)
            total |= direct.get(cur, set())  # an unknown callee fails the call: no effect
            todo.extend(calls.get(cur, ()))
        result[fun_id] = frozenset(total)
    return result


def store_writers(code: FateCode) -> dict[bytes, bool]:
    """Function id -> whether it may write a contract store (its own, or another's remotely)."""
    return {
        fun_id: bool(found & {"store", "remote", "create", "dynamic"})
        for fun_id, found in effects(code).items()
    }


__all__ = [
    "INIT_NAME",
    "PAYABLE",
    "PRIVATE",
    "ArgMode",
    "FateCode",
    "Function",
    "Instruction",
    "Operand",
    "effects",
    "function_blocks",
    "function_id",
    "store_writers",
]
