"""``chan-nb node``: run the embedded node as a standalone server for any client.

Prints one line ``chan-nb node listening on ws://HOST:PORT/channel (network id …)``
once it accepts connections (with ``--port 0`` that line tells the port), then
serves until interrupted (Ctrl-C / SIGTERM).
"""

from __future__ import annotations

import argparse


def _funding(text: str) -> tuple[str, int]:
    address, sep, amount = text.rpartition(":")
    if not sep or not address.startswith("ak_"):
        raise argparse.ArgumentTypeError(f"expected ak_…:AMOUNT, got {text!r}")
    try:
        return address, int(amount)
    except ValueError:
        raise argparse.ArgumentTypeError(f"amount in {text!r} is not an integer") from None


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from chan_nb.commands._args import port_number
    from chan_nb.node.config import DEFAULT_NETWORK_ID

    parser = sub.add_parser(
        "node",
        help="run the embedded node (a simulated /channel endpoint)",
        description="Serve the æternity channel WebSocket API (ws://HOST:PORT/channel) from an "
        "in-process simulator: FSMs, a small chain, real transactions and signature checks.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=port_number, default=3014, help="port (0 = any free port)")
    parser.add_argument(
        "--network-id",
        default=DEFAULT_NETWORK_ID,
        help=f"network id clients sign under (default {DEFAULT_NETWORK_ID})",
    )
    parser.add_argument(
        "--create-tx-version",
        type=int,
        choices=(1, 2),
        default=2,
        help="channel_create_tx version: 2 as a current node, 1 like the recordings' node",
    )
    parser.add_argument(
        "--era",
        choices=("current", "recorded"),
        default=None,
        help="reproduce the recordings' node quirks (default: recorded with version 1)",
    )
    parser.add_argument(
        "--block-interval",
        type=float,
        default=0.005,
        help="seconds between blocks while the chain has work (default 0.005)",
    )
    parser.add_argument(
        "--minimum-depth",
        type=int,
        default=None,
        help="confirmations for every channel tx (default: from each channel's parameters)",
    )
    parser.add_argument(
        "--no-auto-fund",
        action="store_true",
        help="do not create accounts on first use (then only --fund accounts exist)",
    )
    parser.add_argument(
        "--fund",
        type=_funding,
        action="append",
        default=[],
        metavar="AK:AMOUNT",
        help="start with this account funded (repeatable)",
    )
    parser.add_argument(
        "--responder-port",
        type=int,
        action="append",
        default=None,
        metavar="PORT",
        help="allow responders only on these ports (repeatable; default: any port)",
    )
    parser.add_argument(
        "--max-channels",
        type=int,
        default=None,
        help="refuse new FSMs beyond this many (−32603, as the node's channel-count limit)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio
    import contextlib
    import signal
    import sys

    from chan_nb.node import EmbeddedNode, NodeConfig

    config = NodeConfig(
        network_id=args.network_id,
        create_tx_version=args.create_tx_version,
        era=args.era,
        block_interval=args.block_interval,
        minimum_depth=args.minimum_depth,
        auto_fund=not args.no_auto_fund,
        funded=dict(args.fund),
        responder_ports=frozenset(args.responder_port) if args.responder_port else None,
        max_channels=args.max_channels,
    )

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        async with EmbeddedNode(args.host, args.port, config=config) as node:
            print(
                f"chan-nb node listening on {node.url} (network id {node.network_id})",
                flush=True,
            )
            await stop.wait()

    try:
        asyncio.run(serve())
    except OSError as exc:
        print(f"chan-nb node: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    return 0
