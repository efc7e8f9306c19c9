"""What the many-file commands share: read each recording, report a bad one, go on."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from chan_nb.recording import SessionLog


def read_or_report(
    path: Path, *, strict: bool = True, stream: TextIO | None = None
) -> SessionLog | None:
    """The recording at ``path``, or None after one ``PATH: UNREADABLE: why`` line on
    ``stream`` (stdout by default).

    Any failure of one file is reported and the caller goes on with the next; an error
    that is not chan_nb's own or the OS's is a defect, and the line says so."""
    from chan_nb.errors import one_line
    from chan_nb.recording import load

    try:
        return load(path, strict=strict)
    except Exception as exc:
        print(f"{path}: UNREADABLE: {one_line(exc)}", file=stream or sys.stdout)
        return None


def no_recordings(command: str, paths: list[Path]) -> int:
    """The one line when the paths name no recording at all (exit 2)."""
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"{command}: no such file or folder: {', '.join(missing)}", file=sys.stderr)
    else:
        print(
            f"{command}: no recordings found (looked for *.md, *.txt, *.jsonl in folders)",
            file=sys.stderr,
        )
    return 2
