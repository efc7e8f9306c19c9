"""FATE, the æternity contract VM's data and code formats: values, call data, code, assembly.

Modules: :mod:`~chan_nb.codec.fate.values` (every FATE value and its bytes),
:mod:`~chan_nb.codec.fate.types` (types and typereps), :mod:`~chan_nb.codec.fate.calldata`
(call data, return values), :mod:`~chan_nb.codec.fate.opcodes` (the instruction table),
:mod:`~chan_nb.codec.fate.bytecode` (functions, basic blocks, instructions),
:mod:`~chan_nb.codec.fate.code` (the ``cb_`` code object, tag 70) and
:mod:`~chan_nb.codec.fate.asm` (disassembler and assembler). Malformed input raises
:class:`~chan_nb.errors.DecodeError`.

>>> from chan_nb.codec.fate import assemble, encode_call, decode_call
>>> code = assemble('''
... FUNCTION payable main(int) : int
...   RETURNR arg0
... ''')
>>> code.function("main").is_payable
True
>>> decode_call(encode_call("main", [42]), code)
FunctionCall(function_id=b'\\xb8\\x17~\\xec', args=(42,), name='main')
"""

from __future__ import annotations

from chan_nb.codec.fate.asm import assemble, disassemble, format_value, parse_value
from chan_nb.codec.fate.bytecode import (
    ArgMode,
    FateCode,
    Function,
    Instruction,
    Operand,
    function_id,
    store_writers,
)
from chan_nb.codec.fate.calldata import (
    CallReturn,
    FunctionCall,
    decode_call,
    decode_result,
    encode_call,
    encode_result,
)
from chan_nb.codec.fate.code import CodeObject, TypeInfo
from chan_nb.codec.fate.types import FateType, ObjectKind, parse_type, type_text
from chan_nb.codec.fate.values import (
    Address,
    Bits,
    Bytes,
    ContractBytearray,
    FateMap,
    StoreMap,
    Value,
    Variant,
    decode,
    encode,
    none,
    order_key,
    some,
)

__all__ = [
    "Address",
    "ArgMode",
    "Bits",
    "Bytes",
    "CallReturn",
    "CodeObject",
    "ContractBytearray",
    "FateCode",
    "FateMap",
    "FateType",
    "Function",
    "FunctionCall",
    "Instruction",
    "ObjectKind",
    "Operand",
    "StoreMap",
    "TypeInfo",
    "Value",
    "Variant",
    "assemble",
    "decode",
    "decode_call",
    "decode_result",
    "disassemble",
    "encode",
    "encode_call",
    "encode_result",
    "format_value",
    "function_id",
    "none",
    "order_key",
    "parse_type",
    "parse_value",
    "some",
    "store_writers",
    "type_text",
]
