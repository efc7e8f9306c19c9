"""A session against a scripted transport: what it does with frames no node would send."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from chan_nb.client import (
    ChannelParams,
    ConnectionLost,
    NodeError,
    PolicyViolation,
    Session,
    Signer,
    Timeout,
)
from chan_nb.client import events as ev
from chan_nb.client.ledger import state_hash_of
from chan_nb.client.transport import Disconnected
from chan_nb.codec import txs
from chan_nb.codec.ids import Id
from chan_nb.codec.keys import Keypair


class Scripted:
    """A transport whose node is the test: frames are pushed in, sent ones collected."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.urls: list[str] = []

    async def connect(self, url: str) -> Scripted:
        self.urls.append(url)
        return self

    def send_now(self, text: str) -> bool:
        return False

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))

    async def recv(self) -> str:
        item = await self.inbox.get()
        if item is None:
            raise Disconnected("closed by the script", by_peer=True)
        return item

    async def close(self) -> None:
        self.inbox.put_nowait(None)

    def push(self, frame: dict[str, Any]) -> None:
        self.inbox.put_nowait(json.dumps(frame))


def info(event: str, **data: Any) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "method": "channels.info",
        "params": {"channel_id": None, "data": {"event": event, **data}},
        "version": 1,
    }


@pytest.fixture
def session() -> tuple[Session, Scripted]:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    terms = ChannelParams(ikey.address, rkey.address, 10, 10)
    script = Scripted()
    made = Session(
        "initiator", terms, ikey, url="ws://nowhere", network_id="x", transport=script, timeout=2
    )
    return made, script


async def test_garbage_sign_request_is_refused_and_the_reader_goes_on(
    session: tuple[Session, Scripted],
) -> None:
    s, script = session
    script.push(info("fsm_up", fsm_id="ba_x"))
    up = await s.connect()
    assert up.fsm_id == "ba_x" and s.fsm_id == "ba_x"
    assert "role=initiator" in script.urls[0] and "host=localhost" in script.urls[0]
    script.push(
        {
            "jsonrpc": "2.0",
            "method": "channels.sign.update_ack",
            "params": {"channel_id": "ch_x", "data": {"signed_tx": "tx_garbage", "updates": []}},
            "version": 1,
        }
    )
    refused = await s.wait_for("refused", timeout=2)
    assert isinstance(refused, ev.Refused) and refused.aborted_with == 147
    assert refused.problems[0].startswith("undecodable request")
    assert script.sent[-1]["method"] == "channels.update_ack"
    assert script.sent[-1]["params"] == {"error": 147}
    script.push(info("open"))
    await s.wait_for("open", timeout=2)
    assert s.status.value == "open" and s.channel_id == "ch_x"
    await s.close()
    assert not s.connected


async def test_connect_time_error_and_silent_close(session: tuple[Session, Scripted]) -> None:
    s, script = session
    script.push(
        {
            "jsonrpc": "2.0",
            "id": None,
            "channel_id": None,
            "error": {
                "code": 3,
                "message": "Rejected",
                "data": [{"code": 1011, "message": "Participant not found"}],
                "request": {},
            },
            "version": 1,
        }
    )
    script.inbox.put_nowait(None)  # the node closes right after
    with pytest.raises(NodeError) as rejected:
        await s.connect()
    assert (rejected.value.code, rejected.value.data_code) == (3, 1011)
    assert "initiator: fsm_up (initiator)" in str(rejected.value)
    assert not s.connected
    script.inbox.put_nowait(None)  # silent close: no frame at all
    with pytest.raises(ConnectionLost, match="closed by the node before fsm_up"):
        await s.connect()


async def test_no_fsm_up_times_out_naming_it(session: tuple[Session, Scripted]) -> None:
    s, _ = session
    with pytest.raises(Timeout, match=r"fsm_up \(initiator\)"):
        await s.connect(timeout=0.05)
    await s.close()


async def test_a_second_connect_is_refused(session: tuple[Session, Scripted]) -> None:
    s, script = session
    script.push(info("fsm_up", fsm_id="ba_x"))
    await s.connect()
    with pytest.raises(Exception, match="already connected"):
        await s.connect()
    await s.close()


async def test_open_fails_fast_when_the_create_tx_is_not_what_was_agreed() -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    agreed = ChannelParams(ikey.address, rkey.address, 10, 10)
    script = Scripted()
    responder = Session(
        "responder", agreed, rkey, url="ws://nowhere", network_id="x", transport=script, timeout=2
    )
    greedy = txs.ChannelCreateTx(
        initiator_id=Id.account(ikey.public_key),
        initiator_amount=10,
        responder_id=Id.account(rkey.public_key),
        responder_amount=1,
        channel_reserve=0,
        lock_period=10,
        ttl=0,
        fee=20_000,
        state_hash=state_hash_of({ikey.address: 10, rkey.address: 1}),
        nonce=1,
    )
    signed = Signer(ikey, "x").sign(txs.SignedTx.wrap(greedy))
    script.push(info("fsm_up", fsm_id="ba_r"))
    script.push(
        {
            "jsonrpc": "2.0",
            "method": "channels.sign.responder_sign",
            "params": {"channel_id": None, "data": {"signed_tx": signed.to_api(), "updates": []}},
            "version": 1,
        }
    )
    with pytest.raises(PolicyViolation) as refused:
        await responder.open()
    assert refused.value.aborted_with is None  # a create tx cannot be aborted: left unsigned
    assert refused.value.problems == (
        "create tx responder_amount is 1, the channel was opened with 10",
    )
    assert all(sent["method"] != "channels.responder_sign" for sent in script.sent)
    await responder.close()


async def test_a_signing_request_is_an_event_even_when_its_reply_cannot_go_out(
    session: tuple[Session, Scripted],
) -> None:
    s, script = session
    script.push(info("fsm_up", fsm_id="ba_x"))
    await s.connect()

    async def closed_send(text: str) -> None:
        raise Disconnected("socket closed", by_peer=True)

    script.send = closed_send  # type: ignore[method-assign]  # the socket went meanwhile
    script.push(
        {
            "jsonrpc": "2.0",
            "method": "channels.sign.update_ack",
            "params": {"channel_id": "ch_x", "data": {"signed_tx": "tx_garbage", "updates": []}},
            "version": 1,
        }
    )
    closed = await s.wait_for(ev.Closed, timeout=2)
    assert isinstance(closed, ev.Closed)
    seen = [e for e in s.events if isinstance(e, ev.SignRequest)]
    assert [e.tag for e in seen] == ["update_ack"]
    assert s.events.index(seen[0]) < s.events.index(closed)
