"""JSONL (versioned, migrations), CSV/Parquet exports, the DataFrame's dtypes and exactness."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from chan_nb.errors import DecodeError
from chan_nb.recording import COLUMNS, SCHEMA, Direction, Frame, SessionLog, load, loads
from chan_nb.recording import jsonl as jsonl_mod
from chan_nb.recording.jsonl import read_jsonl, write_jsonl
from chan_nb.recording.table import export_df, frames_to_df
from tests.conftest import SAMPLE_SESSION

BIG = 2**64 + 7


def live_frames() -> list[Frame]:
    """What a live recorder would produce: clocks, big ints, a reconnect."""
    return [
        Frame.opened(
            "initiator",
            "ws://h/channel?role=initiator",
            seq=1,
            conn=1,
            t_wall=1700000000.25,
            t_mono=10.5,
        ),
        Frame.from_message(
            "initiator",
            "sent",
            json.dumps(
                {
                    "id": -(2**63) - 5,
                    "jsonrpc": "2.0",
                    "method": "channels.deposit",
                    "params": {"amount": BIG},
                }
            ),
            seq=2,
            conn=1,
            t_wall=1700000000.5,
            t_mono=10.75,
        ),
        Frame.from_message(
            "initiator",
            "received",
            json.dumps({"id": -(2**63) - 5, "jsonrpc": "2.0", "result": "ok", "version": 1}),
            seq=3,
            conn=1,
            t_wall=1700000000.75,
            t_mono=11.0,
        ),
        Frame.note("initiator", "a note\nover two lines", seq=4, conn=1),
        Frame.closed("initiator", seq=5, conn=1, t_mono=12.0),
    ]


def test_jsonl_round_trip_keeps_times_and_exact_ints() -> None:
    frames = live_frames()
    text = write_jsonl(frames, title="live", source="unit")
    header = json.loads(text.split("\n", 1)[0])
    assert header == {
        "format": "chan_nb.recording",
        "schema_version": 1,
        "title": "live",
        "source": "unit",
    }
    reading = read_jsonl(text)
    assert reading.frames == frames
    assert reading.title == "live"
    assert reading.frames[1].amount == BIG
    assert reading.frames[2].rpc_id == -(2**63) - 5
    assert reading.frames[0].t_wall == 1700000000.25
    assert loads(text).frames == frames  # sniffed


def test_jsonl_records_hold_only_primary_fields() -> None:
    line = write_jsonl(live_frames()).split("\n")[2]
    assert set(json.loads(line)) == {"seq", "role", "direction", "conn", "t_wall", "t_mono", "raw"}


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ("not json", "JSON header"),
        ('{"format": "other", "schema_version": 1}', "format"),
        ('{"format": "chan_nb.recording", "schema_version": "1"}', "schema_version"),
        ('{"format": "chan_nb.recording", "schema_version": 99}', "newer"),
    ],
)
def test_bad_jsonl_header_raises(head: str, expected: str) -> None:
    with pytest.raises(DecodeError, match=expected) as info:
        read_jsonl(head + "\n", source="x.jsonl", strict=False)
    assert "x.jsonl:1" in str(info.value)


def test_bad_jsonl_records_name_their_line() -> None:
    good = write_jsonl(live_frames()).split("\n")
    lines = [
        good[0],
        good[1],
        "{broken",
        json.dumps({"seq": 2, "role": "r"}),
        good[2],
        json.dumps({**json.loads(good[3]), "direction": "sideways"}),
        "",
    ]
    text = "\n".join(lines)
    with pytest.raises(DecodeError, match=r"x\.jsonl:3"):
        read_jsonl(text, source="x.jsonl")
    reading = read_jsonl(text, source="x.jsonl", strict=False)
    assert [p.line for p in reading.problems] == [3, 4, 6]
    assert "missing fields" in str(reading.problems[1])
    assert "direction" in str(reading.problems[2])
    assert [f.seq for f in reading.frames] == [1, 2]


def test_migration_hook_upgrades_old_records(monkeypatch: pytest.MonkeyPatch) -> None:
    """A future schema v2 renames ``raw`` to ``text``; v1 files are upgraded on reading."""
    monkeypatch.setattr(jsonl_mod, "SCHEMA_VERSION", 2)
    monkeypatch.setattr(jsonl_mod, "MIGRATIONS", {})
    calls: list[int] = []

    @jsonl_mod.migration(1)
    def add_marker(record: dict[str, object]) -> dict[str, object]:
        calls.append(int(record["seq"]))  # type: ignore[call-overload]
        return {**record, "raw": record["raw"]}

    old = write_jsonl(live_frames()).replace('"schema_version": 2', '"schema_version": 1')
    reading = read_jsonl(old)
    assert calls == [1, 2, 3, 4, 5]
    assert reading.frames == live_frames()


def test_missing_migration_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonl_mod, "SCHEMA_VERSION", 3)
    monkeypatch.setattr(jsonl_mod, "MIGRATIONS", {})
    text = '{"format": "chan_nb.recording", "schema_version": 1}\n'
    with pytest.raises(DecodeError, match="no migration from schema_version 1"):
        read_jsonl(text)


def test_dataframe_dtypes_follow_the_schema() -> None:
    df = frames_to_df(live_frames())
    assert list(df.columns) == list(COLUMNS)
    expected = {
        "int": "int64",
        "float": "float64",
        "Int64": "Int64",
        "category": "category",
        "string": "string",
        "object": "object",
    }
    for column in SCHEMA:
        assert str(df[column.name].dtype) == expected[column.dtype], column.name
    assert list(df["direction"].cat.categories) == [d.value for d in Direction]
    assert df["amount"].iloc[1] == BIG and type(df["amount"].iloc[1]) is int
    assert df["rpc_id"].iloc[2] == -(2**63) - 5
    assert df["rpc_id"].iloc[0] is None
    assert df["t_mono"].iloc[3] != df["t_mono"].iloc[3]  # NaN where unknown
    assert df["raw"].iloc[4] == ""


def test_empty_dataframe_has_all_columns() -> None:
    df = frames_to_df([])
    assert list(df.columns) == list(COLUMNS) and len(df) == 0


def test_sample_session_dataframe() -> None:
    log = load(SAMPLE_SESSION)
    df = log.table()
    assert df is log.table()  # built once
    assert list(df.columns) == list(COLUMNS)
    assert len(df) == len(log)
    assert df["seq"].tolist() == list(range(1, len(log) + 1))
    assert set(df["role"].cat.categories) == {"initiator", "responder"}
    assert (df["kind"] == "error").sum() == 4
    notices = df[(df["method"] == "channels.update") & (df["direction"] == "received")]
    assert notices["round"].tolist() == [1, 1, 2]
    replies = df[(df["method"] == "channels.update") & (df["direction"] == "sent")]
    assert replies["round"].tolist() == [2, 2]


def test_curated_view_reads_first() -> None:
    """``log.df``: seq as the index, tz-aware wall times, the raw text last."""
    log = SessionLog(live_frames(), name="live")
    df = log.df
    assert df is log.df
    assert df.index.name == "seq" and df.index.tolist() == [f.seq for f in log]
    assert str(df["time"].dtype) == "datetime64[ns, UTC]"
    first = log.frames[0]
    assert first.t_wall is not None
    assert df["time"].iloc[0].timestamp() == pytest.approx(first.t_wall, abs=1e-6)
    assert df.columns[-1] == "raw" and df.columns[0] == "time"
    assert df["raw"].tolist() == [f.raw for f in log]
    assert df["role"].tolist() == [f.role for f in log]
    assert df.loc[log.frames[1].seq, "amount"] == BIG  # exact int kept in the view
    assert len(df.columns) < len(log.table().columns)
    imported = load(SAMPLE_SESSION).df
    assert imported["time"].isna().all()  # a published log has no clock
    assert imported.index[0] == 1


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "md", "txt"])
def test_every_export_reads_back_to_the_same_records(fmt: str, tmp_path: Path) -> None:
    log = load(SAMPLE_SESSION)
    path = log.save(tmp_path / f"out.{fmt}")
    again = load(path)
    assert again.frames == log.frames
    assert again[1].message == log[1].message


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_table_exports_keep_times_and_big_ints(fmt: str, tmp_path: Path) -> None:
    log = SessionLog(live_frames(), name="live")
    path = log.save(tmp_path / f"live.{fmt}")
    again = load(path)
    assert again.frames == log.frames
    assert again[1].amount == BIG
    table = pd.read_csv(path, dtype=str) if fmt == "csv" else pd.read_parquet(path)
    assert str(table["amount"].iloc[1]) == str(BIG)
    assert "message" not in table.columns


def test_export_df_makes_params_json() -> None:
    df = export_df(live_frames(), "csv")
    assert json.loads(df["params"].iloc[0]) == {"role": "initiator"}


def test_csv_with_a_bad_row_reports_it(tmp_path: Path) -> None:
    path = SessionLog(live_frames()).save(tmp_path / "x.csv")
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table.loc[2, "direction"] = "sideways"
    table.to_csv(path, index=False)
    with pytest.raises(DecodeError, match=r"x\.csv:4"):
        load(path)
    again = load(path, strict=False)
    assert [p.line for p in again.problems] == [4]
    assert len(again) == 4


def test_save_needs_a_known_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="format"):
        SessionLog(live_frames()).save(tmp_path / "x.unknown")
