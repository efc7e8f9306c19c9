"""The node's limits and its isolation of one client's failures, on the pure core.

Virtual time (the harness's clock), no loop: timers that do not slide, connect-time
validation that cannot raise, the connection and channel limits, a crashing handler or
FSM that costs only its own connection or channel. The same over loopback sockets, with
hostile clients, is ``test_attacks.py``.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from chan_nb.codec.keys import Keypair
from chan_nb.node import NodeConfig
from chan_nb.node.core import HANDLER_CRASHED, Close, NodeCore, Pause
from chan_nb.node.fsm import ChannelFsm, State
from chan_nb.node.params import MAX_INT_DIGITS, MAX_TIMEOUT_MS, Rejection, parse
from chan_nb.protocol import frames, methods
from tests.node.harness import Harness, connect_params, open_channel


def _harness(**config: Any) -> Harness:
    return Harness(NodeCore(NodeConfig(block_interval=None, **config)))


def _transfer(ch: Any, request_id: int) -> dict[str, Any]:
    return frames.request(
        methods.UPDATE_NEW,
        {"from": ch.ikey.address, "to": ch.rkey.address, "amount": 1},
        request_id,
    )


def _fsm(h: Harness, conn: int) -> ChannelFsm:
    machine = h.core.fsm_of(conn)
    assert machine is not None
    return machine


def test_a_postponed_call_does_not_move_the_state_timer() -> None:
    """Issue 13: every retry of a postponed call re-armed the timer (400 ms fired at 2.6 s)."""
    h = _harness()
    ch = open_channel(h, timeout_accept=400)
    h.send(ch.i, _transfer(ch, 10))
    ch.sign_last(ch.i, request_id=11)  # I now waits for R's ack ("accept" timer)
    machine = _fsm(h, ch.i)
    assert machine.state is State.AWAITING_UPDATE_ACK
    deadline = machine.deadline
    assert deadline == pytest.approx(h.now + 0.4)
    actions = h.core.receive(ch.i, frames.encode(frames.request(methods.LEAVE, {}, 12)), h.now)
    assert Pause(ch.i, True) in actions  # the handler blocks: the socket stops being read
    for _ in range(5):  # the node retries the postponed call on every step
        h.now += 0.05
        h.request(ch.r, methods.SYSTEM, {"action": "ping"}, 1)
        assert machine.deadline == deadline
    h.sleep(0.2)  # the timer fires at its own time: the round rolls back, the leave runs
    assert any(f.get("id") == 12 for f in h.inbox[ch.i])


@pytest.mark.parametrize(
    "value",
    ["9" * 5000, "-" + "9" * 5000, "1" * (MAX_INT_DIGITS + 1), str(10**400)],
    ids=["5000-digits", "negative", "just-over", "10^400"],
)
def test_integers_the_node_cannot_hold_close_the_socket_without_a_frame(value: str) -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    for name in ("initiator_amount", "port", "timeout_idle", "nonce", "lock_period"):
        params = {**connect_params(ikey, rkey, "initiator"), name: value}
        h = _harness()
        conn = h.connect(params)
        assert conn in h.closed and not h.inbox[conn]
        assert not h.core.fsms
        h.disconnect(conn)
        assert not h.core.handlers


def test_timeouts_beyond_what_the_node_can_arm_are_refused() -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    base = connect_params(ikey, rkey, "initiator")
    assert not isinstance(parse(_query({**base, "timeout_idle": MAX_TIMEOUT_MS})), Rejection)
    refused = parse(_query({**base, "timeout_idle": MAX_TIMEOUT_MS + 1}))
    assert isinstance(refused, Rejection) and refused.silent


def _query(params: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return f"/channel?{urlencode(params)}"


def test_connections_beyond_the_limit_are_closed_without_a_frame() -> None:
    h = _harness(max_connections=3)
    ikey, rkey = Keypair.generate(), Keypair.generate()
    conns = [h.connect(connect_params(ikey, rkey, "responder", port=5000 + n)) for n in range(4)]
    assert [c in h.closed for c in conns] == [False, False, False, True]
    assert not h.inbox[conns[3]]
    h.disconnect(conns[3])  # the refused socket is gone, and one more client left
    h.disconnect(conns[0])
    again = h.connect(connect_params(ikey, rkey, "responder", port=6000))
    assert again not in h.closed  # a slot freed up


def test_the_channel_limit_counts_live_fsms_and_answers_minus_32603() -> None:
    h = _harness(max_channels=2)
    ch = open_channel(h)  # two FSMs
    conn = h.connect(connect_params(Keypair.generate(), Keypair.generate(), "responder"))
    [error] = h.inbox[conn]
    assert error["error"]["code"] == -32603
    h.sleep(0.01)
    assert conn in h.closed
    assert len(h.core.fsms) == 2 and ch.channel_id


def test_a_crashing_handler_costs_only_its_connection(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    h = _harness()
    bystander = open_channel(h)
    victim = open_channel(h)
    real = frames.parse_client_text

    def explode(text: str | bytes) -> Any:
        if "boom" in str(text):
            raise RuntimeError("a bug in the frame parser")
        return real(text)

    monkeypatch.setattr(frames, "parse_client_text", explode)
    with caplog.at_level(logging.ERROR):
        actions = h.core.receive(victim.i, '{"boom": 1}', h.now)
    assert Close(victim.i, HANDLER_CRASHED) in actions
    assert "crashed" in caplog.text
    # the victim's FSM lost its client (as if the socket closed); everything else goes on
    assert _fsm(h, victim.r).alive
    h.send(bystander.i, _transfer(bystander, 20))
    bystander.sign_last(bystander.i, request_id=21)
    bystander.sign_last(bystander.r, request_id=22)
    assert _fsm(h, bystander.i).cosigned is not None
    assert _fsm(h, bystander.i).cosigned.round == 2  # type: ignore[union-attr]


def test_a_crashing_fsm_ends_only_its_own_channel(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    h = _harness()
    bystander = open_channel(h)
    victim = open_channel(h)
    machine = _fsm(h, victim.i)

    def explode(*args: Any) -> None:
        raise RuntimeError("a bug in the FSM")

    monkeypatch.setattr(machine, "timeout", explode)
    machine.deadline = h.now  # its timer fires next step
    with caplog.at_level(logging.ERROR):
        h.sleep(0.001)
    assert not machine.alive
    assert any(
        f.get("params", {}).get("data", {}).get("event") == "died" for f in h.inbox[victim.i]
    )
    h.sleep(0.2)  # the peer notices its peer's FSM is gone
    assert not _fsm_alive(h, victim.r)
    h.send(bystander.i, _transfer(bystander, 30))
    bystander.sign_last(bystander.i, request_id=31)
    bystander.sign_last(bystander.r, request_id=32)
    assert _fsm(h, bystander.r).cosigned.round == 2  # type: ignore[union-attr]


def _fsm_alive(h: Harness, conn: int) -> bool:
    machine = h.core.fsm_of(conn)
    return machine is not None and machine.alive


def test_limits_that_contradict_each_other_are_refused() -> None:
    with pytest.raises(ValueError, match="output_high_water"):
        NodeConfig(output_high_water=10, output_limit=5)
    with pytest.raises(ValueError, match="max_connections"):
        NodeConfig(max_connections=0)
    with pytest.raises(ValueError, match="send_timeout"):
        NodeConfig(send_timeout=0)
    assert NodeConfig().max_channels == 1000  # the node's channels.max_count
