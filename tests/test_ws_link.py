"""chan_nb.ws_write: WebSocket links on websockets' Sans-I/O protocol, both sides.

The node's side is exercised by every socket test; here the client link on its own:
handshake refusals, the closing handshake, keepalive pings and their timeout.
"""

from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.server import ServerProtocol

from chan_nb import ws_write
from chan_nb.codec.keys import Keypair
from chan_nb.node import EmbeddedNode
from chan_nb.protocol import frames, methods
from tests.node.harness import connect_params


async def test_a_client_link_talks_to_the_node_and_closes_cleanly() -> None:
    async with EmbeddedNode(port=0) as node:
        ikey, rkey = Keypair.generate(), Keypair.generate()
        url = f"{node.url}?{urlencode(connect_params(ikey, rkey, 'responder'))}"
        link = await ws_write.connect(url, ping_interval=0.02)
        assert "fsm_up" in str(await link.recv())
        await link.send(json.dumps(frames.request(methods.SYSTEM, {"action": "ping"}, 5)))
        assert json.loads(await link.recv())["id"] == 5
        await asyncio.sleep(0.1)  # a few keepalive pings, each answered
        assert link.is_open
        await link.close()
        assert link.close_code == 1000
        with pytest.raises(ConnectionClosed):
            await link.recv()
        with pytest.raises(ConnectionClosed):
            await link.send("x")
        assert not link.send_now("x")


async def test_refused_handshakes_and_ports_raise_what_websockets_raises() -> None:
    async with EmbeddedNode(port=0) as node:
        with pytest.raises(InvalidStatus) as caught:
            await ws_write.connect(f"ws://127.0.0.1:{node.port}/other")
        assert caught.value.response.status_code == 404
        port = node.port
    with pytest.raises(OSError):
        await ws_write.connect(f"ws://127.0.0.1:{port}/channel")


async def test_a_peer_that_stops_answering_pings_is_given_up() -> None:
    """A server that completes the handshake, then reads nothing: no pong, close 1011."""

    class Deaf(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            self.transport = transport
            self.ws = ServerProtocol()

        def data_received(self, data: bytes) -> None:
            self.ws.receive_data(data)
            for event in self.ws.events_received():
                self.ws.send_response(self.ws.accept(event))  # type: ignore[arg-type]
                for chunk in self.ws.data_to_send():
                    self.transport.write(chunk)
                self.transport.pause_reading()  # deaf from now on

    loop = asyncio.get_running_loop()
    server = await loop.create_server(Deaf, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        link = await ws_write.connect(
            f"ws://127.0.0.1:{port}/", ping_interval=0.05, ping_timeout=0.2, close_timeout=0.2
        )
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(link.recv(), 10)
        assert link.ws.close_sent is not None and link.ws.close_sent.code == 1011
    finally:
        server.close()
