"""SessionLog API, request/reply pairing, operations with outcomes, balances over rounds."""

from __future__ import annotations

import json

import pytest

from chan_nb.recording import Frame, SessionLog, load
from chan_nb.recording.balances import balance_points
from chan_nb.recording.operations import STATE_FLOWS, Outcome, operations
from chan_nb.recording.pairing import pairs
from tests.conftest import SAMPLE_SESSION, all_recordings, shared_path


@pytest.fixture(scope="module")
def all_logs() -> list[SessionLog]:
    paths = all_recordings()
    if not paths:
        pytest.skip("reference recordings not found (absent ../shared)")
    return [load(path) for path in paths]


def build(*steps: tuple[str, str, object]) -> list[Frame]:
    """Frames from (role, direction, message) with 1-based seqs and conn 1."""
    frames = []
    for seq, (role, direction, message) in enumerate(steps, start=1):
        raw = message if isinstance(message, str) else json.dumps(message)
        if direction == "open":
            frames.append(Frame.opened(role, raw, seq=seq, conn=1))
        else:
            frames.append(
                Frame.from_message(role, direction, raw, seq=seq, conn=1, t_mono=float(seq))
            )
    return frames


def test_pairs_by_id_per_role_and_by_echo_and_reply_method() -> None:
    ping = {"method": "channels.system", "params": {"action": "ping"}}
    bad = {"method": "channels.update.new", "params": {"amount": "1"}}
    frames = build(
        ("initiator", "sent", {"id": 7, "method": "channels.get.balances", "params": {}}),
        ("responder", "sent", {"id": 7, "method": "channels.get.balances", "params": {}}),
        ("responder", "received", {"id": 7, "result": []}),
        ("initiator", "sent", bad),
        (
            "initiator",
            "received",
            {"id": None, "error": {"code": 3, "message": "Rejected", "request": bad}},
        ),
        ("initiator", "sent", ping),
        ("initiator", "received", {"method": "channels.system.pong", "params": {}}),
        ("initiator", "received", {"id": 7, "result": [1]}),
        ("responder", "sent", {"method": "channels.get.poi", "params": {}}),
        ("responder", "received", {"method": "channels.get.poi.reply", "params": {}}),
        ("initiator", "received", {"id": None, "error": {"code": 3, "request": {}}}),
    )
    found = {(p.request_seq, p.reply_seq, p.ok) for p in pairs(frames)}
    assert found == {(1, 8, True), (2, 3, True), (4, 5, False), (6, 7, True), (9, 10, True)}
    latency = next(p for p in pairs(frames) if p.request_seq == 1).latency_s
    assert latency == 7.0


def test_unanswered_request_has_no_reply() -> None:
    frames = build(("initiator", "sent", {"id": 1, "method": "channels.leave", "params": {}}))
    (pair,) = pairs(frames)
    assert (pair.reply_seq, pair.ok, pair.latency_s) == (None, None, None)


def test_update_flow_with_ack_and_outcome() -> None:
    ch = {"channel_id": "ch_1"}
    frames = build(
        ("initiator", "sent", {"method": "channels.update.new", "params": {"amount": 1}}),
        (
            "initiator",
            "received",
            {"method": "channels.sign.update", "params": {**ch, "data": {"signed_tx": "tx_x"}}},
        ),
        ("initiator", "sent", {"id": 5, "method": "channels.update", "params": {}}),
        ("initiator", "received", {"id": 5, "result": "ok", **ch}),
        (
            "responder",
            "received",
            {"method": "channels.info", "params": {**ch, "data": {"event": "update"}}},
        ),
        (
            "responder",
            "received",
            {"method": "channels.sign.update_ack", "params": {**ch, "data": {}}},
        ),
        ("responder", "sent", {"method": "channels.update_ack", "params": {}}),
        ("initiator", "sent", {"id": 6, "method": "channels.get.balances", "params": {}}),
        ("initiator", "received", {"id": 6, "result": [], **ch}),
        ("responder", "received", {"method": "channels.update", "params": {**ch, "data": {}}}),
        ("initiator", "received", {"method": "channels.update", "params": {**ch, "data": {}}}),
    )
    ops = operations(frames)
    update = ops[0]
    assert (update.kind, update.starter, update.outcome) == ("update", "initiator", Outcome.OK)
    assert update.seqs == (1, 2, 3, 4, 5, 6, 7, 10, 11)
    assert update.end_seq == 11
    assert update.latency_s == 10.0
    query = ops[1]
    assert (query.kind, query.outcome, query.seqs) == ("get.balances", Outcome.OK, (8, 9))


def test_rejected_and_conflicting_updates() -> None:
    ch = {"channel_id": "ch_1"}
    frames = build(
        ("initiator", "sent", {"method": "channels.update.new", "params": {"amount": "1"}}),
        (
            "initiator",
            "received",
            {
                "id": None,
                "error": {
                    "code": 3,
                    "message": "Rejected",
                    "data": [{"code": 1008, "message": "Not a number"}],
                    "request": {"method": "channels.update.new", "params": {"amount": "1"}},
                },
            },
        ),
        ("initiator", "sent", {"method": "channels.update.new", "params": {"amount": 1}}),
        ("responder", "sent", {"method": "channels.update.new", "params": {"amount": 2}}),
        ("initiator", "received", {"method": "channels.sign.update", "params": {**ch}}),
        ("responder", "received", {"method": "channels.sign.update", "params": {**ch}}),
        (
            "responder",
            "received",
            {
                "method": "channels.conflict",
                "params": {**ch, "data": {"error_code": 2, "error_msg": "conflict", "round": 1}},
            },
        ),
        (
            "initiator",
            "received",
            {
                "method": "channels.conflict",
                "params": {**ch, "data": {"error_code": 2, "error_msg": "conflict", "round": 1}},
            },
        ),
    )
    ops = operations(frames)
    assert [(o.starter, o.outcome) for o in ops] == [
        ("initiator", Outcome.ERROR),
        ("initiator", Outcome.CONFLICT),
        ("responder", Outcome.CONFLICT),
    ]
    assert ops[0].detail == "Not a number"
    assert ops[1].seqs == (3, 5, 8) and ops[2].seqs == (4, 6, 7)


def test_session_log_views() -> None:
    log = load(SAMPLE_SESSION)
    text = repr(log)
    assert text.startswith("<SessionLog")
    assert "responder:46" in text and "initiator:40" in text and "error:4" in text
    assert len(log.summary().split("\n")) == len(log)
    errors = log.filter(kind="error")
    assert len(errors) == 4 and all(f.kind == "error" for f in errors)
    both = log.filter(role="responder", direction={"open", "close"})
    assert [f.direction for f in both] == ["open", "close"] * 6
    assert len(log.conversation("initiator")) == 40
    assert log.filter(lambda f: f.seq < 5, role="initiator")[0].seq == 1
    assert isinstance(log[2:5], SessionLog) and len(log[2:5]) == 3
    with pytest.raises(KeyError, match="no column"):
        log.filter(colour="red")


def test_sample_operations() -> None:
    log = load(SAMPLE_SESSION)
    ops = log.operations()
    assert log.operations() is ops
    summary = [(o.kind, o.starter, str(o.outcome)) for o in ops if o.kind != "message"]
    assert summary == [
        ("open", "initiator", "ok"),
        ("open", "responder", "ok"),
        ("get.balances", "initiator", "ok"),
        ("update", "initiator", "conflict"),
        ("update", "initiator", "ok"),
        ("reconnect", "responder", "error"),
        ("reconnect", "responder", "error"),
        ("reconnect", "responder", "error"),
        ("reconnect", "responder", "error"),
        ("reconnect", "responder", "ok"),
        ("shutdown", "responder", "ok"),
    ]
    reconnects = [o for o in ops if o.kind == "reconnect"]
    assert [o.detail for o in reconnects[:2]] == [
        "Missing field: existing_fsm_id",
        "Invalid fsm id",
    ]
    table = log.operations_df()
    assert len(table) == len(ops)
    assert str(table["outcome"].dtype) == "category"
    annotated = log.with_ops()
    assert annotated["op_id"].notna().all()  # every record of this session is explained
    assert annotated.loc[annotated["seq"] == 47, "outcome"].item() == "conflict"


def test_balances_replay_matches_replies() -> None:
    log = load(SAMPLE_SESSION)
    df = log.balances()
    state = df[df["source"] == "state"]
    assert state["round"].tolist() == [1, 1, 2, 2]
    assert [type(v) for v in state["balance"]] == [int] * 4
    round2 = dict(
        zip(
            state[state["round"] == 2]["account"],
            state[state["round"] == 2]["balance"],
            strict=True,
        )
    )
    assert sorted(round2.values()) == [40000000000002, 69999999999998]
    reply = df[df["source"] == "reply"]
    assert sorted(reply["balance"]) == [40000000000001, 69999999999999]


def test_balances_follow_deposits_exactly() -> None:
    path = shared_path("recordings", "json-rpc", "changeable_fee", "sc_ws_set_fee_deposit.md")
    log = load(path)
    state = [p for p in balance_points(log.frames) if p.source == "state"]
    by_round: dict[int, dict[str, int]] = {}
    for point in state:
        assert point.round is not None  # replayed states always know their round
        by_round.setdefault(point.round, {})[point.account] = point.balance
    assert sorted(by_round) == [1, 2, 3]
    initiator, responder = sorted(by_round[1], key=lambda a: -by_round[1][a])
    deposits = [f for f in log if f.method == "channels.deposit" and f.amount is not None]
    assert [(f.role, f.amount) for f in deposits] == [("initiator", 2), ("responder", 2)]
    assert by_round[2][initiator] - by_round[1][initiator] == 2
    assert by_round[2][responder] == by_round[1][responder]
    assert by_round[3][responder] - by_round[2][responder] == 2
    assert all(type(v) is int for r in by_round.values() for v in r.values())


def test_audit_reports_per_frame() -> None:
    log = load(SAMPLE_SESSION)
    report = log.audit()
    assert report.txs > 0
    assert report.ok, [str(p) for p in report.problems]
    seqs = {f.seq for f in log}
    assert all(finding.seq in seqs for finding in report.findings)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "abort_updates/sc_ws_abort_offchain_update.md",
            [("initiator", "aborted"), ("responder", "aborted"), ("initiator", "conflict")],
        ),
        (
            "both_sign/conflicts/sc_ws_conflict_two_offchain_updates.md",
            [
                ("initiator", "conflict"),
                ("responder", "conflict"),
                ("responder", "conflict"),
                ("initiator", "conflict"),
            ],
        ),
        (
            "only_one_signs/sc_ws_conflict_snapshot_and_offchain_update.md",
            [
                ("initiator", "ok"),
                ("responder", "ok"),
                ("initiator", "conflict"),
                ("responder", "conflict"),
            ],
        ),
    ],
)
def test_update_outcomes_in_recordings(name: str, expected: list[tuple[str, str]]) -> None:
    log = load(shared_path("recordings", "json-rpc", *name.split("/")))
    got = [(o.starter, str(o.outcome)) for o in log.operations() if o.kind == "update"]
    assert got == expected


def test_every_state_flow_in_every_recording_has_an_outcome(all_logs: list[SessionLog]) -> None:
    checked = 0
    for log in all_logs:
        frames = {f.seq: f for f in log}
        for op in log.operations():
            if op.kind not in STATE_FLOWS:
                continue
            checked += 1
            assert op.outcome is not Outcome.INCOMPLETE, (log.name, op)
            end = frames[op.end_seq] if op.end_seq is not None else None
            assert end is not None and end.role == op.starter, (log.name, op)
            if op.outcome is Outcome.OK:
                assert end.method == "channels.update" and end.round == op.round, (log.name, op)
            if op.outcome is Outcome.CONFLICT:
                assert end.method == "channels.conflict"
    assert checked > 2000


def test_replayed_balances_agree_with_every_balance_reply(all_logs: list[SessionLog]) -> None:
    compared = 0
    for log in all_logs:
        state: dict[tuple[str | None, str], int] = {}
        for point in balance_points(log.frames):
            key = (point.channel_id, point.account)
            if point.source == "state":
                state[key] = point.balance
            elif key in state:
                assert state[key] == point.balance, (log.name, point)
                compared += 1
    assert compared > 400
