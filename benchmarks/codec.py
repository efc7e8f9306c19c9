"""Signature checks per second (``chan-nb bench``, group ``verify``)."""

from __future__ import annotations

import time
from typing import Any

from chan_nb.codec import signing, txs
from chan_nb.codec.ids import Id
from chan_nb.codec.keys import Keypair


def rate(count: int, seconds: float) -> float:
    """``count`` per second (infinite for no time at all)."""
    return count / seconds if seconds > 0 else float("inf")


def verify_per_s(seconds: float = 1.0) -> dict[str, Any]:
    """Signature checks per second over co-signed off-chain txs, as the node verifies.

    Distinct signatures (one per round), and the verification cache is cleared before
    each pass over them, so every check is computed. ``verify_per_s``
    uses raw-preimage signatures (one Ed25519 check each, like every recorded
    signature); ``verify_hashed_per_s`` uses the JS SDK's hashed preimage (one
    check too: :func:`~chan_nb.codec.signing.verify` tries a key's usual rule first).
    """
    key = Keypair.generate()
    channel = Id.channel(bytes(range(32)))
    out: dict[str, Any] = {}
    for name, preimage in (("verify_per_s", "raw"), ("verify_hashed_per_s", "hashed")):
        work: list[tuple[bytes, bytes]] = []
        for rnd in range(2, 502):
            tx_bytes = txs.ChannelOffchainTx(channel, rnd, bytes(32)).serialize()
            work.append((signing.sign(tx_bytes, key, "ae_uat", preimage), tx_bytes))  # type: ignore[arg-type]
        done = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            signing.clear_verify_cache()  # each pass checks every signature for real
            for sig, tx_bytes in work:
                if signing.verify(sig, key.public_key, tx_bytes, "ae_uat") != preimage:
                    raise AssertionError("benchmark signature failed to verify")
            done += len(work)
        out[name] = round(rate(done, time.perf_counter() - start))
    return out
