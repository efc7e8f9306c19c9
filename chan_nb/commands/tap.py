"""``chan-nb tap``: a recording proxy any channel client can be pointed at.

Prints ``chan-nb tap listening on ws://HOST:PORT/channel -> NODE`` once it accepts
connections; on Ctrl-C / SIGTERM it writes every frame of every client, in causal
order, to the recording (atomically) and prints what it wrote.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from chan_nb.commands._args import port_number


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "tap",
        help="record any channel client's session (a WebSocket proxy in front of a node)",
        description="Listen for channel clients (the JS SDK, a browser app, any language), "
        "forward each connection to a node — an embedded one by default, or --url — and "
        "record every frame of every client into one causally ordered recording, written "
        "when the tap stops (Ctrl-C or SIGTERM).",
    )
    parser.add_argument("--url", help="channel endpoint of the node to forward to")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=port_number, default=3015, help="port (0 = any free port)")
    parser.add_argument("--network-id", help="network id of the embedded node (default: its own)")
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("tap.jsonl"),
        help="recording to write when the tap stops (.jsonl, .md, .txt, .csv, .parquet)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib
    import signal
    import sys

    from chan_nb.tap import Tap

    out: Path = args.out
    if not out.parent.is_dir():
        print(f"tap: cannot write the recording to {out}: no folder {out.parent}", file=sys.stderr)
        return 2

    async def serve() -> Tap:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        tap = Tap(args.url, host=args.host, port=args.port, network_id=args.network_id)
        async with tap:
            node = args.url or f"an embedded node (network id {tap.network_id})"
            print(f"chan-nb tap listening on {tap.url} -> {node}", flush=True)
            await stop.wait()
        return tap

    try:
        tap = asyncio.run(serve())
    except OSError as exc:
        print(f"chan-nb tap: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    log = tap.log
    if not len(log):
        print("tap: no client connected; nothing written", file=sys.stderr)
        return 0
    log.save(out)
    roles = ", ".join(f"{role} {sum(f.role == role for f in log)}" for role in log.roles)
    print(f"recording: {len(log)} records ({roles}) written to {out}", flush=True)
    return 0
