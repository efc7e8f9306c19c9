"""One recorded frame or connection event, and the schema of the frame table.

A recording is a list of :class:`Frame` records, one per WebSocket frame, socket
open/close, or info note. A record stores only what was observed (the *primary*
fields: who, which way, which connection, when, and the raw text exactly as it was);
everything else (kind, method, ids, round, tx type, error code …) is *derived* from
the raw text when the record is built, so a record read back from any export is
identical to the original. :data:`SCHEMA` lists every column with its pandas dtype
and meaning; it is the single source of truth for the table, the docs and the
exports.

Constructors: readers and live recorders call :meth:`Frame.from_message`
(a sent/received frame), :meth:`Frame.opened`, :meth:`Frame.closed` and
:meth:`Frame.note`; all four end in the dataclass constructor, which derives the rest.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import InitVar, dataclass, field
from enum import StrEnum
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit

from chan_nb.recording.contractinfo import describe_contract
from chan_nb.recording.txinfo import describe_tx

#: The peer every client talks to in a recording heading (``initiator ---> node``).
NODE: Final = "node"


class Direction(StrEnum):
    """What a record is: a frame each way, a socket event, or a human note."""

    SENT = "sent"  # client -> node frame
    RECEIVED = "received"  # node -> client frame
    OPEN = "open"  # the client opened a WebSocket (raw = the URL)
    CLOSE = "close"  # the socket was closed (raw = "")
    INFO = "info"  # a note about the previous frame (raw = the note text)


class Kind(StrEnum):
    """JSON-RPC role of a frame; socket events and notes have none."""

    REQUEST = "request"  # client frame with a method
    RESPONSE = "response"  # node frame with "result"
    NOTIFICATION = "notification"  # node frame with a method
    ERROR = "error"  # node frame with "error"
    BATCH = "batch"  # a JSON array (batch request or batched replies)
    OTHER = "other"  # valid JSON that fits none of the above
    INVALID = "invalid"  # the raw text is not JSON


FRAME_DIRECTIONS: Final = frozenset({Direction.SENT, Direction.RECEIVED})

DType = Literal["int", "float", "category", "string", "Int64", "object"]


@dataclass(frozen=True, slots=True)
class Column:
    """One column of the frame table: its name, pandas dtype and meaning."""

    name: str
    dtype: DType
    doc: str
    primary: bool = False  # stored in exports; the rest is derived from these


#: The frame table, in column order. ``dtype`` "object" columns hold exact Python ints
#: (JSON-RPC ids and amounts exceed 2^63) or JSON values; "Int64" is pandas' nullable int.
SCHEMA: Final[tuple[Column, ...]] = (
    Column("seq", "int", "1-based position of the record in the recording", primary=True),
    Column("role", "category", "who: initiator / responder or another participant name", True),
    Column("direction", "category", "sent / received / open / close / info", primary=True),
    Column(
        "conn",
        "int",
        "per-role connection number: 1 at the first open, +1 on each "
        "reconnect; 0 = a socket opened before the recording starts",
        primary=True,
    ),
    Column("t_wall", "float", "wall-clock time, seconds since the epoch (live only)", True),
    Column("t_mono", "float", "monotonic clock, seconds (live only)", primary=True),
    Column(
        "raw",
        "string",
        "the frame's JSON / the URL / the note text, exactly as it was",
        primary=True,
    ),
    Column("line", "Int64", "line of the record's heading in the file it was read from"),
    Column(
        "kind",
        "category",
        "request / response / notification / error / batch / other / invalid (frames only)",
    ),
    Column("method", "category", "JSON-RPC method (requests and notifications)"),
    Column("event", "category", "params.data.event (channels.info)"),
    Column("info", "category", "params.data.info (channels.on_chain_tx)"),
    Column(
        "rpc_id",
        "object",
        "JSON-RPC id: exact int (may be 0 or negative), a string, or None when absent or null",
    ),
    Column("channel_id", "category", "ch_… of the frame; for open: existing_channel_id"),
    Column("fsm_id", "category", "params.data.fsm_id; for open: existing_fsm_id"),
    Column(
        "round",
        "Int64",
        "round of the innermost channel tx (1 for a create tx), or params.data.round of a conflict",
    ),
    Column("tx_type", "category", "type of the innermost decoded tx, e.g. channel_offchain_tx"),
    Column(
        "tx", "string", "the tx_… string the frame carries (signed_tx, state, tx, offchain_tx …)"
    ),
    Column("tx_error", "string", "why that tx could not be decoded"),
    Column(
        "contract",
        "string",
        "contract content decoded: new contract / call (function, arguments, amount) "
        "or a call result (return value, gas, events)",
    ),
    Column("amount", "object", "exact int amount of update.new / deposit / withdraw requests"),
    Column("error_code", "Int64", "error.code, or error_code of channels.conflict"),
    Column(
        "error_message",
        "string",
        "error.message, error_msg of a conflict, or data.message of channels.error",
    ),
    Column("error_data_code", "Int64", "code of the first error.data entry (e.g. 1001)"),
    Column("error_data_message", "string", "message of the first error.data entry"),
    Column("url", "string", "URL of a socket open"),
    Column("params", "object", "query parameters of a socket open, as a dict"),
    Column("size", "int", "length of raw in UTF-8 bytes"),
    Column("message", "object", "the parsed JSON (dict or list), None if not a frame"),
)

COLUMNS: Final[tuple[str, ...]] = tuple(c.name for c in SCHEMA)
PRIMARY_COLUMNS: Final[tuple[str, ...]] = tuple(c.name for c in SCHEMA if c.primary)
CATEGORICAL_COLUMNS: Final[tuple[str, ...]] = tuple(c.name for c in SCHEMA if c.dtype == "category")

_EMPTY: Final[dict[str, Any]] = {}
#: Where a frame keeps its transaction string, in order of preference.
_TX_KEYS: Final = ("signed_tx", "state", "tx")


def schema_markdown() -> str:
    """The schema as a Markdown table (for docs and notebooks)."""
    rows = ["| column | dtype | stored | meaning |", "|---|---|---|---|"]
    rows += [
        f"| `{c.name}` | {c.dtype} | {'yes' if c.primary else 'derived'} | {c.doc} |"
        for c in SCHEMA
    ]
    return "\n".join(rows)


@dataclass(frozen=True, slots=True)
class Frame:
    """One record of a recording. Construct with the primary fields; the rest is derived.

    Equality compares the primary fields only (``line`` is provenance, not content).
    """

    seq: int
    role: str
    direction: Direction
    conn: int
    raw: str
    t_wall: float | None = None
    t_mono: float | None = None
    line: int | None = field(default=None, compare=False)
    decode_txs: InitVar[bool] = True

    kind: Kind | None = field(init=False, compare=False)
    method: str | None = field(init=False, compare=False)
    event: str | None = field(init=False, compare=False)
    info: str | None = field(init=False, compare=False)
    rpc_id: int | str | None = field(init=False, compare=False)
    channel_id: str | None = field(init=False, compare=False)
    fsm_id: str | None = field(init=False, compare=False)
    round: int | None = field(init=False, compare=False)
    tx_type: str | None = field(init=False, compare=False)
    tx: str | None = field(init=False, compare=False)
    tx_error: str | None = field(init=False, compare=False)
    contract: str | None = field(init=False, compare=False)
    amount: int | None = field(init=False, compare=False)
    error_code: int | None = field(init=False, compare=False)
    error_message: str | None = field(init=False, compare=False)
    error_data_code: int | None = field(init=False, compare=False)
    error_data_message: str | None = field(init=False, compare=False)
    url: str | None = field(init=False, compare=False)
    params: dict[str, str] | None = field(init=False, compare=False, repr=False)
    size: int = field(init=False, compare=False)
    message: Any = field(init=False, compare=False, repr=False)

    def __post_init__(self, decode_txs: bool) -> None:
        if self.direction.__class__ is not Direction:
            object.__setattr__(self, "direction", Direction(self.direction))
        derived = _derive(self.direction, self.raw, decode_txs)
        # _derive fills a copy of _DERIVED, so its values come in _SETTERS' order; a key
        # it added by mistake would make the lengths differ, and strict zip raise
        for set_field, value in zip(_SETTERS, derived.values(), strict=True):
            set_field(self, value)

    # -- constructors ----------------------------------------------------------------
    @classmethod
    def from_message(
        cls,
        role: str,
        direction: Direction | str,
        raw: str,
        *,
        seq: int,
        conn: int,
        t_wall: float | None = None,
        t_mono: float | None = None,
        line: int | None = None,
        decode_txs: bool = True,
    ) -> Frame:
        """A frame as it went over the socket: ``raw`` is the exact text sent or received."""
        direction = Direction(direction)
        if direction not in FRAME_DIRECTIONS:
            raise ValueError(f"from_message needs direction sent or received, got {direction}")
        return cls(seq, role, direction, conn, raw, t_wall, t_mono, line, decode_txs)

    @classmethod
    def opened(
        cls,
        role: str,
        url: str,
        *,
        seq: int,
        conn: int,
        t_wall: float | None = None,
        t_mono: float | None = None,
        line: int | None = None,
        decode_txs: bool = True,
    ) -> Frame:
        """``role`` opened a WebSocket to ``url`` (its query holds the channel params)."""
        return cls(seq, role, Direction.OPEN, conn, url, t_wall, t_mono, line, decode_txs)

    @classmethod
    def closed(
        cls,
        role: str,
        *,
        seq: int,
        conn: int,
        t_wall: float | None = None,
        t_mono: float | None = None,
        line: int | None = None,
    ) -> Frame:
        """``role``'s socket closed."""
        return cls(seq, role, Direction.CLOSE, conn, "", t_wall, t_mono, line)

    @classmethod
    def note(
        cls,
        role: str,
        text: str,
        *,
        seq: int,
        conn: int,
        t_wall: float | None = None,
        t_mono: float | None = None,
        line: int | None = None,
    ) -> Frame:
        """A human note about ``role``'s previous frame."""
        return cls(seq, role, Direction.INFO, conn, text, t_wall, t_mono, line)

    # -- conveniences ----------------------------------------------------------------
    @property
    def is_frame(self) -> bool:
        """True for a WebSocket frame (sent or received), False for socket events and notes."""
        return self.direction in FRAME_DIRECTIONS

    def primary(self) -> dict[str, Any]:
        """The stored fields, as exported to JSONL."""
        return {name: getattr(self, name) for name in PRIMARY_COLUMNS}

    def brief(self) -> str:
        """A one-line description, as in :meth:`SessionLog.summary`."""
        return describe(self)


#: Every derived field, None until derived (a template copied for each record).
_DERIVED: Final[dict[str, Any]] = dict.fromkeys(
    name for name, f in Frame.__dataclass_fields__.items() if not f.init and name in COLUMNS
)

#: The slot setters of the derived fields, in _DERIVED's order: a frozen dataclass can
#: only be filled in through them (object.__setattr__ looks each one up again, for
#: every field of every record of an import).
_SETTERS: Final[tuple[Callable[[Frame, Any], None], ...]] = tuple(
    getattr(Frame, name).__set__ for name in _DERIVED
)


def _derive(direction: Direction, raw: str, decode_txs: bool) -> dict[str, Any]:
    """Every derived column for one record (pure: depends on direction and raw only)."""
    out = _DERIVED.copy()
    out["size"] = len(raw) if raw.isascii() else len(raw.encode("utf-8"))
    if direction is Direction.OPEN:
        _derive_open(raw, out, decode_txs)
    elif direction in FRAME_DIRECTIONS:
        _derive_frame(direction, raw, out, decode_txs)
    return out


def _derive_open(url: str, out: dict[str, Any], decode_txs: bool) -> None:
    params = dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))
    out["url"] = url
    out["params"] = params
    out["channel_id"] = params.get("existing_channel_id")
    out["fsm_id"] = params.get("existing_fsm_id")
    tx = params.get("offchain_tx")
    if tx:
        _set_tx(tx, out, decode_txs)


def _derive_frame(direction: Direction, raw: str, out: dict[str, Any], decode_txs: bool) -> None:
    try:
        message = _parse_json(raw) if raw[:1] in "{[" else json.loads(raw)
    except (ValueError, RecursionError):  # nested too deep: the readers report it by line
        out["kind"] = Kind.INVALID
        return
    out["message"] = message
    if isinstance(message, list):
        out["kind"] = Kind.BATCH
        return
    if not isinstance(message, dict):
        out["kind"] = Kind.OTHER
        return
    method = message.get("method")
    if isinstance(method, str):
        out["method"] = method
    if "id" in message:
        out["rpc_id"] = _rpc_id(message["id"])
    if direction is Direction.SENT:
        out["kind"] = Kind.REQUEST if isinstance(method, str) else Kind.OTHER
    elif "error" in message:
        out["kind"] = Kind.ERROR
    elif "result" in message:
        out["kind"] = Kind.RESPONSE
    elif isinstance(method, str):
        out["kind"] = Kind.NOTIFICATION
    else:
        out["kind"] = Kind.OTHER

    params = message.get("params")
    params = params if isinstance(params, dict) else _EMPTY
    data = params.get("data")
    data = data if isinstance(data, dict) else _EMPTY
    channel_id = params.get("channel_id", message.get("channel_id"))
    out["channel_id"] = channel_id if isinstance(channel_id, str) else None
    for key in ("event", "info", "fsm_id"):
        value = data.get(key)
        if isinstance(value, str):
            out[key] = value

    if 'tx"' in raw or 'state"' in raw:  # cheap pre-check for the _TX_KEYS keys
        tx = _find_tx(data) or _find_tx(params) or _find_tx(message.get("result"))
        if tx:
            _set_tx(tx, out, decode_txs)

    amount = params.get("amount")
    if _is_int(amount):
        out["amount"] = amount

    if decode_txs and ("ontract" in raw or '"return_type"' in raw):  # cheap pre-check
        out["contract"] = describe_contract(message)

    if method == "channels.conflict":
        _set_int(out, "error_code", data.get("error_code"))
        _set_str(out, "error_message", data.get("error_msg"))
        _set_int(out, "round", data.get("round"))
    elif method == "channels.error":
        _set_str(out, "error_message", data.get("message"))
    error = message.get("error")
    if isinstance(error, dict):
        _set_int(out, "error_code", error.get("code"))
        _set_str(out, "error_message", error.get("message"))
        details = error.get("data")
        if isinstance(details, list) and details and isinstance(details[0], dict):
            _set_int(out, "error_data_code", details[0].get("code"))
            _set_str(out, "error_data_message", details[0].get("message"))


_JSON = json.JSONDecoder()


def _parse_json(raw: str) -> Any:
    """``json.loads`` without its wrapper layers (records are many and small)."""
    message, end = _JSON.raw_decode(raw)  # raises ValueError on leading whitespace too
    if end != len(raw) and raw[end:].strip():
        raise ValueError(f"extra data after the JSON value at {end}")
    return message


def _find_tx(holder: Any) -> str | None:
    if isinstance(holder, dict):
        for key in _TX_KEYS:
            value = holder.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def _set_tx(tx: str, out: dict[str, Any], decode_txs: bool) -> None:
    out["tx"] = tx
    if decode_txs and tx.startswith("tx_"):
        summary = describe_tx(tx)
        out["tx_type"] = summary.type
        out["round"] = summary.round
        out["tx_error"] = summary.error


def _rpc_id(value: Any) -> int | str | None:
    """Ids are echoed verbatim; keep ints exact, strings as is, other JSON as its text."""
    if value is None or _is_int(value) or isinstance(value, str):
        return value  # type: ignore[no-any-return]
    return json.dumps(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _set_int(out: dict[str, Any], key: str, value: Any) -> None:
    if _is_int(value):
        out[key] = value


def _set_str(out: dict[str, Any], key: str, value: Any) -> None:
    if isinstance(value, str):
        out[key] = value


def describe(frame: Frame) -> str:
    """``#12 initiator[1] -> channels.update.new id=-57… amount=1`` style one-liner."""
    arrow = {
        Direction.SENT: "->",
        Direction.RECEIVED: "<-",
        Direction.OPEN: "OPEN",
        Direction.CLOSE: "CLOSE",
        Direction.INFO: "note",
    }[frame.direction]
    head = f"#{frame.seq} {frame.role}[{frame.conn}] {arrow}"
    if frame.direction is Direction.INFO:
        return f"{head} {frame.raw}"
    if frame.direction is Direction.OPEN:
        shown = {k: v for k, v in (frame.params or {}).items() if k in _OPEN_KEYS}
        return f"{head} " + " ".join(f"{k}={_short(v)}" for k, v in shown.items())
    if frame.direction is Direction.CLOSE:
        return head
    parts = [head, str(frame.kind)]
    if frame.method:
        parts.append(frame.method)
    if frame.event:
        parts.append(frame.event)
    if frame.info:
        parts.append(frame.info)
    if frame.rpc_id is not None:
        parts.append(f"id={frame.rpc_id}")
    if frame.kind is Kind.RESPONSE and isinstance(frame.message, dict):
        parts.append(f"result={_short(json.dumps(frame.message.get('result')))}")
    if frame.tx_type:
        parts.append(f"{frame.tx_type}" + (f"@{frame.round}" if frame.round is not None else ""))
    elif frame.round is not None:
        parts.append(f"round={frame.round}")
    if frame.amount is not None:
        parts.append(f"amount={frame.amount}")
    if frame.contract:
        parts.append(f"[{frame.contract}]")
    if frame.error_code is not None:
        parts.append(f"error={frame.error_code}")
    if frame.error_data_code is not None:
        parts.append(f"/{frame.error_data_code}")
    if frame.error_message:
        detail = frame.error_data_message or frame.error_message
        parts.append(repr(detail))
    return " ".join(parts)


_OPEN_KEYS: Final = frozenset(
    {"role", "existing_channel_id", "existing_fsm_id", "keep_running", "port", "minimum_depth"}
)


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
