"""Scenarios against the embedded node, and the ``chan-nb demo`` command."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from chan_nb.cli import main
from chan_nb.recording import Direction, load
from chan_nb.replay.steps import per_role, sequence_diff, step_keys
from chan_nb.scenarios import SCENARIOS, SEED_FILE, run_scenario
from tests.conftest import SAMPLE_SESSION


@pytest.mark.parametrize("memory", [False, True], ids=["websocket", "memory"])
async def test_seed_scenario_reproduces_the_seed_per_role(memory: bool) -> None:
    run = await run_scenario("basic_client_reconnect_r", memory=memory)
    assert run.ok, run.steps
    seed = load(SAMPLE_SESSION).frames
    want, got = per_role(seed), per_role(run.log.frames)
    assert set(got) == {"initiator", "responder"}
    for role in want:
        assert sequence_diff(want[role], got[role]) == [], role
    # and the same records overall: only the interleaving of the roles may differ
    assert Counter(step_keys(seed)) == Counter(step_keys(run.log.frames))


def test_seed_file_is_the_shipped_sample() -> None:
    assert SEED_FILE.resolve() == SAMPLE_SESSION.resolve()


@pytest.mark.parametrize("name", sorted(set(SCENARIOS) - {"basic_client_reconnect_r"}))
async def test_every_scenario_runs_on_the_embedded_node(name: str) -> None:
    run = await run_scenario(name)
    assert run.ok, run.steps
    frames = run.log.frames
    roles = per_role(frames)
    for role in ("initiator", "responder"):
        steps = roles[role]
        assert steps[0].direction == "open" and steps[-1].direction == "close"
        if (name, role) != ("dispute", "responder"):  # there the responder vanishes
            assert steps[-2].event == "died"
    assert not any(
        f.error_code is not None and f.method is None and f.error_code < 0 for f in frames
    )


async def test_mirror_scenario_is_the_seed_with_roles_swapped() -> None:
    run = await run_scenario("basic_client_reconnect_i")
    assert run.ok, run.steps
    seed = per_role(load(SAMPLE_SESSION).frames)
    mirror = per_role(run.log.frames)
    # after the common opening block, the one who went away does what the other did
    opening = 1 + next(n for n, k in enumerate(seed["initiator"]) if k.method == "channels.update")
    away_seed = [(k.direction, k.method, k.event, k.error) for k in seed["responder"][-29:]]
    away_run = [(k.direction, k.method, k.event, k.error) for k in mirror["initiator"][-29:]]
    assert away_run == away_seed
    assert mirror["initiator"][:opening] == seed["initiator"][:opening]


async def test_conflict_scenario_gives_each_side_one_conflict_per_race() -> None:
    run = await run_scenario("conflict")
    assert run.ok, run.steps
    conflicts = [f for f in run.log.frames if f.method == "channels.conflict"]
    assert sorted(f.role for f in conflicts) == ["initiator", "initiator", "responder", "responder"]
    assert {(f.error_code, f.round) for f in conflicts} == {(2, 1)}


async def test_unknown_scenario_is_refused() -> None:
    with pytest.raises(KeyError, match="no scenario 'nope'"):
        await run_scenario("nope")


def test_demo_runs_the_seed_and_writes_the_recording(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "seed.jsonl"
    assert main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "initiator: 35 steps, the same sequence" in text
    assert "responder: 40 steps, the same sequence" in text
    assert "3/2000" in text and "3/1016" in text  # the rejected reconnects in the table
    log = load(out)
    assert log.frames[0].direction is Direction.OPEN
    assert sum(1 for f in log.frames if f.method == "channels.conflict") == 1


def test_demo_writes_markdown_the_reader_accepts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "otc.md"
    assert main(["demo", "--scenario", "open_transfer_close", "--out", str(out), "-q"]) == 0
    assert "seq  role" not in capsys.readouterr().out  # -q: no table
    log = load(out)
    errors = sorted({f.error_data_code for f in log.frames if f.error_data_code is not None})
    assert errors == [1005, 1008, 1014]


def test_demo_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["demo", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in SCENARIOS)
    assert main(["demo", "--scenario", "nope"]) == 2
    assert main(["demo", "--url", "ws://127.0.0.1:9/channel", "--network-id", "x"]) == 2
    assert "CHAN_NB_INITIATOR_SECRET" in capsys.readouterr().err


def test_demo_reports_a_different_sequence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "x.jsonl"
    code = main(
        [
            "demo",
            "--scenario",
            "conflict",
            "--compare",
            str(SAMPLE_SESSION),
            "--out",
            str(out),
            "-q",
        ]
    )
    assert code == 1
    assert "DIFFERENT" in capsys.readouterr().out
