"""Participant balances over rounds, from decoded states and from balance replies.

Two sources, kept apart so they can be compared:

* ``state`` — replayed from the log: the create tx gives the initial amounts (plus
  ``push_amount`` from the initiator's open URL), and every co-signed round announced
  by ``channels.update`` applies the off-chain updates its sign request listed
  (transfers, deposits, withdrawals). A round whose updates touch contracts (or are
  missing from the log) makes the replay unknown until the next balance reply;
* ``reply`` — what ``channels.get.balances`` answered, at the last co-signed round
  the asking client had seen.

Balances are exact Python ints. Pure: works on a list of frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from chan_nb.codec import state as codec_state
from chan_nb.codec import updates as upd
from chan_nb.errors import DecodeError
from chan_nb.recording.frame import Direction, Frame, Kind
from chan_nb.recording.pairing import pairs


@dataclass(frozen=True, slots=True)
class BalancePoint:
    """One participant's balance at one round, and where the number comes from."""

    seq: int
    role: str
    channel_id: str | None
    round: int | None
    account: str
    balance: int
    source: str  # "state" or "reply"


@dataclass(slots=True)
class _Channel:
    round: int | None = None
    balances: dict[str, int] | None = None  # None: not known from the replay
    proposals: dict[int, list[Any]] = field(default_factory=dict)


def account_roles(frames: Sequence[Frame]) -> dict[str, str]:
    """``ak_`` -> role name, from the channel terms in the open URLs (which name both
    participants), so that tables and plots can say "initiator" instead of an id."""
    names: dict[str, str] = {}
    for frame in frames:
        if frame.direction is Direction.OPEN and frame.params is not None:
            for role in ("initiator", "responder"):
                account = frame.params.get(f"{role}_id")
                if account:
                    names.setdefault(account, role)
    return names


def balance_points(frames: Sequence[Frame]) -> list[BalancePoint]:
    """Balances over the session (see the module docstring), in record order."""
    replies = {
        p.reply_seq: p.request_seq for p in pairs(frames) if p.reply_seq is not None and p.ok
    }
    methods = {f.seq: f.method for f in frames if f.direction is Direction.SENT}
    channels: dict[str | None, _Channel] = {}
    role_channel: dict[tuple[str, int], str] = {}
    push: dict[str, int] = {}
    points: list[BalancePoint] = []
    for frame in frames:
        key = (frame.role, frame.conn)
        if frame.channel_id is not None and frame.direction is Direction.RECEIVED:
            role_channel[key] = frame.channel_id
        if frame.direction is Direction.OPEN and frame.params is not None:
            amount = frame.params.get("push_amount")
            if amount is not None and _is_decimal(amount) and frame.params.get("role"):
                push[frame.params["role"]] = int(amount)
        if frame.direction is not Direction.RECEIVED:
            continue
        channel_id = frame.channel_id or role_channel.get(key)
        state = channels.setdefault(channel_id, _Channel())
        if frame.method is not None and frame.method.startswith("channels.sign."):
            _remember_proposal(frame, state)
        elif frame.method == "channels.update" and frame.kind is Kind.NOTIFICATION:
            points += _apply_state(frame, channel_id, state, push.get("initiator", 0))
        elif frame.kind is Kind.RESPONSE and methods.get(replies.get(frame.seq, -1)) == (
            "channels.get.balances"
        ):
            points += _reply_points(frame, channel_id, state)
    return points


def _remember_proposal(frame: Frame, state: _Channel) -> None:
    data = _data(frame)
    updates = data.get("updates")
    if frame.round is not None and isinstance(updates, list) and updates:
        state.proposals.setdefault(frame.round, updates)


def _apply_state(
    frame: Frame, channel_id: str | None, state: _Channel, push: int
) -> list[BalancePoint]:
    new_round = frame.round
    if new_round is None or (state.round is not None and new_round <= state.round):
        return []
    if frame.tx_type == "channel_create_tx":
        state.balances = _initial_balances(frame.tx, push)
    elif state.balances is not None:
        state.balances = _applied(state.balances, state.proposals.get(new_round))
    state.round = new_round
    if state.balances is None:
        return []
    return [
        BalancePoint(frame.seq, frame.role, channel_id, new_round, account, balance, "state")
        for account, balance in state.balances.items()
    ]


def _initial_balances(tx: str | None, push: int) -> dict[str, int] | None:
    if tx is None:
        return None
    try:
        from chan_nb.codec import txs

        create: Any = txs.decode_api(tx)
        create = getattr(create, "innermost", create)
        initiator, responder = str(create.initiator_id), str(create.responder_id)
        return {
            initiator: int(create.initiator_amount) - push,
            responder: int(create.responder_amount) + push,
        }
    except (ImportError, AttributeError, ValueError, TypeError):
        return None


def _applied(balances: dict[str, int], updates: list[Any] | None) -> dict[str, int] | None:
    """Balances after ``updates``; None when they cannot be replayed exactly."""
    if updates is None:
        return None
    try:
        parsed = [upd.from_dict(update) for update in updates]
        return codec_state.apply_updates(balances, parsed, codec_state.by_address)
    except (DecodeError, codec_state.InvalidUpdate):
        return None  # contract updates move money the log does not show


def _reply_points(frame: Frame, channel_id: str | None, state: _Channel) -> list[BalancePoint]:
    result = frame.message.get("result") if isinstance(frame.message, dict) else None
    if not isinstance(result, list):
        return []
    found: dict[str, int] = {}
    for entry in result:
        if isinstance(entry, dict):
            account, balance = entry.get("account"), entry.get("balance")
            if isinstance(account, str) and isinstance(balance, int):
                found[account] = balance
    if state.balances is None and len(found) >= 2:
        state.balances = dict(found)  # re-synchronise the replay
    elif state.balances is not None and any(a not in state.balances for a in found):
        state.balances = None
    return [
        BalancePoint(frame.seq, frame.role, channel_id, state.round, account, balance, "reply")
        for account, balance in found.items()
    ]


def _data(frame: Frame) -> dict[str, Any]:
    message = frame.message if isinstance(frame.message, dict) else {}
    params = message.get("params")
    data = params.get("data") if isinstance(params, dict) else None
    return data if isinstance(data, dict) else {}


def _is_decimal(text: str) -> bool:
    return text.lstrip("-").isdigit()
