"""The frame table: records -> one pandas DataFrame, built once, column by column.

Dtypes follow :data:`~chan_nb.recording.frame.SCHEMA`: categoricals for the small
vocabularies (role, direction, kind, method, event, ids …; direction and kind always
carry their full category list so tables of different logs concatenate cleanly),
nullable ``Int64`` for small ints, ``object`` holding exact Python ints for JSON-RPC
ids and amounts (they exceed 2^63), ``string`` for text. CSV and Parquet exports go
through pandas; reading them back uses the primary columns only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from operator import attrgetter
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from chan_nb.errors import DecodeError
from chan_nb.recording.frame import SCHEMA, Direction, Frame, Kind
from chan_nb.recording.reading import ProblemSink, Reading

_FIXED_CATEGORIES: dict[str, list[str]] = {
    "direction": [d.value for d in Direction],
    "kind": [k.value for k in Kind],
}
#: Columns that are parsed JSON: not written to CSV/Parquet (``raw`` holds them exactly).
_NOT_EXPORTED = ("message",)
#: Object columns of exact ints, written as decimal text where the format has no bigints.
_BIG_INT_COLUMNS = ("rpc_id", "amount")


def frames_to_df(frames: Sequence[Frame]) -> pd.DataFrame:
    """The frame table of ``frames`` (one column per schema entry, in schema order).

    Each column is built in one pass from a plain list (no per-row pandas work)."""
    data: dict[str, Any] = {}
    for column in SCHEMA:
        values = list(map(attrgetter(column.name), frames))
        data[column.name] = _column(column.name, column.dtype, values)
    return pd.DataFrame(data, copy=False)


#: The curated view's columns after ``time`` (see :func:`view_df`), ``raw`` last.
VIEW_COLUMNS: Final = (
    "role",
    "conn",
    "direction",
    "kind",
    "method",
    "event",
    "round",
    "amount",
    "tx_type",
    "contract",
    "error_code",
    "error_message",
    "rpc_id",
    "raw",
)


def view_df(table: pd.DataFrame) -> pd.DataFrame:
    """The table a person reads first: indexed by ``seq`` (1-based, as every report
    names records), wall time as a tz-aware ``datetime64`` column ``time`` (UTC; NaT in
    imported logs, which carry no clock), the columns that say what happened, and the
    raw text last so it takes what width is left. Every other column stays in the full
    table (``SessionLog.table()``)."""
    view = table.loc[:, list(VIEW_COLUMNS)]
    view.insert(0, "time", pd.to_datetime(table["t_wall"], unit="s", utc=True))
    view.index = pd.Index(table["seq"], name="seq")
    return view


def _column(name: str, dtype: str, values: list[Any]) -> Any:
    if dtype == "int":
        return np.array(values, dtype=np.int64)
    if dtype == "float":
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if dtype == "Int64":
        return _nullable_ints(values)
    if dtype == "string":
        return pd.array(values, dtype=pd.StringDtype("python"))
    if dtype == "category":
        return _categorical(values, _FIXED_CATEGORIES.get(name))
    array = np.empty(len(values), dtype=object)
    array[:] = values  # keeps Python ints exact (no inference to float or int64)
    return array


def _nullable_ints(values: list[Any]) -> Any:
    mask = np.array([v is None for v in values], dtype=bool)
    try:
        data = np.array([0 if v is None else v for v in values], dtype=np.int64)
    except OverflowError:  # not expected for rounds, codes and lines; stay exact anyway
        array = np.empty(len(values), dtype=object)
        array[:] = values
        return array
    return pd.arrays.IntegerArray(data, mask)


def _categorical(values: list[Any], fixed: list[str] | None) -> Any:
    """Codes computed with a dict, then one ``from_codes`` (much faster than inference)."""
    index: dict[Any, int] = {c: i for i, c in enumerate(fixed)} if fixed else {}
    if fixed:
        codes = [-1 if v is None else index[v] for v in values]
    else:
        codes = [-1 if v is None else index.setdefault(v, len(index)) for v in values]
    categories = pd.Index([str(c) for c in index], dtype=object)
    return pd.Categorical.from_codes(
        np.array(codes, dtype=np.int32), dtype=pd.CategoricalDtype(categories), validate=False
    )


def export_df(frames: Sequence[Frame], fmt: str) -> pd.DataFrame:
    """The table as written to CSV/Parquet: JSON-able cells, exact ints as text for Parquet."""
    df = frames_to_df(frames).drop(columns=list(_NOT_EXPORTED))
    df["params"] = [None if p is None else json.dumps(p) for p in df["params"]]
    if fmt == "parquet":
        for name in _BIG_INT_COLUMNS:
            df[name] = pd.Series(
                [None if v is None else str(v) for v in df[name]], dtype=pd.StringDtype()
            )
    return df


def write_table(frames: Sequence[Frame], path: Path, fmt: str) -> None:
    df = export_df(frames, fmt)
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "parquet":
        df.to_parquet(path, index=False)
    else:
        raise ValueError(f"not a table format: {fmt}")


def read_table(path: Path, fmt: str, *, strict: bool = True, decode_txs: bool = True) -> Reading:
    """Records from a CSV/Parquet export (rows numbered from 2 for CSV, like a spreadsheet)."""
    try:
        if fmt == "csv":
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif fmt == "parquet":
            df = pd.read_parquet(path)
        else:
            raise ValueError(f"not a table format: {fmt}")
    except ImportError as exc:
        raise DecodeError(f"{exc} (install chan-nb[parquet])", str(path)) from None
    except OSError:
        raise
    except Exception as exc:  # pandas/pyarrow parser errors have no common public base
        found = str(exc).split("\n", 1)[0] or type(exc).__name__
        raise DecodeError(f"expected a {fmt} frame table, found: {found}", str(path)) from None
    missing = [n for n in ("seq", "role", "direction", "conn", "raw") if n not in df.columns]
    if missing:
        raise DecodeError(f"expected columns {', '.join(missing)}", str(path))
    sink = ProblemSink(str(path), strict)
    frames: list[Frame] = []
    t_wall = df["t_wall"] if "t_wall" in df.columns else [None] * len(df)
    t_mono = df["t_mono"] if "t_mono" in df.columns else [None] * len(df)
    for row, values in enumerate(
        zip(
            df["seq"],
            df["role"],
            df["direction"],
            df["conn"],
            df["raw"],
            t_wall,
            t_mono,
            strict=True,
        ),
        start=2,
    ):
        seq, role, direction, conn, raw, wall, mono = values
        try:
            frames.append(
                Frame(
                    int(seq),
                    str(role),
                    Direction(direction),
                    int(conn),
                    "" if _missing(raw) else str(raw),
                    _time(wall),
                    _time(mono),
                    row,
                    decode_txs,
                )
            )
        except (ValueError, TypeError) as exc:
            sink.report(row, f"a valid record row ({exc})", str(values))
    return Reading(frames, sink.problems)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA


def _time(value: Any) -> float | None:
    if _missing(value) or value == "":
        return None
    return float(value)
