"""Contracts in the channel state: ids, contract and call objects, trees, and the audit's
recomputation of contract rounds (fate.md §6)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from chan_nb import audit_contracts as ac
from chan_nb.codec import contracts as ct
from chan_nb.codec import encoding, trees, updates
from chan_nb.codec.fate import CodeObject, assemble, encode, encode_call
from chan_nb.codec.hashing import blake2b_256
from chan_nb.codec.ids import Id
from chan_nb.errors import DecodeError
from tests.conftest import shared_path

OWNER = Id.from_api("ak_x2mdjJG7A7ocKf9T5qiDT1AGzE2RdKeKmH1wntYeDDY113eha")
OTHER = Id.from_api("ak_2hPyRka8YsBFw7gfhj84Ut11d8mtFdgXGFAksjGgjkcn5pVXpF")
IDENTITY = (
    "cb_+GZGA6AjCkIf8nA06kWznUewlO/mb+ZZlS2EaOxIL/ivjLd9tsC4OZ7+RNZEHwA3ADcAGg6CPwEDP/64F37sBDcB"
    "BwcBAQCWLwIRRNZEHxFpbml0EbgXfuwRbWFpboIvAIU0LjIuMADT5f3r"
)
VM_ABI = (7 << 16) | 3


def test_contract_id_from_owner_and_round() -> None:
    pubkey = ct.contract_pubkey(OWNER.value, 2)
    assert encoding.encode("ct", pubkey) == "ct_2nEcGLJTonCbWwu617VVUuBd6DZ4FVSvkGvvNeXaPs5ZeqCdbq"
    assert ct.contract_pubkey(OWNER.value, 3) != pubkey
    assert pubkey == blake2b_256(OWNER.value + b"\x02")


def test_call_id_and_key() -> None:
    contract = ct.contract_pubkey(OWNER.value, 2)
    cid = ct.call_id(OWNER.value, 3, contract)
    assert cid == blake2b_256(OWNER.value + (3).to_bytes(32, "big") + contract)
    assert ct.call_key(contract, OWNER.value, 3) == contract + cid


def test_store_keys() -> None:
    assert ct.register_key(0) == ct.META_REGISTER_KEY == b"\x00\x00"
    assert ct.register_key(1) == b"\x00\x01"
    assert ct.register_key(256) == b"\x00\x01\x00"
    assert ct.initial_store() == {b"\x00\x00": b"\x2f\x00"}


def test_contract_object_round_trip_and_entries() -> None:
    code = CodeObject.from_api(IDENTITY).for_channel()
    obj = ct.ContractObject(OWNER, VM_ABI, code, 10)
    raw = obj.serialize()
    # fate.md §6.6: f8 7a 28 01 a1 01 <owner> 83 07 00 03 b8 4c <76 bytes> 80 01 c0 0a
    assert raw[:6].hex() == "f87a2801a101" and raw.endswith(bytes.fromhex("8001c00a"))
    assert ct.ContractObject.deserialize(raw) == obj
    v2 = replace(obj, version=2, code_ref=(Id.contract(b"\x01" * 32),))
    assert ct.ContractObject.deserialize(v2.serialize()) == v2
    pubkey = ct.contract_pubkey(OWNER.value, 2)
    store = {**ct.initial_store(), ct.register_key(1): encode(()), b"\x00\x02": b""}
    entries = ct.contract_entries(pubkey, obj, store)
    assert entries == {
        pubkey: raw,
        pubkey + b"\x10": b"\x00",
        pubkey + b"\x10\x00\x00": b"\x2f\x00",
        pubkey + b"\x10\x00\x01": b"\x3f",  # the empty value deleted register 2
    }
    assert ct.split_contracts_tree(entries) == {
        pubkey: (raw, {b"\x00\x00": b"\x2f\x00", b"\x00\x01": b"\x3f"})
    }
    for bad in (raw[:-1], bytes.fromhex("c3290100"), replace(obj, version=3).serialize()):
        with pytest.raises((DecodeError, ValueError)):
            ct.ContractObject.deserialize(bad)


REPLY = {
    "caller_id": OWNER.api,
    "caller_nonce": 3,
    "contract_id": "ct_2nEcGLJTonCbWwu617VVUuBd6DZ4FVSvkGvvNeXaPs5ZeqCdbq",
    "gas_price": 1,
    "gas_used": 11,
    "height": 3,
    "log": [],
    "return_type": "ok",
    "return_value": "cb_VNLOFXc=",
}


def test_call_object_bytes_and_json() -> None:
    call = ct.CallObject.from_dict(REPLY)
    raw = call.serialize()
    assert len(raw) == 79  # fate.md §6.7
    assert raw.hex().startswith("f84d2902a101" + OWNER.value.hex() + "0303a105")
    assert raw.hex().endswith("010b5400c0")
    assert ct.CallObject.deserialize(raw) == call
    assert call.to_dict() == REPLY
    assert call.key == ct.call_key(call.contract.value, OWNER.value, 3)
    logged = replace(call, log=(ct.LogEntry(b"\x05" * 32, (1, 2**255), b"hi"),))
    assert ct.CallObject.deserialize(logged.serialize()) == logged
    assert ct.CallObject.from_dict(logged.to_dict()) == logged
    assert logged.to_dict()["log"][0]["topics"] == [1, 2**255]


@pytest.mark.parametrize(
    "change",
    [
        {"return_type": "maybe"},
        {"gas_used": -1},
        {"gas_used": "11"},
        {"contract_id": OWNER.api},
        {"log": [{"address": "x"}]},
        {"extra": 1},
        {"return_value": "cb_bad"},
    ],
)
def test_call_object_json_is_checked(change: dict[str, object]) -> None:
    with pytest.raises(DecodeError):
        ct.CallObject.from_dict({**REPLY, **change})


# -- the audit engine on a hand-made channel ----------------------------------------------------

COUNTER = """
FUNCTION init(int) : unit
  STORE store1 arg0
  RETURNR ()
FUNCTION payable get() : int
  RETURNR store1
FUNCTION payable tick() : unit
  INC store1
  RETURNR ()
"""


def _channel() -> tuple[ac.Evidence, dict[int, bytes], trees.StateTrees]:
    """Round 2 creates a counter (init 7), round 3 calls get(), round 4 moves coins."""
    code = CodeObject(b"\x00" * 32, (), assemble(COUNTER).serialize(), b"asm", False)
    channel = b"\x42" * 32
    pubkey = ct.contract_pubkey(OWNER.value, 2)
    balances = {OWNER.value: 1000 - 10 - 5, OTHER.value: 500, pubkey: 10 + 5}
    obj = ct.ContractObject(OWNER, VM_ABI, code.for_channel(), 10)
    store = {**ct.initial_store(), ct.register_key(1): encode(7)}
    get_call = ct.CallObject(OWNER, 3, 3, Id.contract(pubkey), 1, 11, encode(7), 0)
    state3 = trees.StateTrees(
        accounts={k: trees.Account(0, v).serialize() for k, v in balances.items()},
        contracts=ct.contract_entries(pubkey, obj, store),
        calls={get_call.key: get_call.serialize()},
    )
    state4 = trees.StateTrees(
        accounts={
            k: trees.Account(0, v + {OWNER.value: -3, OTHER.value: 3}.get(k, 0)).serialize()
            for k, v in balances.items()
        },
        contracts=state3.contracts,
    )
    hashes = {2: b"\x02" * 32, 3: state3.state_hash(), 4: state4.state_hash()}
    evidence = ac.Evidence()
    new = updates.OffChainNewContract(OWNER, VM_ABI, code.serialize(), 10, encode_call("init", [7]))
    call = updates.OffChainCallContract(
        OWNER, Id.contract(pubkey), 3, 5, 1_000_000, 1, encode_call("get"), ()
    )
    transfer = updates.OffChainTransfer(OWNER, OTHER, 3)
    for rnd, ups in ((2, [new]), (3, [call]), (4, [transfer])):
        evidence.add_round(ac.Round(channel, rnd, hashes[rnd], list(ups), rnd, None, "initiator"))
    evidence.add_call_reply(get_call.to_dict())
    return evidence, hashes, state4


def test_engine_recomputes_from_a_later_state_and_says_why_not() -> None:
    evidence, _, state4 = _channel()
    evidence.add_trees(state4)  # the trees of round 4 (as get.offchain_state shows them)
    verdicts = {v.round: v for v in ac.audit_contract_rounds(evidence)}
    assert verdicts[3].outcome == "ok", verdicts[3].detail
    assert "get()" in verdicts[3].detail
    assert verdicts[2].outcome == "cannot" and "result of init" in verdicts[2].detail
    assert 4 not in verdicts  # a transfer round is not a contract round
    assert ac.count_outcomes(verdicts.values()) == {"ok": 1, "bad": 0, "cannot": 1}


def test_engine_without_any_state_cannot() -> None:
    evidence, _, _ = _channel()
    verdicts = {v.round: v for v in ac.audit_contract_rounds(evidence)}
    assert verdicts[3].outcome == "cannot" and "balances" in verdicts[3].detail


def test_engine_finds_a_wrong_call_result() -> None:
    evidence, _, state4 = _channel()
    evidence.add_trees(state4)
    (key,) = evidence.calls
    evidence.calls[key] = replace(evidence.calls[key], gas_used=12)
    verdicts = {v.round: v for v in ac.audit_contract_rounds(evidence)}
    assert verdicts[3].outcome == "bad"


def test_engine_stops_at_a_store_write() -> None:
    evidence, _hashes, state4 = _channel()
    evidence.add_trees(state4)
    pubkey = ct.contract_pubkey(OWNER.value, 2)
    tick = updates.OffChainCallContract(
        OTHER, Id.contract(pubkey), 3, 0, 1_000_000, 1, encode_call("tick"), ()
    )
    (rnd3,) = evidence.proposals[(b"\x42" * 32, 3)]
    rnd3.updates.append(tick)  # tick writes the store: round 2's store is no longer known
    verdicts = {v.round: v for v in ac.audit_contract_rounds(evidence)}
    assert verdicts[3].outcome == "cannot" and "tick()" in verdicts[3].detail
    assert "store of" in verdicts[2].detail  # tick wrote it: what round 4 shows is not round 2's


# -- the recordings -----------------------------------------------------------------------------


def _audit(path: Path, text: str | None = None) -> object:
    from chan_nb.recording import load, loads

    log = loads(text, "md") if text is not None else load(path, strict=False)
    return log.audit()


@pytest.mark.shared
def test_basic_contracts_rounds_recomputed() -> None:
    path = shared_path("recordings", "json-rpc", "contracts", "sc_ws_basic_contracts.md")
    report = _audit(path)
    verdicts = {v.round: v for v in report.contract_rounds}  # type: ignore[attr-defined]
    assert len(verdicts) == 70 and min(verdicts) == 2 and max(verdicts) == 71
    counts = ac.count_outcomes(verdicts.values())
    assert counts["bad"] == 0 and counts["ok"] >= 20, counts
    for rnd in (3, 4, 12, 13, 15, 16, 17, 34, 35, 36, 38, 39, 47, 48, 50, 69, 70, 71):
        assert verdicts[rnd].outcome == "ok", (rnd, verdicts[rnd].detail)
    # the VM recomputes every round, the creates too (whose init results are never recorded)
    assert counts == {"ok": 70, "bad": 0, "cannot": 0}, counts
    for rnd in (2, 5, 14, 37, 40, 49):
        assert "(init) recomputed by the VM" in verdicts[rnd].detail
    assert "tick()" in verdicts[7].detail and "spend(" in verdicts[18].detail
    assert report.ok  # type: ignore[attr-defined]
    records = report.contract_records()  # type: ignore[attr-defined]
    assert len(records) == 70 and records[1]["round"] == 3 and records[1]["outcome"] == "ok"
    assert records[0]["channel_id"].startswith("ch_")


@pytest.mark.shared
def test_tampered_call_result_is_caught() -> None:
    path = shared_path("recordings", "json-rpc", "contracts", "sc_ws_basic_contracts.md")
    text = path.read_text().replace('"gas_used": 11,', '"gas_used": 12,')
    report = _audit(path, text)
    bad = [v for v in report.contract_rounds if v.outcome == "bad"]  # type: ignore[attr-defined]
    assert bad and not report.ok  # type: ignore[attr-defined]
    assert {v.round for v in bad} >= {3, 4, 12, 13}


def test_update_and_tree_helpers() -> None:
    new = updates.OffChainNewContract(
        OWNER, VM_ABI, encoding.decode(IDENTITY, "cb"), 10, encode_call("init")
    )
    assert new.contract_id(2).api == "ct_2nEcGLJTonCbWwu617VVUuBd6DZ4FVSvkGvvNeXaPs5ZeqCdbq"
    assert new.code_object().to_api() == IDENTITY
    assert new.call().name == "init"
    call = updates.OffChainCallContract(
        OWNER, new.contract_id(2), 3, 0, 1_000_000, 1, encode_call("main", [42]), ()
    )
    assert str(call.call()) == "main(42)"
    pubkey = new.contract_id(2).value
    obj = ct.ContractObject(OWNER, VM_ABI, new.code_object().for_channel(), 10)
    store = {**ct.initial_store(), ct.register_key(1): encode(())}
    result = ct.CallObject.from_dict(REPLY)
    state = trees.StateTrees(
        contracts=ct.contract_entries(pubkey, obj, store), calls={result.key: result.serialize()}
    )
    assert state.contract_objects() == {pubkey: obj}
    assert state.contract_store(pubkey) == store
    assert state.call_objects() == {result.key: result}
    with pytest.raises(trees.NotInTreeError):
        state.contract_store(b"\x00" * 32)
    again = trees.StateTrees.decode(state.serialize())
    assert again.state_hash() == state.state_hash() and again.call_objects() == {result.key: result}


@pytest.mark.shared
def test_audit_decodes_contract_items_and_flags_a_broken_one() -> None:
    path = shared_path("recordings", "json-rpc", "contracts", "sc_ws_basic_contracts.md")
    report = _audit(path)
    assert report.contract_items > 200  # type: ignore[attr-defined]
    broken = encoding.encode("cb", b"\x80")  # negative zero: not a FATE value
    text = path.read_text().replace(
        '"return_value": "cb_VNLOFXc="', f'"return_value": "{broken}"', 1
    )
    bad = _audit(path, text)
    problems = [str(p) for p in bad.problems]  # type: ignore[attr-defined]
    assert any("call result" in p and "negative zero" in p for p in problems), problems


@pytest.mark.shared
def test_every_contract_recording_audits_without_a_wrong_round() -> None:
    from chan_nb.recording import load

    base = shared_path("recordings", "json-rpc")
    files = [
        *sorted(base.glob("contracts/sc_*.md")),
        *sorted(base.glob("force_progress/*.md")),
        base / "with_meta" / "sc_ws_remote_call_contract.md",
        base / "changeable_nonce" / "sc_ws_optional_params_fail_force_progress.md",
    ]
    verdicts = [v for path in files for v in load(path, strict=False).audit().contract_rounds]
    counts = ac.count_outcomes(verdicts)
    assert counts["bad"] == 0 and counts["ok"] >= 20 and len(verdicts) >= 400, counts
    assert all(v.detail for v in verdicts)
    aevm = [v for v in verdicts if "AEVM" in v.detail]
    assert len(aevm) >= 150  # force progress, with_meta: AEVM contracts need an AEVM
