"""``chan-nb summarize PATH...``: what a recorded session contains, at a glance."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "summarize",
        help="summarize recorded sessions (counts, operations and their outcomes)",
        description="Read recorded sessions (published Markdown, rendered text, chan_nb JSONL, "
        "CSV or Parquet exports) and print counts by role, kind and method, the operations "
        "with their outcomes, and anything that could not be read. Directories are searched "
        "for *.md, *.txt and *.jsonl files.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="read what is readable and list the rest (default: stop at the first bad line)",
    )
    parser.add_argument("--frames", action="store_true", help="also print one line per record")
    parser.add_argument("--ops", action="store_true", help="also print one line per operation")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chan_nb.commands._files import no_recordings, read_or_report
    from chan_nb.recording.formats import find_recordings
    from chan_nb.recording.report import summary_text

    files = find_recordings(args.paths)
    if not files:
        return no_recordings("summarize", args.paths)
    unreadable = with_problems = 0
    for index, path in enumerate(files):
        log = read_or_report(path, strict=not args.lenient, stream=sys.stderr)
        if log is None:
            unreadable += 1
            continue
        if index:
            print()
        print(summary_text(log, frames=args.frames, ops=args.ops))
        with_problems += bool(log.problems)
    if len(files) > 1:
        print(
            f"\nsummarize: {len(files)} files, {unreadable} unreadable, "
            f"{with_problems} with unread parts"
        )
    return 1 if unreadable or with_problems else 0
