"""Run-time type checks of call arguments and remote returns (fate.md §4.2 step 3, §4.4).

Types are compared in the node's own shape (``integer``, ``{list, T}``, ``{tuple, [T…]}``,
``{variant, [T…]}`` with partial variants, ``any``, ``{tvar, N}``), because error texts
print them; :func:`type_term` gives that Erlang term.
"""

from __future__ import annotations

from typing import Any

from chan_nb.codec.fate import types as ft
from chan_nb.codec.fate.values import Address, Bits, Bytes, FateMap, StoreMap, Value, Variant
from chan_nb.vm.erlang import Atom
from chan_nb.vm.errors import VmNotImplemented

# An inferred or declared type: ("integer",) ("list", T) ("tuple", (T…)) ("map", K, V)
# ("variant", (T | int …)) ("bytes", n) ("tvar", n) ("any",) and the other scalars.
T = tuple[Any, ...]
ANY: T = ("any",)

_KIND = {
    ft.ObjectKind.ADDRESS: "address",
    ft.ObjectKind.CONTRACT: "contract",
    ft.ObjectKind.ORACLE: "oracle",
    ft.ObjectKind.ORACLE_QUERY: "oracle_query",
    ft.ObjectKind.CHANNEL: "channel",
}
_PRIM = {"int": "integer", "bool": "boolean", "string": "string", "bits": "bits", "any": "any"}


class _NoMatch(Exception):
    pass


def declared(t: ft.FateType) -> T:
    """A signature type in the node's shape."""
    if isinstance(t, ft.Prim):
        if t.name not in _PRIM:
            raise VmNotImplemented(f"type {t.name} in a signature is not modelled")
        return (_PRIM[t.name],)
    if isinstance(t, ft.TObject):
        return (_KIND[t.kind],)
    if isinstance(t, ft.TBytes):
        if t.size < 0:
            raise VmNotImplemented("arbitrary-size bytes() types (vm 8) are not modelled")
        return ("bytes", t.size)
    if isinstance(t, ft.TList):
        return ("list", declared(t.elem))
    if isinstance(t, ft.TTuple):
        return ("tuple", tuple(declared(e) for e in t.elems))
    if isinstance(t, ft.TMap):
        return ("map", declared(t.key), declared(t.value))
    if isinstance(t, ft.TVariant):
        return ("variant", tuple(declared(c) for c in t.constructors))
    if isinstance(t, ft.TVar):
        return ("tvar", t.index)
    raise VmNotImplemented(f"type {t!r} is not modelled")


def infer(v: Value) -> T:
    if isinstance(v, bool):
        return ("boolean",)
    if isinstance(v, int):
        return ("integer",)
    if isinstance(v, str | bytes):
        return ("string",)
    if isinstance(v, Address):
        return (_KIND[v.kind],)
    if isinstance(v, Bytes):
        return ("bytes", len(v.value))
    if isinstance(v, Bits):
        return ("bits",)
    if isinstance(v, list):
        return ("list", _infer_elements(v))
    if isinstance(v, FateMap):
        return ("map", _infer_elements(list(v.keys())), _infer_elements(list(v.values())))
    if isinstance(v, StoreMap):
        return ("map", ANY, ANY)
    if isinstance(v, tuple):
        return ("tuple", tuple(infer(x) for x in v))
    if isinstance(v, Variant):
        inner = ("tuple", tuple(infer(x) for x in v.values))
        return ("variant", tuple(inner if i == v.tag else a for i, a in enumerate(v.arities)))
    raise _NoMatch


def _infer_elements(vs: list[Value]) -> T:
    out = ANY
    for v in vs:
        out = _intersect(out, infer(v))
    return out


def _intersect(s: Any, t: Any) -> Any:
    if t == ANY:
        return s
    if s in (ANY, t):
        return t
    if s[0] == t[0] == "list":
        return ("list", _intersect(s[1], t[1]))
    if s[0] == t[0] == "tuple" and len(s[1]) == len(t[1]):
        return ("tuple", tuple(_intersect(a, b) for a, b in zip(s[1], t[1], strict=True)))
    if s[0] == t[0] == "map":
        return ("map", _intersect(s[1], t[1]), _intersect(s[2], t[2]))
    if s[0] == t[0] == "variant" and len(s[1]) == len(t[1]):
        out: list[Any] = []
        for a, b in zip(s[1], t[1], strict=True):
            if isinstance(a, int) and isinstance(b, int) and a == b:
                out.append(a)
            elif isinstance(a, int) and isinstance(b, tuple) and len(b[1]) == a:
                out.append(b)
            elif isinstance(b, int) and isinstance(a, tuple) and len(a[1]) == b:
                out.append(a)
            elif isinstance(a, tuple) and isinstance(b, tuple):
                out.append(_intersect(a, b))
            else:
                raise _NoMatch
        return ("variant", tuple(out))
    raise _NoMatch


def _merge(a: dict[int, Any] | None, b: dict[int, Any] | None) -> dict[int, Any] | None:
    if a is None or b is None:
        return None
    out = dict(b)
    for k, t in a.items():
        if k in out:
            try:
                out[k] = _intersect(out[k], t)
            except _NoMatch:
                return None
        else:
            out[k] = t
    return out


def match(t: Any, s: Any) -> dict[int, Any] | None:
    """Bindings of type variables making ``s`` an instance of ``t`` (None: no match)."""
    if ANY in (t, s) or t == s:
        return {}
    if t[0] == "tvar":
        return {t[1]: s}
    if t[0] == s[0] == "list":
        return match(t[1], s[1])
    if t[0] == s[0] == "tuple" and len(t[1]) == len(s[1]):
        out: dict[int, Any] | None = {}
        for a, b in zip(t[1], s[1], strict=True):
            out = _merge(out, match(a, b))
        return out
    if t[0] == s[0] == "map":
        return _merge(match(t[1], s[1]), match(t[2], s[2]))
    if t[0] == s[0] == "variant" and len(t[1]) == len(s[1]):
        out = {}
        for a, b in zip(t[1], s[1], strict=True):
            if isinstance(b, int):
                m: dict[int, Any] | None = {} if a[0] == "tuple" and len(a[1]) == b else None
            elif a[0] == "tuple" and b[0] == "tuple":
                m = match(a, b)
            else:
                m = None
            out = _merge(out, m)
        return out
    return None


def check(t: Any, v: Value) -> dict[int, Any] | None:
    """``aefa_fate:check_type``: bindings if value ``v`` has type ``t``, else None."""
    try:
        return match(t, infer(v))
    except _NoMatch:
        return None


def instantiate(tvars: dict[int, Any], t: Any) -> Any:
    if t[0] == "tvar":
        return tvars.get(t[1], ANY)
    if t[0] == "list":
        return ("list", instantiate(tvars, t[1]))
    if t[0] == "tuple":
        return ("tuple", tuple(instantiate(tvars, e) for e in t[1]))
    if t[0] == "map":
        return ("map", instantiate(tvars, t[1]), instantiate(tvars, t[2]))
    if t[0] == "variant":
        return ("variant", tuple(instantiate(tvars, e) for e in t[1]))
    return t


def type_term(t: Any) -> Any:
    """The Erlang term of a type (for error texts)."""
    if isinstance(t, int):
        return t
    if len(t) == 1:
        return Atom(t[0])
    if t[0] == "bytes":
        return (Atom("bytes"), t[1])
    if t[0] == "tvar":
        return (Atom("tvar"), t[1])
    if t[0] == "list":
        return (Atom("list"), type_term(t[1]))
    if t[0] in ("tuple", "variant"):
        return (Atom(t[0]), [type_term(e) for e in t[1]])
    if t[0] == "map":
        return (Atom("map"), type_term(t[1]), type_term(t[2]))
    raise TypeError(t)


__all__ = ["ANY", "check", "declared", "infer", "instantiate", "match", "type_term"]
