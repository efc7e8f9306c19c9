"""FATE assembly text: a disassembler and an assembler (so contracts can be written by hand).

The text form, one instruction per line (``;`` starts a comment)::

    FUNCTION init(int) : unit
      STORE store1 arg0
      RETURNR ()
    FUNCTION payable get() : int
      RETURNR store1

A header is ``FUNCTION [private] [payable] name(arg types) : return type`` (types as in
:mod:`~chan_nb.codec.fate.types`); a name written ``#1a2b3c4d`` is a raw id with no
symbol. Functions are put in id order (as compilers do) unless a ``KEEP_ORDER`` line
asks to keep them as written; ``SYMBOL key value`` adds a symbol-table entry no header
stands for. Basic blocks are implicit, as in the byte code: a block ends after every jump,
return, call, ABORT or EXIT; jump targets are block numbers (the disassembler marks
each block with ``;; BB n``). Operands: ``a`` (the stack), ``argN``, ``varN``,
``storeN`` (store register N = var −N) and immediates:

=============================  ============================================
``42``, ``-7``, ``0xff``        integer
``true`` ``false``              boolean
``"text"`` (``\\xNN`` escapes)   string
``&main``                       the 4-byte id of function ``main`` (a string)
``#beef``                       bytes
``@ak_…`` ``@ct_…`` …           address, contract, oracle, oracle query, channel
``()`` ``(1, true)`` ``(5)``    unit and tuples (``(5)`` is a 1-tuple)
``[1, 2]``                      list
``{1 => true}``                 map
``<1011>`` ``!<1011>``          bits (binary, most significant first; ``!`` = complement)
``(| [0, 1] | 1 | (42) |)``     variant: arities, tag, values
``'int`` ``'tuple(int, bool)``  a typerep
``storemap(3)``                 a store map reference
``code#…``                      a contract bytearray
=============================  ============================================
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chan_nb.codec.fate import opcodes
from chan_nb.codec.fate.bytecode import (
    PAYABLE,
    PRIVATE,
    ArgMode,
    FateCode,
    Function,
    Instruction,
    Operand,
    function_blocks,
    function_id,
)
from chan_nb.codec.fate.types import FateType, ObjectKind, TTuple, parse_type, type_text
from chan_nb.codec.fate.values import (
    Address,
    Bits,
    Bytes,
    ContractBytearray,
    FateMap,
    StoreMap,
    Value,
    Variant,
    string_value,
)
from chan_nb.errors import DecodeError

#: integers at least this large print in hex (Python refuses huge decimal conversions)
_HEX_FROM = 1 << 256


# -- values as text -----------------------------------------------------------------------


def _string_text(raw: bytes) -> str:
    out = []
    for b in raw:
        ch = chr(b)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif 0x20 <= b < 0x7F:
            out.append(ch)
        else:
            out.append(f"\\x{b:02x}")
    return '"' + "".join(out) + '"'


def format_value(value: Value, names: dict[bytes, str] | None = None) -> str:
    """Assembly text of a FATE value (read back by :func:`parse_value`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        if abs(value) >= _HEX_FROM:
            return ("-" if value < 0 else "") + hex(abs(value))
        return str(value)
    if isinstance(value, str | bytes):
        raw = value.encode("utf-8") if isinstance(value, str) else value
        if names is not None and raw in names:
            return "&" + names[raw]
        return _string_text(raw)
    if isinstance(value, tuple):
        return "(" + ", ".join(format_value(v, names) for v in value) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v, names) for v in value) + "]"
    if isinstance(value, FateMap | dict):
        m = value if isinstance(value, FateMap) else FateMap(value)
        inner = ", ".join(
            f"{format_value(k, names)} => {format_value(v, names)}" for k, v in m.pairs
        )
        return "{" + inner + "}"
    if isinstance(value, Address):
        if len(value.pubkey) != 32:  # decodable, but no API string exists for it
            return f"@{_OBJECT_WORD[value.kind]}#{value.pubkey.hex()}"
        return "@" + value.api
    if isinstance(value, Bytes):
        return "#" + value.value.hex()
    if isinstance(value, Bits):
        if value.value < 0:
            return "!<" + _bin(~value.value) + ">"
        return "<" + _bin(value.value) + ">"
    if isinstance(value, Variant):
        arities = ", ".join(str(a) for a in value.arities)
        return f"(| [{arities}] | {value.tag} | {format_value(tuple(value.values), names)} |)"
    if isinstance(value, FateType):
        return "'" + type_text(value)
    if isinstance(value, StoreMap):
        return f"storemap({value.map_id})"
    if isinstance(value, ContractBytearray):
        return "code#" + value.code.hex()
    raise TypeError(f"not a FATE value: {value!r}")


def _bin(n: int) -> str:
    return "" if n == 0 else format(n, "b")


@dataclass
class _Reader:
    """A cursor over one line of assembly text."""

    text: str
    pos: int = 0
    line: int = 0

    def error(self, reason: str) -> DecodeError:
        return DecodeError(
            f"{reason} (at {self.text[self.pos : self.pos + 20]!r})", f"line {self.line}"
        )

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t,":
            self.pos += 1

    def at_end(self) -> bool:
        self.skip_space()
        return self.pos >= len(self.text)

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def expect(self, s: str) -> None:
        self.skip_space()
        if not self.peek(s):
            raise self.error(f"expected {s!r}")
        self.pos += len(s)

    def match(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        m = pattern.match(self.text, self.pos)
        if m:
            self.pos = m.end()
        return m


_OBJECT_WORD = {
    ObjectKind.ADDRESS: "address",
    ObjectKind.CONTRACT: "contract",
    ObjectKind.ORACLE: "oracle",
    ObjectKind.ORACLE_QUERY: "oracle_query",
    ObjectKind.CHANNEL: "channel",
}
_ODD_ADDRESS = re.compile(r"@(address|contract|oracle_query|oracle|channel)#([0-9a-fA-F]*)")
_INT = re.compile(r"-?(0x[0-9a-fA-F]+|\d+)(?![\w])")
_WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z_0-9.']*")
_API = re.compile(r"@([a-z]{2}_[1-9A-HJ-NP-Za-km-z]+)")
_HEX = re.compile(r"#([0-9a-fA-F]*)")
_CODE = re.compile(r"code#([0-9a-fA-F]*)")
_BITS = re.compile(r"(!?)<([01 ]*)>")
_OPERAND = re.compile(r"(arg|var|store)(-?\d+)(?![\w])")
_STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
_TYPE_END = re.compile(r"[\s,\]\)\}]|$")


def _unescape(body: str, r: _Reader) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\":
            out += ch.encode("utf-8")
            i += 1
            continue
        nxt = body[i + 1 : i + 2]
        if nxt == "x" and re.fullmatch(r"[0-9a-fA-F]{2}", body[i + 2 : i + 4]):
            out.append(int(body[i + 2 : i + 4], 16))
            i += 4
        elif nxt in ('"', "\\"):
            out += nxt.encode()
            i += 2
        elif nxt == "n":
            out += b"\n"
            i += 2
        elif nxt == "t":
            out += b"\t"
            i += 2
        else:
            raise r.error(f"unknown escape \\{nxt}")
    return bytes(out)


def _read_type(r: _Reader) -> FateType:
    depth = 0
    start = r.pos
    while r.pos < len(r.text):
        ch = r.text[r.pos]
        if ch == "(":
            depth += 1
        elif ch == ")":
            if depth == 0:
                break
            depth -= 1
        elif depth == 0 and (ch in " \t,]}"):
            break
        r.pos += 1
    return parse_type(r.text[start : r.pos])


def _read_value(r: _Reader, depth: int = 0) -> Value:
    if depth > 100:
        raise r.error("value nested too deep")
    r.skip_space()
    if r.pos >= len(r.text):
        raise r.error("expected a value")
    if r.peek("(|"):
        r.pos += 2
        r.expect("[")
        arities: list[int] = []
        while True:
            r.skip_space()
            if r.peek("]"):
                r.pos += 1
                break
            m = r.match(_INT)
            if not m:
                raise r.error("expected an arity")
            arities.append(int(m.group(0), 0))
        r.expect("|")
        r.skip_space()
        m = r.match(_INT)
        if not m:
            raise r.error("expected a variant tag")
        tag = int(m.group(0), 0)
        r.expect("|")
        values = _read_value(r, depth + 1)
        r.expect("|)")
        if not isinstance(values, tuple):
            raise r.error("variant values must be a tuple")
        try:
            return Variant(tuple(arities), tag, values)
        except ValueError as exc:
            raise r.error(str(exc)) from None
    if r.peek("'"):
        r.pos += 1
        return _read_type(r)
    if r.peek('"'):
        m = r.match(_STRING)
        if not m:
            raise r.error("unterminated string")
        return string_value(_unescape(m.group(1), r))
    if r.peek("&"):
        r.pos += 1
        m = r.match(_NAME)
        if not m:
            raise r.error("expected a function name after &")
        return string_value(function_id(m.group(0)))
    if r.peek("code#"):
        m = r.match(_CODE)
        assert m is not None
        return ContractBytearray(bytes.fromhex(m.group(1)))
    if r.peek("#"):
        m = r.match(_HEX)
        assert m is not None
        if len(m.group(1)) % 2:
            raise r.error("bytes need an even number of hex digits")
        return Bytes(bytes.fromhex(m.group(1)))
    odd = r.match(_ODD_ADDRESS)
    if odd:
        kinds = {v: k for k, v in _OBJECT_WORD.items()}
        if len(odd.group(2)) % 2:
            raise r.error("an address key needs an even number of hex digits")
        return Address(kinds[odd.group(1)], bytes.fromhex(odd.group(2)))
    if r.peek("@"):
        m = r.match(_API)
        if not m:
            raise r.error("expected an address like @ak_…")
        try:
            return Address.from_api(m.group(1))
        except DecodeError as exc:
            raise r.error(exc.reason) from None
    m = r.match(_BITS)
    if m:
        digits = m.group(2).replace(" ", "")
        n = int(digits, 2) if digits else 0
        return Bits(~n if m.group(1) else n)
    for open_, close in (("(", ")"), ("[", "]"), ("{", "}")):
        if r.peek(open_):
            r.pos += 1
            items: list[Value] = []
            pairs: list[tuple[Value, Value]] = []
            while True:
                r.skip_space()
                if r.peek(close):
                    r.pos += 1
                    break
                item = _read_value(r, depth + 1)
                if open_ == "{":
                    r.expect("=>")
                    pairs.append((item, _read_value(r, depth + 1)))
                else:
                    items.append(item)
            if open_ == "(":
                return tuple(items)
            if open_ == "[":
                return items
            try:
                return FateMap(pairs)
            except ValueError as exc:
                raise r.error(str(exc)) from None
    m = r.match(_INT)
    if m:
        return int(m.group(0), 0)
    m = r.match(_WORD)
    if m:
        word = m.group(0)
        if word in ("true", "false"):
            return word == "true"
        if word == "storemap":
            r.expect("(")
            r.skip_space()
            id_match = r.match(_INT)
            if not id_match:
                raise r.error("expected a store map id")
            r.expect(")")
            return StoreMap(int(id_match.group(0), 0))
        r.pos -= len(word)
    raise r.error("cannot read a value")


def parse_value(text: str) -> Value:
    """A FATE value from its assembly text."""
    r = _Reader(text)
    value = _read_value(r)
    if not r.at_end():
        raise r.error("unexpected text after the value")
    return value


# -- disassembler ---------------------------------------------------------------------------


def _operand_text(arg: Operand, names: dict[bytes, str]) -> str:
    if arg.mode is ArgMode.STACK:
        return "a"
    if arg.mode is ArgMode.ARG:
        return f"arg{arg.value}"
    if arg.mode is ArgMode.VAR:
        return f"store{-arg.value}" if arg.value < 0 else f"var{arg.value}"
    return format_value(arg.value, names)


def _header(fun: Function, name: str) -> str:
    attrs = ("private " if fun.is_private else "") + ("payable " if fun.is_payable else "")
    args = ", ".join(type_text(t) for t in fun.arg_types)
    return f"FUNCTION {attrs}{name}({args}) : {type_text(fun.return_type)}"


_IDENT = re.compile(r"[A-Za-z_][A-Za-z_0-9.']*")


def _header_names(code: FateCode) -> dict[bytes, str]:
    """Function id -> the name its header shows: the symbol when it names that id, else #id."""
    out = {}
    for fun in code.functions:
        name = code.name_of(fun.id)
        if name is not None and _IDENT.fullmatch(name) and function_id(name) == fun.id:
            out[fun.id] = name
        else:
            out[fun.id] = "#" + fun.id.hex()
    return out


def disassemble(code: FateCode) -> str:
    """The assembly text of FATE code (``assemble`` of it gives the same byte code)."""
    names = _header_names(code)
    ids = {fid: name for fid, name in names.items() if not name.startswith("#")}
    lines: list[str] = []
    ids_in_order = [f.id for f in code.functions]
    if ids_in_order != sorted(ids_in_order):
        lines.append("KEEP_ORDER  ; the functions are not in id order: keep them as written")
    for fun in code.functions:
        lines.append(_header(fun, names[fun.id]))
        for i, block in enumerate(fun.blocks):
            if len(fun.blocks) > 1:
                lines.append(f"  ;; BB {i}")
            for ins in block:
                operands = " ".join(_operand_text(a, ids) for a in ins.args)
                lines.append(f"  {ins.op.name} {operands}".rstrip())
    for key, value in code.symbols.pairs:  # symbols no header stands for
        raw = key.encode("utf-8") if isinstance(key, str) else key
        if raw not in ids or ids[raw] != value:
            lines.append(f"SYMBOL {format_value(key)} {format_value(value)}")
    return "\n".join(lines) + "\n"


# -- assembler ------------------------------------------------------------------------------

_HEADER = re.compile(
    r"FUNCTION\s+((?:(?:private|payable)\s+)*)(#[0-9a-fA-F]{8}|[A-Za-z_][A-Za-z_0-9.']*)\s*"
    r"\((.*)\)\s*:\s*(.+)$"
)


def _check_format(ins_name: str, fmt: str, arg: Operand, r: _Reader) -> None:
    if fmt == "a":
        return
    value = arg.value
    ok = arg.mode is ArgMode.IMMEDIATE and (
        (fmt == "is" and isinstance(value, str | bytes))
        or (fmt == "ii" and isinstance(value, int) and not isinstance(value, bool))
        or (
            fmt == "li"
            and isinstance(value, list)
            and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        )
    )
    if not ok:
        need = {"is": "an immediate string", "ii": "an immediate integer", "li": "a list of ints"}
        raise r.error(f"{ins_name} needs {need[fmt]} here")


def _read_operand(r: _Reader) -> Operand:
    r.skip_space()
    m = _OPERAND.match(r.text, r.pos)
    if m:
        r.pos = m.end()
        kind, n = m.group(1), int(m.group(2))
        if kind == "arg":
            return Operand.arg(n)
        if kind == "var":
            return Operand.var(n)
        return Operand.store(n)
    if re.match(r"a(?![\w])", r.text[r.pos :]):
        r.pos += 1
        return Operand.stack()
    return Operand.imm(_read_value(r))


def _strip_comment(line: str) -> str:
    out = []
    in_string = False
    i = 0
    while i < len(line):
        ch = line[i]
        if in_string:
            if ch == "\\":
                out.append(line[i : i + 2])
                i += 2
                continue
            if ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch == ";":
            break
        out.append(ch)
        i += 1
    return "".join(out).strip()


def assemble(text: str, *, check_formats: bool = True) -> FateCode:
    """FATE code from assembly text; any mistake raises DecodeError naming the line.

    ``check_formats`` refuses a non-immediate operand where the instruction needs an
    immediate (a jump target, a remote function id …); the node's decoder does not
    check this (the VM fails such code when it runs), so disassembled code that breaks
    the rule reassembles only with ``check_formats=False``.
    """
    funs: list[tuple[Function, str | None]] = []
    symbols: list[tuple[Value, Value]] = []
    current: dict[str, object] | None = None
    body: list[Instruction] = []
    keep_order = False

    def finish(line_no: int) -> None:
        if current is None:
            return
        try:
            blocks = function_blocks(body)
            fun = Function(
                current["id"],  # type: ignore[arg-type]
                current["attrs"],  # type: ignore[arg-type]
                current["args"],  # type: ignore[arg-type]
                current["ret"],  # type: ignore[arg-type]
                blocks,
            )
        except ValueError as exc:
            raise DecodeError(f"function {current['name']}: {exc}", f"line {line_no}") from None
        funs.append((fun, current["name"]))  # type: ignore[arg-type]

    for line_no, raw_line in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw_line)
        if not line:
            continue
        r = _Reader(line, 0, line_no)
        if line.startswith("FUNCTION"):
            finish(line_no)
            m = _HEADER.match(line)
            if not m:
                raise r.error(
                    "bad FUNCTION header (FUNCTION [private] [payable] name(types) : type)"
                )
            attrs = 0
            for word in m.group(1).split():
                attrs |= PRIVATE if word == "private" else PAYABLE
            name = m.group(2)
            try:
                arg_t = parse_type(f"tuple({m.group(3)})")
                ret_t = parse_type(m.group(4))
            except DecodeError as exc:
                raise DecodeError(exc.reason, f"line {line_no}") from None
            assert isinstance(arg_t, TTuple)
            raw_id = bytes.fromhex(name[1:]) if name.startswith("#") else function_id(name)
            current = {
                "id": raw_id,
                "name": None if name.startswith("#") else name,
                "attrs": attrs,
                "args": arg_t.elems,
                "ret": ret_t,
            }
            body = []
            continue
        if line == "KEEP_ORDER":
            keep_order = True
            continue
        if line.startswith("SYMBOL"):
            r.pos = len("SYMBOL")
            key = _read_value(r)
            value = _read_value(r)
            if not r.at_end():
                raise r.error("SYMBOL takes a key and a value")
            symbols.append((key, value))
            continue
        if current is None:
            raise r.error("instruction before the first FUNCTION")
        m = _WORD.match(line)
        if not m or m.group(0) not in opcodes.BY_NAME:
            raise r.error("unknown instruction")
        op = opcodes.BY_NAME[m.group(0)]
        r.pos = m.end()
        args: list[Operand] = []
        for fmt in op.args:
            if r.at_end():
                raise r.error(f"{op.name} takes {op.arity} operands, got {len(args)}")
            arg = _read_operand(r)
            if check_formats:
                _check_format(op.name, fmt, arg, r)
            args.append(arg)
        if not r.at_end():
            raise r.error(f"{op.name} takes {op.arity} operands")
        body.append(Instruction(op, tuple(args)))
    finish(len(text.splitlines()))
    if not keep_order:
        funs.sort(key=lambda fn: fn[0].id)
    for fun, name in funs:
        if name is not None:
            symbols.append((fun.id, name))
    try:
        return FateCode(tuple(f for f, _ in funs), FateMap(symbols))
    except ValueError as exc:
        raise DecodeError(str(exc), "assembly") from None


__all__ = ["assemble", "disassemble", "format_value", "parse_value"]
