"""The gas a channel transaction costs: what its fee pays for (the node's formula).

Fee = gas × gas price, gas = base gas + 20 per byte of the serialized transaction; the
base gas is 15 000, and 30 × 15 000 for a force-progress tx (from Fortuna; its contract
call's gas is paid apart). The node computes fees with it; a client uses it the other
way round, to see the gas price a fee it is asked to sign amounts to.
"""

from __future__ import annotations

from typing import Final

from chan_nb.codec.txs import ChannelForceProgressTx, Tx

BASE_GAS: Final = 15_000
GAS_PER_BYTE: Final = 20
#: base gas of a force-progress tx (``aec_governance``: 30 × the base)
FORCE_PROGRESS_BASE_GAS: Final = 30 * BASE_GAS


def gas_of(tx: Tx) -> int:
    """Gas of ``tx`` (its fee divided by this is the gas price it pays)."""
    base = FORCE_PROGRESS_BASE_GAS if isinstance(tx, ChannelForceProgressTx) else BASE_GAS
    return base + GAS_PER_BYTE * len(tx.serialize())
