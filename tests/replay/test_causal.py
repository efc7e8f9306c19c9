"""Recordings in causal order: every merged log chan_nb writes is a valid happens-before order.

The rules (:mod:`chan_nb.replay.causal`) are checked against the real node's recordings
(they must all pass, or the rules are wrong), then against every scenario's output over
sockets and in memory, and against replay outputs; and each scenario's recording must
replay on the embedded node with 0 differences.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from chan_nb.recording import Direction, Frame, load
from chan_nb.replay.causal import CAUSAL_RULES, violations
from chan_nb.replay.compare import compare
from chan_nb.replay.driver import replay
from chan_nb.scenarios import SCENARIOS, SEED_FILE, run_scenario
from tests.conftest import all_recordings


def _frame(seq: int, role: str, direction: Direction, raw: str) -> Frame:
    if direction is Direction.OPEN:
        return Frame.opened(role, raw, seq=seq, conn=1)
    return Frame.from_message(role, direction, raw, seq=seq, conn=1)


def test_an_effect_before_its_cause_is_a_violation() -> None:
    accept = (
        '{"jsonrpc":"2.0","method":"channels.info",'
        '"params":{"channel_id":null,"data":{"event":"channel_accept"}}}'
    )
    url = "ws://127.0.0.1:3014/channel?role=responder"
    bad = [
        _frame(1, "initiator", Direction.OPEN, url),
        _frame(2, "initiator", Direction.RECEIVED, accept),
        _frame(3, "responder", Direction.OPEN, url),
    ]
    good = [bad[0], bad[2], _frame(3, "initiator", Direction.RECEIVED, accept)]
    found = violations(bad)
    assert [(v.seq, v.role, v.needed, v.found) for v in found] == [(2, "initiator", 1, 0)]
    assert "channel_accept" in str(found[0])
    assert violations(good) == []


def test_the_seed_obeys_every_rule_and_exercises_most() -> None:
    frames = load(SEED_FILE).frames
    assert violations(frames) == []
    used = [rule.name for rule in CAUSAL_RULES if any(rule.effect(f) for f in frames)]
    assert len(used) >= 5


@pytest.mark.shared
@pytest.mark.parametrize("path", all_recordings(), ids=lambda p: p.name)
def test_the_real_node_recordings_obey_the_rules(path: Path) -> None:
    assert violations(load(path).frames) == []


def _run(name: str, memory: bool) -> list[Frame]:
    run = asyncio.run(run_scenario(name, memory=memory))
    assert run.ok, run.error
    return list(run.log.frames)


@pytest.mark.parametrize("memory", [True, False], ids=["memory", "sockets"])
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_records_in_causal_order_and_replays_exactly(
    name: str, memory: bool, tmp_path: Path
) -> None:
    frames = _run(name, memory)
    assert [str(v) for v in violations(frames)] == []
    path = tmp_path / f"{name}.jsonl"
    from chan_nb.recording import SessionLog

    SessionLog(frames, title=name).save(path)
    result = asyncio.run(replay(path, memory=memory))
    assert [str(v) for v in violations(result.replayed)] == []
    comparison = compare(
        result.recorded, result.replayed, result.recorded_parties, result.replayed_parties
    )
    assert comparison.differed == 0, (comparison.summary_line(), result.notes)
    assert comparison.matched == sum(1 for f in frames if f.direction is not Direction.INFO)


def test_the_seed_demo_in_memory_keeps_the_seeds_merged_order_of_chain_events() -> None:
    """Chain events reach the initiator first, as in every recording."""
    frames = _run("basic_client_reconnect_r", True)
    changed = [f.role for f in frames if f.info == "channel_changed"]
    assert changed[:2] == ["initiator", "responder"]
    opened = [f.role for f in frames if f.direction is Direction.OPEN][:2]
    first_accept = next(f.seq for f in frames if f.event == "channel_accept")
    responder_open = next(
        f.seq for f in frames if f.direction is Direction.OPEN and f.role == "responder"
    )
    assert opened == ["initiator", "responder"] and responder_open < first_accept
