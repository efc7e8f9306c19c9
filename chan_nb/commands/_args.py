"""Argument types the commands share, so a bad value is one argparse line, not a traceback."""

from __future__ import annotations

import argparse


def port_number(text: str) -> int:
    """A TCP port 0..65535 (0 = any free port)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(
            f"port {port} is out of range: use 0..65535 (0 = any free port)"
        )
    return port
