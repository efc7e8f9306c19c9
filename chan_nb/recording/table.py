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
from pathlib import Path
from typing import Any

import pandas as pd

from chan_nb.errors import DecodeError
from chan_nb.recording.frame import COLUMNS, SCHEMA, Direction, Frame, Kind
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
    """The frame table of ``frames`` (one column per schema entry, in schema order)."""
    rows = [frame.row() for frame in frames]
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in COLUMNS]
    data: dict[str, Any] = {}
    for column, values in zip(SCHEMA, columns, strict=True):
        data[column.name] = _series(column.name, column.dtype, list(values))
    return pd.DataFrame(data)


def _series(name: str, dtype: str, values: list[Any]) -> pd.Series[Any]:
    if dtype == "int":
        return pd.Series(values, dtype="int64", name=name)
    if dtype == "float":
        return pd.Series(values, dtype="float64", name=name)
    if dtype == "Int64":
        return pd.Series(pd.array(values, dtype="Int64"), name=name)
    if dtype == "string":
        return pd.Series(values, dtype=pd.StringDtype(), name=name)
    if dtype == "category":
        strings = [None if v is None else str(v) for v in values]
        fixed = _FIXED_CATEGORIES.get(name)
        categorical = (
            pd.Categorical(strings, categories=fixed) if fixed else pd.Categorical(strings)
        )
        return pd.Series(categorical, name=name)
    series = pd.Series([None] * len(values), dtype=object, name=name)
    series[:] = values  # keeps Python ints exact (no inference to float or int64)
    return series


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
    if fmt == "csv":
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    elif fmt == "parquet":
        df = pd.read_parquet(path)
    else:
        raise ValueError(f"not a table format: {fmt}")
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
