"""``chan-nb demo``: run a channel scenario, print what happened, write the recording."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chan_nb.codec.keys import Keypair
    from chan_nb.recording import Frame
    from chan_nb.scenarios import ScenarioRun

#: Environment variables holding funded keys (hex secret seeds) for a real node.
KEY_VARIABLES = ("CHAN_NB_INITIATOR_SECRET", "CHAN_NB_RESPONDER_SECRET")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "demo",
        help="run a channel scenario against the embedded node (or a real one) and record it",
        description="Open a channel between two local participants and run a scenario "
        "(default: the seed session basic_client_reconnect_r). Prints the steps and a "
        "table of every frame, writes the recording, and for the seed scenario checks "
        "that each role's sequence matches the recorded session. Against a real node "
        f"(--url) the keys come from {KEY_VARIABLES[0]} and {KEY_VARIABLES[1]} "
        "(hex secret seeds of funded accounts).",
    )
    parser.add_argument("--scenario", default=None, help="scenario name (see --list)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.add_argument(
        "--url", help="channel endpoint of a real node, e.g. ws://localhost:3014/channel"
    )
    parser.add_argument(
        "--network-id", help="network id to sign for (needed with --url, e.g. ae_uat)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        help="where to write the recording (.jsonl, .md, .txt; default: <scenario>.jsonl)",
    )
    parser.add_argument(
        "--memory", action="store_true", help="talk to the embedded node without sockets"
    )
    parser.add_argument(
        "--compare", type=Path, help="a recording to compare each role's steps with"
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, help="seconds any single step may take"
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no frame table")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import asyncio

    from chan_nb.errors import ChanNbError
    from chan_nb.scenarios import DEFAULT_SCENARIO, SCENARIOS, SEED_FILE, run_scenario

    if args.list:
        for name, scenario in SCENARIOS.items():
            print(f"{name:26} {scenario.summary}")
        return 0
    name = args.scenario or DEFAULT_SCENARIO
    if name not in SCENARIOS:
        print(f"demo: no scenario {name!r}; known: {', '.join(SCENARIOS)}", file=sys.stderr)
        return 2
    if args.url and args.memory:
        print("demo: --memory works with the embedded node only", file=sys.stderr)
        return 2
    try:
        keys = keys_from_environment() if args.url else None
    except ChanNbError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 2
    if args.url and not args.network_id:
        print("demo: --network-id is needed with --url", file=sys.stderr)
        return 2
    out: Path = args.out or Path(f"{name}.jsonl")
    problem = _unwritable(out)
    if problem:
        print(f"demo: cannot write the recording to {out}: {problem}", file=sys.stderr)
        return 2
    scenario = SCENARIOS[name]
    where = args.url or "the embedded node"
    print(f"scenario {name}: {scenario.summary}")
    print(f"node: {where}")
    result = asyncio.run(
        run_scenario(
            name,
            url=args.url,
            network_id=args.network_id,
            memory=args.memory,
            timeout=args.timeout,
            keys=keys,
        )
    )
    print()
    for number, step in enumerate(result.steps, start=1):
        print(f"{number:3}. {step}")
    if not args.quiet:
        print()
        print(frame_table(result.log.frames))
    if not result.ok:  # a failed run never replaces a good recording
        out = out.with_name(f"{out.stem}.failed{out.suffix}")
    result.log.save(out)  # atomic
    print()
    print(f"recording: {_counts(result)} written to {out}")
    status = 0 if result.ok else 1
    reference = args.compare or (SEED_FILE if name == DEFAULT_SCENARIO else None)
    if reference is not None and result.ok:
        status = max(status, _compare(reference, result))
    if not result.ok:
        print(f"demo: the scenario failed: {result.error}", file=sys.stderr)
    return status


def _unwritable(out: Path) -> str | None:
    """Why the recording could not be written to ``out`` (checked before the run)."""
    folder = out.parent
    if not folder.is_dir():
        return f"no folder {folder} (create it, or pick another --out)"
    if not os.access(folder, os.W_OK):
        return f"folder {folder} is not writable"
    if out.is_dir():
        return "it is a folder (name a file, e.g. session.jsonl)"
    if out.suffix.lower() not in (".jsonl", ".md", ".txt"):
        return "use a .jsonl, .md or .txt name"
    return None


def keys_from_environment() -> tuple[Keypair, Keypair]:
    """Funded keys for a real node, from the environment (never from a file in the repo)."""
    from chan_nb.codec.keys import Keypair
    from chan_nb.errors import ChanNbError

    values = [os.environ.get(name) for name in KEY_VARIABLES]
    missing = [name for name, value in zip(KEY_VARIABLES, values, strict=True) if not value]
    if missing:
        raise ChanNbError(f"a real node needs funded keys: set {' and '.join(missing)}")
    return Keypair.from_hex(values[0] or ""), Keypair.from_hex(values[1] or "")


def _counts(result: ScenarioRun) -> str:
    frames = result.log.frames
    per_role: dict[str, int] = {}
    for frame in frames:
        per_role[frame.role] = per_role.get(frame.role, 0) + 1
    roles = ", ".join(f"{role} {count}" for role, count in per_role.items())
    return f"{len(frames)} records ({roles})"


def _compare(reference: Path, result: ScenarioRun) -> int:
    from chan_nb.errors import ChanNbError
    from chan_nb.recording import load
    from chan_nb.replay.steps import per_role, sequence_diff

    try:
        recorded = load(reference)
    except (ChanNbError, OSError) as exc:
        print(f"compare: cannot read {reference}: {exc}", file=sys.stderr)
        return 1
    want, got = per_role(recorded.frames), per_role(result.log.frames)
    differing = 0
    print(f"compared with {reference.name} (role, direction, method, event, error per role):")
    for role in dict.fromkeys([*want, *got]):
        diff = sequence_diff(want.get(role, []), got.get(role, []))
        if diff:
            differing += 1
            print(f"  {role}: DIFFERENT")
            for line in diff:
                print(f"    {line}")
        else:
            print(f"  {role}: {len(got.get(role, []))} steps, the same sequence")
    return 1 if differing else 0


def frame_table(frames: list[Frame]) -> str:
    """One line per record: seq, role, connection, direction, what, round, error."""
    from chan_nb.replay.steps import error_text

    arrows = {"sent": "->", "received": "<-", "open": "OPEN", "close": "CLOSE"}
    lines = [f"{'seq':>4}  {'role':9} {'conn':>4}  {'dir':5} {'what':44} {'round':>5}  error"]
    for frame in frames:
        direction = frame.direction.value
        if direction == "info":
            continue
        what = _what(frame)
        round_ = "" if frame.round is None else str(frame.round)
        lines.append(
            f"{frame.seq:>4}  {frame.role:9} {frame.conn:>4}  {arrows.get(direction, direction):5} "
            f"{what[:44]:44} {round_:>5}  {error_text(frame) or ''}"
        )
    return "\n".join(lines)


def _what(frame: Frame) -> str:
    if frame.direction.value == "open":
        params = frame.params or {}
        if "existing_channel_id" in params:
            fsm = params.get("existing_fsm_id")
            return "reconnect " + (f"fsm_id={fsm[:16]}" if fsm else "(no fsm_id)")
        return "open " + " ".join(
            f"{k}={params[k]}" for k in ("push_amount", "channel_reserve") if k in params
        )
    if frame.direction.value == "close":
        return ""
    parts = []
    if frame.method:
        parts.append(frame.method.removeprefix("channels."))
    elif frame.kind is not None:
        parts.append(str(frame.kind))
    if frame.event or frame.info:
        parts.append(str(frame.event or frame.info))
    if frame.tx_type:
        parts.append(frame.tx_type.removeprefix("channel_").removesuffix("_tx"))
    if frame.amount is not None:
        parts.append(f"amount={frame.amount}")
    return " ".join(parts)
