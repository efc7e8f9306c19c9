"""On-chain txs a party posts outside the channel (through the node's HTTP API).

The node's own test suite provokes a slash this way: it signs a ``close_solo`` with an
empty payload and a PoI of an old state and pushes it straight into the mempool
(``aehttp_sc_SUITE`` ``sc_ws_cheating_close_solo_``). Tests, replays, scenarios and
notebooks build it here and post it with :meth:`chan_nb.node.EmbeddedNode.post_tx`.
"""

from __future__ import annotations

from typing import Final

from chan_nb.codec import signing, txs
from chan_nb.codec.ids import Id
from chan_nb.codec.keys import Keypair
from chan_nb.node.chain import Chain
from chan_nb.node.config import MIN_GAS_PRICE

#: The test suite's fee for its cheating close (30 000 gas at the minimum gas price).
CHEAT_FEE: Final = 30_000 * MIN_GAS_PRICE


def stale_close_solo(
    chain: Chain, channel_id: bytes, key: Keypair, poi: bytes, *, fee: int = CHEAT_FEE
) -> txs.SignedTx:
    """A ``close_solo`` by ``key`` on the state ``poi`` proves (empty payload: the state
    on chain), with the account's next nonce and a ttl of 10 blocks, signed."""
    tx = txs.ChannelCloseSoloTx(
        Id.channel(channel_id),
        Id.account(key.public_key),
        b"",
        poi,
        chain.height + 10,
        fee,
        chain.next_nonce(key.public_key),
    )
    unsigned = txs.SignedTx.wrap(tx)
    return unsigned.with_signature(signing.sign(unsigned.tx_bytes, key, chain.network_id))
