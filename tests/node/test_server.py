"""The embedded node's I/O: real loopback WebSockets, in-memory connections, the thread variant."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from benchmarks.peers import open_signing_pair as open_pair
from chan_nb.codec.keys import Keypair
from chan_nb.node import ConnectionClosed, EmbeddedNode, ThreadedNode
from chan_nb.protocol import frames, methods
from tests.node.harness import connect_params, sign_reply


async def test_two_clients_open_transfer_and_close_over_real_sockets() -> None:
    async with EmbeddedNode(port=0) as node:
        assert node.url.startswith("ws://127.0.0.1:") and node.port
        initiator, responder = await open_pair(node.url, node.network_id, 4001)
        for n in range(6):
            payer, payee = (initiator, responder) if n % 2 == 0 else (responder, initiator)
            await payer.transfer(payee.key.address, amount=n + 1)
        assert initiator.updates == responder.updates == 7  # open + 6 rounds
        assert "conflict" not in initiator.events
        fsm = node.core.fsms[0]
        assert fsm.cosigned is not None and fsm.cosigned.round == 7
        assert sum(fsm.cosigned.balances.values()) == 2 * 10**18
        await initiator.close()
        await responder.close()


async def test_the_socket_closes_after_died_and_on_connect_errors() -> None:
    async with EmbeddedNode(port=0) as node:
        ikey, rkey = Keypair.generate(), Keypair.generate()
        bad = connect_params(ikey, rkey, "initiator", channel_reserve=-1)
        async with connect(f"{node.url}?{urlencode(bad)}") as ws:
            frame = json.loads(await ws.recv())
            assert frame["error"]["data"][0]["code"] == 105
            await asyncio.wait_for(ws.wait_closed(), 2)
        lone = connect_params(ikey, rkey, "initiator", timeout_accept=100)
        async with connect(f"{node.url}?{urlencode(lone)}") as ws:
            events = [json.loads(await ws.recv())["params"]["data"]["event"] for _ in range(3)]
            assert events == ["fsm_up", "timeout", "died"]
            await asyncio.wait_for(ws.wait_closed(), 2)


async def test_other_paths_are_not_found() -> None:
    async with EmbeddedNode(port=0) as node:
        with pytest.raises(InvalidStatus) as caught:
            async with connect(f"ws://127.0.0.1:{node.port}/other"):
                pass
        assert caught.value.response.status_code == 404


async def test_memory_connections_need_no_sockets() -> None:
    async with EmbeddedNode(serve_sockets=False, block_interval=0.001) as node:
        ikey, rkey = Keypair.generate(), Keypair.generate()
        i = node.connect_memory(urlencode(connect_params(ikey, rkey, "initiator")))
        r = node.connect_memory(urlencode(connect_params(ikey, rkey, "responder")))
        keys = {i: ikey, r: rkey}
        opened: set[object] = set()

        async def serve(conn: object) -> None:
            assert isinstance(conn, type(i))
            async for text in conn:
                frame = json.loads(text)
                method = frame.get("method", "")
                if method.startswith(methods.SIGN_PREFIX):
                    await conn.send(sign_reply(frame, [keys[conn]], node.network_id))
                elif method == methods.UPDATE:
                    opened.add(conn)
                    return

        await asyncio.wait_for(asyncio.gather(serve(i), serve(r)), 10)
        assert opened == {i, r}
        await i.send(json.dumps(frames.request(methods.SYSTEM, {"action": "stop"}, 0)))
        replies = [json.loads(await i.recv()) for _ in range(2)]
        assert replies[0]["id"] == 0 and replies[1]["params"]["data"]["event"] == "died"
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(i.recv(), 2)
        await r.close()


def test_the_threaded_node_serves_synchronous_code() -> None:
    with ThreadedNode(port=0, block_interval=None) as node:
        assert node.running
        assert threading.current_thread() is threading.main_thread()
        key = Keypair.generate()
        node.fund(key.address, 123)
        assert node.balance(key.address) == 123
        node.mine(2)

        async def ping() -> dict[str, object]:
            params = connect_params(key, Keypair.generate(), "responder")
            async with connect(f"{node.url}?{urlencode(params)}") as ws:
                await ws.recv()  # fsm_up
                await ws.send(json.dumps(frames.request(methods.SYSTEM, {"action": "ping"}, 5)))
                reply: dict[str, object] = json.loads(await ws.recv())
                return reply

        reply = asyncio.run(ping())
        assert reply["id"] == 5 and reply["result"] == {"action": "system", "tag": "pong"}
    assert not node.running


def test_the_cli_serves_until_interrupted() -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-m", "chan_nb", "node", "--port", "0", "--network-id", "my_net"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on ws://127.0.0.1:" in line and "network id my_net" in line
        url = line.split("listening on ", 1)[1].split()[0]

        async def probe() -> str:
            ikey, rkey = Keypair.generate(), Keypair.generate()
            async with connect(f"{url}?{urlencode(connect_params(ikey, rkey, 'responder'))}") as ws:
                event: str = json.loads(await ws.recv())["params"]["data"]["event"]
                return event

        assert asyncio.run(probe()) == "fsm_up"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


async def test_memory_close_wakes_a_pending_reader() -> None:
    import asyncio

    from chan_nb.node import ConnectionClosed, EmbeddedNode

    async with EmbeddedNode(serve_sockets=False) as node:
        # a responder alone: fsm_up, then it waits for an initiator that never comes
        conn = node.connect_memory(
            urlencode(connect_params(Keypair.generate(), Keypair.generate(), "responder"))
        )
        assert "fsm_up" in await asyncio.wait_for(conn.recv(), 2)
        reader = asyncio.create_task(conn.recv())
        await asyncio.sleep(0.05)
        assert not reader.done()
        await conn.close()
        try:
            await asyncio.wait_for(reader, 2)
        except ConnectionClosed:
            pass
        else:
            raise AssertionError("recv() returned a frame after close()")


async def _connect_error(node: Any, query: dict[str, Any]) -> dict[str, Any]:
    import asyncio

    from chan_nb.node import ConnectionClosed

    conn = node.connect_memory(urlencode(query))
    frame = json.loads(await asyncio.wait_for(conn.recv(), 2))
    try:
        extra = await asyncio.wait_for(conn.recv(), 2)
    except ConnectionClosed:
        pass  # closed right after the error frame, as the node does
    else:
        raise AssertionError(f"frame after a connect-time error: {extra}")
    result: dict[str, Any] = frame
    return result


async def test_connect_time_internal_errors_for_port_and_channel_limits() -> None:
    from chan_nb.node import EmbeddedNode, NodeConfig

    ikey, rkey = Keypair.generate(), Keypair.generate()
    config = NodeConfig(responder_ports=frozenset({13179}), max_channels=1)
    async with EmbeddedNode(config=config, serve_sockets=False) as node:
        refused = await _connect_error(node, connect_params(ikey, rkey, "responder", port=14000))
        assert refused == {
            "jsonrpc": "2.0",
            "id": None,
            "channel_id": None,
            "error": {"code": -32603, "message": "Internal error", "request": {}},
            "version": 1,
        }
        first = node.connect_memory(urlencode(connect_params(ikey, rkey, "responder")))
        assert "fsm_up" in await first.recv(timeout=2)  # allowed port, first FSM
        over = await _connect_error(node, connect_params(ikey, rkey, "initiator"))
        assert over["error"] == {"code": -32603, "message": "Internal error", "request": {}}
        await first.close()
