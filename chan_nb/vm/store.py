"""A contract's FATE store during one call: register cache, dirty registers, write-back gas.

Layout (fate.md §4.7): register N at key ``00 ‖ N``, register 0 the store-map metadata
(``2f 00`` when there are no store maps). Registers are read from the contract's store
on first use (Iris+: 2000 gas) and written back at the end of a successful call, paying
5 gas per key and value byte plus the metadata register (§3.2.4). Store maps — maps kept
in a register — are not modelled: a register holding one, or a map written to a
register, raises VmNotImplemented rather than store it wrongly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from chan_nb.codec import contracts as ct
from chan_nb.codec.fate.values import FateMap, StoreMap, Value, Variant, decode, encode
from chan_nb.vm.errors import VmNotImplemented


def _has_map(value: Value) -> bool:
    if isinstance(value, FateMap | StoreMap):
        return True
    if isinstance(value, tuple | list):
        return any(_has_map(v) for v in value)
    if isinstance(value, Variant):
        return any(_has_map(v) for v in value.values)
    return False


@dataclass
class StoreCache:
    """Registers of one contract read or written in this call."""

    raw: dict[bytes, bytes]  # the contract's store as the call found it
    values: dict[int, Value] = field(default_factory=dict)
    dirty: set[int] = field(default_factory=set)

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
        if _has_map(value):
            raise VmNotImplemented("store maps (maps in the contract state) are not modelled")
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
            if _has_map(value):
                raise VmNotImplemented(
                    "writing a map to the contract state (store maps) is not modelled"
                )
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
