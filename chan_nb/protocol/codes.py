"""Error codes of the channel API with the node's exact messages.

Sources: websocket-api.md §1.6 (JSON-RPC ``error.code``/``error.data``) and
§3.4 (``channels.conflict`` ``error_code``/``error_msg``). The node maps an
internal *reason* (an Erlang atom) to a top-level code plus zero or more
``data`` entries; :data:`REASONS` holds that mapping so both the embedded node
and clients speak of reasons by name instead of by number.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

# -- top-level JSON-RPC error codes ------------------------------------------------

PARSE_ERROR: Final = -32700
INVALID_REQUEST: Final = -32000
METHOD_NOT_FOUND: Final = -32601
INVALID_PARAMS: Final = -32602
INTERNAL_ERROR: Final = -32603
UNAUTHORIZED: Final = 1
ACTION_NOT_ALLOWED: Final = 2
REJECTED: Final = 3

RPC_MESSAGES: Final[dict[int, str]] = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    INTERNAL_ERROR: "Internal error",
    UNAUTHORIZED: "Unauthorized",
    ACTION_NOT_ALLOWED: "Action not allowed",
    REJECTED: "Rejected",
}

# -- error.data codes ----------------------------------------------------------------

DATA_MESSAGES: Final[dict[int, str]] = {
    100: "X doesn't exist",
    101: "Requires coin",
    102: "Gas too low",
    103: "Gas limit exceeded",
    104: "Rejected",
    105: "Value too low",
    106: "Timeout",
    107: "Conflict",
    108: "Not ready",
    1001: "Insufficient balance",
    1002: "Negative amount",
    1003: "Invalid pubkeys",
    1004: "Call not found",
    1005: "Broken encoding: account pubkey",
    1006: "Broken encoding: contract pubkey",
    1007: "Contract init failed",
    1008: "Not a number",
    1009: "Broken encoding: contract bytearray",
    1010: "Broken encoding: transaction",
    1011: "Participant not found",
    1012: "Offchain tx expected",
    1013: "Tx already on-chain",
    1014: "Invalid meta object",
    1015: "Invalid error code (expect 1...65535)",
    1016: "Invalid fsm id",
    1017: "Bad signature",
    1018: "Not allowed at current channel state",
    1019: "ABI version mismatch",
    1020: "VM version mismatch",
    2000: "Missing field: existing_fsm_id",
}


class Reason(StrEnum):
    """The node's internal error reasons that reach clients (websocket-api.md §1.6)."""

    NOT_FOUND = "not_found"
    BROKEN_ENCODING = "broken_encoding"
    BROKEN_CODE = "broken_code"
    VALUE_TOO_LOW = "value_too_low"
    CONFLICT = "conflict"
    NOT_READY = "not_ready"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    NEGATIVE_AMOUNT = "negative_amount"
    INVALID_PUBKEYS = "invalid_pubkeys"
    CALL_NOT_FOUND = "call_not_found"
    BROKEN_ENCODING_ACCOUNT = "broken_encoding_account"
    BROKEN_ENCODING_CONTRACT = "broken_encoding_contract"
    BROKEN_ENCODING_ACCOUNT_CONTRACT = "broken_encoding_account_contract"
    BROKEN_ENCODING_BYTEARRAY = "broken_encoding_bytearray"
    BROKEN_ENCODING_CONTRACT_BYTEARRAY = "broken_encoding_contract_bytearray"
    BROKEN_ENCODING_TRANSACTION = "broken_encoding_transaction"
    CONTRACT_INIT_FAILED = "contract_init_failed"
    NOT_A_NUMBER = "not_a_number"
    PARTICIPANT_NOT_FOUND = "participant_not_found"
    NOT_OFFCHAIN_TX = "not_offchain_tx"
    ALREADY_ONCHAIN = "already_onchain"
    META_INVALID = "meta_invalid"
    INVALID_FSM_ID = "invalid_fsm_id"
    BAD_SIGNATURE = "bad_signature"
    NOT_ALLOWED_NOW = "not_allowed_now"
    WRONG_ABI_VERSION = "wrong_abi_version"
    WRONG_VM_VERSION = "wrong_vm_version"
    EXISTING_FSM_ID_MISSING = "existing_fsm_id_missing"
    # reasons without a data code: the generic "Internal error" frame
    INTERNAL = "internal"
    INVALID_REQUEST = "invalid_request"
    METHOD_NOT_FOUND = "method_not_found"


@dataclass(frozen=True, slots=True)
class ErrorSpec:
    """Top-level code and ``data`` codes one reason produces."""

    code: int
    data: tuple[int, ...] = ()

    @property
    def message(self) -> str:
        return RPC_MESSAGES[self.code]

    def data_entries(self) -> list[dict[str, object]]:
        """The ``error.data`` list: ``[{"code": …, "message": …}, …]``."""
        return [{"code": c, "message": DATA_MESSAGES[c]} for c in self.data]


REASONS: Final[dict[Reason, ErrorSpec]] = {
    Reason.NOT_FOUND: ErrorSpec(REJECTED, (100,)),
    Reason.BROKEN_ENCODING: ErrorSpec(REJECTED, (104,)),
    Reason.BROKEN_CODE: ErrorSpec(REJECTED, (104,)),
    Reason.VALUE_TOO_LOW: ErrorSpec(REJECTED, (105,)),
    Reason.CONFLICT: ErrorSpec(REJECTED, (107,)),
    Reason.NOT_READY: ErrorSpec(REJECTED, (108,)),
    Reason.INSUFFICIENT_BALANCE: ErrorSpec(REJECTED, (1001,)),
    Reason.NEGATIVE_AMOUNT: ErrorSpec(REJECTED, (1002,)),
    Reason.INVALID_PUBKEYS: ErrorSpec(REJECTED, (1003,)),
    Reason.CALL_NOT_FOUND: ErrorSpec(REJECTED, (1004,)),
    Reason.BROKEN_ENCODING_ACCOUNT: ErrorSpec(REJECTED, (1005,)),
    Reason.BROKEN_ENCODING_CONTRACT: ErrorSpec(REJECTED, (1006,)),
    Reason.BROKEN_ENCODING_ACCOUNT_CONTRACT: ErrorSpec(REJECTED, (1005, 1006)),
    Reason.BROKEN_ENCODING_BYTEARRAY: ErrorSpec(REJECTED, (1009,)),
    Reason.BROKEN_ENCODING_CONTRACT_BYTEARRAY: ErrorSpec(REJECTED, (1006, 1009)),
    Reason.BROKEN_ENCODING_TRANSACTION: ErrorSpec(REJECTED, (1010,)),
    Reason.CONTRACT_INIT_FAILED: ErrorSpec(REJECTED, (1007,)),
    Reason.NOT_A_NUMBER: ErrorSpec(REJECTED, (1008,)),
    Reason.PARTICIPANT_NOT_FOUND: ErrorSpec(REJECTED, (1011,)),
    Reason.NOT_OFFCHAIN_TX: ErrorSpec(ACTION_NOT_ALLOWED, (1012,)),
    Reason.ALREADY_ONCHAIN: ErrorSpec(REJECTED, (1013,)),
    Reason.META_INVALID: ErrorSpec(REJECTED, (1014,)),
    Reason.INVALID_FSM_ID: ErrorSpec(REJECTED, (1016,)),
    Reason.BAD_SIGNATURE: ErrorSpec(REJECTED, (1017,)),
    Reason.NOT_ALLOWED_NOW: ErrorSpec(REJECTED, (1018,)),
    Reason.WRONG_ABI_VERSION: ErrorSpec(REJECTED, (1019,)),
    Reason.WRONG_VM_VERSION: ErrorSpec(REJECTED, (1020,)),
    Reason.EXISTING_FSM_ID_MISSING: ErrorSpec(REJECTED, (2000,)),
    Reason.INTERNAL: ErrorSpec(INTERNAL_ERROR),
    Reason.INVALID_REQUEST: ErrorSpec(INVALID_REQUEST),
    Reason.METHOD_NOT_FOUND: ErrorSpec(METHOD_NOT_FOUND),
}


def spec(reason: Reason) -> ErrorSpec:
    """Code and data entries for a reason."""
    return REASONS[reason]


def reason_of(code: int, data_codes: tuple[int, ...] = ()) -> Reason | None:
    """The reason behind an error frame's codes (None when no reason matches)."""
    for reason, known in REASONS.items():
        if known.code == code and known.data == data_codes:
            return reason
    return None


# -- channels.conflict error_code ------------------------------------------------------

CONFLICT_VALIDATION: Final = 1
CONFLICT_CONFLICT: Final = 2
CONFLICT_TIMEOUT: Final = 3
CONFLICT_ABORT: Final = 4
CONFLICT_REJECTED_ONCHAIN: Final = 5

CONFLICT_MESSAGES: Final[dict[int, str]] = {
    CONFLICT_VALIDATION: "validation error",
    CONFLICT_CONFLICT: "conflict",
    CONFLICT_TIMEOUT: "timeout",
    CONFLICT_ABORT: "abort",
    CONFLICT_REJECTED_ONCHAIN: "rejected on-chain",
}

#: Abort codes a client may send with ``{"error": N}`` (1..65535).
MIN_ABORT_CODE: Final = 1
MAX_ABORT_CODE: Final = 65535


def conflict_message(error_code: int) -> str:
    """``error_msg`` for a conflict code: named 1–5, "user-defined" ≥ 128, else "unknown"."""
    if error_code in CONFLICT_MESSAGES:
        return CONFLICT_MESSAGES[error_code]
    if error_code >= 128:
        return "user-defined"
    return "unknown"
