"""Signing transactions for a channel participant (PyNaCl keys, the node's preimages).

The default preimage is the hashed one (``network_id ‖ blake2b(tx)``), as the JS SDK
signs; ``"raw"`` (``network_id ‖ tx``) is what the node's own test suite used. The
node accepts both.
"""

from __future__ import annotations

from dataclasses import dataclass

from chan_nb.codec import signing, txs
from chan_nb.codec.keys import Keypair
from chan_nb.codec.signing import Preimage


@dataclass(frozen=True)
class Signer:
    """A key, the network id it signs for, and the preimage rule."""

    keypair: Keypair
    network_id: str
    preimage: Preimage = "hashed"

    @property
    def address(self) -> str:
        return self.keypair.address

    def signature(self, tx_bytes: bytes) -> bytes:
        return signing.sign(tx_bytes, self.keypair, self.network_id, self.preimage)

    def sign(self, signed: txs.SignedTx) -> txs.SignedTx:
        """The signed_tx with this key's signature added (kept sorted, as the node does)."""
        own = self.signature(signed.tx_bytes)
        if signed.signatures and self._signed_already(signed, own):
            return signed
        return signed.with_signature(own)

    def sign_api(self, tx: str) -> str:
        """Add this key's signature to a ``tx_`` signed_tx string."""
        return self.sign(txs.decode_signed(tx)).to_api()

    def has_signed(self, signed: txs.SignedTx) -> bool:
        """Whether one of the signatures is this key's (under either preimage)."""
        return self._signed_already(signed, self.signature(signed.tx_bytes))

    def _signed_already(self, signed: txs.SignedTx, own: bytes) -> bool:
        # Ed25519 signatures are deterministic (RFC 8032): this key's signature over
        # either preimage is one known string, and signing to compare costs less than
        # verifying every signature under both preimages.
        if own in signed.signatures:
            return True
        mine = self.keypair.public_key
        if all(signing.verified_signer(s) not in (None, mine) for s in signed.signatures):
            return False  # each one verified for another key (the peer's, checked earlier)
        other: Preimage = "raw" if self.preimage == "hashed" else "hashed"
        theirs = signing.sign(signed.tx_bytes, self.keypair, self.network_id, other)
        return theirs in signed.signatures

    def __repr__(self) -> str:
        return f"Signer({self.address}, {self.network_id!r}, {self.preimage})"
