"""Records made comparable across runs: identifiers, keys and signatures replaced by names.

Two runs of a session use different keys, so every ``ak_``, ``ch_``, fsm id, ``tx_``,
hash, proof and request id differs even when the node behaved identically. A
:class:`Namer` (one per run) replaces them with stable names: the parties become
``<initiator>``/``<responder>``, channels and fsm ids are numbered in order of first
appearance, a transaction becomes its type, round and number of signatures, request
ids become ``<id>``. What remains — methods, events, amounts, rounds, codes,
messages — must be equal between a recording and its replay.

Internal: the replay comparison's helper; not public API (may change without notice).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from chan_nb.codec import txs
from chan_nb.errors import DecodeError
from chan_nb.recording import Direction, Frame
from chan_nb.replay import fate_ids

#: Prefixes of values replaced by a plain marker (their content is run-specific).
OPAQUE: Final = {"th": "<th>", "pi": "<pi>", "ss": "<ss>", "sg": "<sg>"}
#: URL query keys whose values are per-run (the rest is compared verbatim).
_URL_DROP: Final = frozenset({"host"})


@dataclass
class Namer:
    """Stable names for one run's identifiers."""

    parties: Mapping[str, str] = field(default_factory=dict)  # ak_ -> "initiator"/"responder"
    aliases: Mapping[str, str] = field(default_factory=dict)  # value -> the value it stands for
    _numbered: dict[str, dict[str, int]] = field(default_factory=dict)

    def number(self, kind: str, value: str) -> str:
        seen = self._numbered.setdefault(kind, {})
        if value not in seen:
            seen[value] = len(seen) + 1
        return f"<{kind}#{seen[value]}>"

    def name(self, text: str) -> str:
        """The stable name of one string value (the value itself when not an identifier)."""
        text = self.aliases.get(text, text)
        prefix, sep, _ = text.partition("_")
        if not sep:
            return text
        if prefix == "ak":
            party = self.parties.get(text)
            return f"<{party}>" if party else text
        if prefix == "ch":
            return self.number("channel", text)
        if prefix == "ba":
            return self.number("fsm", text)
        if prefix == "tx":
            return tx_shape(text)
        if prefix == "ct":
            return self.number("contract", text)
        if prefix == "cb":
            return fate_ids.named(text, self.name)
        return OPAQUE.get(prefix, text)

    def value(self, item: Any, key: str | None = None) -> Any:
        """A JSON value with every identifier named (``id`` values become ``<id>``)."""
        if isinstance(item, dict):
            return {k: self.value(v, k) for k, v in item.items()}
        if isinstance(item, list):
            return [self.value(v) for v in item]
        if key == "id" and item is not None:
            return "<id>"
        if key == "tx_hash" and isinstance(item, str) and not item.startswith("th_"):
            # min_depth_achieved of a snapshot carries the raw hash bytes as text
            return "<raw th>"
        if isinstance(item, str):
            return self.name(item)
        return item


def tx_shape(text: str) -> str:
    """``<tx channel_offchain_tx r2 s2>``: type, round and signature count of a ``tx_``."""
    try:
        obj = txs.decode_api(text)
    except DecodeError:
        return "<tx undecodable>"
    signatures = None
    if isinstance(obj, txs.SignedTx):
        signatures = len(obj.signatures)
        obj = obj.innermost
    round_ = 1 if isinstance(obj, txs.ChannelCreateTx) else getattr(obj, "round", None)
    parts = [obj.TYPE]
    if round_ is not None:
        parts.append(f"r{round_}")
    if signatures is not None:
        parts.append(f"s{signatures}")
    return "<tx " + " ".join(parts) + ">"


def normalised(frame: Frame, namer: Namer) -> str:
    """One record as comparable text: ``role direction <canonical content>``."""
    head = f"{frame.role} {frame.direction.value}"
    if frame.direction is Direction.OPEN:
        query = dict(parse_qsl(urlsplit(frame.raw).query, keep_blank_values=True))
        named = {k: namer.name(v) for k, v in sorted(query.items()) if k not in _URL_DROP}
        return f"{head} " + " ".join(f"{k}={v}" for k, v in named.items())
    if frame.direction is Direction.CLOSE:
        return head
    message = frame.message
    if message is None:
        return f"{head} {frame.raw}"
    content = namer.value(message)
    if isinstance(content, dict):
        content.pop("version", None)
    return f"{head} {json.dumps(content, sort_keys=True, separators=(',', ':'))}"
