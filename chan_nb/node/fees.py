"""Fees, confirmation depth and the close-mutual fee split, as the node computes them.

Fee = gas × gas price, gas = 15 000 + 20 per byte of the serialized transaction
(which contains the fee itself, hence the fixed point). This reproduces every
recorded figure (create v1 17 620 000 000 000, deposit 17 320 000 000 000,
close_mutual 16 900 000 000 000 …).

Internal: the node's helper; not public API (may change without notice).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TypeVar

from chan_nb.codec.gas import gas_of
from chan_nb.codec.txs import Tx
from chan_nb.node.params import DEFAULT_MIN_DEPTH_FACTOR, DepthStrategy

TxT = TypeVar("TxT", bound=Tx)


def min_fee(build: Callable[[int], TxT], gas_price: int, gas: Callable[[TxT], int] = gas_of) -> int:
    """Smallest fee that pays for the tx ``build(fee)`` (size depends on the fee); ``gas``
    is what the tx costs (a force progress has its own base gas)."""
    fee = 0
    for _ in range(16):
        needed = gas(build(fee)) * gas_price
        if needed <= fee:
            return fee
        fee = needed
    return fee


def choose_fee(
    build: Callable[[int], Tx], min_gas_price: int, fee: int | None, gas_price: int | None
) -> int:
    """An explicit fee wins (raised to the computed one when a gas price is given)."""
    computed = min_fee(build, gas_price if gas_price is not None else min_gas_price)
    if fee is None:
        return computed
    if gas_price is not None:
        return max(fee, computed)
    return fee


def minimum_depth(strategy: DepthStrategy, factor: int | None, fee: int, min_gas_price: int) -> int:
    """Confirmations to wait for a channel tx (websocket-api.md §1.2).

    ``plain``: the given depth. ``txfee``: ceil((fee / min gas price) ** (1 / factor)),
    so a cheaper tx needs fewer blocks; a factor of 0 means one block.
    """
    if factor is None:
        factor = DEFAULT_MIN_DEPTH_FACTOR[strategy]
    if strategy is DepthStrategy.PLAIN:
        return factor
    if factor == 0:
        return 1
    units = max(fee // max(min_gas_price, 1), 1)
    depth: int = math.ceil(units ** (1.0 / factor))
    return max(depth, 1)


class FeeTooHigh(Exception):
    """The closing fee exceeds what the channel holds (``insufficient_balance``)."""


def close_mutual_amounts(initiator: int, responder: int, fee: int) -> tuple[int, int]:
    """Final amounts after paying the close fee (aesc_fsm ``pay_close_mutual_fee/3``).

    Half each (the initiator pays the odd coin) when both can; otherwise the
    poorer side pays all it has and the richer side the rest.
    """
    if fee > initiator + responder:
        raise FeeTooHigh(f"fee {fee} exceeds the channel's {initiator + responder}")
    half_up, half_down = (fee + 1) // 2, fee // 2
    if initiator >= half_up and responder >= half_down:
        return initiator - half_up, responder - half_down
    if initiator >= half_down and responder >= half_up:
        return initiator - half_down, responder - half_up
    if initiator < responder:
        return 0, responder - (fee - initiator)
    return initiator - (fee - responder), 0
