"""Method, event and tag names of the channel API (websocket-api.md §2–§3).

Kept as plain string constants and small tables so that a client and the
embedded node cannot drift apart on spelling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

# -- client -> node actions (§2.2) ------------------------------------------------------

UPDATE_NEW: Final = "channels.update.new"
DEPOSIT: Final = "channels.deposit"
WITHDRAW: Final = "channels.withdraw"
MESSAGE: Final = "channels.message"
LEAVE: Final = "channels.leave"
SHUTDOWN: Final = "channels.shutdown"
CLOSE_SOLO: Final = "channels.close_solo"
SLASH: Final = "channels.slash"
SETTLE: Final = "channels.settle"
SNAPSHOT_SOLO: Final = "channels.snapshot_solo"
FORCE_PROGRESS: Final = "channels.force_progress"
NEW_CONTRACT: Final = "channels.update.new_contract"
CALL_CONTRACT: Final = "channels.update.call_contract"
DRY_RUN_CALL_CONTRACT: Final = "channels.dry_run.call_contract"
GET_BALANCES: Final = "channels.get.balances"
GET_OFFCHAIN_STATE: Final = "channels.get.offchain_state"
GET_POI: Final = "channels.get.poi"
GET_CONTRACT: Final = "channels.get.contract"
GET_CONTRACT_CALL: Final = "channels.get.contract_call"
CLEAN_CONTRACT_CALLS: Final = "channels.clean_contract_calls"
HISTORY_FETCH: Final = "channels.history.fetch"
ASSUME_MINIMUM_DEPTH: Final = "channels.assume_minimum_depth"
SYSTEM: Final = "channels.system"

#: Gas and gas price of every contract update made through ``update.new_contract`` /
#: ``update.call_contract`` (fate.md §6.1: ``op_call_contract/6``; only
#: ``force_progress`` takes gas parameters).
WS_GAS: Final = 1_000_000
WS_GAS_PRICE: Final = 1

#: Read-type methods: with an id the payload is the ``result``; without one the node
#: sends a ``<method>.reply`` notification (ping is answered as ``channels.system.pong``).
READ_METHODS: Final = frozenset(
    {
        GET_BALANCES,
        GET_OFFCHAIN_STATE,
        GET_POI,
        GET_CONTRACT,
        GET_CONTRACT_CALL,
        DRY_RUN_CALL_CONTRACT,
        HISTORY_FETCH,
        CLEAN_CONTRACT_CALLS,
    }
)


def read_reply_method(method: str) -> str:
    """Notification name for a read answered without an id (``channels.get.balances.reply``).

    ``clean_contract_calls`` is the odd one: its reply is ``channels.calls_pruned.reply``.
    """
    if method == CLEAN_CONTRACT_CALLS:
        return "channels.calls_pruned.reply"
    return f"{method}.reply"


# -- node -> client notifications (§3) -------------------------------------------------

INFO: Final = "channels.info"
UPDATE: Final = "channels.update"  # also the starter's signing reply (client -> node)
CONFLICT: Final = "channels.conflict"
ON_CHAIN_TX: Final = "channels.on_chain_tx"
ERROR: Final = "channels.error"
DEBUG: Final = "channels.debug"
PONG: Final = "channels.system.pong"
SIGN_PREFIX: Final = "channels.sign."


@dataclass(frozen=True, slots=True)
class SignKind:
    """One signing exchange: the request tag, the FSM's tag and the accepted replies."""

    request: str  # channels.sign.<request>
    fsm_tag: str  # the FSM's name for the awaited signature
    replies: tuple[str, ...]  # reply methods the node maps to fsm_tag (first = canonical)
    abortable: bool = True
    own: bool = False  # the signer started the exchange (not an ack of the peer's proposal)

    @property
    def request_method(self) -> str:
        return SIGN_PREFIX + self.request

    @property
    def reply_method(self) -> str:
        return self.replies[0]


SIGN_KINDS: Final[tuple[SignKind, ...]] = (
    SignKind("initiator_sign", "create_tx", ("channels.initiator_sign",), False, own=True),
    SignKind("responder_sign", "funding_created", ("channels.responder_sign",), abortable=False),
    SignKind("update", "update", ("channels.update",), own=True),
    SignKind("update_ack", "update_ack", ("channels.update_ack",)),
    SignKind("deposit_tx", "deposit_tx", ("channels.deposit_tx",), own=True),
    SignKind("deposit_ack", "deposit_created", ("channels.deposit_ack",)),
    SignKind("withdraw_tx", "withdraw_tx", ("channels.withdraw_tx",), own=True),
    SignKind("withdraw_ack", "withdraw_created", ("channels.withdraw_ack",)),
    SignKind("shutdown_sign", "shutdown", ("channels.shutdown_sign",), own=True),
    SignKind("shutdown_sign_ack", "shutdown_ack", ("channels.shutdown_sign_ack",)),
    SignKind(
        "close_solo_sign",
        "close_solo_tx",
        ("channels.close_solo_sign", "channels.close_solo_tx"),
        own=True,
    ),
    SignKind("slash_tx", "slash_tx", ("channels.slash_sign", "channels.slash_tx"), own=True),
    SignKind("settle_sign", "settle_tx", ("channels.settle_sign", "channels.settle_tx"), own=True),
    SignKind("snapshot_solo_tx", "snapshot_solo_tx", ("channels.snapshot_solo_sign",), own=True),
    SignKind(
        "force_progress_tx",
        "force_progress_tx",
        ("channels.force_progress_sign", "channels.force_progress_tx"),
        own=True,
    ),
)

#: requests for something the signer itself started (the others ack the peer's proposal)
OWN_SIGN_REQUESTS: Final = frozenset(k.request for k in SIGN_KINDS if k.own)
SIGN_BY_REQUEST: Final[dict[str, SignKind]] = {k.request: k for k in SIGN_KINDS}
SIGN_BY_FSM_TAG: Final[dict[str, SignKind]] = {k.fsm_tag: k for k in SIGN_KINDS}
#: reply method -> sign kind (every alias included)
SIGN_BY_REPLY: Final[dict[str, SignKind]] = {m: k for k in SIGN_KINDS for m in k.replies}
#: ``channels.snapshot_solo_tx`` is accepted as a method but maps to no awaited tag (§2.3).
IGNORED_SIGN_REPLIES: Final = frozenset({"channels.snapshot_solo_tx"})

# -- channels.info events (§3.1) ------------------------------------------------------------

INFO_EVENTS: Final = frozenset(
    {
        "fsm_up",
        "channel_open",
        "channel_accept",
        "funding_created",
        "funding_signed",
        "own_funding_locked",
        "funding_locked",
        "open",
        "update",
        "deposit_created",
        "withdraw_created",
        "own_deposit_locked",
        "own_withdraw_locked",
        "deposit_locked",
        "withdraw_locked",
        "shutdown",
        "closing",
        "closed_confirmed",
        "died",
        "timeout",
        "aborted_update",
        "peer_disconnected",
        "channel_reestablished",
        "minimum_depth_achieved",
        "min_depth_achieved",
        "bad_signature",
        "bad_state_hash",
        "not_create_tx",
        "zombie_channel",
        "close_mutual",
    }
)

# -- channels.on_chain_tx infos (§3.3) ------------------------------------------------------

ON_CHAIN_INFOS: Final = frozenset(
    {
        "funding_created",
        "funding_signed",
        "deposit_created",
        "deposit_signed",
        "withdraw_created",
        "withdraw_signed",
        "channel_changed",
        "close_mutual",
        "channel_closed",
        "solo_closing",
        "can_slash",
        "can_snapshot",
        "consumed_forced_progress",
    }
)

#: ``report_<tag>`` connect params: which notification class each one switches off.
REPORT_TAGS: Final[dict[str, bool]] = {
    "info": True,
    "update": True,
    "leave": True,
    "conflict": True,
    "message": True,
    "error": True,
    "on_chain_tx": True,
    "min_depth": True,
    "debug": False,
}

#: notification method -> report tag that can silence it
REPORT_TAG_OF_METHOD: Final[dict[str, str]] = {
    INFO: "info",
    UPDATE: "update",
    LEAVE: "leave",
    CONFLICT: "conflict",
    MESSAGE: "message",
    ERROR: "error",
    ON_CHAIN_TX: "on_chain_tx",
    DEBUG: "debug",
}
