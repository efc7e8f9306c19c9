"""Dynamic gas: memory cells, word counts, traversal costs and store-write costs (fate.md §3.2).

All pure functions of values; the engine charges what they return.
"""

from __future__ import annotations

from typing import Final, Literal

from chan_nb.codec.fate import types as ft
from chan_nb.codec.fate.values import (
    Address,
    Bits,
    Bytes,
    ContractBytearray,
    FateMap,
    StoreMap,
    Value,
    Variant,
    encode,
)
from chan_nb.vm.errors import VmNotImplemented

#: aec_governance: gas per byte of an event's payload / topics, per byte stored
BYTE_GAS: Final = 20
STORE_BYTE_GAS: Final = 5
#: Iris+: first read of a store register in a call, first load of another contract's code
STORE_READ_GAS: Final = 2000
CODE_LOAD_GAS: Final = 4900
#: aec_governance:block_gas_limit/0 (GASLIMIT)
BLOCK_GAS_LIMIT: Final = 6_000_000


def cell_cost(created: int, n: int) -> int:
    """Gas for ``n`` new cells when ``created`` cells exist: n, or n × (1 + total/1024)."""
    total = created + n
    if total <= 1024:
        return n
    return n * (1 + (total >> 10))


def words(i: int) -> int:
    """64-bit words of an integer's magnitude (1 for 0)."""
    n = abs(i)
    return max(1, (n.bit_length() + 63) // 64)


Model = Literal["simple", "serial", "unfold", "unfold_compare", "unfold_serial", "final"]

#: mGas per node and per leaf byte of each traversal model (store-map unfolding aside)
_MODELS: Final[dict[str, tuple[int, int]]] = {
    "simple": (800, 0),
    "serial": (800, 300),
    "unfold": (800, 0),
    "unfold_compare": (800, 4),
    "unfold_serial": (800, 300),
    "final": (800, 1000),
}


def _int_size(n: int) -> int:
    """Base-256 digits of |n| (1 below 256)."""
    return max(1, (abs(n).bit_length() + 7) // 8)


def traversal_mgas(value: Value, model: Model) -> int:
    """mGas to walk ``value`` under a model (Iris+ ``spend_gas_for_traversal``)."""
    node, leaf = _MODELS[model]
    return _cost(value, node, leaf)


def _cost(value: Value, node: int, leaf: int) -> int:
    if isinstance(value, bool) or (isinstance(value, tuple) and not value):
        return node + leaf
    if isinstance(value, int):
        return node + leaf * _int_size(value)
    if isinstance(value, str):
        return node + leaf * len(value.encode("utf-8"))
    if isinstance(value, bytes):
        return node + leaf * len(value)
    if isinstance(value, Bytes):
        return node + leaf * len(value.value)
    if isinstance(value, Bits):
        return node + leaf * _int_size(value.value)
    if isinstance(value, Address):
        return node + leaf * 32
    if isinstance(value, tuple):
        return (len(value) + 2) * node + sum(_cost(v, node, leaf) for v in value)
    if isinstance(value, list):
        return (len(value) + 1) * node + sum(_cost(v, node, leaf) for v in value)
    if isinstance(value, Variant):
        return (len(value.values) + 2) * node + sum(_cost(v, node, leaf) for v in value.values)
    if isinstance(value, FateMap):
        return node + sum(
            node + _cost(k, node, leaf) + _cost(v, node, leaf) for k, v in value.pairs
        )
    if isinstance(value, ft.FateType):
        return node + _type_cost(value, node, leaf)
    if isinstance(value, StoreMap | ContractBytearray):
        raise VmNotImplemented(f"traversal gas of {type(value).__name__} values is not modelled")
    raise TypeError(f"not a FATE value: {value!r}")


def _type_cost(t: ft.FateType, node: int, leaf: int) -> int:
    if isinstance(t, ft.TList):
        return node + _type_cost(t.elem, node, leaf)
    if isinstance(t, ft.TMap):
        return node + _type_cost(t.key, node, leaf) + _type_cost(t.value, node, leaf)
    if isinstance(t, ft.TTuple):
        return node + sum(_type_cost(e, node, leaf) for e in t.elems) + leaf
    if isinstance(t, ft.TVariant):
        return node + sum(_type_cost(e, node, leaf) for e in t.constructors) + leaf
    return leaf


def traversal_gas(gas: int, value: Value, model: Model) -> int:
    """Gas left after a traversal: ``⌊(gas·1000 − cost) / 1000⌋``."""
    return (gas * 1000 - traversal_mgas(value, model)) // 1000


def store_write_gas(key: bytes, value: bytes) -> int:
    """5 × (key bytes + value bytes) for one written store entry (§3.2.4)."""
    return STORE_BYTE_GAS * (len(key) + len(value))


def log_gas(topics: int, payload: bytes) -> int:
    """Extra gas of an event: 20 × (8 × topics + payload bytes)."""
    return BYTE_GAS * (8 * topics + len(payload))


def serialized_size(value: Value) -> int:
    return len(encode(value))


__all__ = [
    "BLOCK_GAS_LIMIT",
    "BYTE_GAS",
    "CODE_LOAD_GAS",
    "STORE_BYTE_GAS",
    "STORE_READ_GAS",
    "Model",
    "cell_cost",
    "log_gas",
    "store_write_gas",
    "traversal_gas",
    "traversal_mgas",
    "words",
]
