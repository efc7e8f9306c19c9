"""Ed25519 key pairs (PyNaCl), with reprs that never show the secret."""

from __future__ import annotations

from nacl.signing import SigningKey, VerifyKey

from chan_nb.codec import encoding
from chan_nb.errors import SignatureError


class Keypair:
    """A signing key and its ``ak_`` address.

    The secret lives only in the PyNaCl object; ``repr``/``str`` show the
    address, and nothing here serializes the secret implicitly.
    """

    __slots__ = ("_signing_key", "public_key")

    def __init__(self, signing_key: SigningKey) -> None:
        self._signing_key = signing_key
        self.public_key: bytes = bytes(signing_key.verify_key)

    @classmethod
    def generate(cls) -> Keypair:
        return cls(SigningKey.generate())

    @classmethod
    def from_seed(cls, seed: bytes) -> Keypair:
        """From the 32-byte seed, or a 64-byte secret key (seed ‖ public key)."""
        if len(seed) == 64:
            key = cls(SigningKey(seed[:32]))
            if key.public_key != seed[32:]:
                raise SignatureError("64-byte secret key: public half does not match the seed")
            return key
        if len(seed) != 32:
            raise SignatureError(f"a secret key is 32 or 64 bytes, got {len(seed)}")
        return cls(SigningKey(seed))

    @classmethod
    def from_hex(cls, text: str) -> Keypair:
        try:
            raw = bytes.fromhex(text.strip())
        except ValueError:
            raise SignatureError("secret key is not valid hex") from None
        return cls.from_seed(raw)

    @property
    def address(self) -> str:
        return encoding.encode("ak", self.public_key)

    def sign(self, message: bytes) -> bytes:
        """64-byte detached Ed25519 signature."""
        return bytes(self._signing_key.sign(message).signature)

    def secret_seed(self) -> bytes:
        """The 32-byte seed; call it only to store the key deliberately."""
        return bytes(self._signing_key)

    def verify_key(self) -> VerifyKey:
        return self._signing_key.verify_key

    def __repr__(self) -> str:
        return f"Keypair({self.address})"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("Keypair refuses to be pickled: it holds a private key")
