"""The node's serialization, byte for byte: pure functions, no I/O.

Modules, one idea each: :mod:`~chan_nb.codec.encoding` (``prefix_`` API
strings), :mod:`~chan_nb.codec.rlp` (strict RLP), :mod:`~chan_nb.codec.ids`,
:mod:`~chan_nb.codec.txs` (every channel transaction, signed_tx, GA meta),
:mod:`~chan_nb.codec.updates` (off-chain updates), :mod:`~chan_nb.codec.hashing`
(``th_``, channel ids), :mod:`~chan_nb.codec.trees` / :mod:`~chan_nb.codec.mpt`
(state trees, state hash, proofs of inclusion), :mod:`~chan_nb.codec.keys` and
:mod:`~chan_nb.codec.signing` (Ed25519 over raw or hashed preimages),
:mod:`~chan_nb.codec.fate` (FATE values, call data, contract code, assembler) and
:mod:`~chan_nb.codec.contracts` (contract and call objects, ids, stores).

Every bad input raises :class:`chan_nb.errors.DecodeError`, whose message says
what is wrong and where (e.g. ``signed_tx.transaction.round: integer has a
leading zero byte``).

>>> from chan_nb.codec import decode_tx
>>> tx = decode_tx(
...     "tx_+E0LAcC4SPhGOQKhBt92+4qWAahpD+2/06a9/h4wD0nvLv54Ytb1LQ8mdlsJAqDGHrblf5"
...     "txU9BzEiN2aWf2oO3b2+8I7hB7hqLuKnpTUBW7CKI="
... )
>>> tx.innermost.TYPE, tx.innermost.round
('channel_offchain_tx', 2)
"""

from __future__ import annotations

from chan_nb.codec.encoding import decode as decode_api_string
from chan_nb.codec.encoding import encode as encode_api_string
from chan_nb.codec.hashing import blake2b_256, channel_id, tx_hash
from chan_nb.codec.ids import Id, IdKind
from chan_nb.codec.keys import Keypair
from chan_nb.codec.signing import KNOWN_NETWORK_IDS, sign, verify
from chan_nb.codec.trees import Poi, StateTrees, state_hash_of_balances
from chan_nb.codec.txs import SignedTx, Tx, inner_type, signature_layers
from chan_nb.codec.txs import decode_api as decode_tx
from chan_nb.errors import DecodeError


def clear_caches() -> None:
    """Forget every remembered decode, id, API string and verification (a cold start).

    The caches only ever return what computing again would; benchmarks clear them so
    that a run measures decoding rather than remembering.
    """
    from chan_nb.codec import encoding, ids, objects, signing, state, txs

    for cached in (
        encoding._encode_b58,
        encoding._split_b58,
        ids._id_of_bytes,
        objects._decode_cached,
        txs._decode_api_cached,
        signing._verify_key,
        state._state_hash,
        state._state_hash_of_addresses,
    ):
        cached.cache_clear()
    signing.clear_verify_cache()
    signing._PREFERRED.clear()


__all__ = [
    "KNOWN_NETWORK_IDS",
    "DecodeError",
    "Id",
    "IdKind",
    "Keypair",
    "Poi",
    "SignedTx",
    "StateTrees",
    "Tx",
    "blake2b_256",
    "channel_id",
    "clear_caches",
    "decode_api_string",
    "decode_tx",
    "encode_api_string",
    "inner_type",
    "sign",
    "signature_layers",
    "state_hash_of_balances",
    "tx_hash",
    "verify",
]
