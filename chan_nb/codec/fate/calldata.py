"""FunctionCall data and call results of FATE contracts (fate.md §1.9).

FunctionCall data is the FATE 2-tuple ``(function id, args tuple)``; the id is the 4-byte
BLAKE2b prefix of the function's name. A call's ``return_value`` is a FATE value when
the call returned (``ok``), a FATE string when it reverted (``revert``: the ABORT
message), and the raw text of the error otherwise (``error``, e.g. ``Out of gas``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from chan_nb.codec.fate.bytecode import FateCode, function_id
from chan_nb.codec.fate.values import Value, decode, encode
from chan_nb.errors import DecodeError

ReturnType = Literal["ok", "error", "revert"]
#: return_type as stored in a call object (int) and as the node's JSON shows it
RETURN_TYPES: Final[dict[int, ReturnType]] = {0: "ok", 1: "error", 2: "revert"}
RETURN_TYPE_CODES: Final[dict[ReturnType, int]] = {v: k for k, v in RETURN_TYPES.items()}

#: Names of functions the recordings call, so a call can be named without its code.
KNOWN_NAMES: Final = (
    "init",
    "main",
    "get",
    "tick",
    "get_balance",
    "get_balance_of",
    "spend",
    "withdraw",
    "call",
    "plus",
    "can_resolve",
    "remote_resolve",
    "block_height",
    "timestamp",
    "coinbase",
    "caller",
    "origin",
    "creator",
    "difficulty",
    "staged_call",
    "increment",
    "gas_limit_call",
    "spend_as_call",
    "spend_from",
    "withdraw_from",
)
_NAME_OF_ID: Final[dict[bytes, str]] = {function_id(n): n for n in KNOWN_NAMES}


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """Decoded call data: the function id, its name when known, and the arguments."""

    function_id: bytes
    args: tuple[Value, ...]
    name: str | None = None

    def encode(self) -> bytes:
        return encode_call(self.function_id, self.args)

    def __str__(self) -> str:
        from chan_nb.codec.fate.asm import format_value

        fun = self.name or "#" + self.function_id.hex()
        return f"{fun}({', '.join(format_value(a) for a in self.args)})"


def encode_call(function: str | bytes, args: Sequence[Value] = ()) -> bytes:
    """FunctionCall data for ``function`` (a name, or a raw id) with ``args``."""
    fun_id = function_id(function) if isinstance(function, str) else bytes(function)
    return encode((fun_id, tuple(args)))


def decode_call(
    data: bytes, code: FateCode | None = None, names: Mapping[bytes, str] | None = None
) -> FunctionCall:
    """Decode call data; the name comes from ``code``'s symbols, ``names``, or known names.

    Raises DecodeError when the bytes are not a 2-tuple of a string and a tuple (what the
    node calls ``bad_call_data``).
    """
    value = decode(data, "call_data")
    if not (isinstance(value, tuple) and len(value) == 2):
        raise DecodeError("call data must be a 2-tuple (function id, arguments)", "call_data")
    fun_id, args = value
    if isinstance(fun_id, str):
        fun_id = fun_id.encode("utf-8")
    if not isinstance(fun_id, bytes):
        raise DecodeError("the function id of call data must be a string", "call_data")
    if not isinstance(args, tuple):
        raise DecodeError("the arguments of call data must be a tuple", "call_data")
    name = None
    if code is not None:
        name = code.name_of(fun_id)
    if name is None and names is not None:
        name = names.get(fun_id)
    if name is None:
        name = _NAME_OF_ID.get(fun_id)
    return FunctionCall(fun_id, args, name)


@dataclass(frozen=True, slots=True)
class CallReturn:
    """A decoded ``return_value``: the value (ok), the abort message (revert) or error text."""

    return_type: ReturnType
    value: Value = None
    message: str | None = None

    def __str__(self) -> str:
        from chan_nb.codec.fate.asm import format_value

        if self.return_type == "ok":
            return format_value(self.value)
        return f"{self.return_type}: {self.message}"


def decode_result(return_type: ReturnType | int, data: bytes) -> CallReturn:
    """Decode a call object's return value according to its return type."""
    kind = RETURN_TYPES.get(return_type) if isinstance(return_type, int) else return_type
    if kind not in RETURN_TYPE_CODES:
        raise DecodeError(f"unknown return type {return_type!r}", "return_type")
    if kind == "ok":
        return CallReturn("ok", decode(data, "return_value"))
    if kind == "revert":
        message = decode(data, "return_value")
        if not isinstance(message, str | bytes):
            raise DecodeError("a revert's return value must be a FATE string", "return_value")
        text = message if isinstance(message, str) else message.decode("utf-8", "replace")
        return CallReturn("revert", message, text)
    return CallReturn("error", data, data.decode("utf-8", "replace"))


def encode_result(result: CallReturn) -> bytes:
    """The return value bytes of a result (inverse of :func:`decode_result`)."""
    if result.return_type == "ok":
        return encode(result.value)
    if result.return_type == "revert":
        return encode(result.value if result.value is not None else (result.message or ""))
    if isinstance(result.value, bytes):
        return result.value
    return (result.message or "").encode("utf-8")


__all__ = [
    "KNOWN_NAMES",
    "RETURN_TYPES",
    "RETURN_TYPE_CODES",
    "CallReturn",
    "FunctionCall",
    "ReturnType",
    "decode_call",
    "decode_result",
    "encode_call",
    "encode_result",
]
