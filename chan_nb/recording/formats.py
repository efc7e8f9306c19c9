"""Reading and writing a session in each supported form, chosen by name or sniffed.

Text forms: ``md`` (published Markdown), ``txt`` (rendered text), ``jsonl`` (chan_nb's
own). Table forms (through pandas): ``csv`` and ``parquet``; they hold every column and
read back to the same records (from the primary columns).

:data:`FORMATS` is the registry: one row per format (suffixes, reader, writer, how to
recognise it); every function here dispatches through it, and ``chan-nb convert``
offers its names.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol

from chan_nb.errors import DecodeError
from chan_nb.recording.jsonl import looks_jsonl, read_jsonl, write_jsonl
from chan_nb.recording.markdown import read_markdown, write_markdown
from chan_nb.recording.reading import Reading, check_frames
from chan_nb.recording.rendered import read_rendered, title_for, write_rendered

if TYPE_CHECKING:
    from chan_nb.recording.log import SessionLog


class Format(StrEnum):
    MARKDOWN = "md"
    RENDERED = "txt"
    JSONL = "jsonl"
    CSV = "csv"
    PARQUET = "parquet"


class TextReader(Protocol):
    def __call__(self, text: str, *, source: str, strict: bool, decode_txs: bool) -> Reading: ...


@dataclass(frozen=True)
class FormatSpec:
    """How one format is recognised, read and written: its row of :data:`FORMATS`.

    A text format has a reader and a writer of text; a table format (no text reader)
    goes through pandas (:mod:`chan_nb.recording.table`), which reads and writes files.
    """

    format: Format
    suffixes: tuple[str, ...]
    read_text: TextReader | None = None
    write_text: Callable[[SessionLog], str] | None = None
    #: whether a text is in this format, from its first lines (None: not recognisable)
    looks: Callable[[str], bool] | None = None

    @property
    def is_text(self) -> bool:
        return self.read_text is not None


def _looks_markdown(text: str) -> bool:
    first = next((line for line in text.split("\n", 16) if line.strip()), "")
    return first.startswith("#### ")


def _write_rendered(log: SessionLog) -> str:
    title = log.title if log.title is not None else title_for(log.name or "session")
    return write_rendered(log.frames, title)


#: every format, in the order text is sniffed (the one place a format is registered)
FORMATS: Final[dict[Format, FormatSpec]] = {
    spec.format: spec
    for spec in (
        FormatSpec(
            Format.JSONL,
            (".jsonl",),
            read_jsonl,
            lambda log: write_jsonl(log.frames, title=log.title, source=log.name),
            looks_jsonl,
        ),
        FormatSpec(
            Format.MARKDOWN,
            (".md", ".markdown"),
            read_markdown,
            lambda log: write_markdown(log.frames),
            _looks_markdown,
        ),
        FormatSpec(Format.RENDERED, (".txt",), read_rendered, _write_rendered),
        FormatSpec(Format.CSV, (".csv",)),
        FormatSpec(Format.PARQUET, (".parquet",)),
    )
}
#: what a text that looks like no format is read as
SNIFF_FALLBACK: Final = Format.RENDERED

TEXT_FORMATS = tuple(fmt for fmt, spec in FORMATS.items() if spec.is_text)
_SUFFIXES = {suffix: fmt for fmt, spec in FORMATS.items() for suffix in spec.suffixes}


def sniff(path: str | Path | None = None, text: str | None = None) -> Format:
    """The format of a file: from its suffix, else from its first lines."""
    if path is not None:
        suffix = Path(path).suffix.lower()
        if suffix in _SUFFIXES:
            return _SUFFIXES[suffix]
    if text is None:
        if path is None:
            raise ValueError("sniff needs a path or a text")
        with open(path, "rb") as handle:
            text = handle.read(4096).decode("utf-8", errors="replace")
    for fmt, spec in FORMATS.items():
        if spec.looks is not None and spec.looks(text):
            return fmt
    return SNIFF_FALLBACK


def loads(
    text: str,
    format: Format | str | None = None,
    *,
    source: str = "<string>",
    strict: bool = True,
    decode_txs: bool = True,
) -> SessionLog:
    """A session from text in a text format (sniffed when ``format`` is None)."""
    fmt = Format(format) if format is not None else sniff(text=text)
    reading = _read_text(text, fmt, source, strict, decode_txs)
    return _session(check_frames(reading, source, strict), source, None)


def load(
    path: str | Path,
    strict: bool = True,
    *,
    format: Format | str | None = None,
    decode_txs: bool = True,
) -> SessionLog:
    """Read a recording from ``path`` in any supported form (sniffed when not given).

    Every problem with the content raises :class:`DecodeError` naming ``path:line``
    (text that is not UTF-8 included); with ``strict=False`` the readable part is
    returned and ``log.problems`` lists the rest. A missing file raises OSError."""
    path = Path(path)
    fmt = Format(format) if format is not None else sniff(path)
    if fmt in TEXT_FORMATS:
        text = _utf8(path.read_bytes(), str(path))
        reading = _read_text(text, fmt, str(path), strict, decode_txs)
    else:
        from chan_nb.recording.table import read_table

        reading = read_table(path, fmt.value, strict=strict, decode_txs=decode_txs)
    return _session(check_frames(reading, str(path), strict), str(path), path.stem)


def _utf8(data: bytes, source: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        byte = data[exc.start]
        raise DecodeError(
            f"expected UTF-8 text, found byte 0x{byte:02x} (is this a recording?)",
            f"{source}:{line}",
        ) from None


def _read_text(text: str, fmt: Format, source: str, strict: bool, decode_txs: bool) -> Reading:
    reader = FORMATS[fmt].read_text
    if reader is None:
        raise DecodeError(f"{fmt.value} is not a text format")
    return reader(text, source=source, strict=strict, decode_txs=decode_txs)


def _session(reading: Reading, source: str, name: str | None) -> SessionLog:
    from chan_nb.recording.log import SessionLog

    return SessionLog(
        reading.frames, problems=reading.problems, title=reading.title, source=source, name=name
    )


def dumps(log: SessionLog, format: Format | str) -> str:
    """``log`` as text in a text format."""
    fmt = Format(format)
    writer = FORMATS[fmt].write_text
    if writer is None:
        raise ValueError(f"{fmt.value} is a table format; use save()")
    return writer(log)


def save(log: SessionLog, path: str | Path, format: Format | str | None = None) -> Path:
    """Write ``log`` to ``path`` (format from the suffix when not given)."""
    path = Path(path)
    if format is None and path.suffix.lower() not in _SUFFIXES:
        known = ", ".join(sorted(_SUFFIXES))
        raise ValueError(f"cannot tell the format of {path.name} (suffixes {known}); pass format=")
    fmt = Format(format) if format is not None else sniff(path, text="")
    if fmt in TEXT_FORMATS:
        data = dumps(log, fmt).encode("utf-8")
        write_atomic(path, lambda target: target.write_bytes(data))
    else:
        from chan_nb.recording.table import write_table

        write_atomic(path, lambda target: write_table(log.frames, target, fmt.value))
    return path


def write_atomic(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Run ``write(tmp)`` on a temporary file next to ``path``, then rename it over ``path``:
    readers see the old file or the whole new one, never a part, and a failed write leaves
    the old file as it was."""
    path = Path(path)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def find_recordings(paths: Iterable[str | Path]) -> list[Path]:
    """Files named directly, plus the recordings in a text format under named folders."""
    patterns = [f"*{suffix}" for fmt in TEXT_FORMATS for suffix in FORMATS[fmt].suffixes]
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = [p for pattern in patterns for p in path.rglob(pattern)]
            out.extend(sorted(p for p in found if p.name.lower() != "readme.md"))
        else:
            out.append(path)
    return out
