"""``chan-nb convert PATH --to FORMAT``: a recorded session in another form."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chan_nb.recording.formats import FORMATS as REGISTRY

#: the output formats: every format of the registry (chan_nb.recording.formats)
CHOICES = tuple(fmt.value for fmt in REGISTRY)
#: those written as text (to stdout for a single input without -o)
TEXT_CHOICES = tuple(fmt.value for fmt, spec in REGISTRY.items() if spec.is_text)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "convert",
        help="convert recorded sessions between Markdown, rendered text, JSONL, CSV, Parquet",
        description="Read recorded sessions in any supported form and write them as "
        "chan_nb JSONL, CSV or Parquet (the frame table), published Markdown or rendered "
        "text. Reading the output back gives the same records.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH")
    parser.add_argument("--to", required=True, choices=CHOICES, help="output format")
    parser.add_argument(
        "-o",
        "--output",
        type=Path,
        help="output file (one input) or directory; default: text to stdout for one input, "
        "otherwise <name>.<format> in the current directory",
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="convert the readable part and list the rest on stderr",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from chan_nb.commands._files import read_or_report
    from chan_nb.errors import one_line

    fmt: str = args.to
    paths: list[Path] = args.paths
    single = len(paths) == 1
    failed = 0
    for path in paths:
        log = read_or_report(path, strict=not args.lenient, stream=sys.stderr)
        if log is None:
            failed += 1
            continue
        for problem in log.problems:
            print(f"{path}: {problem}", file=sys.stderr)
        failed += bool(log.problems)
        if single and args.output is None and fmt in TEXT_CHOICES:
            sys.stdout.write(log.to(fmt))
            continue
        try:
            target = _target(path, fmt, args.output, single)
            log.save(target, fmt)  # atomic: a failed write leaves any old file as it was
        except Exception as exc:
            print(f"{path}: NOT WRITTEN: {one_line(exc)}", file=sys.stderr)
            failed += 1 - bool(log.problems)
            continue
        print(f"{path} -> {target} ({len(log)} records)", file=sys.stderr)
    if not single:
        print(f"convert: {len(paths)} files, {failed} failed", file=sys.stderr)
    return 1 if failed else 0


def _target(path: Path, fmt: str, output: Path | None, single: bool) -> Path:
    name = f"{path.stem}.{fmt}"
    if output is None:
        return Path.cwd() / name
    if output.is_dir() or not single:
        output.mkdir(parents=True, exist_ok=True)
        return output / name
    return output
