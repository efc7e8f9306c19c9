"""Connect-time query parameters of ``/channel`` (websocket-api.md §1.2–§1.4).

Everything arrives as a string. This module turns a URL's path and query into
:class:`OpenParams` (fresh open) or :class:`ExistingParams` (reconnect or
reestablish), or a :class:`Rejection` that says whether the node answers with an
error frame or just closes the socket. Checks that need the chain (accounts
exist) or the running FSMs (fsm id) happen in :mod:`chan_nb.node.core`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final
from urllib.parse import parse_qsl, urlsplit

from chan_nb.codec import encoding
from chan_nb.errors import DecodeError
from chan_nb.protocol import methods
from chan_nb.protocol.codes import Reason

CHANNEL_PATH: Final = "/channel"
FSM_ID_SIZE: Final = 32


class Role(StrEnum):
    INITIATOR = "initiator"
    RESPONDER = "responder"

    @property
    def other(self) -> Role:
        return Role.RESPONDER if self is Role.INITIATOR else Role.INITIATOR


class DepthStrategy(StrEnum):
    TXFEE = "txfee"
    PLAIN = "plain"


#: Timer defaults in milliseconds (aesc_fsm.hrl DEFAULT_TIMEOUTS).
DEFAULT_TIMEOUTS: Final[dict[str, int]] = {
    "accept": 120_000,
    "funding_create": 120_000,
    "funding_sign": 120_000,
    "funding_lock": 360_000,
    "idle": 600_000,
    "sign": 500_000,
}
#: Timers that fall back to another one when not given.
FALLBACK_TIMEOUTS: Final[dict[str, str]] = {"awaiting_open": "idle", "initialized": "accept"}

DEFAULT_MIN_DEPTH_FACTOR: Final[dict[DepthStrategy, int]] = {
    DepthStrategy.TXFEE: 10,
    DepthStrategy.PLAIN: 3,
}
DEFAULT_LOG_KEEP: Final = 10


@dataclass(frozen=True)
class Options:
    """Optional settings shared by both paths; the FSM keeps them in its state cache."""

    minimum_depth: int | None = None
    minimum_depth_strategy: DepthStrategy = DepthStrategy.TXFEE
    ttl: int = 0
    fee: int | None = None
    gas_price: int | None = None
    nonce: int | None = None
    msg_forwarding: bool = False
    keep_running: bool = True
    log_keep: int = DEFAULT_LOG_KEEP
    slogan: str | None = None
    timeouts: Mapping[str, int] = field(default_factory=dict)  # only the given ones
    report: Mapping[str, bool] = field(default_factory=lambda: dict(methods.REPORT_TAGS))

    def timeout_ms(self, key: str) -> int:
        """A timer's length: given value, else its fallback timer, else the default."""
        if key in self.timeouts:
            return self.timeouts[key]
        fallback = FALLBACK_TIMEOUTS.get(key)
        if fallback is not None:
            return self.timeout_ms(fallback)
        return DEFAULT_TIMEOUTS[key]

    def reports(self, tag: str) -> bool:
        return self.report.get(tag, True)


@dataclass(frozen=True)
class OpenParams:
    """A fresh open (§1.2). ``initiator`` is None when a responder accepts ``any``."""

    role: Role
    port: int
    host: str | None
    initiator: bytes | None
    responder: bytes
    push_amount: int
    initiator_amount: int
    responder_amount: int
    channel_reserve: int
    lock_period: int
    options: Options


@dataclass(frozen=True)
class ExistingParams:
    """A reconnect or reestablish (§1.3): the node decides which."""

    role: Role
    port: int
    host: str | None
    channel_id: bytes
    fsm_id: bytes
    offchain_tx: str | None
    options: Options


@dataclass(frozen=True)
class Rejection:
    """The connection is refused: with an error frame for ``reason``, or silently."""

    reason: Reason | None
    detail: str

    @property
    def silent(self) -> bool:
        return self.reason is None


ConnectParams = OpenParams | ExistingParams

_INT_RE: Final = re.compile(r"[+-]?[0-9]+")
#: Longest integer parameter taken (2^256 has 78 digits). The node's Erlang parser reads
#: any length; Python refuses to convert beyond 4,300 digits and every later step
#: (JSON, floats for timers) would fail on what it did convert, so longer values close
#: the socket like any other malformed parameter.
MAX_INT_DIGITS: Final = 100
#: Longest timer (ms) the node can arm: Erlang's ``erlang:start_timer/3`` takes at most
#: 2^32 - 1 ms (~49.7 days); a longer ``timeout_*`` is refused at connect time.
MAX_TIMEOUT_MS: Final = 2**32 - 1


class _Silent(Exception):
    """A parameter problem the node answers by closing the socket without a frame."""


class _FrameError(Exception):
    """A parameter problem the node answers with an error frame (2000 / 1016)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


def _int(text: str, name: str) -> int:
    if len(text.lstrip("+-")) > MAX_INT_DIGITS:
        raise _Silent(f"{name} has more than {MAX_INT_DIGITS} digits")
    if not _INT_RE.fullmatch(text):
        raise _Silent(f"{name}={text[:40]!r} is not an integer")
    return int(text)


def _bool(text: str, name: str) -> bool:
    if text == "true":
        return True
    if text == "false":
        return False
    raise _Silent(f"{name}={text!r} is not true/false")


def _account(text: str, name: str) -> bytes:
    try:
        return encoding.decode(text, "ak")
    except DecodeError as exc:
        raise _Silent(f"{name}: {exc}") from None


class _Query:
    """First value of each query key (duplicates after the first are ignored)."""

    def __init__(self, query: str) -> None:
        self.values: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            self.values.setdefault(key, value)

    def get(self, name: str) -> str | None:
        return self.values.get(name)

    def required(self, name: str) -> str:
        value = self.values.get(name)
        if value is None:
            raise _Silent(f"missing parameter {name}")
        return value

    def integer(self, name: str) -> int:
        return _int(self.required(name), name)

    def opt_int(self, name: str) -> int | None:
        value = self.values.get(name)
        return None if value is None else _int(value, name)

    def opt_bool(self, name: str, default: bool) -> bool:
        value = self.values.get(name)
        return default if value is None else _bool(value, name)


def parse_fsm_id(text: str) -> bytes | None:
    """The 32 bytes of a ``ba_`` fsm id, or None when it is not one (→ error 1016)."""
    try:
        raw = encoding.decode(text, "ba")
    except DecodeError:
        return None
    return raw if len(raw) == FSM_ID_SIZE else None


def _options(q: _Query) -> Options:
    timeouts: dict[str, int] = {}
    for key in (*DEFAULT_TIMEOUTS, *FALLBACK_TIMEOUTS):
        value = q.opt_int(f"timeout_{key}")
        if value is not None:
            if value < 0:
                raise _Silent(f"timeout_{key} must not be negative")
            if value > MAX_TIMEOUT_MS:
                raise _Silent(f"timeout_{key} is longer than {MAX_TIMEOUT_MS} ms")
            timeouts[key] = value
    report = dict(methods.REPORT_TAGS)
    for tag, default in methods.REPORT_TAGS.items():
        report[tag] = q.opt_bool(f"report_{tag}", default)
    strategy_text = q.get("minimum_depth_strategy")
    if strategy_text is None:
        strategy = DepthStrategy.TXFEE
    else:
        try:
            strategy = DepthStrategy(strategy_text)
        except ValueError:
            raise _Silent(f"minimum_depth_strategy={strategy_text!r}") from None
    minimum_depth = q.opt_int("minimum_depth")
    if minimum_depth is not None and minimum_depth < 0:
        raise _Silent("minimum_depth must not be negative")
    for name in ("bh_delta_not_newer_than", "bh_delta_not_older_than", "bh_delta_pick"):
        q.opt_int(name)  # type-checked, then ignored (pinned environments are not simulated)
    for name in ("ttl", "fee", "gas_price", "nonce"):
        value = q.opt_int(name)
        if value is not None and value < 0:
            raise _Silent(f"{name} must not be negative")
    return Options(
        minimum_depth=minimum_depth,
        minimum_depth_strategy=strategy,
        ttl=q.opt_int("ttl") or 0,
        fee=q.opt_int("fee"),
        gas_price=q.opt_int("gas_price"),
        nonce=q.opt_int("nonce"),
        msg_forwarding=q.opt_bool("msg_forwarding", False),
        keep_running=q.opt_bool("keep_running", True),
        log_keep=q.opt_int("log_keep") or DEFAULT_LOG_KEEP,
        slogan=q.get("slogan"),
        timeouts=timeouts,
        report=report,
    )


def _parse(path_and_query: str) -> ConnectParams | Rejection:
    parts = urlsplit(path_and_query)
    if parts.path != CHANNEL_PATH:
        return Rejection(None, f"path {parts.path!r} is not {CHANNEL_PATH}")
    q = _Query(parts.query)
    try:
        # 1. prepare_handler: protocol, role, host (initiator), port — silent on failure
        if q.get("protocol") != "json-rpc":
            raise _Silent("protocol must be json-rpc")
        role_text = q.required("role")
        try:
            role = Role(role_text)
        except ValueError:
            raise _Silent(f"role={role_text!r}") from None
        host = q.get("host")
        if role is Role.INITIATOR and host is None:
            raise _Silent("an initiator needs host")
        port = q.integer("port")
        # 2. read_channel_options
        existing = q.get("existing_channel_id")
        if existing is not None:
            return _existing(q, role, port, host, existing)
        return _fresh(q, role, port, host)
    except _Silent as exc:
        return Rejection(None, str(exc))


def _existing(q: _Query, role: Role, port: int, host: str | None, channel: str) -> ConnectParams:
    try:
        channel_id = encoding.decode(channel, "ch")
    except DecodeError as exc:
        raise _Silent(f"existing_channel_id: {exc}") from None
    fsm_text = q.get("existing_fsm_id")
    if fsm_text is None:
        raise _FrameError(Reason.EXISTING_FSM_ID_MISSING, "existing_fsm_id is missing")
    fsm_id = parse_fsm_id(fsm_text)
    if fsm_id is None:
        raise _FrameError(Reason.INVALID_FSM_ID, f"existing_fsm_id={fsm_text!r} is not a fsm id")
    offchain_tx = q.get("offchain_tx")
    if offchain_tx is not None:
        try:
            encoding.decode(offchain_tx, "tx")
        except DecodeError as exc:
            raise _Silent(f"offchain_tx: {exc}") from None
    return ExistingParams(role, port, host, channel_id, fsm_id, offchain_tx, _options(q))


def _fresh(q: _Query, role: Role, port: int, host: str | None) -> OpenParams:
    initiator_text = q.required("initiator_id")
    if role is Role.RESPONDER and initiator_text == "any":
        initiator: bytes | None = None
    else:
        initiator = _account(initiator_text, "initiator_id")
    responder = _account(q.required("responder_id"), "responder_id")
    return OpenParams(
        role=role,
        port=port,
        host=host,
        initiator=initiator,
        responder=responder,
        push_amount=q.integer("push_amount"),
        initiator_amount=q.integer("initiator_amount"),
        responder_amount=q.integer("responder_amount"),
        channel_reserve=q.integer("channel_reserve"),
        lock_period=q.integer("lock_period"),
        options=_options(q),
    )


def parse(path_and_query: str) -> ConnectParams | Rejection:
    """Parse ``/channel?…`` (a full ``ws://`` URL is accepted too)."""
    try:
        return _parse(path_and_query)
    except _FrameError as exc:
        return Rejection(exc.reason, str(exc))


def amounts_problem(p: OpenParams) -> str | None:
    """The node's amount checks (aesc_client init_checks → 3/105), or None when fine."""
    if p.channel_reserve < 0:
        return "channel_reserve_too_low"
    if p.push_amount < 0:
        return "push_amount_too_low"
    low_i = p.initiator_amount - p.push_amount < p.channel_reserve
    low_r = p.responder_amount + p.push_amount < p.channel_reserve
    if low_i and low_r:
        return "insufficient_amounts"
    if low_i:
        return "insufficient_initiator_amount"
    if low_r:
        return "insufficient_responder_amount"
    return None
