"""The replay stepper: its cursor logic (Replay) and its widgets driven by .click()."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chan_nb.errors import ChanNbError
from chan_nb.recording import Frame, SessionLog, load
from chan_nb.recording.diagram import Step
from chan_nb.widgets import Replay, ReplayStepper
from chan_nb.widgets.ladder_svg import ladder_svg
from tests.conftest import SAMPLE_SESSION, all_recordings

INITIATOR = "ak_Soj4M7ojYxbWvNf8vNYSZZ9TnMWL7r4sF2wUmktKdc8qqC1w2"
RESPONDER = "ak_zz66HmMbYFXsfeo6f576yHyCk39sMKSFtbaxP9SyebwfczbYR"


@pytest.fixture(scope="module")
def seed() -> SessionLog:
    return load(SAMPLE_SESSION)


def index_of(log: SessionLog, seq: int) -> int:
    return next(i for i, frame in enumerate(log) if frame.seq == seq)


# -- Replay: moving ------------------------------------------------------------------------


def test_moves_one_record_at_a_time_and_stops_at_the_ends(seed: SessionLog) -> None:
    replay = Replay(seed)
    assert (replay.position, replay.frame.seq) == (0, 1)
    assert not replay.can_go_back
    assert replay.back() == 0
    assert replay.forward() == 1
    assert replay.frame.seq == 2
    assert replay.last() == len(seed) - 1
    assert not replay.can_go_forward
    assert replay.forward() == len(seed) - 1
    assert replay.first() == 0


def test_goto_clamps_to_the_log(seed: SessionLog) -> None:
    replay = Replay(seed)
    assert replay.goto(-5) == 0
    assert replay.goto(10_000) == len(seed) - 1
    assert replay.goto(40) == 40


def test_stop_rules_skip_to_errors_and_conflicts(seed: SessionLog) -> None:
    replay = Replay(seed, stop_at="errors and conflicts")
    replay.forward()
    # the seed session's first trouble: the initiator's update meets a conflict (#47)
    assert replay.frame.seq == 47
    assert replay.frame.method == "channels.conflict"
    replay.forward()
    assert replay.frame.kind == "error"
    assert replay.frame.role == "responder"
    stops = []
    replay.first()
    while replay.can_go_forward:
        replay.forward()
        stops.append(replay.frame.seq)
    trouble = ("channels.conflict", "channels.error")
    expected = [f.seq for f in seed if f.kind == "error" or f.method in trouble]
    assert stops == expected
    assert len(expected) == 5  # one conflict, four rejected reconnects
    # back goes through the same stops in reverse
    backwards = []
    while replay.can_go_back:
        replay.back()
        backwards.append(replay.frame.seq)
    assert backwards == expected[-2::-1]


def test_role_rules_exist_per_participant_and_unknown_rules_are_refused(seed: SessionLog) -> None:
    replay = Replay(seed)
    assert {"only initiator", "only responder"} <= set(replay.rules)
    replay.stop_at = "only responder"
    replay.forward()
    assert replay.frame.role == "responder"
    assert replay.frame.seq == 4
    with pytest.raises(ChanNbError, match="unknown stop rule 'sideways'"):
        replay.stop_at = "sideways"


def test_an_empty_log_says_so() -> None:
    replay = Replay(SessionLog([]))
    assert len(replay) == 0
    assert not replay.can_go_forward
    with pytest.raises(ChanNbError, match="empty"):
        replay.view()


# -- Replay: what a step shows ---------------------------------------------------------------


def test_balances_at_a_step_are_exact_and_causal(seed: SessionLog) -> None:
    replay = Replay(seed)
    replay.goto(index_of(seed, 27))  # before the first get.balances reply
    assert replay.view().balances == ()

    replay.goto(index_of(seed, 28))  # the reply: known from the node, no co-signed state yet
    rows = {row.account: row for row in replay.view().balances}
    assert rows[INITIATOR].reply == 69_999_999_999_999
    assert rows[RESPONDER].reply == 40_000_000_000_001
    assert rows[INITIATOR].balance is None
    assert all(row.changed for row in rows.values())

    replay.goto(index_of(seed, 41))  # the create tx's state arrives (push_amount 1 applied)
    view = replay.view()
    rows = {row.account: row for row in view.balances}
    assert (rows[INITIATOR].balance, rows[INITIATOR].round) == (69_999_999_999_999, 1)
    assert view.round == 1

    replay.goto(index_of(seed, 50))  # the update is signed but not yet co-signed
    rows = {row.account: row for row in replay.view().balances}
    assert rows[INITIATOR].balance == 69_999_999_999_999
    assert not any(row.changed for row in rows.values())

    replay.goto(index_of(seed, 51))  # channels.update round 2: one aetto moved
    view = replay.view()
    rows = {row.account: row for row in view.balances}
    assert rows[INITIATOR].balance == 69_999_999_999_998
    assert rows[RESPONDER].balance == 40_000_000_000_002
    assert type(rows[INITIATOR].balance) is int
    assert rows[INITIATOR].changed
    assert view.round == 2


def test_a_step_shows_the_frame_its_tx_its_operation_and_the_ladder_so_far(
    seed: SessionLog,
) -> None:
    replay = Replay(seed)
    replay.goto(index_of(seed, 11))  # the initiator is asked to sign the create tx
    view = replay.view()
    assert view.headline.startswith("#11 initiator[1] <- notification channels.sign.initiator_sign")
    assert '"method": "channels.sign.initiator_sign"' in view.body
    assert view.tx is not None
    inner = view.tx["transaction"]
    assert inner["_type"] == "channel_create_tx"
    assert inner["initiator_amount"] == 70_000_000_000_000
    assert view.tx_error is None
    assert view.operation is not None
    assert (view.operation.kind, view.operation.starter) == ("open", "initiator")
    assert len(view.ladder) == view.index + 1
    assert [s.seq for s in view.ladder] == [f.seq for f in seed.frames[: view.index + 1]]
    assert view.lanes == ("initiator", "node", "responder")


def test_socket_events_show_their_url_and_parameters(seed: SessionLog) -> None:
    replay = Replay(seed)
    view = replay.view()
    assert view.body.startswith("ws://")
    assert "role = initiator" in view.body
    assert view.tx is None and view.tx_error is None
    replay.goto(index_of(seed, 43))
    assert replay.view().body == "(the WebSocket was closed)"


def test_an_undecodable_tx_is_reported_not_hidden() -> None:
    raw = (
        '{"jsonrpc":"2.0","method":"channels.sign.update",'
        '"params":{"data":{"signed_tx":"tx_AAAA","updates":[]}}}'
    )
    log = SessionLog([Frame.from_message("initiator", "received", raw, seq=1, conn=1)])
    view = Replay(log).view()
    assert view.tx is None
    assert view.tx_error


def test_a_growing_log_is_picked_up_by_sync(seed: SessionLog) -> None:
    live: list[Frame] = list(seed.frames[:30])
    replay = Replay(live)
    replay.last()
    assert replay.sync() is False
    live.extend(seed.frames[30:60])
    assert replay.sync() is True
    assert len(replay) == 60
    assert replay.position == 29  # the cursor stays where the user left it
    replay.last()
    assert replay.view().round == 2  # the grown part's update is now known


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["f", "b", "first", "last", "goto"]), max_size=30), st.data())
def test_any_walk_keeps_a_consistent_view(actions: list[str], data: st.DataObject) -> None:
    log = _seed_cached()
    replay = Replay(log, stop_at=data.draw(st.sampled_from(sorted(Replay(log).rules))))
    for action in actions:
        if action == "f":
            before = replay.position
            after = replay.forward()
            assert after > before or not replay.can_go_forward
        elif action == "b":
            before = replay.position
            after = replay.back()
            assert after < before or not replay.can_go_back
        elif action == "first":
            replay.first()
        elif action == "last":
            replay.last()
        else:
            replay.goto(data.draw(st.integers(-3, len(log) + 3)))
        view = replay.view()
        assert 0 <= view.index < len(log)
        assert view.frame is log[view.index]
        assert view.ladder[-1].seq == view.frame.seq


_SEED: list[SessionLog] = []


def _seed_cached() -> SessionLog:
    if not _SEED:
        _SEED.append(load(SAMPLE_SESSION))
    return _SEED[0]


@pytest.mark.shared
@pytest.mark.parametrize("path", all_recordings(), ids=lambda p: p.stem)
def test_every_published_recording_can_be_stepped_through(path: Path) -> None:
    log = load(path)
    replay = Replay(log)
    rounds = []
    for index in range(len(log)):
        replay.goto(index)
        view = replay.view()
        assert view.frame.seq == log[index].seq
        assert view.ladder[-1].seq == view.frame.seq
        for row in view.balances:
            assert row.balance is None or type(row.balance) is int
        rounds.append(view.round)
    known = [r for r in rounds if r is not None]
    assert known == sorted(known)  # the channel's round never goes back


# -- the widgets --------------------------------------------------------------------------


def test_buttons_move_the_slider_and_the_view(seed: SessionLog) -> None:
    stepper = ReplayStepper(seed)
    assert stepper.slider.value == 1
    assert stepper.first_button.disabled and stepper.back_button.disabled
    assert not stepper.forward_button.disabled
    stepper.forward_button.click()
    assert stepper.slider.value == 2
    assert f"record 2 of {len(seed)}" in stepper.header.value
    assert "channels.info" in stepper.frame_json.value
    stepper.last_button.click()
    assert stepper.slider.value == len(seed)
    assert stepper.forward_button.disabled and stepper.last_button.disabled
    stepper.back_button.click()
    assert stepper.slider.value == len(seed) - 1
    stepper.first_button.click()
    assert stepper.slider.value == 1


def test_dragging_the_slider_shows_that_step(seed: SessionLog) -> None:
    stepper = ReplayStepper(seed)
    stepper.slider.value = index_of(seed, 51) + 1
    assert "#51 initiator[1]" in stepper.header.value
    assert "round 2" in stepper.header.value
    assert "69,999,999,999,998" in stepper.balances.value
    assert "40,000,000,000,002" in stepper.balances.value
    assert "channel_offchain_tx" in stepper.tx_json.value
    assert stepper.ladder.value.startswith("<svg")
    assert "update r2" in stepper.ladder.value
    stepper.slider.value = 1
    assert "no balances known yet" in stepper.balances.value
    assert "no transaction in this record" in stepper.tx_json.value


def test_the_stop_at_dropdown_changes_where_forward_goes(seed: SessionLog) -> None:
    stepper = ReplayStepper(seed)
    stepper.stop_at.value = "errors and conflicts"
    stepper.forward_button.click()
    assert "#47 initiator[1]" in stepper.header.value
    assert "conflict" in stepper.header.value
    stepper.forward_button.click()
    assert "Missing field: existing_fsm_id" in stepper.header.value


def test_refresh_follows_a_live_recording_at_its_end(seed: SessionLog) -> None:
    live: list[Frame] = list(seed.frames[:20])
    stepper = ReplayStepper(live)
    stepper.last_button.click()
    live.extend(seed.frames[20:45])
    stepper.refresh()
    assert stepper.slider.max == 45
    assert stepper.slider.value == 45
    assert "#45 " in stepper.header.value


def test_an_empty_recording_disables_the_controls() -> None:
    stepper = ReplayStepper(SessionLog([]))
    assert "empty" in stepper.header.value
    assert stepper.forward_button.disabled and stepper.slider.disabled


def test_the_stepper_displays_as_its_widget(seed: SessionLog) -> None:
    bundle = ReplayStepper(seed)._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


# -- the SVG ladder ------------------------------------------------------------------------


def test_ladder_svg_windows_escapes_and_draws_one_arrow_per_frame() -> None:
    steps = [Step(i, "initiator", "to_node", f"req {i}") for i in range(1, 31)]
    steps.append(Step(31, "responder", "error", "error <3> & more"))
    steps.append(Step(32, "responder", "note", "a note"))
    svg = ladder_svg(["initiator", "node", "responder"], steps, window=10)
    assert "⋯ 22 earlier steps" in svg
    assert "req 22" not in svg and "req 23" in svg
    assert "error &lt;3&gt; &amp; more" in svg
    assert len(re.findall(r"marker-end=", svg)) == 9  # 8 requests + 1 error in the window
    assert svg.count('class="current"') == 1
    whole = ladder_svg(["initiator", "node", "responder"], steps, window=None)
    assert "earlier step" not in whole
    assert len(re.findall(r"marker-end=", whole)) == 31
