"""What a contract frame says, in one line: the function and arguments, the result, gas, events.

Frames that create or call a contract carry FATE call data and code (``cb_…``) and the
replies carry call objects; :func:`describe_contract` decodes them for the frame table's
``contract`` column and the one-line summary, e.g. ``call ct_2nEc…: main(42) amount 0``
or ``result ok 42, gas 11``. AEVM (abi 1) data, which is not FATE, is shown as its
32-byte words. The codec is imported lazily, as for :mod:`~chan_nb.recording.txinfo`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Final

from chan_nb.errors import ChanNbError

#: request methods whose params describe a contract call
_CALL_METHODS: Final = frozenset(
    {
        "channels.update.call_contract",
        "channels.dry_run.call_contract",
        "channels.force_progress",
    }
)
_RESULT_KEYS: Final = frozenset({"return_type", "return_value", "gas_used"})


def _short(text: str, limit: int = 14) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@lru_cache(maxsize=4096)
def describe_call_data(text: str) -> str:
    """``main(42)`` for FATE call data, ``AEVM call data (n words)`` otherwise."""
    try:
        from chan_nb.codec import encoding
        from chan_nb.codec.fate import decode_call

        raw = encoding.decode(text, "cb")
    except (ImportError, ChanNbError, ValueError) as exc:
        return f"call data does not decode: {exc}"
    try:
        return str(decode_call(raw))
    except (ChanNbError, ValueError):
        if raw and len(raw) % 32 == 0:
            return f"AEVM call data ({len(raw) // 32} words)"
        return f"call data is not FATE ({len(raw)} bytes)"


@lru_cache(maxsize=1024)
def describe_code(text: str) -> str:
    """``FATE code: init, main (104 B)`` or ``AEVM code: …``."""
    try:
        from chan_nb.codec import encoding
        from chan_nb.codec.fate import CodeObject

        raw = encoding.decode(text, "cb")
        co = CodeObject.deserialize(raw)
        if not co.is_fate:
            names = ", ".join(t.name.decode("utf-8", "replace") for t in co.type_info)
            return f"AEVM code: {names} ({len(raw)} B)"
        code = co.fate()
    except (ImportError, ChanNbError, ValueError) as exc:
        return f"code does not decode: {exc}"
    return f"FATE code: {', '.join(code.names().values())} ({len(raw)} B)"


@lru_cache(maxsize=4096)
def describe_result(return_type: str, text: str) -> str:
    """``ok 42`` / ``revert "msg"`` / ``error "Out of gas"`` / ``ok AEVM words [21]``."""
    try:
        from chan_nb.codec import encoding
        from chan_nb.codec.fate import decode_result

        raw = encoding.decode(text, "cb")
    except (ImportError, ChanNbError, ValueError) as exc:
        return f"{return_type} (return value does not decode: {exc})"
    try:
        result = decode_result(return_type, raw)  # type: ignore[arg-type]
    except (ChanNbError, ValueError):
        if raw and len(raw) % 32 == 0:
            words = [int.from_bytes(raw[i : i + 32], "big") for i in range(0, len(raw), 32)]
            return f"{return_type} AEVM words {words}"
        return f"{return_type} (return value is not FATE)"
    if result.return_type == "ok":
        return f"ok {result}".rstrip()
    return f"{result.return_type} {result.message!r}"


def _describe_update(update: dict[str, Any]) -> str | None:
    op = update.get("op")
    if op == "OffChainNewContract":
        code, data = update.get("code"), update.get("call_data")
        parts = [
            f"new contract (vm {update.get('vm_version')}, abi {update.get('abi_version')}, "
            f"deposit {update.get('deposit')})"
        ]
        if isinstance(data, str):
            parts.append(describe_call_data(data))
        if isinstance(code, str):
            parts.append(describe_code(code))
        return ": ".join(parts[:2]) + (f"; {parts[2]}" if len(parts) > 2 else "")
    if op == "OffChainCallContract":
        return _describe_call(update, "contract_id")
    return None


def _describe_call(params: dict[str, Any], key: str) -> str:
    contract = params.get(key)
    data = params.get("call_data")
    call = describe_call_data(data) if isinstance(data, str) else "?"
    where = _short(contract) if isinstance(contract, str) else "?"
    return f"call {where}: {call} amount {params.get('amount')}"


def _describe_call_object(data: dict[str, Any]) -> str:
    rtype, value = data.get("return_type"), data.get("return_value")
    text = (
        describe_result(rtype, value)
        if isinstance(rtype, str) and isinstance(value, str)
        else str(rtype)
    )
    text = f"result {text}, gas {data.get('gas_used')}"
    log = data.get("log")
    if isinstance(log, list) and log:
        text += f", {len(log)} event{'s' if len(log) > 1 else ''}"
    return text


def clear_caches() -> None:
    """Forget every remembered description (a cold start, for benchmarks)."""
    for cached in (describe_call_data, describe_code, describe_result):
        cached.cache_clear()


def describe_contract(message: Any) -> str | None:
    """One line about the contract content of a parsed frame, or None if it has none."""
    if not isinstance(message, dict):
        return None
    method = message.get("method")
    params = message.get("params")
    params = params if isinstance(params, dict) else {}
    if method == "channels.update.new_contract":
        return _describe_update({"op": "OffChainNewContract", **params})
    if method in _CALL_METHODS:
        return _describe_call(params, "contract_id")
    data = params.get("data")
    data = data if isinstance(data, dict) else {}
    result = message.get("result")
    for holder in (data, result):
        if isinstance(holder, dict) and holder.keys() >= _RESULT_KEYS:
            return _describe_call_object(holder)
    ups = data.get("updates")
    if isinstance(ups, list):
        described = [d for d in (_describe_update(u) for u in ups if isinstance(u, dict)) if d]
        if described:
            return "; ".join(described)
    return None


__all__ = [
    "clear_caches",
    "describe_call_data",
    "describe_code",
    "describe_contract",
    "describe_result",
]
