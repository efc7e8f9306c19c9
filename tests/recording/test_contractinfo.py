"""Contract frames decode in the frame table (``contract`` column) and the summary."""

from __future__ import annotations

import pytest

from chan_nb.codec import encoding
from chan_nb.codec.fate import encode, encode_call
from chan_nb.recording import Frame
from chan_nb.recording.contractinfo import describe_contract, describe_result
from tests.conftest import shared_path

CT = "ct_2nEcGLJTonCbWwu617VVUuBd6DZ4FVSvkGvvNeXaPs5ZeqCdbq"


def _cb(raw: bytes) -> str:
    return encoding.encode("cb", raw)


def test_call_request_and_result() -> None:
    request = {
        "jsonrpc": "2.0",
        "method": "channels.update.call_contract",
        "params": {
            "abi_version": 3,
            "amount": 5,
            "call_data": _cb(encode_call("main", [42])),
            "contract_id": CT,
        },
    }
    assert describe_contract(request) == "call ct_2nEcGLJTon…: main(42) amount 5"
    reply = {
        "jsonrpc": "2.0",
        "method": "channels.get.contract_call.reply",
        "params": {
            "data": {
                "caller_id": "ak_x2mdjJG7A7ocKf9T5qiDT1AGzE2RdKeKmH1wntYeDDY113eha",
                "caller_nonce": 3,
                "contract_id": CT,
                "gas_price": 1,
                "gas_used": 11,
                "height": 3,
                "log": [{"address": CT, "topics": [1], "data": _cb(b"x")}],
                "return_type": "ok",
                "return_value": _cb(encode(42)),
            }
        },
    }
    assert describe_contract(reply) == "result ok 42, gas 11, 1 event"
    import json

    frame = Frame.from_message("initiator", "received", json.dumps(reply), seq=1, conn=1)
    assert frame.contract == "result ok 42, gas 11, 1 event"
    assert "[result ok 42, gas 11, 1 event]" in frame.brief()


def test_results_of_every_kind() -> None:
    assert describe_result("revert", _cb(encode("no"))) == "revert 'no'"
    assert describe_result("error", _cb(b"Out of gas")) == "error 'Out of gas'"
    assert describe_result("ok", _cb((21).to_bytes(32, "big"))) == "ok AEVM words [21]"
    assert describe_result("ok", "cb_bad").startswith("ok (return value does not decode")


def test_frames_without_contracts() -> None:
    assert describe_contract({"method": "channels.update.new", "params": {"amount": 1}}) is None
    assert describe_contract([1, 2]) is None
    frame = Frame.from_message(
        "initiator", "sent", '{"method": "channels.get.balances"}', seq=1, conn=1
    )
    assert frame.contract is None


@pytest.mark.shared
def test_recorded_contract_frames_in_the_table() -> None:
    from chan_nb.recording import load

    path = shared_path("recordings", "json-rpc", "contracts", "sc_ws_basic_contracts.md")
    df = load(path).df
    texts = set(df["contract"].dropna())
    assert "result ok 42, gas 11" in texts
    assert any(
        t.startswith("new contract (vm 7, abi 3, deposit 10): init(21); FATE code") for t in texts
    )
    assert any("spend(@ak_" in t for t in texts)
    signs = df[df["method"] == "channels.sign.update"]
    assert signs["contract"].notna().all()
    assert not any(
        "does not decode" in t for t in df[df["kind"] == "response"]["contract"].dropna()
    )
