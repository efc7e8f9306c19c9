"""The node's era: the current node (v7) by default, the 2020 and 2019 builds for replays.

disputes-and-current-node.md part 2: what a user of a current node meets that the 2020
recordings do not show, and what the older builds did instead.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from chan_nb.node import NodeConfig, NodeCore
from chan_nb.protocol import methods
from chan_nb.recording import load
from chan_nb.replay.driver import recorded_era
from tests.conftest import PROJECT_ROOT, SHARED_DIR
from tests.node.harness import Harness, error, info, open_channel


def harness(era: str | None = None, version: int = 2) -> Harness:
    config = NodeConfig(block_interval=None, create_tx_version=version, era=era)  # type: ignore[arg-type]
    return Harness(NodeCore(config))


def test_the_default_node_is_the_current_one() -> None:
    assert NodeConfig().effective_era == "current"
    assert NodeConfig(create_tx_version=1).effective_era == "recorded"


def test_history_fetch_on_a_current_node_returns_the_fsms_latest_entries() -> None:
    h = harness()
    ch = open_channel(h)
    ch.balances(ch.i)
    history = ch.ask(ch.i, methods.HISTORY_FETCH, {})
    assert 0 < len(history) <= 10
    assert {entry["type"] for entry in history} <= {"report", "request", "send", "receive"}
    assert all(entry["time"].endswith("Z") for entry in history)
    # kept as a number, shown when fetched: UTC to the microsecond, as the node does
    now = datetime.now(UTC)
    for entry in history:
        stamp = datetime.fromisoformat(entry["time"].removesuffix("Z") + "+00:00")
        assert len(entry["time"]) == len("2026-01-01T00:00:00.000000Z")
        assert abs((now - stamp).total_seconds()) < 60
    assert any(e["type"] == "request" and e["tag"] == methods.GET_BALANCES for e in history)
    assert any(e["type"] == "report" and e["tag"] == "update" for e in history)


@pytest.mark.parametrize("method", [methods.HISTORY_FETCH, methods.ASSUME_MINIMUM_DEPTH])
def test_methods_of_later_builds_are_unknown_to_the_2020_build(method: str) -> None:
    h = harness("recorded", 1)
    ch = open_channel(h)
    h.take(ch.i)
    params = {"tx_hash": "th_2Fb8Rqk4a9fUHHnkjpgKqYdT1m2ULUfQTmH6Qua7ccJrWe9i"}
    h.request(ch.i, method, params if method == methods.ASSUME_MINIMUM_DEPTH else {}, 1)
    assert h.keys(ch.i) == [error(-32601)]


def test_the_2019_build_sends_funding_reports_without_fsm_id_or_channel_id() -> None:
    h = harness("older", 1)
    ch = open_channel(h, confirm=False)
    funding = [
        f
        for f in h.take(ch.r)
        if f.get("params", {}).get("data", {}).get("event") == "funding_created"
    ]
    assert funding and funding[0]["params"]["channel_id"] is None
    assert "fsm_id" not in funding[0]["params"]["data"]
    signed = [
        f
        for f in h.take(ch.i)
        if f.get("params", {}).get("data", {}).get("event") == "funding_signed"
    ]
    assert signed and signed[0]["params"]["channel_id"] is None
    assert "fsm_id" not in signed[0]["params"]["data"]


@pytest.mark.parametrize(
    ("era", "version", "times_out"), [("current", 2, False), ("recorded", 1, True)]
)
def test_a_kept_running_responder_ignores_timers_only_on_a_current_node(
    era: str, version: int, times_out: bool
) -> None:
    h = harness(era, version)
    ch = open_channel(h, timeout_idle=2000, keep_running=None)
    h.take(ch.i), h.take(ch.r)
    h.sleep(2.5)
    assert h.keys(ch.i) == [info("timeout"), info("died")]
    h.sleep(2.5)  # the responder's own idle timer, re-armed by the peer's loss
    responder = h.keys(ch.r)
    assert info("peer_disconnected") in responder
    assert (info("timeout") in responder) is times_out
    h.sleep(0.1)  # the node closes a socket just after died
    assert (ch.r in h.closed) is times_out


@pytest.mark.shared
@pytest.mark.parametrize(
    ("name", "era"),
    [
        ("changeable_fee/sc_ws_set_fee_create.md", "older"),
        ("assume_min_depth/sc_ws_basic_open_close.md", "current"),
        ("sc_ws_basic_open_close.md", "recorded"),
    ],
)
def test_a_replay_picks_the_era_from_the_recording_and_says_which(name: str, era: str) -> None:
    path = SHARED_DIR / "recordings" / "json-rpc" / name
    assert recorded_era(load(path).frames) == era
    run = subprocess.run(
        [sys.executable, "-m", "chan_nb", "replay", str(path), "--memory"],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=False,
    )
    assert f"era: {era} (from the recording)" in run.stdout
    assert run.returncode == 0, run.stdout[-2000:]


def test_chan_nb_replay_era_can_be_forced(tmp_path: Path) -> None:
    import argparse

    from chan_nb.commands.replay import register  # the option exists with its choices

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["replay", "x.md", "--era", "current"])
    assert args.era == "current"
    assert parser.parse_args(["replay", "x.md"]).era == "auto"
