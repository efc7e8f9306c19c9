"""Tuples, maps, lists and variants (fate.md §3.1). Maps here are in-memory maps only."""

from __future__ import annotations

from chan_nb.codec.fate.bytecode import Operand
from chan_nb.codec.fate.values import FateMap, StoreMap, Value, Variant
from chan_nb.codec.fate.values import order_key as fate_key
from chan_nb.vm import erlang
from chan_nb.vm.errors import VmNotImplemented
from chan_nb.vm.machine import NEXT, Machine
from chan_nb.vm.ops_data import Handler, is_int

# -- tuples ----------------------------------------------------------------------------


def _tuple(m: Machine, a: tuple[Operand, ...]) -> int:
    size = a[1].value
    if not is_int(size) or size < 0:
        raise m.error("Invalid tuple size: ~p", ("p", erlang.to_term(size)))
    values = m.drop(size)
    values.reverse()  # pushed first = first element
    m.spend_cells(size + 2)
    m.write(a[0], tuple(values))
    return NEXT


def _element(m: Machine, a: tuple[Operand, ...]) -> int:
    index = m.read(a[1])
    tup = m.read(a[2])
    if not (is_int(index) and index >= 0 and isinstance(tup, tuple)):
        raise m.bad_args("element", index, tup)
    if index >= len(tup):
        raise m.error("Bad index argument to element, Index: ~p", ("p", index))
    m.write(a[0], tup[index])
    return NEXT


def _setelement(m: Machine, a: tuple[Operand, ...]) -> int:
    index = m.read(a[1])
    tup = m.read(a[2])
    element = m.read(a[3])
    if not (is_int(index) and index >= 0 and isinstance(tup, tuple)):
        raise VmNotImplemented("SETELEMENT on a non-tuple (a crash in the node) is not modelled")
    if index >= len(tup):
        raise m.error("Bad index argument to element, Index: ~p", ("p", index))
    m.spend_cells(len(tup) + 2)
    m.write(a[0], (*tup[:index], element, *tup[index + 1 :]))
    return NEXT


# -- maps --------------------------------------------------------------------------------


def _map(m: Machine, value: Value, op: str) -> FateMap:
    if isinstance(value, FateMap):
        return value
    if isinstance(value, StoreMap):
        raise VmNotImplemented("store maps are not modelled")
    if m.profile.strict_types:
        raise m.error(
            "Operation ~p expected a map as argument, got ~p",
            ("p", erlang.Atom(op)),
            ("p", erlang.to_term(value)),
        )
    raise VmNotImplemented("a map instruction on a non-map (a crash in the node) is not modelled")


def _map_empty(m: Machine, a: tuple[Operand, ...]) -> int:
    m.write(a[0], FateMap())
    m.spend_cells(2)
    return NEXT


def _lookup(m: Machine, a: tuple[Operand, ...]) -> int:
    table = _map(m, m.read(a[1]), "map_lookup")
    key = m.read(a[2])
    if key not in table:
        raise m.error("Maps: Key does not exist")
    m.write(a[0], table[key])
    return NEXT


def _lookupd(m: Machine, a: tuple[Operand, ...]) -> int:
    table = _map(m, m.read(a[1]), "map_lookupd")
    key = m.read(a[2])
    default = m.read(a[3])
    m.write(a[0], table.get(key, default))
    return NEXT


def _member(m: Machine, a: tuple[Operand, ...]) -> int:
    table = _map(m, m.read(a[1]), "map_member")
    m.write(a[0], m.read(a[2]) in table)
    return NEXT


def _is_map(v: Value) -> bool:
    return isinstance(v, FateMap | StoreMap)


def _update(m: Machine, a: tuple[Operand, ...]) -> int:
    table = m.read(a[1])
    key = m.read(a[2])
    value = m.read(a[3])
    if not isinstance(table, FateMap) or _is_map(key):
        if isinstance(table, StoreMap):
            raise VmNotImplemented("store maps are not modelled")
        raise m.bad_args("map_update", table, key, value)
    try:
        updated = FateMap([*table.pairs, (key, value)])
    except ValueError:  # a map inside the key
        raise VmNotImplemented("a map key holding a map is not modelled") from None
    m.write(a[0], updated)
    m.spend_cells(2)
    return NEXT


def _delete(m: Machine, a: tuple[Operand, ...]) -> int:
    table = m.read(a[1])
    key = m.read(a[2])
    if not isinstance(table, FateMap) or _is_map(key):
        if isinstance(table, StoreMap):
            raise VmNotImplemented("store maps are not modelled")
        raise m.bad_args("map_delete", table, key)
    gone = fate_key(key)
    m.write(a[0], FateMap([(k, v) for k, v in table.pairs if fate_key(k) != gone]))
    return NEXT


def _from_list(m: Machine, a: tuple[Operand, ...]) -> int:
    items = m.read(a[1])
    if not isinstance(items, list):
        raise m.bad_args("map_from_list", items)
    pairs = [t for t in items if isinstance(t, tuple)]
    if any(len(t) != 2 for t in pairs) or len(pairs) != len(items):
        raise VmNotImplemented("MAP_FROM_LIST of non-pairs (dropped or a crash) is not modelled")
    try:
        table = FateMap(pairs)
    except ValueError:
        raise VmNotImplemented("a map key holding a map is not modelled") from None
    m.write(a[0], table)
    m.spend_cells(len(table) + 2)
    return NEXT


def _to_list(m: Machine, a: tuple[Operand, ...]) -> int:
    table = _map(m, m.read(a[1]), "map_to_list")
    pairs = list(table.pairs)
    if not m.profile.fate_order:
        if len(pairs) > 32:
            raise VmNotImplemented("the old node's hash order of maps over 32 keys is not modelled")
        pairs.sort(key=lambda kv: erlang.order_key(kv[0]))
    m.write(a[0], [tuple(kv) for kv in pairs])
    m.spend_cells(2 * len(pairs))
    return NEXT


def _size(m: Machine, a: tuple[Operand, ...]) -> int:
    m.write(a[0], len(_map(m, m.read(a[1]), "map_size")))
    return NEXT


# -- lists -------------------------------------------------------------------------------


def _is_nil(m: Machine, a: tuple[Operand, ...]) -> int:
    value = m.read(a[1])
    if not isinstance(value, list):
        raise m.bad_args("is_nil", value)
    m.write(a[0], not value)
    return NEXT


def _cons(m: Machine, a: tuple[Operand, ...]) -> int:
    head = m.read(a[1])
    tail = m.read(a[2])
    if not isinstance(tail, list):
        raise m.bad_args("cons", head, tail)
    m.write(a[0], [head, *tail])
    m.spend_cells(2)
    return NEXT


def _hd(m: Machine, a: tuple[Operand, ...]) -> int:
    value = m.read(a[1])
    if not isinstance(value, list):
        raise m.bad_args("hd", value)
    if not value:
        raise m.error("Head on empty list")
    m.write(a[0], value[0])
    return NEXT


def _tl(m: Machine, a: tuple[Operand, ...]) -> int:
    value = m.read(a[1])
    if not isinstance(value, list):
        raise m.bad_args("tl", value)
    if not value:
        raise m.error("Tail on empty list")
    m.write(a[0], value[1:])
    return NEXT


def _length(m: Machine, a: tuple[Operand, ...]) -> int:
    value = m.read(a[1])
    if not isinstance(value, list):
        raise m.bad_args("length", value)
    m.write(a[0], len(value))
    return NEXT


def _nil(m: Machine, a: tuple[Operand, ...]) -> int:
    m.write(a[0], [])
    return NEXT


def _append(m: Machine, a: tuple[Operand, ...]) -> int:
    first = m.read(a[1])
    second = m.read(a[2])
    if not (isinstance(first, list) and isinstance(second, list)):
        raise m.bad_args("append", first, second)
    m.write(a[0], [*first, *second])
    m.spend_cells(2 * len(first))
    return NEXT


# -- variants --------------------------------------------------------------------------


def _variant(m: Machine, a: tuple[Operand, ...]) -> int:
    arities = m.read(a[1])
    tag = m.read(a[2])
    n = m.read(a[3])
    ok = (
        isinstance(arities, list)
        and is_int(tag)
        and is_int(n)
        and n >= 0
        and 0 <= tag < len(arities)
    )
    if not ok:
        raise m.bad_args("make_variant", arities, tag, n)
    assert isinstance(arities, list)
    if m.profile.strict_types and (
        not all(is_int(x) and abs(x) <= 255 for x in arities) or arities[tag] != n
    ):
        raise m.bad_args("make_variant", arities, tag, n)  # Iris checks before popping
    values = m.drop(n)
    values.reverse()
    m.spend_cells(len(arities) * 2 + n + 4)
    if not all(is_int(x) and 0 <= x <= 255 for x in arities) or arities[tag] != n:
        raise VmNotImplemented("a variant whose arities do not fit its values is not modelled")
    m.write(a[0], Variant(tuple(arities), tag, tuple(values)))
    return NEXT


def _variant_test(m: Machine, a: tuple[Operand, ...]) -> int:
    value = m.read(a[1])
    tag = m.read(a[2])
    if not (isinstance(value, Variant) and is_int(tag) and tag >= 0):
        raise m.bad_args("variant_test", value, tag)
    m.write(a[0], value.tag == tag)
    return NEXT


def _variant_element(m: Machine, a: tuple[Operand, ...]) -> int:
    value = m.read(a[1])
    index = m.read(a[2])
    if not (isinstance(value, Variant) and is_int(index) and 0 <= index < len(value.values)):
        raise m.bad_args("variant_element", value, index)
    m.write(a[0], value.values[index])
    return NEXT


HANDLERS: dict[str, Handler] = {
    "TUPLE": _tuple,
    "ELEMENT": _element,
    "SETELEMENT": _setelement,
    "MAP_EMPTY": _map_empty,
    "MAP_LOOKUP": _lookup,
    "MAP_LOOKUPD": _lookupd,
    "MAP_MEMBER": _member,
    "MAP_UPDATE": _update,
    "MAP_DELETE": _delete,
    "MAP_FROM_LIST": _from_list,
    "MAP_TO_LIST": _to_list,
    "MAP_SIZE": _size,
    "IS_NIL": _is_nil,
    "CONS": _cons,
    "HD": _hd,
    "TL": _tl,
    "LENGTH": _length,
    "NIL": _nil,
    "APPEND": _append,
    "VARIANT": _variant,
    "VARIANT_TEST": _variant_test,
    "VARIANT_ELEMENT": _variant_element,
}

__all__ = ["HANDLERS"]
