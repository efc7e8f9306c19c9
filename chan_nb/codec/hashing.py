"""Hashes the node uses: blake2b-256, transaction hashes and channel ids."""

from __future__ import annotations

import hashlib

from chan_nb.codec import encoding


def blake2b_256(data: bytes) -> bytes:
    """Unkeyed blake2b with a 32-byte digest (the node's ``aec_hash:hash``)."""
    return hashlib.blake2b(data, digest_size=32).digest()


def tx_hash(signed_tx: bytes) -> str:
    """``th_`` of a serialized signed_tx (signatures included)."""
    return encoding.encode("th", blake2b_256(signed_tx))


def channel_pubkey(initiator: bytes, nonce: int, responder: bytes) -> bytes:
    """32-byte channel key: blake2b(initiator ‖ nonce as 32-byte big-endian ‖ responder)."""
    return blake2b_256(initiator + nonce.to_bytes(32, "big") + responder)


def channel_pubkey_ga(initiator: bytes, auth_id: bytes, responder: bytes) -> bytes:
    """Channel key when the initiator is a generalized account (auth id in the middle)."""
    return blake2b_256(initiator + auth_id + responder)


def ga_auth_id(ga_pubkey: bytes, auth_data: bytes) -> bytes:
    """Auth id of a GA meta tx: blake2b(ga_pubkey ‖ auth_data)."""
    return blake2b_256(ga_pubkey + auth_data)


def channel_id(initiator: bytes, nonce: int, responder: bytes) -> str:
    """``ch_`` string of a channel."""
    return encoding.encode("ch", channel_pubkey(initiator, nonce, responder))
