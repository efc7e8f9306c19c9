"""Every contract code object, call data and return value in the shared recordings round-trips.

The recordings are read from ../shared (skipped when absent). FATE items (abi 3) decode
fully and re-encode to identical bytes; the AEVM items (abi 1: force_progress/, with_meta/,
changeable_nonce/…force_progress) are 32-byte ABI words, not FATE: their code objects
round-trip, their call data and return values are checked to be whole words.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from chan_nb.codec import encoding
from chan_nb.codec.fate import (
    CodeObject,
    assemble,
    decode,
    decode_call,
    decode_result,
    disassemble,
    encode,
    encode_result,
)
from tests.conftest import SHARED_DIR

pytestmark = pytest.mark.shared

CONTRACT_GLOBS = (
    "contracts/*.md",
    "force_progress/*.md",
    "with_meta/sc_ws_remote_call_contract.md",
    "changeable_nonce/sc_ws_optional_params_fail_force_progress.md",
    "generalized_accounts/**/*.md",
)


def _walk(value: Any, abi: int | None, out: dict[str, set[tuple[str, Any]]]) -> None:
    if isinstance(value, dict):
        here = value.get("abi_version", abi)
        here = here if isinstance(here, int) else abi
        for key, item in value.items():
            if isinstance(item, str) and item.startswith("cb_"):
                extra = value.get("return_type") if key == "return_value" else here
                out[key].add((item, extra))
            else:
                _walk(item, here, out)
    elif isinstance(value, list):
        for item in value:
            _walk(item, abi, out)


@cache
def collected() -> dict[str, set[tuple[str, Any]]]:
    from chan_nb.recording import load

    base = SHARED_DIR / "recordings" / "json-rpc"
    out: dict[str, set[tuple[str, Any]]] = {
        "code": set(),
        "call_data": set(),
        "return_value": set(),
    }
    files: set[Path] = set()
    for pattern in CONTRACT_GLOBS:
        files.update(base.glob(pattern))
    for path in sorted(files):
        for frame in load(path, strict=False).frames:
            if frame.message is not None:
                _walk(frame.message, None, out)
    return out


def _is_aevm_words(raw: bytes) -> bool:
    return len(raw) % 32 == 0 and len(raw) > 0


def test_code_objects_round_trip() -> None:
    counts: Counter[str] = Counter()
    for text, _ in collected()["code"]:
        co = CodeObject.from_api(text)
        assert co.to_api() == text
        if co.is_fate:
            code = co.fate()
            assert code.serialize() == co.byte_code
            assert assemble(disassemble(code)).serialize() == co.byte_code
            stripped = CodeObject.deserialize(co.for_channel())
            assert "init" not in stripped.fate().names().values()
            counts["fate"] += 1
        else:
            with pytest.raises(ValueError, match="AEVM"):
                co.for_channel()
            assert {t.name for t in co.type_info} >= {b"init"}
            counts["aevm"] += 1
    # the seven FATE contracts of fate.md §8.1 (some sent twice, with vm_version 7 and "1")
    assert len({CodeObject.from_api(t).source_hash for t, _ in collected()["code"]}) >= 7
    assert counts["fate"] >= 7 and counts["aevm"] >= 2, counts


def test_call_data_round_trips() -> None:
    fate = aevm = 0
    for text, abi in collected()["call_data"]:
        raw = encoding.decode(text, "cb")
        if abi == 1 or (abi is None and _looks_aevm(raw)):
            assert _is_aevm_words(raw)
            aevm += 1
            continue
        call = decode_call(raw)
        assert call.encode() == raw and encode(decode(raw)) == raw
        # every recorded call names a known function, except the deliberately wrong one
        assert call.name is not None or call.function_id.hex() == "4b050ea9"
        fate += 1
    assert fate >= 50 and aevm >= 10, (fate, aevm)


def test_return_values_round_trip() -> None:
    kinds: Counter[str] = Counter()
    for text, return_type in collected()["return_value"]:
        raw = encoding.decode(text, "cb")
        result = decode_result(return_type, raw) if not _looks_aevm(raw) else None
        if result is None:
            kinds["aevm"] += 1
            continue
        assert encode_result(result) == raw
        kinds[result.return_type] += 1
    assert kinds["ok"] >= 25 and kinds["error"] >= 1 and kinds["aevm"] >= 5, kinds


def _looks_aevm(raw: bytes) -> bool:
    """AEVM returns are 32-byte words; a FATE value of 32+ bytes would decode."""
    if not _is_aevm_words(raw):
        return False
    try:
        decode(raw)
    except ValueError:
        return True
    return False


def test_stored_contract_objects_in_proofs_round_trip() -> None:
    """Contract objects in recorded proofs and force-progress trees: the code as stored."""
    from chan_nb.codec import contracts, trees
    from chan_nb.codec.txs import ChannelForceProgressTx, SignedTx, decode_api
    from chan_nb.protocol.frames import strings_in
    from chan_nb.recording import load

    base = SHARED_DIR / "recordings" / "json-rpc"
    stored = {
        co.for_channel()
        for co in (CodeObject.from_api(t) for t, _ in collected()["code"])
        if co.is_fate
    }
    seen: dict[bytes, bytes] = {}
    for pattern in CONTRACT_GLOBS:
        for path in sorted(base.glob(pattern)):
            for frame in load(path, strict=False).frames:
                for text in strings_in(frame.message) if frame.message is not None else ():
                    entries: dict[bytes, bytes] = {}
                    if text.startswith("pi_"):
                        part = trees.Poi.from_api(text).contracts
                        entries = dict(part.entries()) if part is not None else {}
                    elif text.startswith("tx_"):
                        tx = decode_api(text)
                        inner = tx.innermost if isinstance(tx, SignedTx) else None
                        if isinstance(inner, ChannelForceProgressTx):
                            entries = dict(trees.StateTrees.decode(inner.offchain_trees).contracts)
                    for key, value in entries.items():
                        if len(key) == 32:
                            seen[key] = value
    assert len(seen) >= 6
    for raw in seen.values():
        obj = contracts.ContractObject.deserialize(raw)
        assert obj.serialize() == raw and obj.version == 1 and obj.deposit == 10
        code = CodeObject.deserialize(obj.code)
        assert code.serialize() == obj.code
        if code.is_fate:  # what for_channel() makes of a recorded create's code
            assert obj.code in stored
            assert "init" not in code.fate().names().values()
        else:  # AEVM: the deployed code init returned, in the same code object shell
            assert code.type_info and code.byte_code
