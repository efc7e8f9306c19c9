"""The ``chan-nb`` command line.

Each subcommand lives in its own module under :mod:`chan_nb.commands` with a
``register(subparsers)`` function that adds its parser and sets ``func`` to a
``run(args) -> int``. Modules are discovered, so adding a command touches no
shared file; heavy imports belong inside ``run`` to keep start-up fast.

Errors: a command prints its own one-line errors and returns non-zero; whatever
escapes it still ends as one line on stderr (exit 1) naming the command, what went
wrong and what to do. ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from chan_nb import commands
from chan_nb.errors import one_line

__all__ = ["build_parser", "main", "one_line"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chan-nb",
        description="Explore the æternity State Channel protocol: audit and analyse "
        "recorded sessions, run an embedded node, drive channel sessions.",
    )
    parser.add_argument(
        "--debug", action="store_true", help="show a traceback when a command fails"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    words = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in words  # accepted anywhere on the line, not only before COMMAND
    args = parser.parse_args([w for w in words if w != "--debug"])
    args.debug = debug
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    try:
        result: int = func(args)
    except BrokenPipeError:  # `chan-nb … | head` is fine
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"chan-nb {args.command}: {one_line(exc)}", file=sys.stderr)
        return 1
    return result


if __name__ == "__main__":
    sys.exit(main())
