"""A contract's FATE store during one call: register cache, dirty registers, write-back gas.

Layout (fate.md §4.7): register N at key ``00 ‖ N``, register 0 the store-map metadata
(``2f 00`` when there are no store maps). Registers are read from the contract's store
on first use (Iris+: 2000 gas) and written back at the end of a successful call, paying
5 gas per key and value byte plus the metadata register (§3.2.4). A map in the state
whose serialization is under 100 bytes (``aeb_fate_maps``' ``STORE_MAP_THRESHOLD``) is
kept inline in its register, as the node does; a bigger one becomes a *store map* (its
own entries in the store, refcounted in the metadata), which is not modelled: writing
one, or reading a register holding one, raises VmNotImplemented.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from chan_nb.codec import contracts as ct
from chan_nb.codec.fate.values import FateMap, StoreMap, Value, Variant, decode, encode
from chan_nb.vm.errors import VmNotImplemented

#: a map serialized to at least this many bytes is put in the store as a store map
STORE_MAP_THRESHOLD = 100


def _has_store_map(value: Value) -> bool:
    if isinstance(value, StoreMap):
        return True
    if isinstance(value, tuple | list):
        return any(_has_store_map(v) for v in value)
    if isinstance(value, Variant):
        return any(_has_store_map(v) for v in value.values)
    if isinstance(value, FateMap):
        return any(_has_store_map(v) for v in value.values())
    return False


def _check_inline(value: Value) -> None:
    """Every map in a value written to the state must stay inline (under the threshold)."""
    if isinstance(value, tuple | list):
        for v in value:
            _check_inline(v)
    elif isinstance(value, Variant):
        for v in value.values:
            _check_inline(v)
    elif isinstance(value, FateMap):
        for v in value.values():
            _check_inline(v)
        if len(encode(value)) >= STORE_MAP_THRESHOLD:
            raise VmNotImplemented(
                "a map of 100 bytes or more in the contract state becomes a store map: "
                "store maps are not modelled"
            )
    elif isinstance(value, StoreMap):
        raise VmNotImplemented("store maps are not modelled")


@dataclass
class StoreCache:
    """Registers of one contract read or written in this call."""

    raw: dict[bytes, bytes]  # the contract's store as the call found it
    values: dict[int, Value] = field(default_factory=dict)
    dirty: set[int] = field(default_factory=set)

    def copy(self) -> StoreCache:
        return StoreCache(self.raw, dict(self.values), set(self.dirty))

    def is_cached(self, register: int) -> bool:
        return register in self.values

    def read(self, register: int) -> Value | None:
        """The register's value (None: absent from the store)."""
        if register in self.values:
            return self.values[register]
        raw = self.raw.get(ct.register_key(register))
        if raw is None:
            return None
        value = decode(raw, f"store register {register}")
        if _has_store_map(value):
            raise VmNotImplemented("store maps (big maps in the contract state) are not modelled")
        self.values[register] = value
        return value

    def write(self, register: int, value: Value) -> None:
        self.values[register] = value
        self.dirty.add(register)

    def dirty_values(self) -> Iterator[tuple[int, Value]]:
        for register in sorted(self.dirty):
            yield register, self.values[register]

    def finalize(self) -> tuple[dict[bytes, bytes], list[tuple[bytes, bytes]]]:
        """The new store and the (key, value) writes that are paid for, metadata last."""
        store = dict(self.raw)
        writes: list[tuple[bytes, bytes]] = []
        for register, value in self.dirty_values():
            _check_inline(value)
            key, raw = ct.register_key(register), encode(value)
            store[key] = raw
            writes.append((key, raw))
        meta = store.get(ct.META_REGISTER_KEY, ct.EMPTY_META)
        if meta != ct.EMPTY_META:
            raise VmNotImplemented("store maps (non-empty store metadata) are not modelled")
        writes.append((ct.META_REGISTER_KEY, meta))
        store[ct.META_REGISTER_KEY] = meta
        return store, writes


__all__ = ["StoreCache"]
