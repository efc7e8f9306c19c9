"""``chan-nb audit PATH...``: decode, verify and recompute everything in recorded sessions."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "audit",
        help="audit recorded sessions (Markdown, rendered text or chan_nb JSONL)",
        description="Decode every tx_, verify every signature against the session's parties, "
        "recompute channel ids and state hashes, and check rounds only move forward. "
        "Directories are searched for *.md, *.txt and *.jsonl files.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument(
        "--network-id",
        help="network id the session was signed under (default: detected from known ids)",
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list every problem, not just the first few"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chan_nb.audit import audit_frames
    from chan_nb.commands._files import no_recordings, read_or_report
    from chan_nb.errors import one_line
    from chan_nb.recording.formats import find_recordings

    files = find_recordings(args.paths)
    if not files:
        return no_recordings("audit", args.paths)
    totals = {"files": 0, "txs": 0, "sig_ok": 0, "sig_bad": 0, "sh_ok": 0, "sh_bad": 0}
    failed = unreadable = 0
    for path in files:
        totals["files"] += 1
        log = read_or_report(path)
        if log is None:
            failed += 1
            unreadable += 1
            continue
        try:
            report = audit_frames(log.frames, network_id=args.network_id, source=str(path))
        except Exception as exc:  # one file's defect must not end the run
            print(f"{path}: AUDIT FAILED: {one_line(exc)}")
            failed += 1
            continue
        print(report.line())
        limit = None if args.verbose else 5
        for problem in report.problems[:limit]:
            print(f"  {problem}")
        if limit is not None and len(report.problems) > limit:
            print(f"  … {len(report.problems) - limit} more (use -v)")
        failed += not report.ok
        totals["txs"] += report.txs
        totals["sig_ok"] += report.signatures_ok
        totals["sig_bad"] += report.signatures_bad
        totals["sh_ok"] += report.state_hashes_ok
        totals["sh_bad"] += report.state_hashes_bad
    unread = f", {unreadable} unreadable" if unreadable else ""
    print(
        f"audit: {totals['files']} files, {totals['txs']} txs, {totals['sig_ok']} signatures ok, "
        f"{totals['sig_bad']} signatures bad, {totals['sh_ok']} state hashes ok, "
        f"{totals['sh_bad']} state hashes bad{unread}"
    )
    return 1 if failed else 0
