"""chan_nb's own recording format: JSON Lines with a versioned header.

Line 1 is a header ``{"format": "chan_nb.recording", "schema_version": N, ...}``; every
further line is one record holding the *primary* fields of :data:`~frame.SCHEMA`
(``seq role direction conn t_wall t_mono raw``); everything else is derived again on
reading, so the file stays small and can never disagree with itself. Files written
with an older schema version are upgraded record by record by the functions registered
with :func:`migration` (like mitmproxy's flow-file migrations).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Final

from chan_nb.errors import DecodeError
from chan_nb.recording.frame import PRIMARY_COLUMNS, Direction, Frame
from chan_nb.recording.reading import ProblemSink, Reading

FORMAT_NAME: Final = "chan_nb.recording"
SCHEMA_VERSION: Final = 1

Record = dict[str, Any]
Migration = Callable[[Record], Record]

#: from_version -> function turning a record of that version into one of from_version + 1.
MIGRATIONS: dict[int, Migration] = {}


def migration(from_version: int) -> Callable[[Migration], Migration]:
    """Register ``func`` as the upgrade of records from ``from_version`` to the next."""

    def register(func: Migration) -> Migration:
        MIGRATIONS[from_version] = func
        return func

    return register


def header(title: str | None = None, source: str | None = None) -> Record:
    head: Record = {"format": FORMAT_NAME, "schema_version": SCHEMA_VERSION}
    if title is not None:
        head["title"] = title
    if source is not None:
        head["source"] = source
    return head


def write_jsonl(
    frames: Iterable[Frame], *, title: str | None = None, source: str | None = None
) -> str:
    """The JSONL text of ``frames`` (one header line, one line per record, final newline)."""
    lines = [json.dumps(header(title, source), ensure_ascii=False)]
    lines += [json.dumps(frame.primary(), ensure_ascii=False) for frame in frames]
    return "\n".join(lines) + "\n"


def looks_jsonl(text: str) -> bool:
    """True when the first line is a chan_nb JSONL header."""
    first = text.split("\n", 1)[0]
    return first.startswith("{") and f'"{FORMAT_NAME}"' in first


def read_jsonl(
    text: str, *, source: str = "<jsonl>", strict: bool = True, decode_txs: bool = True
) -> Reading:
    """Parse chan_nb JSONL, upgrading old schema versions. A bad header always raises."""
    lines = text.split("\n")
    version, title = _read_header(lines[0] if lines else "", source)
    steps = _migrations_from(version, source)
    sink = ProblemSink(source, strict)
    frames = list(_frames(lines, steps, sink, decode_txs))
    return Reading(frames, sink.problems, title)


def _read_header(line: str, source: str) -> tuple[int, str | None]:
    where = f"{source}:1"
    try:
        head = json.loads(line)
    except ValueError:
        raise DecodeError("expected a JSON header line", where) from None
    if not isinstance(head, dict) or head.get("format") != FORMAT_NAME:
        raise DecodeError(f"expected a header with format {FORMAT_NAME!r}", where)
    version = head.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 0:
        raise DecodeError(f"expected an integer schema_version, found {version!r}", where)
    if version > SCHEMA_VERSION:
        raise DecodeError(
            f"schema_version {version} is newer than this chan_nb reads ({SCHEMA_VERSION})", where
        )
    title = head.get("title")
    return version, title if isinstance(title, str) else None


def _migrations_from(version: int, source: str) -> list[Migration]:
    steps = []
    for v in range(version, SCHEMA_VERSION):
        if v not in MIGRATIONS:
            raise DecodeError(f"no migration from schema_version {v} to {v + 1}", f"{source}:1")
        steps.append(MIGRATIONS[v])
    return steps


def _frames(
    lines: list[str], steps: list[Migration], sink: ProblemSink, decode_txs: bool
) -> Iterator[Frame]:
    for index in range(1, len(lines)):
        text = lines[index]
        if not text.strip():
            continue
        line = index + 1
        try:
            record = json.loads(text)
        except ValueError as exc:
            sink.report(line, f"a JSON record ({exc})", text)
            continue
        if not isinstance(record, dict):
            sink.report(line, "a JSON object record", text)
            continue
        try:
            for step in steps:
                record = step(record)
            yield _frame(record, line, decode_txs)
        except (DecodeError, ValueError, TypeError, KeyError) as exc:
            sink.report(line, f"a valid record ({exc})", text)


def _frame(record: Record, line: int, decode_txs: bool) -> Frame:
    missing = [name for name in PRIMARY_COLUMNS if name not in record]
    if missing:
        raise DecodeError(f"missing fields {', '.join(missing)}")
    seq, role, direction, conn = record["seq"], record["role"], record["direction"], record["conn"]
    raw, t_wall, t_mono = record["raw"], record["t_wall"], record["t_mono"]
    for name, value in (("seq", seq), ("conn", conn)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise DecodeError(f"{name} must be an integer, got {value!r}")
    if not isinstance(role, str) or not role:
        raise DecodeError(f"role must be a non-empty string, got {role!r}")
    if not isinstance(raw, str):
        raise DecodeError(f"raw must be a string, got {type(raw).__name__}")
    for name, value in (("t_wall", t_wall), ("t_mono", t_mono)):
        if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
            raise DecodeError(f"{name} must be a number or null, got {value!r}")
    try:
        kind = Direction(direction)
    except ValueError:
        raise DecodeError(f"direction must be one of {[d.value for d in Direction]}") from None
    return Frame(
        seq,
        role,
        kind,
        conn,
        raw,
        None if t_wall is None else float(t_wall),
        None if t_mono is None else float(t_mono),
        line,
        decode_txs,
    )
