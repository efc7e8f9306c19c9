"""The benchmark groups behind ``chan-nb bench`` run and report their figures (tiny sizes).

Only that they measure what they say is checked here — speed is the benchmark's business
(BENCHMARKS.md), never a unit test's.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from benchmarks import cost, sessions
from benchmarks import groups as bench_groups
from benchmarks import node as node_bench
from chan_nb.commands import bench as bench_command

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_session_throughput_compares_recording_on_and_off() -> None:
    figures = sessions.session_throughput(transfers=12, repeat=1, calls=6)
    assert figures["transfers_per_s"] > 0 and figures["transfers_per_s_no_recording"] > 0
    # the contract calls ran (each checked: verified by the caller, the counter's value)
    assert figures["contract_calls_per_s"] > 0 and figures["session_contract_calls"] == 6
    assert figures["session_transfers"] == 12
    # recording on kept every frame: the open and ≥ 5 frames per transfer (both sides)
    assert figures["session_frames_recorded"] >= 12 * 5 + 20
    # the overhead comes from the unrounded rates: it lies within what the rates, each
    # rounded to a whole number (±0.5), allow, itself rounded to 0.1
    on, off = figures["transfers_per_s"], figures["transfers_per_s_no_recording"]
    lowest = 100 * (1 - (on + 0.5) / (off - 0.5))
    highest = 100 * (1 - (on - 0.5) / (off + 0.5))
    assert lowest - 0.05 <= figures["recording_overhead_pct"] <= highest + 0.05


@pytest.mark.parametrize("memory", [False, True], ids=["sockets", "memory"])
def test_the_counted_session_counts_bytecodes_of_the_transfers_only(
    memory: bool, tmp_path: Path
) -> None:
    out = tmp_path / "ops.json"
    assert cost.main(["--transfers", "4", "--opcodes", str(out), *(["--memory"] * memory)]) == 0
    table = json.loads(out.read_text(encoding="utf-8"))
    # per transfer the node reads three frames (update.new and both signed replies):
    # nothing of the open or of the warm-up is counted
    assert table["chan_nb/node/core.py:receive"][1] == 3
    assert sum(ops for ops, _ in table.values()) > 1000
    assert not any(key.startswith("/") for key in table)  # no machine paths


def test_the_not_recording_recorder_keeps_nothing() -> None:
    quiet = sessions.NotRecording()
    assert quiet.opened("initiator", "ws://x/channel") == 1
    quiet.sent("initiator", "{}", 1)
    quiet.received("initiator", "{}", 1)
    quiet.closed("initiator", 1)
    assert len(quiet) == 0


def test_the_groups_run_bottom_up_and_recordings_add_import_and_audit(tmp_path: Path) -> None:
    assert list(bench_groups.groups(None)) == ["verify", "sessions", "node", "sdkjs", "load"]
    every = list(bench_groups.groups(tmp_path))
    assert every == ["verify", "import", "audit", "sessions", "node", "sdkjs", "load"]
    assert bench_groups.QUICK.load_channels < bench_groups.FULL.load_channels == 1000


@pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None, reason="node/npm not installed"
)
def test_the_js_sdk_benchmark_times_real_transfers() -> None:
    sdk_dir, why = node_bench.ensure_sdk(ROOT)  # installs into .sdkjs on first use
    assert sdk_dir is not None, why
    figures = node_bench.sdkjs_throughput(transfers=6)
    assert figures["sdkjs_transfers"] == 6
    assert figures["sdkjs_transfers_per_s"] > 0


def test_the_command_prints_targets_ratio_and_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake: dict[str, Any] = {
        "sessions": lambda: {"transfers_per_s": 600, "recording_overhead_pct": 3.2},
        "sdkjs": lambda: {"sdkjs_transfers_per_s": 150},
        "load": lambda: {"channels": 1000, "load_problems": 0, "_elapsed_s": 1.0},
    }
    asked: list[bool] = []

    def fake_groups(recordings: Path | None, *, quick: bool, progress: Any) -> dict[str, Any]:
        asked.append(quick)
        return fake

    monkeypatch.setattr(bench_groups, "groups", fake_groups)
    args = argparse.Namespace(json=True, recordings=None, only=None, quick=True)
    assert bench_command.run(args) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["sdkjs_ratio"] == 4.0 and "_elapsed_s" not in out
    assert asked == [True] and out["quick"] is True
    # never silent: a line on stderr as each group starts and ends
    assert "bench: [1/3] sessions …" in captured.err and "[3/3] load done in" in captured.err
    args = argparse.Namespace(json=False, recordings=None, only=["sessions"], quick=False)
    assert bench_command.run(args) == 0
    table = capsys.readouterr().out
    assert ">= 1,000/s (NOT met)" in table and "<= 5% (met)" in table
    assert "channels" not in table  # --only left the other groups out
    assert "quick" not in table
    # a quick run's small figures are shown next to the targets, never judged by them
    args = argparse.Namespace(json=False, recordings=None, only=["sessions"], quick=True)
    assert bench_command.run(args) == 0
    table = capsys.readouterr().out
    assert ">= 1,000/s (not judged: --quick)" in table and "NOT met" not in table
    args = argparse.Namespace(json=False, recordings=None, only=["nope"], quick=False)
    assert bench_command.run(args) == 2
    assert "no group nope" in capsys.readouterr().err


def test_the_command_finds_the_checkout_and_says_when_there_is_none(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    assert bench_command.checkout_root() == ROOT
    assert bench_command.load_benchmarks() is bench_groups
    # as from a wheel: no benchmarks/ beside the package, none in the working directory
    monkeypatch.setattr(bench_command, "checkout_root", lambda: None)
    args = argparse.Namespace(json=False, recordings=None, only=None, quick=False)
    assert bench_command.run(args) == 2
    assert "not installed with the package" in capsys.readouterr().err


def test_quick_runs_every_group_small(capsys: pytest.CaptureFixture[str]) -> None:
    """``--quick`` runs each group for real, with a progress line for each."""
    args = argparse.Namespace(
        json=True, recordings=None, only=["verify", "sessions", "load"], quick=True
    )
    assert bench_command.run(args) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["session_transfers"] == bench_groups.QUICK.session_transfers
    assert out["channels"] == bench_groups.QUICK.load_channels and out["load_problems"] == 0
    assert out["verify_per_s"] > 0
    assert "bench: 20 channels open" in captured.err
