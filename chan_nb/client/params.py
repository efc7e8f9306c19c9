"""Connect parameters and the ``/channel`` URLs a client opens (websocket-api.md §1.2–1.3).

Pure. :class:`ChannelParams` holds every open parameter as typed values; the URL
builders turn them into the query the node parses (keys sorted, as in the
recordings). Reconnect and reestablish share one URL form — the node decides which
it is (§1.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Final, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from chan_nb.errors import DecodeError

Role = Literal["initiator", "responder"]
ROLES: Final[tuple[Role, Role]] = ("initiator", "responder")

#: The node's default channel WebSocket port (``websocket.channel.port``).
DEFAULT_WS_PORT: Final = 3014


def other_role(role: Role) -> Role:
    return "responder" if role == "initiator" else "initiator"


def as_role(text: str) -> Role:
    if text == "initiator":
        return "initiator"
    if text == "responder":
        return "responder"
    raise DecodeError(f"role must be initiator or responder, got {text!r}")


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class ChannelParams:
    """Everything a fresh open sends (both roles send the same channel terms).

    ``host`` is where the initiator's node reaches the responder's node and ``port``
    the port the responder's node listens on for that peer connection (not the
    WebSocket port). ``keep_running`` defaults to False, as the node's own tests send
    it (the node's default is true, honoured only for the responder). ``timeouts``
    takes the ``timeout_<name>`` values in milliseconds, ``report`` the
    ``report_<tag>`` flags, ``extra`` any other query parameter verbatim.
    """

    initiator_id: str
    responder_id: str
    initiator_amount: int
    responder_amount: int
    push_amount: int = 0
    channel_reserve: int = 0
    lock_period: int = 10
    host: str = "localhost"
    port: int = 14000
    keep_running: bool = False
    minimum_depth: int | None = None
    minimum_depth_strategy: str | None = None
    ttl: int | None = None
    fee: int | None = None
    gas_price: int | None = None
    nonce: int | None = None
    log_keep: int | None = None
    msg_forwarding: bool | None = None
    slogan: str | None = None
    timeouts: Mapping[str, int] = field(default_factory=dict)
    report: Mapping[str, bool] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)

    def with_(self, **changes: object) -> ChannelParams:
        """A copy with some fields changed."""
        return replace(self, **changes)  # type: ignore[arg-type]

    def party(self, role: Role) -> str:
        """The ``ak_`` of the participant playing ``role``."""
        return self.initiator_id if role == "initiator" else self.responder_id

    def initial_balances(self) -> dict[str, int]:
        """Balances of round 1: the create tx amounts with the push moved I → R."""
        return {
            self.initiator_id: self.initiator_amount - self.push_amount,
            self.responder_id: self.responder_amount + self.push_amount,
        }

    def query(self, role: Role) -> dict[str, str]:
        """The open query for ``role`` (``host`` only for the initiator)."""
        out: dict[str, str] = {
            "protocol": "json-rpc",
            "role": role,
            "initiator_id": self.initiator_id,
            "responder_id": self.responder_id,
            "initiator_amount": _text(self.initiator_amount),
            "responder_amount": _text(self.responder_amount),
            "push_amount": _text(self.push_amount),
            "channel_reserve": _text(self.channel_reserve),
            "lock_period": _text(self.lock_period),
            "port": _text(self.port),
            "keep_running": _text(self.keep_running),
        }
        if role == "initiator":
            out["host"] = self.host
        optional: dict[str, object | None] = {
            "minimum_depth": self.minimum_depth,
            "minimum_depth_strategy": self.minimum_depth_strategy,
            "ttl": self.ttl,
            "fee": self.fee,
            "gas_price": self.gas_price,
            "nonce": self.nonce,
            "log_keep": self.log_keep,
            "msg_forwarding": self.msg_forwarding,
            "slogan": self.slogan,
        }
        out.update({k: _text(v) for k, v in optional.items() if v is not None})
        out.update({f"timeout_{k}": _text(v) for k, v in self.timeouts.items()})
        out.update({f"report_{k}": _text(v) for k, v in self.report.items()})
        out.update({k: str(v) for k, v in self.extra.items()})
        return out

    @classmethod
    def from_query(cls, query: Mapping[str, str]) -> ChannelParams:
        """The params of a recorded open URL's query (DecodeError names a bad field)."""
        known = {
            "protocol",
            "role",
            "initiator_id",
            "responder_id",
            "initiator_amount",
            "responder_amount",
            "push_amount",
            "channel_reserve",
            "lock_period",
            "port",
            "host",
            "keep_running",
            "minimum_depth",
            "minimum_depth_strategy",
            "ttl",
            "fee",
            "gas_price",
            "nonce",
            "log_keep",
            "msg_forwarding",
            "slogan",
        }

        def need(key: str) -> str:
            if key not in query:
                raise DecodeError(f"missing open parameter {key!r}", "url")
            return query[key]

        def integer(key: str, default: int | None = None) -> int:
            if key not in query and default is not None:
                return default
            text = need(key)
            try:
                return int(text)
            except ValueError:
                raise DecodeError(f"{key}={text!r} is not an integer", "url") from None

        def opt_int(key: str) -> int | None:
            return integer(key) if key in query else None

        def opt_bool(key: str) -> bool | None:
            return query[key] == "true" if key in query else None

        return cls(
            initiator_id=need("initiator_id"),
            responder_id=need("responder_id"),
            initiator_amount=integer("initiator_amount"),
            responder_amount=integer("responder_amount"),
            push_amount=integer("push_amount", 0),
            channel_reserve=integer("channel_reserve", 0),
            lock_period=integer("lock_period", 10),
            host=query.get("host", "localhost"),
            port=integer("port", 14000),
            keep_running=query.get("keep_running", "false") == "true",
            minimum_depth=opt_int("minimum_depth"),
            minimum_depth_strategy=query.get("minimum_depth_strategy"),
            ttl=opt_int("ttl"),
            fee=opt_int("fee"),
            gas_price=opt_int("gas_price"),
            nonce=opt_int("nonce"),
            log_keep=opt_int("log_keep"),
            msg_forwarding=opt_bool("msg_forwarding"),
            slogan=query.get("slogan"),
            timeouts={
                k.removeprefix("timeout_"): int(v)
                for k, v in query.items()
                if k.startswith("timeout_") and v.lstrip("-").isdigit()
            },
            report={
                k.removeprefix("report_"): v == "true"
                for k, v in query.items()
                if k.startswith("report_")
            },
            extra={
                k: v
                for k, v in query.items()
                if k not in known and not k.startswith(("timeout_", "report_"))
            },
        )


def channel_url(base: str) -> str:
    """``ws://host:port/channel`` from a node URL given with or without the path."""
    parts = urlsplit(base if "://" in base else f"ws://{base}")
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    path = parts.path.rstrip("/")
    if not path.endswith("/channel"):
        path += "/channel"
    return urlunsplit((scheme, parts.netloc, path, "", ""))


def with_query(base: str, query: Mapping[str, str]) -> str:
    """``base`` with the query attached (sorted keys; ``ba_``/``tx_`` values URL-encoded)."""
    return f"{channel_url(base)}?{urlencode(sorted(query.items()))}"


def open_url(base: str, params: ChannelParams, role: Role) -> str:
    """URL of a fresh open."""
    return with_query(base, params.query(role))


@dataclass(frozen=True)
class Existing:
    """What a reconnect/reestablish URL names: the channel, the credential, the socket.

    ``fsm_id`` None leaves ``existing_fsm_id`` out (the node answers 2000 when the FSM
    runs); any string is sent verbatim (the node answers 1016 for a bad one).
    """

    channel_id: str
    fsm_id: str | None
    role: Role
    port: int
    host: str | None = None
    offchain_tx: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def query(self) -> dict[str, str]:
        out = {
            "protocol": "json-rpc",
            "role": self.role,
            "existing_channel_id": self.channel_id,
            "port": str(self.port),
        }
        if self.fsm_id is not None:
            out["existing_fsm_id"] = self.fsm_id
        if self.host is not None:
            out["host"] = self.host
        if self.offchain_tx is not None:
            out["offchain_tx"] = self.offchain_tx
        out.update({k: str(v) for k, v in self.extra.items()})
        return out


def existing_url(base: str, existing: Existing) -> str:
    """URL of a reconnect or reestablish."""
    return with_query(base, existing.query())


def url_query(url: str) -> dict[str, str]:
    """The decoded query of a URL (last value wins for repeated keys)."""
    return dict(parse_qsl(urlsplit(url).query, keep_blank_values=True))


def url_base(url: str) -> str:
    """``scheme://netloc/path`` of a URL, without its query."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
