"""Signing and verifying transactions the way the node does.

The message is ``network_id ‖ tx_bytes`` (raw) or, from Lima on,
``network_id ‖ blake2b_256(tx_bytes)`` (hashed); the node tries raw first.
The JS SDK signs hashed, the node's test suite signs raw (serialization.md §9).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Final, Literal

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from chan_nb.codec.hashing import blake2b_256
from chan_nb.codec.keys import Keypair

Preimage = Literal["raw", "hashed"]

#: Network ids a recorded session may have been signed under, most likely first.
KNOWN_NETWORK_IDS: Final[tuple[str, ...]] = (
    "local_iris_testnet",
    "local_lima_testnet",
    "local_ceres_testnet",
    "local_fortuna_testnet",
    "local_roma_testnet",
    "local_minerva_testnet",
    "ae_mainnet",
    "ae_uat",
    "ae_dev",
)


def message(tx_bytes: bytes, network_id: str, preimage: Preimage = "hashed") -> bytes:
    """What is signed for a transaction under the given preimage rule."""
    body = tx_bytes if preimage == "raw" else blake2b_256(tx_bytes)
    return network_id.encode("utf-8") + body


def sign(tx_bytes: bytes, key: Keypair, network_id: str, preimage: Preimage = "hashed") -> bytes:
    """64-byte signature of ``key`` over the transaction."""
    return key.sign(message(tx_bytes, network_id, preimage))


@lru_cache(maxsize=4096)
def _verify_key(pubkey: bytes) -> VerifyKey:
    return VerifyKey(pubkey)


def verify_message(signature: bytes, pubkey: bytes, msg: bytes) -> bool:
    """Plain Ed25519 check of one message."""
    if len(signature) != 64 or len(pubkey) != 32:
        return False
    return _verified(bytes(signature), bytes(pubkey), bytes(msg))


# The same signature is checked by several parties in one process (the embedded
# node, then the peer's signing policy; an audit re-reading a state). Ed25519
# verification is deterministic, so a remembered answer is the same answer.
# Bounded; clear_verify_cache() lets a benchmark measure uncached checks.
@lru_cache(maxsize=4096)
def _verified(signature: bytes, pubkey: bytes, msg: bytes) -> bool:
    try:
        _verify_key(pubkey).verify(msg, signature)
    except (BadSignatureError, ValueError):
        return False
    if len(_SIGNED_BY) >= _SIGNED_BY_MAX:
        _SIGNED_BY.clear()
    _SIGNED_BY[signature] = pubkey
    return True


#: signature -> the key it verified for (bounded). A signature that verified for one
#: key is no other key's: a signer asking "did I sign this already?" can rule it out
#: without signing or verifying again.
_SIGNED_BY: dict[bytes, bytes] = {}
_SIGNED_BY_MAX = 4096


def verified_signer(signature: bytes) -> bytes | None:
    """The key ``signature`` was seen to verify for in this process, if any."""
    return _SIGNED_BY.get(bytes(signature))


def clear_verify_cache() -> None:
    """Forget remembered verification results."""
    _verify.cache_clear()
    _verified.cache_clear()
    _SIGNED_BY.clear()


#: pubkey -> the preimage its last good signature used. A signer keeps to one
#: rule (the JS SDK hashes, the node's tests sign raw), so trying that rule
#: first halves the cost of hashed signatures. Bounded; purely a speed-up.
_PREFERRED: dict[bytes, Preimage] = {}
_PREFERRED_MAX = 4096


def verify(signature: bytes, pubkey: bytes, tx_bytes: bytes, network_id: str) -> Preimage | None:
    """Which preimage the signature verifies under, or None.

    The node tries raw, then hashed. Both can only verify the same signature
    through a hash collision, so trying the key's usual rule first gives the
    same answer.
    """
    return _verify(bytes(signature), bytes(pubkey), bytes(tx_bytes), network_id)


# The node's FSMs and both clients ask about the same signature of the same tx several
# times a round: the answer is remembered whole (no preimage rebuilt, no hash of the
# message), like _verified below it. Bounded; cleared by clear_verify_cache().
@lru_cache(maxsize=4096)
def _verify(signature: bytes, pubkey: bytes, tx_bytes: bytes, network_id: str) -> Preimage | None:
    first: Preimage = _PREFERRED.get(pubkey, "raw")
    second: Preimage = "hashed" if first == "raw" else "raw"
    for how in (first, second):
        if verify_message(signature, pubkey, message(tx_bytes, network_id, how)):
            if first != how:
                if len(_PREFERRED) >= _PREFERRED_MAX:
                    _PREFERRED.clear()
                _PREFERRED[pubkey] = how
            return how
    return None


def find_signer(
    signature: bytes, pubkeys: Iterable[bytes], tx_bytes: bytes, network_id: str
) -> tuple[bytes, Preimage] | None:
    """The first candidate key the signature verifies for, with its preimage."""
    for pubkey in pubkeys:
        how = verify(signature, pubkey, tx_bytes, network_id)
        if how is not None:
            return pubkey, how
    return None


def detect_network_id(
    signature: bytes,
    pubkeys: Iterable[bytes],
    tx_bytes: bytes,
    candidates: Iterable[str] = KNOWN_NETWORK_IDS,
) -> str | None:
    """The candidate network id under which the signature verifies for some key."""
    keys = list(pubkeys)
    for network_id in candidates:
        if find_signer(signature, keys, tx_bytes, network_id) is not None:
            return network_id
    return None
