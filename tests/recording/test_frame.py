"""The Frame record: classification, exact ints, derived columns, and the schema."""

from __future__ import annotations

import dataclasses
import json

import pytest

from chan_nb.recording import COLUMNS, SCHEMA, Direction, Frame, Kind, load, schema_markdown
from chan_nb.recording.frame import PRIMARY_COLUMNS
from tests.conftest import SAMPLE_SESSION

BIG = 2**63 + 12345  # amounts and ids exceed int64


def sent(message: object, **kw: object) -> Frame:
    return Frame.from_message("initiator", "sent", json.dumps(message), seq=1, conn=1, **kw)  # type: ignore[arg-type]


def received(message: object, role: str = "initiator") -> Frame:
    return Frame.from_message(role, Direction.RECEIVED, json.dumps(message), seq=2, conn=1)


def test_request_keeps_exact_ids_and_amounts() -> None:
    frame = sent(
        {
            "id": -576460752303422689,
            "jsonrpc": "2.0",
            "method": "channels.update.new",
            "params": {"from": "ak_x", "to": "ak_y", "amount": BIG},
        }
    )
    assert frame.kind is Kind.REQUEST
    assert frame.method == "channels.update.new"
    assert frame.rpc_id == -576460752303422689 and isinstance(frame.rpc_id, int)
    assert frame.amount == BIG and isinstance(frame.amount, int)


@pytest.mark.parametrize(
    ("rpc_id", "expected"),
    [(0, 0), (BIG, BIG), (-1, -1), ("abc", "abc"), (None, None), ([1, 2], "[1, 2]")],
)
def test_rpc_id_forms(rpc_id: object, expected: object) -> None:
    frame = received({"id": rpc_id, "jsonrpc": "2.0", "result": "ok", "version": 1})
    assert frame.kind is Kind.RESPONSE
    assert frame.rpc_id == expected


def test_id_zero_is_not_absent() -> None:
    assert sent({"id": 0, "method": "channels.system"}).rpc_id == 0
    assert sent({"method": "channels.system"}).rpc_id is None


def test_amount_that_is_a_string_or_bool_is_not_an_amount() -> None:
    assert sent({"method": "channels.deposit", "params": {"amount": "2"}}).amount is None
    assert sent({"method": "channels.deposit", "params": {"amount": True}}).amount is None


def test_notification_fields() -> None:
    frame = received(
        {
            "jsonrpc": "2.0",
            "method": "channels.info",
            "params": {"channel_id": "ch_abc", "data": {"event": "fsm_up", "fsm_id": "ba_xyz"}},
            "version": 1,
        }
    )
    assert (frame.kind, frame.event, frame.channel_id, frame.fsm_id) == (
        Kind.NOTIFICATION,
        "fsm_up",
        "ch_abc",
        "ba_xyz",
    )
    chain = received(
        {
            "method": "channels.on_chain_tx",
            "params": {"channel_id": None, "data": {"info": "funding_created", "tx": "tx_bad"}},
        }
    )
    assert chain.info == "funding_created"
    assert chain.channel_id is None
    assert chain.tx == "tx_bad"


def test_response_channel_id_is_top_level() -> None:
    frame = received({"channel_id": "ch_top", "id": 1, "result": "ok"})
    assert frame.channel_id == "ch_top"


def test_error_frame_fields() -> None:
    frame = received(
        {
            "channel_id": None,
            "id": None,
            "jsonrpc": "2.0",
            "error": {
                "code": 3,
                "message": "Rejected",
                "data": [{"code": 1001, "message": "Insufficient balance"}],
                "request": {"method": "channels.update.new"},
            },
            "version": 1,
        }
    )
    assert frame.kind is Kind.ERROR
    assert (frame.error_code, frame.error_message) == (3, "Rejected")
    assert (frame.error_data_code, frame.error_data_message) == (1001, "Insufficient balance")
    assert frame.rpc_id is None


def test_conflict_and_channel_error_fields() -> None:
    conflict = received(
        {
            "method": "channels.conflict",
            "params": {
                "channel_id": "ch_a",
                "data": {"error_code": 2, "error_msg": "conflict", "round": 7},
            },
        }
    )
    assert (conflict.error_code, conflict.error_message, conflict.round) == (2, "conflict", 7)
    error = received({"method": "channels.error", "params": {"data": {"message": "bad_signature"}}})
    assert error.error_message == "bad_signature"


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("[1, 2]", Kind.BATCH),
        ("42", Kind.OTHER),
        ("{not json", Kind.INVALID),
        ('{"jsonrpc": "2.0"}', Kind.OTHER),
    ],
)
def test_unusual_frames_are_kept_and_classified(raw: str, kind: Kind) -> None:
    frame = Frame.from_message("initiator", "received", raw, seq=1, conn=1)
    assert frame.kind is kind
    assert frame.raw == raw
    assert frame.size == len(raw)


def test_size_counts_utf8_bytes() -> None:
    raw = json.dumps(
        {"method": "channels.message", "params": {"info": "héllo ✓"}}, ensure_ascii=False
    )
    frame = Frame.from_message("initiator", "sent", raw, seq=1, conn=1)
    assert frame.size == len(frame.raw.encode("utf-8")) > len(frame.raw)


def test_open_parses_url_params() -> None:
    url = (
        "ws://localhost:3014/channel?existing_channel_id=ch_abc"
        "&existing_fsm_id=ba_5aWi%2FkLQ%2B%3D&role=responder&protocol=json-rpc&port=13180"
    )
    frame = Frame.opened("responder", url, seq=1, conn=2)
    assert frame.direction is Direction.OPEN
    assert frame.url == url == frame.raw
    assert frame.params is not None
    assert frame.params["existing_fsm_id"] == "ba_5aWi/kLQ+="
    assert (frame.channel_id, frame.fsm_id) == ("ch_abc", "ba_5aWi/kLQ+=")
    assert frame.kind is None and frame.message is None


def test_close_and_note() -> None:
    closed = Frame.closed("initiator", seq=3, conn=1)
    note = Frame.note("initiator", "The local fsm has been started", seq=4, conn=1)
    assert (closed.direction, closed.raw, closed.size) == (Direction.CLOSE, "", 0)
    assert note.direction is Direction.INFO and note.raw.startswith("The local")
    assert not closed.is_frame and not note.is_frame


def test_from_message_rejects_socket_events() -> None:
    with pytest.raises(ValueError, match="sent or received"):
        Frame.from_message("initiator", "open", "ws://x", seq=1, conn=1)


def test_equality_is_on_primary_fields_not_provenance() -> None:
    a = Frame.from_message("initiator", "sent", '{"method": "m"}', seq=1, conn=1, line=10)
    b = Frame.from_message("initiator", "sent", '{"method": "m"}', seq=1, conn=1, line=99)
    c = Frame.from_message("initiator", "sent", '{"method": "m"}', seq=1, conn=2)
    assert a == b
    assert a != c
    assert hash(a) == hash(b)


def test_replace_rederives() -> None:
    frame = sent({"method": "channels.leave", "params": {}})
    other = dataclasses.replace(frame, raw='{"method": "channels.shutdown", "params": {}}')
    assert other.method == "channels.shutdown"


def test_frames_are_frozen() -> None:
    frame = sent({"method": "channels.leave"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        frame.seq = 5  # type: ignore[misc]


def test_schema_is_the_single_source_of_truth() -> None:
    fields = {f.name: f for f in dataclasses.fields(Frame)}
    assert set(COLUMNS) <= set(fields)
    assert [c.name for c in SCHEMA] == list(COLUMNS)
    for name in PRIMARY_COLUMNS:
        assert fields[name].init, name
    for name, f in fields.items():
        if not f.init:
            assert name in COLUMNS, f"derived field {name} missing from SCHEMA"
    table = schema_markdown()
    for name in COLUMNS:
        assert f"`{name}`" in table


def test_tx_type_and_round_decoded_from_a_real_session() -> None:
    log = load(SAMPLE_SESSION)
    create = next(f for f in log if f.method == "channels.sign.initiator_sign")
    assert (create.tx_type, create.round, create.tx_error) == ("channel_create_tx", 1, None)
    update = next(f for f in log if f.method == "channels.sign.update")
    assert update.tx_type == "channel_offchain_tx"
    assert update.round == 2


def test_undecodable_tx_is_reported_not_raised() -> None:
    frame = received({"method": "channels.update", "params": {"data": {"state": "tx_AAAA"}}})
    assert frame.tx == "tx_AAAA"
    assert frame.tx_type is None
    assert frame.tx_error


def test_decoding_can_be_switched_off() -> None:
    text = SAMPLE_SESSION.read_text()
    log_off = load(SAMPLE_SESSION, decode_txs=False)
    assert any(f.tx for f in log_off)
    assert all(f.tx_type is None for f in log_off)
    assert "tx_" in text


def test_brief_mentions_the_essentials() -> None:
    frame = received(
        {
            "id": None,
            "error": {
                "code": 3,
                "message": "Rejected",
                "data": [{"code": 1008, "message": "Not a number"}],
            },
        }
    )
    text = frame.brief()
    assert "error=3" in text and "1008" in text and "Not a number" in text


def test_a_tx_field_that_is_not_a_tx_string_is_kept_undecoded() -> None:
    frame = received({"method": "channels.sign.update", "params": {"data": {"signed_tx": "oops"}}})
    assert (frame.tx, frame.tx_type, frame.tx_error) == ("oops", None, None)
    result = received({"id": 1, "result": {"signed_tx": "", "state": "tx_AAAA"}})
    assert result.tx == "tx_AAAA"
