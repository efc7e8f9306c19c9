"""Fuzzing the embedded node over real loopback WebSockets.

The pure core is fuzzed in depth by ``tests/node/test_fuzz.py``; this adds what only a socket
has: binary frames, invalid UTF-8, frames over the node's size limit (4 MiB), junk
query strings and paths, connections that claim an existing channel with a wrong fsm
id, and connections dropped mid-stream. Two channels (minimal signing clients on the
node's loop) stand by: after every example the node still answers, channel A's state
is what it was, and channel B still makes transfers.
"""

from __future__ import annotations

import json
import string
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection, connect

from benchmarks.peers import SigningPeer
from benchmarks.peers import open_signing_pair as open_pair
from chan_nb.codec import encoding
from chan_nb.node import ThreadedNode
from chan_nb.protocol import frames, methods
from tests.node.test_fuzz import HUGE, TALLY, check_node_frame, report_tally

#: examples over sockets (each opens one or more real connections)
SOCKET_CASES = 60
MAX_FRAME = 2**22  # the embedded node's max_size

pytestmark = pytest.mark.slow


def _query(a: tuple[SigningPeer, SigningPeer], **changes: Any) -> str:
    initiator, responder = a
    params = {
        "protocol": "json-rpc",
        "role": "responder",
        "initiator_id": initiator.key.address,
        "responder_id": responder.key.address,
        "initiator_amount": "1000",
        "responder_amount": "1000",
        "channel_reserve": "1",
        "push_amount": "0",
        "lock_period": "1",
        "port": "31000",
    }
    params.update({k: v for k, v in changes.items() if v is not None})
    return urlencode({k: v for k, v in params.items() if v != "<drop>"})


payloads = st.one_of(
    st.text(max_size=300),
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"\xff\xfe\xfd",  # sent as a binary frame
            json.dumps(frames.request(methods.SYSTEM, {"action": "ping"}, 1)),
            json.dumps(frames.request(methods.GET_BALANCES, {"accounts": [1, 2]}, "x")),
            json.dumps([frames.request(methods.SYSTEM, {"action": "ping"})] * 20),
            json.dumps(frames.request(methods.UPDATE_NEW, {"amount": 2**80}, 3)),
            json.dumps(frames.request("channels.nope", None, -1)),
        ]
    ),
    st.sampled_from([MAX_FRAME - 200, MAX_FRAME + 1, 5_000_000]).map(
        lambda n: json.dumps({"jsonrpc": "2.0", "method": "channels.message", "pad": "x" * n})
    ),
)


@st.composite
def attempts(draw: st.DrawFn) -> dict[str, Any]:
    # half the attempts get a socket the node keeps open, so that payloads reach it
    kind = draw(st.sampled_from(["fresh"] * 4 + ["wrong_fsm_id", "junk_query", "junk_path"]))
    return {
        "kind": kind,
        "role": draw(st.sampled_from(["responder"] * 3 + ["initiator", "both", "x"])),
        "amount": draw(st.sampled_from(["1000"] * 3 + ["-5", str(HUGE[1]), "1e3", ""])),
        "junk": draw(st.text(string.printable, max_size=60)),
        "payloads": draw(st.lists(payloads, max_size=4)),
        "hang_up": draw(st.booleans()),
    }


def _url(node: ThreadedNode, a: tuple[SigningPeer, SigningPeer], attempt: dict[str, Any]) -> str:
    base = node.url
    kind = attempt["kind"]
    if kind == "fresh":
        return f"{base}?{_query(a, role=attempt['role'], initiator_amount=attempt['amount'])}"
    if kind == "wrong_fsm_id":
        assert a[0].channel_id is not None
        fsm_id = encoding.encode("ba", bytes(32))
        query = _query(a, existing_channel_id=a[0].channel_id, existing_fsm_id=fsm_id)
        return f"{base}?{query}"
    if kind == "junk_query":
        return f"{base}?{quote(attempt['junk'], safe='=&;')}"  # junk, but a valid URI
    return base.replace("/channel", "/" + "".join(c for c in attempt["junk"] if c.isalnum()))


def _drain(ws: ClientConnection) -> list[str | bytes]:
    """What the node sends until it goes quiet (or closes)."""
    got: list[str | bytes] = []
    try:
        while True:
            got.append(ws.recv(timeout=0.01))
    except (TimeoutError, ConnectionClosed):
        pass
    return got


def _try(node: ThreadedNode, a: tuple[SigningPeer, SigningPeer], attempt: dict[str, Any]) -> None:
    url = _url(node, a, attempt)
    try:
        ws = connect(url, max_size=None, open_timeout=5, compression=None)
    except (InvalidHandshake, ValueError, OSError):
        TALLY["socket: handshake refused"] += 1
        return
    with ws:
        received = _drain(ws)
        for payload in attempt["payloads"]:
            try:
                ws.send(payload)
            except ConnectionClosed:
                break
            received += _drain(ws)
        for text in received:
            assert isinstance(text, str), "the node sends text frames only"
            check_node_frame(text)
        code = ws.protocol.close_code
        if code is not None:
            TALLY[f"socket: closed by the node ({code})"] += 1
            assert code in (1000, 1007, 1009), f"unexpected close code {code}"
        else:
            TALLY["socket: still open"] += 1
        if attempt["hang_up"]:
            ws.close_socket()  # no close handshake


def _state(node: ThreadedNode, channel_id: str | None) -> object:
    assert node.node is not None and channel_id is not None
    raw = encoding.decode(channel_id, "ch")
    core = node.node.core

    def read() -> object:
        rounds = sorted(
            (f.role.value, f.cosigned.round, sorted(f.cosigned.balances.items()))
            for f in core.fsms
            if f.channel_id == raw and f.cosigned is not None
        )
        chain = core.chain.channel(raw)
        return rounds, chain.amount if chain else None

    return node.run(_call(read))


async def _call(fn: Any) -> Any:
    return fn()


def test_socket_junk_never_hurts_the_node_or_other_channels() -> None:
    with ThreadedNode(port=0, minimum_depth=0) as node:
        a = node.run(open_pair(node.url, node.network_id, 31000))
        b = node.run(open_pair(node.url, node.network_id, 32000))
        before = _state(node, a[0].channel_id)
        examples = {"n": 0}

        @settings(
            max_examples=SOCKET_CASES,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(st.lists(attempts(), min_size=1, max_size=3))
        def run(plan: list[dict[str, Any]]) -> None:
            examples["n"] += 1
            TALLY["examples: sockets"] += 1
            for attempt in plan:
                _try(node, a, attempt)
            # channel B is unaffected: it still completes a round
            rounds = b[0].updates
            node.run(b[0].transfer(b[1].key.address, 1))
            assert b[0].updates == rounds + 1
            assert _state(node, a[0].channel_id) == before, "channel A changed"

        run()
        assert examples["n"] >= SOCKET_CASES
        assert "conflict" not in a[0].events + a[1].events + b[0].events + b[1].events
        for peer in (*a, *b):
            node.run(peer.close())
    report_tally()


@pytest.mark.parametrize(
    ("payload", "text", "code"),
    [("x" * (MAX_FRAME + 1), None, 1009), (b"{\xff\xfe}", True, 1007)],
    ids=["oversized", "invalid-utf8"],
)
def test_an_oversized_or_broken_frame_closes_only_its_socket(
    payload: str | bytes, text: bool | None, code: int
) -> None:
    with ThreadedNode(port=0, minimum_depth=0) as node:
        a = node.run(open_pair(node.url, node.network_id, 31000))
        with connect(f"{node.url}?{_query(a)}", max_size=None, compression=None) as ws:
            assert "fsm_up" in str(ws.recv(timeout=5))
            ws.send(payload, text=text)
            with pytest.raises(ConnectionClosed):
                ws.recv(timeout=5)
            assert ws.protocol.close_code == code
        node.run(a[0].transfer(a[1].key.address, 1))  # the channel next to it is fine
        assert a[0].updates == a[1].updates == 2
        for peer in a:
            node.run(peer.close())
