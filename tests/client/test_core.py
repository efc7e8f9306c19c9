"""The pure client core, fed with the recorded node frames of real sessions."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from chan_nb.client import events as ev
from chan_nb.client.core import ClientProtocol, Status, counter
from chan_nb.client.params import as_role
from chan_nb.recording import Direction, Frame, load
from chan_nb.recording.frame import Kind
from tests.conftest import SAMPLE_SESSION, all_recordings

SEED_I = "ak_Soj4M7ojYxbWvNf8vNYSZZ9TnMWL7r4sF2wUmktKdc8qqC1w2"
SEED_R = "ak_zz66HmMbYFXsfeo6f576yHyCk39sMKSFtbaxP9SyebwfczbYR"
SEED_CHANNEL = "ch_29rmbxczEmFWBx2JFjD2S8YkhPULNwdUFe6NoZuM3HSA1fEKPC"
SEED_FSM_I = "ba_MsyEJ+HzxuXMBs6/Dk9DC12WlRdLbXYpMlQ0OCVajDAhE6Fb"
SEED_FSM_R = "ba_cQiEQGZ/G5WoXg5o0uLYscwXGrxa+WPteqFwxZ7xsmEctG4/"


@dataclass
class Snapshot:
    """The core's state after one record."""

    seq: int
    status: Status
    round: int | None
    balances: dict[str, int] | None
    channel_id: str | None
    fsm_id: str | None
    events: list[ev.Event] = field(default_factory=list)
    expected_channel_id: str | None = None


def feed(frames: list[Frame]) -> tuple[dict[str, ClientProtocol], dict[int, Snapshot]]:
    """Play a recording into one core per role; the state after every record."""
    cores: dict[str, ClientProtocol] = {}
    after: dict[int, Snapshot] = {}
    for frame in frames:
        core = cores.setdefault(frame.role, ClientProtocol(as_role(frame.role)))
        events: list[ev.Event] = []
        if frame.direction is Direction.OPEN:
            events.append(core.opened(frame.raw))
        elif frame.direction is Direction.CLOSE:
            events.append(core.closed())
        elif frame.direction is Direction.SENT:
            core.sent(frame.raw)
        elif frame.direction is Direction.RECEIVED:
            events = core.receive(frame.raw)
        after[frame.seq] = Snapshot(
            frame.seq,
            core.status,
            core.round,
            core.balances,
            core.channel_id,
            core.fsm_id,
            events,
            core.expected_channel_id,
        )
    return cores, after


@pytest.fixture(scope="module")
def seed() -> tuple[dict[str, ClientProtocol], dict[int, Snapshot]]:
    return feed(load(SAMPLE_SESSION).frames)


def test_seed_open_sequence(seed: tuple[dict[str, ClientProtocol], dict[int, Snapshot]]) -> None:
    _, after = seed
    assert after[1].status is Status.CONNECTING
    assert after[2].status is Status.CONNECTED
    assert after[2].fsm_id == SEED_FSM_I and after[2].channel_id is None
    assert after[5].fsm_id == SEED_FSM_R
    assert after[7].status is Status.ACCEPTED  # responder: channel_open
    assert after[9].status is Status.ACCEPTED  # initiator: channel_accept
    assert after[13].channel_id is None  # the initiator's "ok" for initiator_sign is still ∅
    # …but the id the real node then announced follows from the create tx it was asked to
    # sign, so a client cut here can still reconnect to its channel
    first_sign = min(n for n, snap in after.items() if snap.expected_channel_id is not None)
    assert any(isinstance(e, ev.SignRequest) for e in after[first_sign].events)
    assert first_sign < 13 and after[13].expected_channel_id == SEED_CHANNEL
    assert after[14].status is Status.HALF_SIGNED and after[14].channel_id == SEED_CHANNEL
    assert after[19].status is Status.SIGNED and after[19].channel_id == SEED_CHANNEL
    assert after[37].status is Status.OPEN and after[37].round is None
    opened = {SEED_I: 69_999_999_999_999, SEED_R: 40_000_000_000_001}
    assert after[41].round == 1 and after[41].balances == opened  # responder
    assert after[42].round == 1 and after[42].balances == opened  # initiator


def test_seed_balance_reply_before_any_state_is_not_believed(
    seed: tuple[dict[str, ClientProtocol], dict[int, Snapshot]],
) -> None:
    _, after = seed
    (reply,) = after[28].events
    assert isinstance(reply, ev.Result) and reply.answers is not None
    assert reply.answers.method == "channels.get.balances"
    assert reply.answers.rpc_id == -576460752303422687
    # the node's unsigned word: no verified state yet to hash it against, so not taken
    assert after[27].balances is None and after[28].balances is None
    told = {e["account"]: e["balance"] for e in reply.result}
    assert after[42].balances == told  # the same numbers, from the verified create tx


def test_seed_conflict_then_cosigned_update(
    seed: tuple[dict[str, ClientProtocol], dict[int, Snapshot]],
) -> None:
    _, after = seed
    (sign,) = after[45].events
    assert isinstance(sign, ev.SignRequest) and sign.tag == "update"
    assert sign.updates[0]["op"] == "OffChainTransfer" and sign.updates[0]["amount"] == 1
    (conflict,) = after[47].events
    assert isinstance(conflict, ev.Conflict)
    assert (conflict.error_code, conflict.error_msg, conflict.round) == (2, "conflict", 1)
    assert after[47].round == 1
    assert after[47].balances == {SEED_I: 69_999_999_999_999, SEED_R: 40_000_000_000_001}
    assert after[47].status is Status.OPEN
    assert after[51].round == 2
    assert after[51].balances == {SEED_I: 69_999_999_999_998, SEED_R: 40_000_000_000_002}


def test_seed_reconnect_attempts(
    seed: tuple[dict[str, ClientProtocol], dict[int, Snapshot]],
) -> None:
    _, after = seed
    assert after[43].status is Status.DISCONNECTED  # responder closed, its FSM lives on
    expected = {53: 2000, 56: 1016, 59: 1016, 62: 1016}
    for seq, data_code in expected.items():
        (error,) = after[seq].events
        assert isinstance(error, ev.ErrorReply)
        assert error.at_connect and error.rpc_id is None
        assert (error.code, error.data_code) == (3, data_code)
        assert after[seq].fsm_id == SEED_FSM_R  # a rejected attempt changes nothing
    (up,) = after[65].events
    assert isinstance(up, ev.Info) and up.event == "fsm_up" and up.fsm_id == SEED_FSM_R
    assert after[65].status is Status.OPEN  # back where the FSM was
    assert after[65].channel_id == SEED_CHANNEL
    assert after[65].round == 1  # round 2 was made while away: nothing is replayed


def test_seed_close(seed: tuple[dict[str, ClientProtocol], dict[int, Snapshot]]) -> None:
    cores, after = seed
    assert after[76].status is Status.CLOSING
    assert after[81].status is Status.CLOSED
    assert after[82].status is Status.DIED
    assert after[85].status is Status.DIED  # the socket closing does not undo died
    assert cores["initiator"].pending_sign == {} and cores["responder"].pending_sign == {}
    assert cores["initiator"].pending_calls == {} and cores["responder"].pending_calls == {}


def test_sign_request_is_pending_until_answered() -> None:
    frames = load(SAMPLE_SESSION).frames
    core = ClientProtocol("initiator")
    for frame in frames[:11]:
        if frame.role != "initiator":
            continue
        if frame.direction is Direction.OPEN:
            core.opened(frame.raw)
        elif frame.direction is Direction.RECEIVED:
            core.receive(frame.raw)
    assert list(core.pending_sign) == ["initiator_sign"]
    request = core.pending_sign["initiator_sign"]
    out = core.sign_reply(request, request.signed_tx)
    assert core.pending_sign == {}
    assert out.request["method"] == "channels.initiator_sign"
    assert out.request["id"] == 0 and out.call.rpc_id == 0


def test_ids_start_at_zero_and_zero_is_matched() -> None:
    core = ClientProtocol("initiator", next_id=counter(0))
    out = core.request("channels.get.balances", {"accounts": []})
    assert out.request["id"] == 0
    (reply,) = core.receive(json.dumps({"jsonrpc": "2.0", "id": 0, "result": [], "version": 1}))
    assert isinstance(reply, ev.Result) and reply.answers is out.call
    # a second reply with the same id answers nothing
    (again,) = core.receive(json.dumps({"jsonrpc": "2.0", "id": 0, "result": [], "version": 1}))
    assert again.answers is None


def test_idless_error_is_matched_through_the_echoed_request() -> None:
    core = ClientProtocol("initiator")
    first = core.request("channels.update.new", {"amount": "1"}, with_id=False)
    second = core.request("channels.update.new", {"amount": 1, "meta": 17}, with_id=False)
    error = {
        "jsonrpc": "2.0",
        "id": None,
        "channel_id": None,
        "error": {
            "code": 3,
            "message": "Rejected",
            "data": [{"code": 1014, "message": "Invalid meta object"}],
            "request": second.request,
        },
        "version": 1,
    }
    (event,) = core.receive(json.dumps(error))
    assert isinstance(event, ev.ErrorReply)
    assert event.answers is second.call
    assert (event.code, event.data_code, event.data_message) == (3, 1014, "Invalid meta object")
    assert core.idless == [first.call]


def test_batch_reply_gives_one_event_per_item() -> None:
    core = ClientProtocol("initiator")
    a = core.request("channels.get.balances", {"accounts": []})
    b = core.request("channels.system", {"action": "ping"})
    batch = [
        {"jsonrpc": "2.0", "id": a.call.rpc_id, "result": [], "version": 1},
        {"jsonrpc": "2.0", "id": b.call.rpc_id, "result": {"action": "system"}, "version": 1},
    ]
    events = core.receive(json.dumps(batch))
    assert [e.answers for e in events] == [a.call, b.call]


def test_garbage_frames_become_unparsed_events() -> None:
    core = ClientProtocol("responder")
    (event,) = core.receive("not json {")
    assert isinstance(event, ev.Unparsed) and event.text == "not json {"
    (other,) = core.receive("[1]")
    assert isinstance(other, ev.Unparsed)
    assert core.status is Status.DISCONNECTED


def _recording_ids(paths: list[Path]) -> list[str]:
    return [f"{p.parent.name}/{p.name}" for p in paths]


RECORDINGS = all_recordings()


@pytest.mark.shared
@pytest.mark.parametrize("path", RECORDINGS, ids=_recording_ids(RECORDINGS))
def test_every_recording_is_tracked_consistently(path: Path) -> None:
    """Replies match requests, and the tracked state agrees with what the frames say."""
    log = load(path)
    _, after = feed(log.frames)
    last_state_round: dict[str, int | None] = {}
    last_fsm: dict[str, str | None] = {}
    last_channel: dict[str, str | None] = {}
    for frame in log.frames:
        snap = after[frame.seq]
        if frame.direction is Direction.OPEN and "existing_channel_id" not in (frame.params or {}):
            last_state_round[frame.role] = None
            last_fsm[frame.role] = None
            last_channel[frame.role] = None
        if frame.direction is not Direction.RECEIVED:
            continue
        if frame.fsm_id is not None:
            last_fsm[frame.role] = frame.fsm_id
        if frame.channel_id is not None and last_channel.get(frame.role) is None:
            # the first channel id is kept: a later frame naming another channel (real
            # logs have a previous channel's closed_confirmed) cannot change it
            last_channel[frame.role] = frame.channel_id
        if frame.method in ("channels.update", "channels.leave") and frame.round is not None:
            last_state_round[frame.role] = frame.round
        assert snap.fsm_id == last_fsm.get(frame.role), frame.brief()
        assert snap.channel_id == last_channel.get(frame.role), frame.brief()
        if frame.role in last_state_round:
            assert snap.round == last_state_round[frame.role], frame.brief()
        for event in snap.events:
            if isinstance(event, ev.Result):
                assert event.answers is not None, f"unmatched result: {frame.brief()}"
            if isinstance(event, ev.ErrorReply) and not event.at_connect:
                assert event.answers is not None, f"unmatched error: {frame.brief()}"
            balance_reply = (
                isinstance(event, ev.Result)
                and event.answers is not None
                and event.answers.method == "channels.get.balances"
            )
            if balance_reply and snap.balances is not None:
                assert isinstance(event, ev.Result)
                reported = {e["account"]: e["balance"] for e in event.result}
                assert {k: snap.balances.get(k) for k in reported} == reported
        if frame.kind is Kind.NOTIFICATION and frame.event == "died":
            assert snap.status is Status.DIED


@pytest.mark.shared
def test_tracked_balances_are_checked_against_reports() -> None:
    """Across all recordings, tracked balances were compared with many get.balances replies."""
    compared = 0
    for path in RECORDINGS:
        _, after = feed(load(path).frames)
        before: Snapshot | None = None
        for snap in after.values():
            for event in snap.events:
                if (
                    isinstance(event, ev.Result)
                    and event.answers is not None
                    and event.answers.method == "channels.get.balances"
                    and before is not None
                    and before.balances is not None
                ):
                    compared += 1
            before = snap
    assert compared > 100
