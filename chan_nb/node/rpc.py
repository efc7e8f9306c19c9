"""Client requests → typed FSM calls, with the node's parameter errors (sc_ws_api_jsonrpc).

:func:`to_call` reads one request's ``params`` and returns the FSM call it
stands for, or the reason the node rejects it before the FSM sees it:
missing or mis-shaped mandatory params → −32601, a bad ``ak_`` → 1005,
a non-integer amount → 1008, a bad ``meta`` → 1014, an undecodable
``signed_tx`` → 1010 (websocket-api.md §1.6, §2.2–§2.3).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from chan_nb.codec import encoding, txs
from chan_nb.errors import DecodeError
from chan_nb.node import contracts, events
from chan_nb.protocol import methods
from chan_nb.protocol.codes import Reason

Json = Any

#: ``channels.message`` ``info`` limit in bytes.
MAX_MESSAGE_BYTES: Final = 65_000

#: Features the embedded node does not simulate; the node's generic error answers them.
UNSUPPORTED: Final[frozenset[str]] = frozenset()

#: Methods a current node has and the 2020 build did not (−32601 there; part 2 §2.2).
CURRENT_ONLY: Final = frozenset({methods.HISTORY_FETCH, methods.ASSUME_MINIMUM_DEPTH})

#: The dispute requests (disputes-and-current-node.md §1.4): optional fee, gas_price, nonce.
SOLO_METHODS: Final = frozenset(
    {methods.CLOSE_SOLO, methods.SLASH, methods.SETTLE, methods.SNAPSHOT_SOLO}
)


#: The requests that run contract code (the VM's work).
RUNS_CODE: Final = frozenset(
    {
        methods.NEW_CONTRACT,
        methods.CALL_CONTRACT,
        methods.DRY_RUN_CALL_CONTRACT,
        methods.FORCE_PROGRESS,
    }
)

#: Every method whose well-formed requests the embedded node answers with −32603
#: because it does not simulate them (force progress runs a contract call on chain;
#: the contract updates only while no VM is installed).
NOT_SIMULATED: Final = UNSUPPORTED | (frozenset() if contracts.VM_INSTALLED else RUNS_CODE)


@dataclass(frozen=True)
class Immediate:
    """A request the WS layer answers itself (no FSM involved)."""

    value: Json  # the result payload; None = plain "ok"


@dataclass(frozen=True)
class Silent:
    """A request that gets no reply at all (the node's error mapping swallows it)."""


class _Reject(Exception):
    def __init__(self, reason: Reason) -> None:
        super().__init__(reason.value)
        self.reason = reason


def _is_int(value: Json) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _account(value: Json) -> bytes:
    if not isinstance(value, str):
        raise _Reject(Reason.BROKEN_ENCODING_ACCOUNT)
    pubkey = _decode_account(value)
    if pubkey is None:
        raise _Reject(Reason.BROKEN_ENCODING_ACCOUNT)
    return pubkey


@lru_cache(maxsize=4096)
def _decode_account(text: str) -> bytes | None:
    """Payload of an ``ak_`` string, None when broken (cached: the same keys recur)."""
    try:
        return encoding.decode(text, "ak")
    except DecodeError:
        return None


def _contract(value: Json) -> bytes:
    try:
        return encoding.decode(value, "ct")
    except DecodeError:
        raise _Reject(Reason.BROKEN_ENCODING_CONTRACT) from None


def _params(params: Json, *required: str) -> dict[str, Json]:
    if not isinstance(params, dict) or any(key not in params for key in required):
        raise _Reject(Reason.METHOD_NOT_FOUND)
    return params


def _amount(value: Json) -> int:
    if not _is_int(value):
        raise _Reject(Reason.NOT_A_NUMBER)
    result: int = value
    return result


def _opt_int(params: dict[str, Json], key: str) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    return _amount(value)


def _solo_int(params: dict[str, Json], key: str) -> int | None:
    """An optional dispute param: an int, or a decimal string (sc_ws_utils check_type);
    anything else is unmapped in the node → −32603."""
    value = params.get(key)
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        return int(value)
    if not _is_int(value):
        raise _Reject(Reason.INTERNAL)
    result: int = value
    return result


def _meta(params: dict[str, Json]) -> tuple[str, ...]:
    if "meta" not in params:
        return ()
    meta = params["meta"]
    if not isinstance(meta, list) or not all(isinstance(m, str) for m in meta):
        raise _Reject(Reason.META_INVALID)
    return tuple(meta)


def _accounts(value: Json) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise _Reject(Reason.BROKEN_ENCODING_ACCOUNT)
    return tuple(_account(a) for a in value)


def _bytearray(value: Json) -> bytes:
    try:
        return encoding.decode(value, "cb")
    except DecodeError:
        raise _Reject(Reason.BROKEN_ENCODING_BYTEARRAY) from None


def _contract_and_bytearray(contract: Json, call_data: Json) -> tuple[bytes, bytes | None]:
    """A ``ct_`` and a ``cb_`` read together: both broken → [1006, 1009]; a broken ``ct_``
    → 1006 before any number is looked at; a broken ``cb_`` is left to the caller (1009
    comes after the numbers' 1008)."""
    try:
        pubkey: bytes | None = encoding.decode(contract, "ct")
    except DecodeError:
        pubkey = None
    try:
        data: bytes | None = encoding.decode(call_data, "cb")
    except DecodeError:
        data = None
    if pubkey is None:
        raise _Reject(
            Reason.BROKEN_ENCODING_CONTRACT_BYTEARRAY
            if data is None
            else Reason.BROKEN_ENCODING_CONTRACT
        )
    return pubkey, data


def _block_hash(params: dict[str, Json]) -> bytes | None:
    """The optional pinned block (``kh_``/``mh_``); a broken one is ignored as by the
    transfer requests (websocket-api.md: accepted and ignored)."""
    value = params.get("block_hash")
    if not isinstance(value, str):
        return None
    for prefix in ("kh", "mh"):
        try:
            return encoding.decode(value, prefix)
        except DecodeError:
            continue
    return None


def _keys(value: Json, prefix: str) -> tuple[bytes, ...] | None:
    """The keys of a list of ``prefix_`` strings, None when any is broken."""
    if not isinstance(value, list):
        return None
    try:
        return tuple(encoding.decode(v, prefix) for v in value)
    except DecodeError:
        return None


def _get_poi(p: dict[str, Json]) -> events.Call:
    accounts = _keys(p.get("accounts", []), "ak")
    contracts = _keys(p.get("contracts", []), "ct")
    if accounts is None and contracts is None:
        raise _Reject(Reason.BROKEN_ENCODING_ACCOUNT_CONTRACT)
    if accounts is None:
        raise _Reject(Reason.BROKEN_ENCODING_ACCOUNT)
    if contracts is None:
        raise _Reject(Reason.BROKEN_ENCODING_CONTRACT)
    return events.GetPoi(accounts, contracts)


def _signing_reply(kind: methods.SignKind, params: Json) -> events.Call:
    if isinstance(params, dict) and "signed_tx" in params:
        text = params["signed_tx"]
        if not isinstance(text, str):
            raise _Reject(Reason.BROKEN_ENCODING_TRANSACTION)
        try:
            signed = txs.decode_signed(encoding.decode(text, "tx"))
        except DecodeError:
            raise _Reject(Reason.BROKEN_ENCODING_TRANSACTION) from None
        return events.SignedReply(kind.fsm_tag, signed)
    if isinstance(params, dict) and "error" in params:
        code = params["error"]
        if isinstance(code, str) and code.isdigit():
            code = int(code)
        if not _is_int(code):
            raise _Reject(Reason.INTERNAL)
        return events.AbortReply(kind.fsm_tag, code)
    raise _Reject(Reason.METHOD_NOT_FOUND)


def to_call(method: str, params: Json) -> events.Call | Immediate | Silent | Reason:
    """The FSM call a request stands for, an immediate answer, or why it is rejected."""
    try:
        return _to_call(method, params)
    except _Reject as exc:
        return exc.reason


def _to_call(method: str, params: Json) -> events.Call | Immediate | Silent | Reason:
    kind = methods.SIGN_BY_REPLY.get(method)
    if kind is not None:
        return _signing_reply(kind, params)
    if method in methods.IGNORED_SIGN_REPLIES:
        return Immediate(None)
    if method == methods.UPDATE_NEW:
        p = _params(params, "from", "to", "amount")
        from_id, to_id = _account(p["from"]), _account(p["to"])
        amount = _amount(p["amount"])
        return events.Transfer(from_id, to_id, amount, _meta(p))
    if method in (methods.DEPOSIT, methods.WITHDRAW):
        p = _params(params, "amount")
        amount = _amount(p["amount"])
        fee, gas_price, nonce = (_opt_int(p, k) for k in ("fee", "gas_price", "nonce"))
        meta = _meta(p)
        if method == methods.DEPOSIT:
            return events.Deposit(amount, fee, gas_price, nonce, meta)
        return events.Withdraw(amount, fee, gas_price, nonce, meta)
    if method == methods.SHUTDOWN:
        p = _params(params)
        return events.Shutdown(*(_opt_int(p, k) for k in ("fee", "gas_price", "nonce")))
    if method == methods.LEAVE:
        return events.Leave()
    if method == methods.MESSAGE:
        p = _params(params, "to", "info")
        to_id = _account(p["to"])
        if "from" in p:
            _account(p["from"])
        info = p["info"]
        if not isinstance(info, str) or len(info.encode("utf-8")) > MAX_MESSAGE_BYTES:
            return Reason.INVALID_REQUEST
        return events.Message(to_id, info)
    if method == methods.GET_BALANCES:
        p = _params(params, "accounts")
        return events.GetBalances(_accounts(p["accounts"]))
    if method == methods.GET_OFFCHAIN_STATE:
        _params(params)
        return events.GetOffchainState()
    if method == methods.GET_POI:
        return _get_poi(_params(params))
    if method == methods.GET_CONTRACT:
        p = _params(params, "pubkey")
        return events.GetContract(_contract(p["pubkey"]))
    if method == methods.GET_CONTRACT_CALL:
        p = _params(params, "contract_id", "caller_id", "round")
        round_ = _amount(p["round"])
        caller = _account(p["caller_id"])
        return events.GetContractCall(_contract(p["contract_id"]), caller, round_)
    if method in (methods.CALL_CONTRACT, methods.DRY_RUN_CALL_CONTRACT):
        p = _params(params, "contract_id", "abi_version", "amount", "call_data")
        contract, call_data = _contract_and_bytearray(p["contract_id"], p["call_data"])
        amount = _amount(p["amount"])
        abi_version = _amount(p["abi_version"])
        if call_data is None:
            raise _Reject(Reason.BROKEN_ENCODING_BYTEARRAY)
        return events.CallContract(
            contract,
            abi_version,
            amount,
            call_data,
            _block_hash(p),
            _meta(p),
            dry_run=method == methods.DRY_RUN_CALL_CONTRACT,
        )
    if method == methods.NEW_CONTRACT:
        p = _params(params, "vm_version", "abi_version", "deposit", "code", "call_data")
        vm_version, abi_version, deposit = (
            _amount(p[key]) for key in ("vm_version", "abi_version", "deposit")
        )
        code = _bytearray(p["code"])
        call_data = _bytearray(p["call_data"])
        return events.NewContract(
            vm_version, abi_version, deposit, code, call_data, _block_hash(p), _meta(p)
        )
    if method == methods.CLEAN_CONTRACT_CALLS:
        return events.CleanContractCalls()
    if method == methods.FORCE_PROGRESS:
        p = _params(params, "contract_id", "abi_version", "amount", "call_data", "gas_price")
        contract, call_data = _contract_and_bytearray(p["contract_id"], p["call_data"])
        amount, abi_version, gas_price = (
            _amount(p[k]) for k in ("amount", "abi_version", "gas_price")
        )
        gas = _opt_int(p, "gas")
        nonce = _opt_int(p, "nonce")
        if call_data is None:
            raise _Reject(Reason.BROKEN_ENCODING_BYTEARRAY)
        return events.ForceProgress(
            contract,
            abi_version,
            amount,
            call_data,
            gas_price,
            contracts.WS_GAS if gas is None else gas,
            nonce,
        )
    if method == methods.HISTORY_FETCH:
        _params(params)
        return Immediate([])
    if method == methods.ASSUME_MINIMUM_DEPTH:
        p = _params(params, "tx_hash")
        try:
            encoding.decode(p["tx_hash"], "th")
        except DecodeError:
            return Silent()
        return events.AssumeMinDepth(p["tx_hash"])
    if method in SOLO_METHODS:
        p = _params(params)
        fee, gas_price, nonce = (_solo_int(p, k) for k in ("fee", "gas_price", "nonce"))
        return events.Solo(method.removeprefix("channels."), fee, gas_price, nonce)
    if method in UNSUPPORTED:
        return Reason.INTERNAL
    return Reason.METHOD_NOT_FOUND
