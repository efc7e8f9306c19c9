"""Recorded channel sessions as data: read, explore as a DataFrame, analyse, write back.

``load(path)`` reads any supported form (published Markdown, rendered text, chan_nb's
JSONL) into a :class:`~chan_nb.recording.log.SessionLog`. The record model and the
table schema are in :mod:`chan_nb.recording.frame` (see :func:`schema_markdown`).
"""

from __future__ import annotations

from chan_nb.recording.formats import Format, dumps, load, loads, save, sniff
from chan_nb.recording.frame import (
    COLUMNS,
    SCHEMA,
    Column,
    Direction,
    Frame,
    Kind,
    schema_markdown,
)
from chan_nb.recording.log import SessionLog
from chan_nb.recording.reading import Problem, Reading

__all__ = [
    "COLUMNS",
    "SCHEMA",
    "Column",
    "Direction",
    "Format",
    "Frame",
    "Kind",
    "Problem",
    "Reading",
    "SessionLog",
    "dumps",
    "load",
    "loads",
    "save",
    "schema_markdown",
    "sniff",
]
