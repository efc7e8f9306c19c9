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

from chan_nb import bench
from chan_nb.commands import bench as bench_command
from chan_nb.node import bench as node_bench

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def test_session_throughput_compares_recording_on_and_off() -> None:
    figures = bench.session_throughput(transfers=12, repeat=1)
    assert figures["transfers_per_s"] > 0 and figures["transfers_per_s_no_recording"] > 0
    assert figures["session_transfers"] == 12
    # recording on kept every frame: the open and ≥ 5 frames per transfer (both sides)
    assert figures["session_frames_recorded"] >= 12 * 5 + 20
    on, off = figures["transfers_per_s"], figures["transfers_per_s_no_recording"]
    assert abs(figures["recording_overhead_pct"] - 100 * (1 - on / off)) < 0.5  # rates rounded


def test_the_not_recording_recorder_keeps_nothing() -> None:
    quiet = bench._not_recording()()
    assert quiet.opened("initiator", "ws://x/channel") == 1
    quiet.sent("initiator", "{}", 1)
    quiet.received("initiator", "{}", 1)
    quiet.closed("initiator", 1)
    assert len(quiet) == 0


def test_the_node_groups_are_renamed_apart_from_the_session_figures() -> None:
    groups = node_bench.benchmarks()
    assert set(groups) == {"node", "sdkjs"}
    figures = bench_command.groups(None)
    assert {"verify", "sessions", "node", "sdkjs", "load"} <= set(figures)


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
    monkeypatch.setattr(bench_command, "groups", lambda recordings: fake)
    args = argparse.Namespace(json=True, recordings=None, only=None)
    assert bench_command.run(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sdkjs_ratio"] == 4.0 and "_elapsed_s" not in out
    args = argparse.Namespace(json=False, recordings=None, only=["sessions"])
    assert bench_command.run(args) == 0
    table = capsys.readouterr().out
    assert ">= 1,000/s (NOT met)" in table and "<= 5% (met)" in table
    assert "channels" not in table  # --only left the other groups out
