"""A minimal signing client, for measuring the embedded node alone and for raw-protocol tests.

:class:`SigningPeer` speaks the channel JSON-RPC directly over a WebSocket and answers
every signing request with its own signature — no policy, no recorder, no event log.
It is not a second :class:`chan_nb.client.Session`: the node benchmarks use it so that
their figures measure the node rather than the client (``transfers_per_s`` measures the
sessions), and the load test uses it because 2,000 sessions keeping every event would
measure the client's memory rather than the node's. Tests that need to put the node's
socket handling under stress (``tests/node/test_fuzz_sockets.py``) use it for the same reason.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from websockets.asyncio.client import ClientConnection, connect

from chan_nb.codec import encoding, signing, txs
from chan_nb.codec.keys import Keypair
from chan_nb.protocol import methods

Json = Any

#: amounts that leave room for many 1-coin transfers
_AMOUNTS = {
    "initiator_amount": 10**18,
    "responder_amount": 10**18,
    "push_amount": 0,
    "channel_reserve": 1,
    "lock_period": 10,
}


@dataclass
class SigningPeer:
    """A minimal channel client: answers every sign request with its own signature.

    With ``track_rounds`` it decodes each ``channels.update`` and keeps the rounds in
    arrival order (a load test checks that none is lost or repeated).
    """

    ws: ClientConnection
    key: Keypair
    network_id: str
    updates: int = 0  # channels.update frames seen
    events: list[str] = field(default_factory=list)
    track_rounds: bool = False
    rounds: list[int] = field(default_factory=list)
    _round_done: asyncio.Event = field(default_factory=asyncio.Event)
    _opened: asyncio.Event = field(default_factory=asyncio.Event)
    _reader: asyncio.Task[None] | None = None
    _replies: dict[int, asyncio.Future[Json]] = field(default_factory=dict)
    _next_id: int = 0
    channel_id: str | None = None

    def start(self) -> None:
        self._reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        async for text in self.ws:
            frame = json.loads(text)
            method = frame.get("method", "")
            if method.startswith(methods.SIGN_PREFIX):
                await self._sign(frame)
            elif method == methods.UPDATE:
                self.updates += 1
                self.channel_id = frame["params"]["channel_id"]
                if self.track_rounds:
                    self.rounds.append(_round_of(frame["params"]["data"]["state"]))
                self._opened.set()
                self._round_done.set()
            elif method == methods.CONFLICT:
                self.events.append("conflict")
                self._round_done.set()
            elif method == methods.INFO:
                self.events.append(frame["params"]["data"]["event"])
            elif "id" in frame and frame["id"] in self._replies:
                self._replies.pop(frame["id"]).set_result(frame)

    async def _sign(self, request: Json) -> None:
        tag = request["method"][len(methods.SIGN_PREFIX) :]
        signed = txs.decode_signed(encoding.decode(request["params"]["data"]["signed_tx"], "tx"))
        sig = signing.sign(signed.tx_bytes, self.key, self.network_id, "raw")
        reply = {
            "jsonrpc": "2.0",
            "method": methods.SIGN_BY_REQUEST[tag].reply_method,
            "params": {"signed_tx": signed.with_signature(sig).to_api()},
        }
        await self.ws.send(json.dumps(reply))

    async def opened(self, timeout: float = 30.0) -> None:
        await asyncio.wait_for(self._opened.wait(), timeout)

    async def transfer(self, to: str, amount: int = 1, timeout: float = 30.0) -> None:
        """One full off-chain transfer started by this peer (returns once it is co-signed)."""
        self._round_done.clear()
        await self.ws.send(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "method": methods.UPDATE_NEW,
                    "params": {"from": self.key.address, "to": to, "amount": amount},
                }
            )
        )
        await asyncio.wait_for(self._round_done.wait(), timeout)

    async def call(self, method: str, params: Json, timeout: float = 30.0) -> Json:
        """Send a request with an id; its reply frame (``result`` or ``error``)."""
        self._next_id += 1
        future: asyncio.Future[Json] = asyncio.get_running_loop().create_future()
        self._replies[self._next_id] = future
        request = {"jsonrpc": "2.0", "method": method, "params": params, "id": self._next_id}
        await self.ws.send(json.dumps(request))
        return await asyncio.wait_for(future, timeout)

    async def balances(self, accounts: list[str]) -> dict[str, int]:
        """``channels.get.balances`` as ``{ak_: balance}``."""
        reply = await self.call(methods.GET_BALANCES, {"accounts": accounts})
        return {entry["account"]: entry["balance"] for entry in reply["result"]}

    async def close(self) -> None:
        await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


def _round_of(state: str) -> int:
    tx = txs.decode_signed(encoding.decode(state, "tx")).innermost
    return int(getattr(tx, "round", 1))  # the create tx (round 1) has no round field


async def open_signing_pair(
    url: str, network_id: str, port: int, *, track_rounds: bool = False
) -> tuple[SigningPeer, SigningPeer]:
    """Two signing clients with a freshly opened channel between them."""
    ikey, rkey = Keypair.generate(), Keypair.generate()
    common = {**_AMOUNTS, "initiator_id": ikey.address, "responder_id": rkey.address}
    common.update(protocol="json-rpc", port=port, minimum_depth=0)
    r_url = f"{url}?{urlencode({**common, 'role': 'responder'})}"
    i_url = f"{url}?{urlencode({**common, 'role': 'initiator', 'host': 'localhost'})}"
    ws = await connect(r_url, compression=None, ping_interval=None)
    responder = SigningPeer(ws, rkey, network_id, track_rounds=track_rounds)
    ws = await connect(i_url, compression=None, ping_interval=None)
    initiator = SigningPeer(ws, ikey, network_id, track_rounds=track_rounds)
    responder.start()
    initiator.start()
    await asyncio.gather(initiator.opened(), responder.opened())
    return initiator, responder
