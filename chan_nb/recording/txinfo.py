"""What a ``tx_…`` string in a frame is: its channel tx type and round, decoded once.

Recordings repeat the same transaction many times (sign request, signing reply, on-chain
notice, ``channels.update``), so decoding goes through a cache keyed by the string. The
codec is imported lazily, so the frame model works (without these two columns) even when
the tx codec cannot be imported.

Internal: the frame model's helper; not public API (may change without notice).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from chan_nb.errors import ChanNbError

#: ``channel_create_tx`` carries no round; the state it creates is round 1 (websocket-api §4.2).
CREATE_TX_ROUND = 1


@dataclass(frozen=True, slots=True)
class TxSummary:
    """The two facts the frame table shows about a transaction, or why they are missing."""

    type: str | None
    round: int | None
    error: str | None = None


@lru_cache(maxsize=1 << 16)
def describe_tx(text: str) -> TxSummary:
    """Decode ``text`` (a ``tx_…`` string) and name the innermost channel tx and its round."""
    try:
        from chan_nb.codec import txs
    except ImportError as exc:  # the codec is optional for reading logs
        return TxSummary(None, None, f"tx codec unavailable: {exc}")
    try:
        tx: Any = txs.decode_api(text)
    except (ChanNbError, ValueError) as exc:
        return TxSummary(None, None, str(exc))
    inner: Any = getattr(tx, "innermost", tx)
    tx_type = getattr(inner, "TYPE", None)
    round_ = getattr(inner, "round", None)
    if not isinstance(round_, int) or isinstance(round_, bool):
        round_ = CREATE_TX_ROUND if tx_type == "channel_create_tx" else None
    return TxSummary(tx_type if isinstance(tx_type, str) else None, round_)
