"""``chan-nb summarize`` and ``chan-nb convert``, and the import benchmark function."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.recordings import import_throughput
from chan_nb.cli import main
from chan_nb.recording import load
from tests.conftest import SAMPLE_SESSION


def test_summarize_prints_counts_and_operations(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summarize", str(SAMPLE_SESSION), "--ops"]) == 0
    out = capsys.readouterr().out
    assert "86 records, roles initiator, responder" in out
    assert "responder 46, initiator 40" in out
    assert "reconnect              error 4, ok 1" in out
    assert "update by initiator: conflict" in out


def test_summarize_frames_lists_every_record(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summarize", str(SAMPLE_SESSION), "--frames"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n    #") == 86


def test_summarize_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.md"
    bad.write_text("\n#### alice ---> node\nnot a fence\n")
    assert main(["summarize", str(bad)]) == 1
    assert "bad.md:3" in capsys.readouterr().err
    assert main(["summarize", str(bad), "--lenient"]) == 1
    assert "unread   1" in capsys.readouterr().out


def test_summarize_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "one.txt").write_text(SAMPLE_SESSION.read_text())
    (tmp_path / "README.md").write_text("# not a log\n")
    assert main(["summarize", str(tmp_path)]) == 0
    assert "one.txt: 86 records" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "md", "txt"])
def test_convert_round_trips(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"session.{fmt}"
    assert main(["convert", str(SAMPLE_SESSION), "--to", fmt, "-o", str(out)]) == 0
    assert load(out).frames == load(SAMPLE_SESSION).frames
    assert "86 records" in capsys.readouterr().err


def test_convert_text_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["convert", str(SAMPLE_SESSION), "--to", "txt"]) == 0
    assert capsys.readouterr().out == SAMPLE_SESSION.read_text()


def test_convert_several_into_a_directory(tmp_path: Path) -> None:
    second = tmp_path / "second.txt"
    second.write_text(SAMPLE_SESSION.read_text())
    target = tmp_path / "out"
    assert (
        main(["convert", str(SAMPLE_SESSION), str(second), "--to", "jsonl", "-o", str(target)]) == 0
    )
    assert sorted(p.name for p in target.iterdir()) == [
        "sc_ws_basic_client_reconnect_r.jsonl",
        "second.jsonl",
    ]


def test_import_throughput_reports_figures() -> None:
    result = import_throughput([SAMPLE_SESSION])
    assert result["import_files"] == 1
    assert result["import_records"] == 86
    assert result["import_mb"] == round(SAMPLE_SESSION.stat().st_size / 1e6, 2)
    assert result["import_mb_per_s"] > 0
