"""The gas a channel transaction costs: what its fee pays for (the node's formula).

Fee = gas × gas price, gas = 15 000 + 20 per byte of the serialized transaction. The
node computes fees with it; a client uses it the other way round, to see the gas
price a fee it is asked to sign amounts to.
"""

from __future__ import annotations

from typing import Final

from chan_nb.codec.txs import Tx

BASE_GAS: Final = 15_000
GAS_PER_BYTE: Final = 20


def gas_of(tx: Tx) -> int:
    """Gas of ``tx`` (its fee divided by this is the gas price it pays)."""
    return BASE_GAS + GAS_PER_BYTE * len(tx.serialize())
