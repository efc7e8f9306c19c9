"""FATE values as the Erlang node sees them: its term order and its error-message texts.

The node keeps FATE values as Erlang terms (``{tuple, T}``, ``{address, <<…>>}``,
``{variant, Arities, Tag, {…}}``, binaries for strings …). Two things of ours depend on
that form: the recorded (2020) node compared values in *Erlang term order*, and every
error result carries an ``io_lib:format`` text (``~p``/``~w``) of such terms (fate.md §4.5).
Only what can be printed exactly is printed; anything else raises VmNotImplemented.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

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
)
from chan_nb.vm.errors import VmNotImplemented


@dataclass(frozen=True, slots=True)
class Atom:
    """An Erlang atom."""

    name: str


_KIND_ATOM: Final = {
    ft.ObjectKind.ADDRESS: "address",
    ft.ObjectKind.CONTRACT: "contract",
    ft.ObjectKind.ORACLE: "oracle",
    ft.ObjectKind.ORACLE_QUERY: "oracle_query",
    ft.ObjectKind.CHANNEL: "channel",
}


def raw_string(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else bytes(value)


def to_term(value: Value) -> Any:
    """The Erlang term of a FATE value (tuples are Python tuples, binaries bytes, atoms Atom)."""
    if isinstance(value, bool):
        return Atom("true" if value else "false")
    if isinstance(value, int):
        return value
    if isinstance(value, str | bytes):
        return raw_string(value)
    if isinstance(value, tuple):
        return (Atom("tuple"), tuple(to_term(v) for v in value))
    if isinstance(value, list):
        return [to_term(v) for v in value]
    if isinstance(value, FateMap):
        return {"map": [(to_term(k), to_term(v)) for k, v in value.pairs]}
    if isinstance(value, Address):
        return (Atom(_KIND_ATOM[value.kind]), value.pubkey)
    if isinstance(value, Bytes):
        return (Atom("bytes"), value.value)
    if isinstance(value, Bits):
        return (Atom("bits"), value.value)
    if isinstance(value, Variant):
        return (
            Atom("variant"),
            list(value.arities),
            value.tag,
            tuple(to_term(v) for v in value.values),
        )
    if isinstance(value, ft.FateType):
        from chan_nb.vm import typecheck  # typecheck prints types through this module

        return (Atom("typerep"), typecheck.type_term(typecheck.declared(value)))
    if isinstance(value, StoreMap | ContractBytearray):
        raise VmNotImplemented(f"the Erlang form of {type(value).__name__} values is not modelled")
    raise TypeError(f"not a FATE value: {value!r}")


# -- term order ------------------------------------------------------------------------------
# number < atom < reference < fun < port < pid < tuple < map < nil < list < bitstring


def term_key(term: Any) -> Any:
    """A Python sort key giving Erlang's term order."""
    if isinstance(term, int):
        return (0, term)
    if isinstance(term, Atom):
        return (1, term.name)
    if isinstance(term, tuple):
        return (6, len(term), tuple(term_key(t) for t in term))
    if isinstance(term, dict):
        pairs = sorted(((term_key(k), term_key(v)) for k, v in term["map"]), key=lambda p: p[0])
        return (7, len(pairs), tuple(k for k, _ in pairs), tuple(v for _, v in pairs))
    if isinstance(term, list):
        if not term:
            return (8,)
        return (9, tuple(term_key(t) for t in term))
    if isinstance(term, bytes):
        return (10, term)
    raise TypeError(f"not an Erlang term: {term!r}")


def order_key(value: Value) -> Any:
    """Erlang term order of a FATE value (the recorded node's comparisons)."""
    return term_key(to_term(value))


# -- io_lib:format --------------------------------------------------------------------------

_ATOM_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@")
_PRINTABLE = frozenset(range(32, 127)) | frozenset(range(160, 256))
LINE_WIDTH: Final = 80
MAX_TERM_DEPTH: Final = 6  # ?MAX_TERM_DEPTH of the Iris-final and current nodes


#: reserved words, which Erlang prints quoted
_RESERVED = frozenset(
    [
        "after",
        "and",
        "andalso",
        "band",
        "begin",
        "bnot",
        "bor",
        "bsl",
        "bsr",
        "bxor",
        "case",
        "catch",
        "cond",
        "div",
        "end",
        "fun",
        "if",
        "let",
        "maybe",
        "not",
        "of",
        "or",
        "orelse",
        "receive",
        "rem",
        "try",
        "when",
        "xor",
    ]
)


def _atom(name: str) -> str:
    plain = name and name[0].islower() and all(c in _ATOM_PLAIN for c in name)
    if plain and name not in _RESERVED:
        return name
    escaped = name.replace("\\", "\\\\").replace("'", "\\'")
    if not all(32 <= ord(c) < 127 for c in escaped):
        raise VmNotImplemented("printing an atom with special characters is not modelled")
    return f"'{escaped}'"


def _depth(term: Any) -> int:
    if isinstance(term, tuple | list):
        return 1 + max((_depth(t) for t in term), default=0)
    if isinstance(term, dict):
        return 1 + max((max(_depth(k), _depth(v)) for k, v in term["map"]), default=0)
    if isinstance(term, bytes):
        return 1
    return 0


def write(term: Any, pretty: bool) -> str:
    """``~w`` (pretty False) or a one-line ``~p`` of a term."""
    if isinstance(term, int):
        return str(term)
    if isinstance(term, Atom):
        return _atom(term.name)
    if isinstance(term, bytes):
        if pretty and term and all(b in _PRINTABLE for b in term):
            if any(b in (0x22, 0x5C) or b >= 127 for b in term):
                raise VmNotImplemented("printing binaries with escapes is not modelled")
            return '<<"' + term.decode("latin-1") + '">>'
        return "<<" + ",".join(str(b) for b in term) + ">>"
    if isinstance(term, tuple):
        return "{" + ",".join(write(t, pretty) for t in term) + "}"
    if isinstance(term, list):
        if (
            pretty
            and term
            and all(isinstance(t, int) and not isinstance(t, bool) for t in term)
            and all(t in _PRINTABLE for t in term)
        ):
            if any(t in (0x22, 0x5C) or t >= 127 for t in term):
                raise VmNotImplemented("printing strings with escapes is not modelled")
            return '"' + "".join(chr(t) for t in term) + '"'
        return "[" + ",".join(write(t, pretty) for t in term) + "]"
    if isinstance(term, dict):
        raise VmNotImplemented("printing maps in error messages is not modelled")
    raise TypeError(f"not an Erlang term: {term!r}")


def format_message(template: str, args: list[tuple[str, Any]], depth_limited: bool) -> bytes:
    """``io_lib:format`` of a template with ``~p``/``~w`` slots, one (directive, term) each.

    ``~p`` is printed on one line; a term that would not fit the 80-column line (where
    Erlang breaks it over lines) raises VmNotImplemented, as does a term deeper than the
    depth limit of ``~P``/``~W`` (where Erlang prints ``...``).
    """
    parts = template.split("~")
    out = parts[0]
    for (directive, term), rest in zip(args, parts[1:], strict=True):
        if rest[:1] != directive:
            raise ValueError(f"template slot ~{rest[:1]} does not match ~{directive}")
        if depth_limited and _depth(term) >= MAX_TERM_DEPTH:
            raise VmNotImplemented("depth-limited printing (...) of deep terms is not modelled")
        text = write(term, pretty=directive == "p")
        if directive == "p" and len(out) + len(text) > LINE_WIDTH:
            raise VmNotImplemented("Erlang's line breaking of long ~p terms is not modelled")
        out += text + rest[1:]
    return out.encode("latin-1")


__all__ = ["Atom", "format_message", "order_key", "raw_string", "term_key", "to_term", "write"]
