"""JSON-RPC frames of the channel API: builders, the request parser, a classifier.

Shapes follow websocket-api.md §0.2 exactly: every node frame has
``"jsonrpc": "2.0"`` and ``"version": 1``; notifications carry ``channel_id``
inside ``params``, results and errors at the top level; ids are echoed
verbatim (0, negative and huge ints included) and errors to id-less requests
carry ``"id": null``. The parser implements §2.1: invalid JSON, a wrong
``jsonrpc`` or a missing ``method`` are dropped silently; arrays are batches.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from chan_nb.protocol import codes, methods

JSONRPC: Final = "2.0"
VERSION: Final = 1

Json = Any  # a decoded JSON value (dict, list, str, int, float, bool, None)


def strings_in(value: Json) -> Iterator[str]:
    """Every string anywhere in a JSON value (ids, txs and keys hide at any depth)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def encode(frame: Json) -> str:
    """Compact JSON with sorted keys (the node's small maps serialize key-sorted)."""
    return _ENCODER.encode(frame)


# one encoder for every frame: json.dumps would build a new one per call
_ENCODER: Final = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False)


# -- builders (node -> client) -------------------------------------------------------------


def notification(method: str, channel_id: str | None, data: Json) -> dict[str, Json]:
    """``{"jsonrpc", "method", "params": {"channel_id", "data"}, "version"}``."""
    return {
        "jsonrpc": JSONRPC,
        "method": method,
        "params": {"channel_id": channel_id, "data": data},
        "version": VERSION,
    }


def result(request_id: Json, channel_id: str | None, value: Json) -> dict[str, Json]:
    """Reply to a request that carried an id (``channel_id`` at the top level)."""
    return {
        "jsonrpc": JSONRPC,
        "id": request_id,
        "channel_id": channel_id,
        "result": value,
        "version": VERSION,
    }


def error(
    request_id: Json, channel_id: str | None, reason: codes.Reason, request: Json
) -> dict[str, Json]:
    """Error frame for ``reason``; ``request`` is the request as received (``{}`` at connect)."""
    spec = codes.spec(reason)
    body: dict[str, Json] = {"code": spec.code, "message": spec.message, "request": request}
    if spec.data:
        body["data"] = spec.data_entries()
    return {
        "jsonrpc": JSONRPC,
        "id": request_id,
        "channel_id": channel_id,
        "error": body,
        "version": VERSION,
    }


def info(channel_id: str | None, event: str, **extra: Json) -> dict[str, Json]:
    """``channels.info`` with ``data.event`` (plus e.g. ``fsm_id``)."""
    return notification(methods.INFO, channel_id, {"event": event, **extra})


# -- the node's request parser (client -> node) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Request:
    """One client request as the node sees it.

    ``raw`` is the request object as received (echoed in error frames);
    ``has_id`` is true when an ``id`` other than null was sent (0 counts).
    """

    method: str
    params: Json
    request_id: Json
    has_id: bool
    raw: dict[str, Json]


def parse_request(obj: Json) -> Request | None:
    """A request from one decoded JSON value, or None when the node would ignore it."""
    if not isinstance(obj, dict):
        return None
    if obj.get("jsonrpc") != JSONRPC:
        return None
    method = obj.get("method")
    if not isinstance(method, str):
        return None
    request_id = obj.get("id")
    return Request(method, obj.get("params"), request_id, request_id is not None, obj)


def _finite(text: str) -> float:
    """A JSON number as a float; what no float holds (1e99999) is not JSON to the node."""
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"number out of range: {text[:20]}")
    return value


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not JSON")  # NaN, Infinity: Python extensions


#: one decoder for every client frame (``json.loads`` with options builds one per call)
_CLIENT_JSON = json.JSONDecoder(parse_float=_finite, parse_constant=_no_constant)


def parse_client_text(text: str | bytes) -> tuple[list[Request], bool] | None:
    """Requests in one client frame, and whether it was a batch; None = drop silently."""
    try:
        if isinstance(text, str):
            decoded = _CLIENT_JSON.decode(text)
        else:  # bytes: json.loads finds the encoding, then the same decoder
            decoded = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except (ValueError, UnicodeDecodeError):
        return None
    if isinstance(decoded, list):
        batch = [r for r in (parse_request(x) for x in decoded) if r is not None]
        return batch, True
    single = parse_request(decoded)
    if single is None:
        return None
    return [single], False


# -- builders (client -> node) and the classifier a client uses ----------------------------


def request(method: str, params: Json, request_id: Json = None) -> dict[str, Json]:
    """A client request (no ``version``; ``id`` only when given)."""
    out: dict[str, Json] = {"jsonrpc": JSONRPC, "method": method, "params": params}
    if request_id is not None:
        out["id"] = request_id
    return out


class FrameKind(StrEnum):
    """What a node frame is, from a client's point of view."""

    RESULT = "result"
    ERROR = "error"
    NOTIFICATION = "notification"
    SIGN_REQUEST = "sign_request"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class FrameSummary:
    """The parts of a node frame that identify it (what conformance compares)."""

    kind: FrameKind
    method: str | None
    event: str | None  # channels.info data.event / on_chain_tx data.info
    error_code: int | None  # error.code, or conflict data.error_code
    data_codes: tuple[int, ...]
    request_id: Json
    channel_id: str | None

    @property
    def key(self) -> tuple[str | None, str | None, int | None, tuple[int, ...]]:
        return (self.method, self.event, self.error_code, self.data_codes)


def summarize(frame: Json) -> FrameSummary:
    """Classify a decoded node frame."""
    if not isinstance(frame, dict):
        return FrameSummary(FrameKind.OTHER, None, None, None, (), None, None)
    request_id = frame.get("id")
    if "error" in frame:
        err: dict[str, Json] = frame["error"] if isinstance(frame["error"], dict) else {}
        data: list[Json] = err["data"] if isinstance(err.get("data"), list) else []
        data_codes = tuple(
            d["code"] for d in data if isinstance(d, dict) and isinstance(d.get("code"), int)
        )
        code = err["code"] if isinstance(err.get("code"), int) else None
        return FrameSummary(
            FrameKind.ERROR, None, None, code, data_codes, request_id, frame.get("channel_id")
        )
    if "result" in frame:
        return FrameSummary(
            FrameKind.RESULT, None, None, None, (), request_id, frame.get("channel_id")
        )
    method = frame.get("method")
    if not isinstance(method, str):
        return FrameSummary(FrameKind.OTHER, None, None, None, (), request_id, None)
    params: dict[str, Json] = frame["params"] if isinstance(frame.get("params"), dict) else {}
    body = params.get("data")
    event: str | None = None
    error_code: int | None = None
    if isinstance(body, dict):
        if method == methods.INFO:
            event = body.get("event")
        elif method == methods.ON_CHAIN_TX:
            event = body.get("info")
        elif method == methods.CONFLICT:
            error_code = body.get("error_code")
    kind = (
        FrameKind.SIGN_REQUEST if method.startswith(methods.SIGN_PREFIX) else FrameKind.NOTIFICATION
    )
    return FrameSummary(kind, method, event, error_code, (), request_id, params.get("channel_id"))
