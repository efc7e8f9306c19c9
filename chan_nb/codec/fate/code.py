"""The serialized contract code object, tag 70: what a ``cb_…`` ``code`` field holds (fate.md §2.1).

``RLP([70, vsn, source_hash, type_info, byte_code, compiler_version, payable])`` — vsn 1
stops after ``byte_code``, vsn 2 after ``compiler_version``. ``type_info`` is empty for
FATE; AEVM code lists ``[type_hash, name, (payable,) arg_type, out_type]`` per function.
:meth:`CodeObject.fate` decodes ``byte_code`` as FATE; :meth:`CodeObject.for_channel`
gives the code as the recorded (2020) node stored it in a channel's contract object.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Final

from chan_nb.codec import encoding, rlp
from chan_nb.codec.fate.bytecode import FateCode
from chan_nb.errors import DecodeError

TAG_CODE: Final = 70
VERSIONS: Final = (1, 2, 3)


@dataclass(frozen=True, slots=True)
class TypeInfo:
    """One AEVM ``type_info`` entry (FATE code has none)."""

    type_hash: bytes
    name: bytes
    payable: bool | None  # None in code object versions 1 and 2
    arg_type: bytes
    out_type: bytes

    def to_rlp(self) -> rlp.Item:
        items: list[rlp.Item] = [self.type_hash, self.name]
        if self.payable is not None:
            items.append(b"\x01" if self.payable else b"\x00")
        return [*items, self.arg_type, self.out_type]


def _bool(raw: rlp.Item, where: str) -> bool:
    value = rlp.expect_bytes(raw, where)
    if value not in (b"\x00", b"\x01"):
        raise DecodeError(f"boolean must be 00 or 01, got {value.hex() or 'empty'}", where)
    return value == b"\x01"


@dataclass(frozen=True, slots=True)
class CodeObject:
    """A serialized contract: source hash, type info, byte code, compiler version, payable."""

    source_hash: bytes
    type_info: tuple[TypeInfo, ...]
    byte_code: bytes
    compiler_version: bytes = b""
    payable: bool = True
    version: int = 3

    def __post_init__(self) -> None:
        if self.version not in VERSIONS:
            raise ValueError(f"code object version must be one of {VERSIONS}, got {self.version}")
        if len(self.source_hash) != 32:
            raise ValueError(f"source hash is 32 bytes, got {len(self.source_hash)}")

    # -- serialization --------------------------------------------------------------
    def serialize(self) -> bytes:
        items: list[rlp.Item] = [
            rlp.encode_int(TAG_CODE),
            rlp.encode_int(self.version),
            self.source_hash,
            [t.to_rlp() for t in self.type_info],
            self.byte_code,
        ]
        if self.version >= 2:
            items.append(self.compiler_version)
        if self.version >= 3:
            items.append(b"\x01" if self.payable else b"\x00")
        return rlp.encode(items)

    def to_api(self) -> str:
        return encoding.encode("cb", self.serialize())

    @classmethod
    def deserialize(cls, data: bytes, where: str = "code") -> CodeObject:
        try:
            item = rlp.decode(data)
        except DecodeError as exc:
            raise exc.at(where) from None
        fields = rlp.expect_list(item, where)
        if len(fields) < 2:
            raise DecodeError("code object needs a tag and a version", where)
        tag = rlp.decode_int(fields[0], f"{where}.tag")
        if tag != TAG_CODE:
            raise DecodeError(f"expected a contract code object (tag 70), got tag {tag}", where)
        version = rlp.decode_int(fields[1], f"{where}.version")
        if version not in VERSIONS:
            raise DecodeError(f"unsupported code object version {version}", where)
        expected = {1: 5, 2: 6, 3: 7}[version]
        if len(fields) != expected:
            raise DecodeError(
                f"code object v{version} has {expected - 2} fields, got {len(fields) - 2}", where
            )
        source_hash = rlp.expect_bytes(fields[2], f"{where}.source_hash")
        if len(source_hash) != 32:
            raise DecodeError(f"source hash is 32 bytes, got {len(source_hash)}", where)
        infos = []
        for i, raw in enumerate(rlp.expect_list(fields[3], f"{where}.type_info")):
            at = f"{where}.type_info[{i}]"
            parts = rlp.expect_list(raw, at)
            if len(parts) != (5 if version == 3 else 4):
                raise DecodeError(f"type_info entry has {len(parts)} fields", at)
            payable = _bool(parts[2], f"{at}.payable") if version == 3 else None
            rest = parts[3:] if version == 3 else parts[2:]
            infos.append(
                TypeInfo(
                    rlp.expect_bytes(parts[0], f"{at}.type_hash"),
                    rlp.expect_bytes(parts[1], f"{at}.name"),
                    payable,
                    rlp.expect_bytes(rest[0], f"{at}.arg_type"),
                    rlp.expect_bytes(rest[1], f"{at}.out_type"),
                )
            )
        byte_code = rlp.expect_bytes(fields[4], f"{where}.byte_code")
        compiler = rlp.expect_bytes(fields[5], f"{where}.compiler_version") if version >= 2 else b""
        payable = _bool(fields[6], f"{where}.payable") if version == 3 else True
        return cls(source_hash, tuple(infos), byte_code, compiler, payable, version)

    @classmethod
    def from_api(cls, text: str) -> CodeObject:
        return cls.deserialize(encoding.decode(text, "cb"))

    # -- views ----------------------------------------------------------------------
    @property
    def is_fate(self) -> bool:
        """FATE code has no type_info; AEVM code lists its functions there."""
        return not self.type_info

    def fate(self) -> FateCode:
        """The byte code decoded as FATE (DecodeError if it is not FATE code)."""
        return FateCode.deserialize(self.byte_code, "code.byte_code")

    def for_channel(self) -> bytes:
        """The code as the recorded node stores it in a channel contract object (§2.6).

        FATE: re-serialized as v3 with ``init`` and its symbol removed (Iris-final and
        current nodes keep vm ≥ 7 code unchanged). AEVM code is refused (ValueError): the
        node stores the byte code its ``init`` returns, which needs an AEVM to compute.
        """
        if not self.is_fate:
            raise ValueError("an AEVM contract stores the code its init returns (needs an AEVM)")
        stripped = self.fate().without_init().serialize()
        return replace(self, byte_code=stripped, version=3).serialize()


__all__ = ["TAG_CODE", "CodeObject", "TypeInfo"]
