"""Recorded channel sessions as data: read, explore as a DataFrame, analyse, write back.

Quick start::

    from chan_nb.recording import load
    log = load("sc_ws_basic_open_close.md")   # .md, rendered .txt, .jsonl, .csv, .parquet
    log                                        # terse repr: counts by role, kind, method
    log.df                                     # the records to read (seq, time, what, raw)
    log.table()                                # the full frame table (schema below)
    print(log.summary())                       # one line per record
    log.filter(role="initiator", kind="error")
    log.operations_df()                        # flows with outcome (ok/conflict/error/…)
    log.balances()                             # balances over rounds (replayed and replied)
    log.audit()                                # per-frame decode/signature/hash findings
    log.ladder()                               # Mermaid ladder in Jupyter; .figure() for matplotlib
    log.save("session.jsonl")                  # or .md / .txt / .csv / .parquet

Many sessions: ``load_many(folder)`` and ``audit_many(folder)`` give one row per session
(with progress bars), ``write_dataset(load_many(folder), "corpus")`` a partitioned Parquet
dataset for DuckDB, Polars or Spark.

Records are :class:`~chan_nb.recording.frame.Frame` objects; the table schema is
:data:`~chan_nb.recording.frame.SCHEMA` (``print(schema_markdown())`` shows it). Readers
are strict unless ``strict=False``, which returns the readable part and
``log.problems`` listing every part that could not be read.
"""

from __future__ import annotations

from chan_nb.recording.corpus import audit_many, load_many, write_dataset
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
from chan_nb.recording.operations import Operation, Outcome
from chan_nb.recording.pairing import Pair
from chan_nb.recording.reading import Problem, Reading

__all__ = [
    "COLUMNS",
    "SCHEMA",
    "Column",
    "Direction",
    "Format",
    "Frame",
    "Kind",
    "Operation",
    "Outcome",
    "Pair",
    "Problem",
    "Reading",
    "SessionLog",
    "audit_many",
    "dumps",
    "load",
    "load_many",
    "loads",
    "save",
    "schema_markdown",
    "sniff",
    "write_dataset",
]
