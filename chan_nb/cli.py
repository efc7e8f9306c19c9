"""The ``chan-nb`` command line.

Each subcommand lives in its own module under :mod:`chan_nb.commands` with a
``register(subparsers)`` function that adds its parser and sets ``func`` to a
``run(args) -> int``. Modules are discovered, so adding a command touches no
shared file; heavy imports belong inside ``run`` to keep start-up fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from chan_nb import commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chan-nb",
        description="Explore the æternity State Channel protocol: audit and analyse "
        "recorded sessions, run an embedded node, drive channel sessions.",
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
    args = parser.parse_args(argv)
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
    return result


if __name__ == "__main__":
    sys.exit(main())
