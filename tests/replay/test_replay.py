"""Replaying recorded sessions against the embedded node, and comparing the answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from chan_nb.cli import main
from chan_nb.recording import Direction, Frame, load, loads
from chan_nb.replay.compare import compare
from chan_nb.replay.driver import ReplayError, find_prelude, needs_prelude, plan, replay
from chan_nb.replay.normalise import Namer, normalised, tx_shape
from tests.conftest import SAMPLE_SESSION, shared_path

SEED_I = "ak_Soj4M7ojYxbWvNf8vNYSZZ9TnMWL7r4sF2wUmktKdc8qqC1w2"
SEED_R = "ak_zz66HmMbYFXsfeo6f576yHyCk39sMKSFtbaxP9SyebwfczbYR"


def _frames(text: str) -> list[Frame]:
    return loads(text).frames


# -- normalising and comparing -----------------------------------------------------------------


def test_namer_replaces_run_specific_values() -> None:
    namer = Namer({SEED_I: "initiator", SEED_R: "responder"})
    assert namer.name(SEED_I) == "<initiator>"
    assert namer.name("ak_11111111111111111111111111111115rHyByZ").startswith("ak_1111")
    channel = "ch_29rmbxczEmFWBx2JFjD2S8YkhPULNwdUFe6NoZuM3HSA1fEKPC"
    assert namer.name(channel) == "<channel#1>" == namer.name(channel)
    assert namer.name("ba_MsyEJ+HzxuXMBs6/Dk9DC12WlRdLbXYpMlQ0OCVajDAhE6Fb") == "<fsm#1>"
    assert namer.name("ba_cQiEQGZ/G5WoXg5o0uLYscwXGrxa+WPteqFwxZ7xsmEctG4/") == "<fsm#2>"
    assert namer.name("Invalid") == "Invalid"
    assert namer.value({"id": -5, "params": {"id": None}}) == {"id": "<id>", "params": {"id": None}}


def test_tx_shape_keeps_type_round_and_signature_count() -> None:
    seed = load(SAMPLE_SESSION).frames
    states = [f.tx for f in seed if f.method == "channels.update" and f.tx]
    assert tx_shape(states[0]) == "<tx channel_create_tx r1 s2>"
    assert tx_shape(states[-1]) == "<tx channel_offchain_tx r2 s2>"
    assert tx_shape("tx_nonsense") == "<tx undecodable>"


def test_a_recording_matches_itself_and_tampering_shows() -> None:
    seed = load(SAMPLE_SESSION).frames
    parties = {SEED_I: "initiator", SEED_R: "responder"}
    same = compare(seed, seed, parties, parties)
    assert same.ok and same.differed == 0
    assert same.matched == sum(1 for f in seed if f.direction is not Direction.INFO)
    assert same.summary_line() == f"replay: {same.matched} steps matched, 0 differed"
    changed = [f for f in seed if f.seq != 53]  # the 2000 error dropped
    result = compare(seed, changed, parties, parties)
    assert result.differed == 1 and result.matched == same.matched - 1
    (difference,) = result.roles["responder"].differences
    assert difference.recorded_seqs == (53,) and difference.replayed == ()
    assert "2000" in difference.recorded[0]


def test_stop_race_is_not_a_difference() -> None:
    seed = load(SAMPLE_SESSION).frames
    closing = [f for f in seed if f.role == "initiator" and f.direction is not Direction.INFO]
    died = next(i for i, f in enumerate(closing) if f.event == "died")
    ok = Frame.from_message(
        "initiator",
        "received",
        '{"id":1,"jsonrpc":"2.0","result":"ok","channel_id":null,"version":1}',
        seq=999,
        conn=1,
    )
    one = [*closing[: died + 1], ok, *closing[died + 1 :]]
    other = [*closing[:died], ok, *closing[died:]]
    parties = {SEED_I: "initiator", SEED_R: "responder"}
    assert compare(one, other, parties, parties).ok


def test_normalised_open_drops_host_and_names_ids() -> None:
    seed = load(SAMPLE_SESSION).frames
    namer = Namer({SEED_I: "initiator", SEED_R: "responder"})
    text = normalised(seed[0], namer)
    assert text.startswith("initiator open ")
    assert "initiator_id=<initiator>" in text and "host=" not in text


# -- plans and preludes ------------------------------------------------------------------------


def test_plan_of_the_seed() -> None:
    what = plan(SAMPLE_SESSION)
    assert what.parties == {SEED_I: "initiator", SEED_R: "responder"}
    assert what.prelude is None and not needs_prelude(what.frames)
    assert what.terms["push_amount"] == "1"


@pytest.mark.shared
def test_mid_channel_recordings_find_their_prelude(tmp_path: Path) -> None:
    case = shared_path(
        "recordings", "json-rpc", "both_sign", "conflicts", "sc_ws_conflict_two_offchain_updates.md"
    )
    assert needs_prelude(load(case).frames)
    prelude = find_prelude(case)
    assert prelude is not None and prelude.name == "init_per_group.md"
    assert prelude.parent.name == "both_sign"
    what = plan(case)
    assert what.prelude == prelude and what.prelude_records == len(load(prelude).frames)
    lonely = tmp_path / "case.md"
    lonely.write_text(case.read_text())
    with pytest.raises(ReplayError, match="--prelude"):
        plan(lonely)
    assert plan(lonely, prelude).prelude == prelude


# -- replaying ---------------------------------------------------------------------------------


@pytest.mark.parametrize("memory", [False, True], ids=["websocket", "memory"])
async def test_seed_replays_without_a_difference(memory: bool) -> None:
    result = await replay(SAMPLE_SESSION, memory=memory)
    comparison = compare(
        result.recorded, result.replayed, result.recorded_parties, result.replayed_parties
    )
    assert comparison.ok, result.notes
    assert comparison.matched == 75
    # fresh keys: none of the recorded parties appears in the replay
    assert not set(result.recorded_parties) & set(result.replayed_parties)
    text = "\n".join(f.raw for f in result.replayed)
    assert SEED_I not in text and SEED_R not in text
    # the co-signed update was signed by both fresh keys
    update = [f for f in result.replayed if f.direction is Direction.SENT and f.tx_type]
    assert any(f.method == "channels.update" for f in update)


def test_replay_command_on_the_seed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "replay.jsonl"
    assert main(["replay", str(SAMPLE_SESSION), "--out", str(out)]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == "replay: 75 steps matched, 0 differed"
    assert "initiator: 35 matched, 0 differed" in lines
    assert len(load(out).frames) == 75


def test_replay_command_reports_differences(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = SAMPLE_SESSION.read_text()
    tampered = tmp_path / "tampered.txt"
    # the recording now claims the conflict was a timeout (3) rather than a conflict (2)
    tampered.write_text(text.replace('"error_code": 2', '"error_code": 3', 1))
    assert main(["replay", str(tampered)]) == 1
    output = capsys.readouterr().out
    assert output.strip().splitlines()[-1] == "replay: 74 steps matched, 1 differed"
    assert '- recorded: initiator received {"jsonrpc":"2.0","method":"channels.conflict"' in output
    assert '"error_code":3' in output and '"error_code":2' in output


def test_replay_command_usage_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["replay", str(tmp_path / "missing.md")]) == 2
    assert main(["replay", str(SAMPLE_SESSION), "--url", "ws://127.0.0.1:9/channel"]) == 2
    assert "--network-id" in capsys.readouterr().err


REPLAYS_CLEANLY = [
    ("sc_ws_leave_reestablish.md",),
    ("sc_ws_broken_open_params.md",),
    ("sc_ws_timeout_open.md",),
    ("continuous", "sc_ws_deposit.md"),
    ("abort_updates", "sc_ws_abort_offchain_update.md"),
    ("both_sign", "conflicts", "sc_ws_conflict_two_offchain_updates.md"),
]


@pytest.mark.shared
@pytest.mark.parametrize("parts", REPLAYS_CLEANLY, ids=[p[-1] for p in REPLAYS_CLEANLY])
async def test_recorded_sessions_replay_cleanly(parts: tuple[str, ...]) -> None:
    """Reestablish, bad parameters, timers, deposits (blocks on demand), aborts, preludes."""
    path = shared_path("recordings", "json-rpc", *parts)
    result = await replay(path)
    comparison = compare(
        result.recorded, result.replayed, result.recorded_parties, result.replayed_parties
    )
    assert comparison.ok, [
        *result.notes,
        *(str(d) for r in comparison.roles.values() for d in r.differences),
    ]


@pytest.mark.shared
def test_a_case_from_another_run_of_its_group_is_rebound() -> None:
    """continuous/sc_ws_update_conflict names other keys than continuous/init_per_group."""
    case = shared_path("recordings", "json-rpc", "continuous", "sc_ws_update_conflict.md")
    what = plan(case)
    roles = sorted(what.parties.values())
    assert roles == ["initiator", "initiator", "responder", "responder"]
    assert len(what.aliases) == 1 and what.notes and "another run" in what.notes[0]
    prelude_channel = next(f.channel_id for f in load(what.prelude or case).frames if f.channel_id)
    assert list(what.aliases.values()) == [prelude_channel]


@pytest.mark.shared
async def test_a_feature_the_node_does_not_simulate_stops_the_replay_there() -> None:
    """An AEVM contract (the embedded node runs FATE only): the replay stops before its
    ``new_contract``, saying why, and compares only what came before."""
    path = shared_path(
        "recordings",
        "json-rpc",
        "force_progress",
        "sc_ws_force_progress_based_on_offchain_state.md",
    )
    result = await replay(path, memory=True)
    assert result.stopped is not None and "AEVM contract (vm 6)" in result.stopped
    stops = [n for n in result.notes if n.startswith("stopped before")]
    assert len(stops) == 1
    performed = max(f.seq for f in result.recorded)
    assert performed < max(f.seq for f in result.plan.frames)  # the rest was not compared
    comparison = compare(
        result.recorded, result.replayed, result.recorded_parties, result.replayed_parties
    )
    assert comparison.ok  # what came before the AEVM contract matches
    sent = [f for f in result.replayed if f.direction is Direction.SENT]
    assert all(f.method != "channels.update.new_contract" for f in sent)  # never sent
