"""API string encodings: ``prefix_body`` with base58check or base64check bodies.

The node shows every binary in JSON as a two-letter prefix, ``_`` and the
payload plus a 4-byte double-SHA-256 checksum, in base58 or base64 depending on
the prefix (serialization.md §1).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from functools import lru_cache
from typing import Final, Literal

import base58

from chan_nb.errors import DecodeError

Alphabet = Literal["base58", "base64"]

#: prefix -> (alphabet, fixed payload size or None for any size)
PREFIXES: Final[dict[str, tuple[Alphabet, int | None]]] = {
    "ak": ("base58", 32),
    "ch": ("base58", 32),
    "ct": ("base58", 32),
    "ok": ("base58", 32),
    "nm": ("base58", None),
    "cm": ("base58", 32),
    "th": ("base58", 32),
    "sg": ("base58", 64),
    "kh": ("base58", 32),
    "mh": ("base58", 32),
    "bf": ("base58", 32),
    "bs": ("base58", 32),
    "bx": ("base58", 32),
    "oq": ("base58", 32),
    "pp": ("base58", 32),
    "sk": ("base58", 32),
    "tx": ("base64", None),
    "st": ("base64", 32),
    "ss": ("base64", None),
    "pi": ("base64", None),
    "cs": ("base64", None),
    "cb": ("base64", None),
    "ba": ("base64", None),
    "ck": ("base64", None),
    "cv": ("base64", None),
    "or": ("base64", None),
    "ov": ("base64", None),
}


def checksum(payload: bytes) -> bytes:
    """First 4 bytes of SHA-256(SHA-256(payload))."""
    return hashlib.sha256(hashlib.sha256(payload).digest()).digest()[:4]


def encode(prefix: str, payload: bytes) -> str:
    """``prefix_`` + base58/base64 of payload ‖ checksum."""
    try:
        alphabet, size = PREFIXES[prefix]
    except KeyError:
        raise DecodeError(f"unknown API prefix {prefix!r}") from None
    if size is not None and len(payload) != size:
        raise DecodeError(f"{prefix}_ payload must be {size} bytes, got {len(payload)}")
    if alphabet == "base58":
        return _encode_b58(prefix, bytes(payload))
    return f"{prefix}_{_reencode(alphabet, payload + checksum(payload))}"


# Ids (ak_, ch_ …) are encoded and decoded over and over in a session; base58 is
# big-number arithmetic in Python, so both directions are cached. Values are
# immutable (str, bytes), so a cache hit is the same answer.
@lru_cache(maxsize=16384)
def _encode_b58(prefix: str, payload: bytes) -> str:
    return f"{prefix}_{_reencode('base58', payload + checksum(payload))}"


@lru_cache(maxsize=16384)
def _split_b58(prefix: str, body: str, size: int | None) -> bytes:
    # the whole check (base58, checksum, size) is cached: ids repeat in every frame
    try:
        data = base58.b58decode(body.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as exc:
        raise DecodeError(f"{prefix}_ body is not base58: {exc}") from None
    return _checked_payload(prefix, bytes(data), size, prefix + "_" + body)


def _checked_payload(prefix: str, data: bytes, size: int | None, text: str) -> bytes:
    if len(data) < 4:
        raise DecodeError(f"{prefix}_ body too short for a checksum ({len(data)} bytes)")
    payload, check = data[:-4], data[-4:]
    if checksum(payload) != check:
        raise DecodeError(f"{prefix}_ checksum mismatch in {_short(text)!r}")
    if size is not None and len(payload) != size:
        raise DecodeError(f"{prefix}_ payload must be {size} bytes, got {len(payload)}")
    return payload


def split(text: str) -> tuple[str, bytes]:
    """Decode any known ``prefix_body`` string into (prefix, payload)."""
    if not isinstance(text, str):
        raise DecodeError(f"expected an API string, got {type(text).__name__}")
    prefix, sep, body = text.partition("_")
    if not sep:
        raise DecodeError(f"{_short(text)!r} has no '_' separating prefix and body")
    try:
        alphabet, size = PREFIXES[prefix]
    except KeyError:
        raise DecodeError(f"unknown API prefix {prefix!r} in {_short(text)!r}") from None
    if alphabet == "base58":
        return prefix, _split_b58(prefix, body, size)
    try:
        data = base64.b64decode(body.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
        raise DecodeError(f"{prefix}_ body is not base64: {exc}") from None
    payload = _checked_payload(prefix, data, size, text)
    # Non-canonical bodies (stray pad bits) decode to valid bytes but are not what
    # the node prints: refuse them, so that every accepted string round-trips
    # exactly. validate=True already refused bad characters and padding, so only
    # the last 4-character group can differ: re-encode just the bytes it holds.
    last = (len(body) // 4 - 1) * 3
    if _reencode(alphabet, data[last:]) != body[-4:]:
        raise DecodeError(f"{prefix}_ body is not canonical {alphabet}")
    return prefix, payload


def _reencode(alphabet: Alphabet, data: bytes) -> str:
    if alphabet == "base58":
        return base58.b58encode(data).decode("ascii")
    return base64.b64encode(data).decode("ascii")


def decode(text: str, prefix: str | None = None) -> bytes:
    """Payload of an API string, checking the prefix when one is expected."""
    got, payload = split(text)
    if prefix is not None and got != prefix:
        raise DecodeError(f"expected a {prefix}_ string, got {got}_")
    return payload


def _short(text: str, limit: int = 24) -> str:
    return text if len(text) <= limit else text[:limit] + "…"
