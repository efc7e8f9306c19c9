"""The hash and signature primitives FATE code can call (fate.md §3.2.6, §5 "by importance").

SHA3 in FATE is **Keccak-256 with the original padding** (Ethereum's ``keccak256``), not
NIST SHA3-256 (``hashlib.sha3_256`` gives a different digest): it comes from pycryptodome's
``Crypto.Hash.keccak``. Ed25519 verification is PyNaCl's (libsodium, as the node).
"""

from __future__ import annotations

import hashlib

from Crypto.Hash import keccak
from nacl.exceptions import CryptoError
from nacl.signing import VerifyKey

from chan_nb.codec.hashing import blake2b_256


def keccak256(data: bytes) -> bytes:
    """Keccak-256 (FATE ``SHA3``, Sophia ``Crypto.sha3``)."""
    return keccak.new(digest_bits=256, data=bytes(data)).digest()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(bytes(data)).digest()


def blake2b(data: bytes) -> bytes:
    """BLAKE2b with a 32-byte digest and no key (FATE ``BLAKE2B``)."""
    return blake2b_256(bytes(data))


def ed25519_verify(message: bytes, pubkey: bytes, signature: bytes) -> bool:
    """Detached Ed25519 verification (FATE ``VERIFY_SIG``); malformed keys verify false."""
    try:
        VerifyKey(bytes(pubkey)).verify(bytes(message), bytes(signature))
    except (CryptoError, ValueError, TypeError):  # a bad signature or a malformed key
        return False
    return True


__all__ = ["blake2b", "ed25519_verify", "keccak256", "sha256"]
