"""Benchmark of the embedded node: off-chain transfers per second over loopback WebSockets.

Not a test: it measures. ``chan-nb bench`` runs :func:`benchmarks`; by hand::

    python -m chan_nb.node.bench --transfers 2000 --channels 20

Each transfer is the full round (update.new → sign.update → update →
sign.update_ack → update_ack → channels.update on both sides) with real
signatures checked by the node. The clients (:class:`SigningPeer`, a minimal
signing client) run on the node's event loop, and once more from a separate
process to show what inter-process latency costs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
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


async def open_pair(
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


async def _run_channels(url: str, network_id: str, channels: int, per_channel: int) -> float:
    """Transfers per second over ``channels`` concurrent channels (alternating starters)."""
    pairs = await asyncio.gather(*(open_pair(url, network_id, 20_000 + n) for n in range(channels)))

    async def drive(pair: tuple[SigningPeer, SigningPeer]) -> None:
        initiator, responder = pair
        for n in range(per_channel):
            payer, payee = (initiator, responder) if n % 2 == 0 else (responder, initiator)
            await payer.transfer(payee.key.address)

    started = time.perf_counter()
    await asyncio.gather(*(drive(pair) for pair in pairs))
    elapsed = time.perf_counter() - started
    for initiator, responder in pairs:
        if "conflict" in initiator.events or "conflict" in responder.events:
            raise RuntimeError("a benchmark transfer ended in a conflict")
        await initiator.close()
        await responder.close()
    return channels * per_channel / elapsed


def _client_process(url: str, network_id: str, channels: int, per_channel: int, out: Any) -> None:
    out.send(asyncio.run(_run_channels(url, network_id, channels, per_channel)))


async def measure(
    transfers: int = 2000,
    channels: int = 20,
    per_channel: int = 200,
) -> dict[str, Any]:
    """Start a node on a free port and measure: one channel, then many at once.

    ``node_transfers_per_s`` — one channel, clients on the node's event loop (the
    node's throughput: the clients' signing competes with it for the CPU);
    ``node_transfers_per_s_client_process`` — one channel, clients in another process
    (adds inter-process latency to each of the round's three sequential hops);
    ``node_transfers_per_s_concurrent`` — ``channels`` channels at once, same process.
    """
    from chan_nb.node.server import EmbeddedNode

    async with EmbeddedNode(port=0, minimum_depth=0) as node:
        url, network_id = node.url, node.network_id
        return {
            "node_transfers_per_s": int(await _run_channels(url, network_id, 1, transfers)),
            "node_transfers_per_s_client_process": int(
                await _in_child(url, network_id, 1, transfers)
            ),
            "node_transfers_per_s_concurrent": int(
                await _run_channels(url, network_id, channels, per_channel)
            ),
            "node_concurrent_channels": channels,
        }


async def _in_child(url: str, network_id: str, channels: int, per_channel: int) -> float:
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(
        target=_client_process, args=(url, network_id, channels, per_channel, sender)
    )
    process.start()
    loop = asyncio.get_running_loop()
    try:
        ready = await loop.run_in_executor(None, receiver.poll, 600.0)
        if not ready:
            raise TimeoutError("the benchmark clients did not finish")
        rate: float = receiver.recv()
        return rate
    finally:
        await loop.run_in_executor(None, process.join, 10.0)


#: where the JS SDK is installed (by tests/test_node_sdkjs.py, or here on first use)
SDK_DIR_NAME = ".sdkjs"
SDK_SCRIPT = Path("tests") / "sdkjs" / "bench.mjs"
SDK_PACKAGE = Path("tests") / "sdkjs" / "package.json"


def project_root() -> Path | None:
    """The checkout holding ``tests/sdkjs`` (the working directory or the package's)."""
    for candidate in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (candidate / SDK_SCRIPT).exists():
            return candidate
    return None


def ensure_sdk(root: Path) -> tuple[Path | None, str]:
    """The JS SDK folder (installed with npm when missing), or None and why not."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return None, "node and npm are not installed"
    sdk_dir = root / SDK_DIR_NAME
    if not (sdk_dir / "node_modules" / "@aeternity" / "aepp-sdk" / "package.json").exists():
        sdk_dir.mkdir(exist_ok=True)
        shutil.copy(root / SDK_PACKAGE, sdk_dir / "package.json")
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=sdk_dir,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            return None, f"npm install failed: {done.stderr.strip()[-300:]}"
    return sdk_dir, ""


def sdkjs_throughput(transfers: int = 300) -> dict[str, Any]:
    """Transfers per second made by the official JS SDK against an embedded node.

    The node runs on a thread of this process; the SDK's two ``Channel`` objects run in
    one ``node`` process (``tests/sdkjs/bench.mjs``) and await each transfer before the
    next, as the Python session benchmark does. Empty (with a reason on stderr) where
    node/npm or the checkout's ``tests/sdkjs`` are missing.
    """
    from chan_nb.node.threaded import ThreadedNode

    root = project_root()
    if root is None:
        return _skipped("tests/sdkjs/bench.mjs not found (run from the checkout)")
    sdk_dir, why = ensure_sdk(root)
    if sdk_dir is None:
        return _skipped(why)
    with ThreadedNode(port=0, minimum_depth=0) as node:
        done = subprocess.run(
            [
                "node",
                str(root / SDK_SCRIPT),
                node.url,
                node.network_id,
                str(sdk_dir),
                str(transfers),
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines or "seconds" not in lines[-1]:
        return _skipped(f"the SDK run failed: {lines[-1:] or done.stderr[-300:]}")
    result = lines[-1]
    return {
        "sdkjs_transfers_per_s": round(result["transfers"] / result["seconds"]),
        "sdkjs_transfers": result["transfers"],
    }


def _skipped(reason: str) -> dict[str, Any]:
    print(f"bench: sdkjs skipped: {reason}", file=sys.stderr)
    return {}


def benchmarks() -> dict[str, Callable[[], dict[str, Any]]]:
    """Groups for ``chan-nb bench``."""
    return {"node": lambda: asyncio.run(measure()), "sdkjs": sdkjs_throughput}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--transfers", type=int, default=2000, help="transfers on one channel")
    parser.add_argument("--channels", type=int, default=20, help="concurrent channels")
    parser.add_argument("--per-channel", type=int, default=200, help="transfers per channel")
    args = parser.parse_args(argv)
    print(json.dumps(asyncio.run(measure(args.transfers, args.channels, args.per_channel))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
