"""``chan-nb replay RECORDING``: re-drive a recorded session and diff the node's answers."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "replay",
        help="re-drive the client side of a recorded session and compare the node's answers",
        description="Perform a recording's client side again — same parameters, amounts and "
        "order of actions, fresh keys, every transaction re-signed — against the embedded "
        "node (default) or the node at --url, and print, role by role, where the node's "
        "answers differ from the recording (identifiers, keys and signatures normalised). "
        "A recording that starts mid-channel is replayed after its group's "
        "init_per_group.md (found beside it, or given with --prelude). The last line is "
        "'replay: N steps matched, N differed' (then 'replay: incomplete (why)' when it "
        "stopped early); the exit status is 1 on any difference or an early stop. "
        "On the embedded node the replay stops at the first request for a feature it "
        "does not simulate (AEVM contracts, generalized accounts) and says why. "
        "Against a real node the keys of two funded accounts come from "
        "CHAN_NB_INITIATOR_SECRET and CHAN_NB_RESPONDER_SECRET (hex secret seeds).",
    )
    parser.add_argument("recording", type=Path, metavar="RECORDING")
    parser.add_argument("--url", help="channel endpoint of a node to replay against")
    parser.add_argument("--network-id", help="network id of that node (needed with --url)")
    parser.add_argument(
        "--prelude", type=Path, help="the recording that opened the channel (init_per_group.md)"
    )
    parser.add_argument(
        "--memory", action="store_true", help="talk to the embedded node without sockets"
    )
    parser.add_argument(
        "--era",
        choices=("auto", "current", "recorded", "older"),
        default="auto",
        help="embedded node build: the one the recording shows (auto, default), the current "
        "node, the 2020 build of most recordings, or the 2019 build of the set_fee_* ones",
    )
    parser.add_argument(
        "--step-timeout",
        type=float,
        default=None,
        help="seconds to wait for what the recording shows before giving up on it "
        "(default: sized from the recording's timeout_* parameters, at least 2)",
    )
    parser.add_argument("--out", type=Path, help="write the replay's own recording here")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show matching steps too, not just differences"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from chan_nb.errors import ChanNbError
    from chan_nb.recording import SessionLog
    from chan_nb.replay.compare import compare, report_lines
    from chan_nb.replay.driver import replay

    if args.url and args.memory:
        print("replay: --memory works with the embedded node only", file=sys.stderr)
        return 2
    if args.url and not args.network_id:
        print("replay: --network-id is needed with --url", file=sys.stderr)
        return 2
    keys = None
    if args.url:
        from chan_nb.commands.demo import keys_from_environment

        try:
            keys = keys_from_environment()
        except ChanNbError as exc:
            print(f"replay: {exc}", file=sys.stderr)
            return 2
    try:
        result = asyncio.run(
            replay(
                args.recording,
                url=args.url,
                network_id=args.network_id,
                prelude=args.prelude,
                memory=args.memory,
                step_timeout=args.step_timeout,
                era=None if args.era == "auto" else args.era,
                keys=keys,
            )
        )
    except (ChanNbError, OSError) as exc:
        print(f"replay: {args.recording}: {exc}", file=sys.stderr)
        return 2
    where = args.url or "the embedded node"
    print(f"recording: {args.recording}")
    if result.plan.prelude is not None:
        print(f"prelude: {result.plan.prelude} ({result.plan.prelude_records} records)")
    print(f"node: {where}")
    if not args.url:
        how = "from the recording" if args.era == "auto" else "as asked"
        print(f"era: {result.plan.era} ({how})")
    comparison = compare(
        result.recorded,
        result.replayed,
        result.recorded_parties,
        result.replayed_parties,
        result.plan.aliases,
    )
    for line in report_lines(comparison, verbose=args.verbose):
        print(line)
    for note in result.notes:
        print(f"note: {note}")
    if args.out is not None:
        SessionLog(result.replayed, title="replay").save(args.out)
        print(f"replay recording written to {args.out}")
    print(comparison.summary_line())
    if result.stopped is not None:
        print(f"replay: incomplete ({result.stopped})")
    return 0 if comparison.ok and result.stopped is None else 1
