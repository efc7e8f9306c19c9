"""Benchmark of the embedded node: off-chain transfers per second over loopback WebSockets.

Not a test: it measures. ``chan-nb bench`` runs groups ``node`` and ``sdkjs``; by hand,
from the checkout's root::

    python -m benchmarks.node --transfers 2000 --channels 20

Each transfer is the full round (update.new → sign.update → update →
sign.update_ack → update_ack → channels.update on both sides) with real
signatures checked by the node. The clients (:class:`~benchmarks.peers.SigningPeer`,
a minimal signing client) run on the node's event loop, and once more from a separate
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
from pathlib import Path
from typing import Any

from benchmarks.peers import SigningPeer, open_signing_pair


async def _run_channels(url: str, network_id: str, channels: int, per_channel: int) -> float:
    """Transfers per second over ``channels`` concurrent channels (alternating starters)."""
    pairs = await asyncio.gather(
        *(open_signing_pair(url, network_id, 20_000 + n) for n in range(channels))
    )

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


#: where the JS SDK is installed (by tests/node/test_sdkjs.py, or here on first use)
SDK_DIR_NAME = ".sdkjs"
SDK_SCRIPT = Path("tests") / "sdkjs" / "bench.mjs"
SDK_PACKAGE = Path("tests") / "sdkjs" / "package.json"


#: the checkout these benchmarks belong to (they are never installed)
ROOT = Path(__file__).resolve().parents[1]


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

    root = ROOT
    if not (root / SDK_SCRIPT).is_file():
        return _skipped(f"{SDK_SCRIPT} not found in the checkout")
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
