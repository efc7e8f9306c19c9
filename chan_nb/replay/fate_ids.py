"""Accounts and contracts inside FATE ``cb_`` values (call data, return values), for replays.

A replay runs with fresh keys, so the ``ak_``/``ct_`` a recorded call passes as an
argument (``get_balance_of(ak)``, ``call(ct, 42)``) or a call returns (``Call.caller``)
are other bytes in the replay. :func:`translate` rewrites the ids inside a ``cb_`` (the
recorded → this run's table of the driver); :func:`named` gives the comparison a text
in which the ids are names, so a recording and its replay compare equal when the node
behaved the same. A ``cb_`` that is not a FATE value (an error's raw text, AEVM data)
is left as it is.

Internal: the replay's helper; not public API (may change without notice).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chan_nb.codec import encoding
from chan_nb.codec.fate import Address, FateMap, Variant, decode, encode, format_value
from chan_nb.errors import DecodeError


def _mapped(value: Any, fn: Callable[[Address], Any]) -> Any:
    if isinstance(value, Address):
        return fn(value)
    if isinstance(value, tuple):
        return tuple(_mapped(v, fn) for v in value)
    if isinstance(value, list):
        return [_mapped(v, fn) for v in value]
    if isinstance(value, Variant):
        return Variant(value.arities, value.tag, tuple(_mapped(v, fn) for v in value.values))
    if isinstance(value, FateMap):
        return FateMap((_mapped(k, fn), _mapped(v, fn)) for k, v in value.items())
    return value


def _has_address(value: Any) -> bool:
    found = False

    def seen(address: Address) -> Address:
        nonlocal found
        found = True
        return address

    _mapped(value, seen)
    return found


def _decoded(text: str) -> Any:
    """The FATE value of a ``cb_`` (raises DecodeError when it is none)."""
    return decode(encoding.decode(text, "cb"))


def translate(text: str, table: Callable[[str], str]) -> str:
    """``text`` with every 32-byte id inside replaced by ``table(its ak_/ct_ …)``."""
    try:
        value = _decoded(text)
    except DecodeError:
        return text
    if not _has_address(value):
        return text

    def swap(address: Address) -> Address:
        try:
            return Address.from_api(table(address.api))
        except DecodeError:
            return address

    try:
        return encoding.encode("cb", encode(_mapped(value, swap)))
    except (DecodeError, ValueError):
        return text


def named(text: str, name: Callable[[str], str]) -> str:
    """A comparable text of a ``cb_`` holding ids (``<cb (…)>`` with the ids named);
    ``text`` itself when it holds none."""
    try:
        value = _decoded(text)
    except DecodeError:
        return text
    if not _has_address(value):
        return text
    names: list[str] = []

    def mark(address: Address) -> Address:
        try:
            names.append(name(address.api))
        except DecodeError:
            names.append(repr(address))
        return Address(address.kind, len(names).to_bytes(32, "big"))

    shape = format_value(_mapped(value, mark))
    return f"<cb {shape} ids={','.join(names)}>"
