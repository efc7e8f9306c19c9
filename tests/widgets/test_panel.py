"""The channel panel driven by .click() against the embedded node (no browser)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import pytest

from chan_nb.client.errors import ClientError
from chan_nb.client.events import Message
from chan_nb.recording.frame import Frame
from chan_nb.widgets import ChannelPanel, ReplayStepper
from chan_nb.widgets.actions import ActionRunner, describe_failure
from chan_nb.widgets.panel import InputError, parse_amount
from chan_nb.widgets.panel_view import FRAME_FILTERS, select_frames

INITIAL = {"initiator": 69_999_999_999_999, "responder": 40_000_000_000_001}


@pytest.fixture
async def panel() -> AsyncIterator[ChannelPanel]:
    made = await ChannelPanel.create(timeout=10.0)
    try:
        yield made
    finally:
        await made.close()


async def opened(panel: ChannelPanel) -> ChannelPanel:
    panel.open_button.click()
    await panel.idle()
    return panel


def shown_balances(panel: ChannelPanel, role: str) -> dict[str, int]:
    """The balances the role's card shows, by role name, as exact ints."""
    card = panel.cards[role].value
    found = re.findall(r"balance of (\w+)</td>.*?>([\d,]+)</code>", card)
    return {who: int(amount.replace(",", "")) for who, amount in found}


def last_notice(panel: ChannelPanel) -> str:
    notice = panel.runner.notices[-1]
    return f"{notice.level} {notice.action}: {notice.text}"


def addresses(panel: ChannelPanel) -> dict[str, str]:
    return {role: s.address for role, s in panel.sessions.items()}


async def test_open_shows_round_balances_and_ids_per_role(panel: ChannelPanel) -> None:
    assert "Nothing done yet" in panel.notices.value
    panel.open_button.click()
    # the click returned at once: the action runs in the background, its button is disabled
    assert panel.runner.is_running("open")
    assert panel.open_button.disabled
    await panel.idle()
    assert panel.open_button.tooltip == "the channel is open already"  # still disabled
    assert not panel.transfer_button.disabled and not panel.shutdown_button.disabled
    assert last_notice(panel).startswith("ok open: channel open at round 1: ch_")
    for role, session in panel.sessions.items():
        card = panel.cards[role].value
        assert ">open</b>" in card
        assert "class='chan-nb-round'>1<" in card
        assert session.channel_id is not None and session.channel_id in card
        assert session.fsm_id is not None and session.fsm_id in card
        assert shown_balances(panel, role) == INITIAL
    assert "channels.update" in panel.frames.value


async def test_transfer_both_ways_moves_exact_amounts(panel: ChannelPanel) -> None:
    await opened(panel)
    panel.amount.value = "1_000_000_000_000"
    panel.direction.value = "initiator → responder"
    panel.transfer_button.click()
    await panel.idle()
    assert last_notice(panel) == (
        "ok transfer: initiator paid 1,000,000,000,000 to responder: round 2"
    )
    panel.amount.value = "7"
    panel.direction.value = "responder → initiator"
    panel.transfer_button.click()
    await panel.idle()
    expected = {
        "initiator": INITIAL["initiator"] - 1_000_000_000_000 + 7,
        "responder": INITIAL["responder"] + 1_000_000_000_000 - 7,
    }
    for role in ("initiator", "responder"):
        assert shown_balances(panel, role) == expected
        assert "class='chan-nb-round'>3<" in panel.cards[role].value


async def test_a_bad_amount_is_reported_in_the_panel_and_sends_nothing(
    panel: ChannelPanel,
) -> None:
    await opened(panel)
    before = len(panel.sessions["initiator"].recorder.frames)
    panel.amount.value = "12.5"
    panel.transfer_button.click()
    assert not panel.runner.is_running("transfer")
    assert last_notice(panel) == (
        "error transfer: the amount must be a whole number of aettos, got '12.5'"
    )
    assert "chan-nb-error" in panel.notices.value
    assert len(panel.sessions["initiator"].recorder.frames) == before


async def test_node_errors_show_in_the_panel(panel: ChannelPanel) -> None:
    await opened(panel)
    panel.amount.value = "10_000_000_000_000_000"  # more than the channel holds
    panel.transfer_button.click()
    await panel.idle()
    level, text = panel.runner.notices[-1].level, panel.runner.notices[-1].text
    assert level in ("error", "conflict")
    assert text
    assert "class='chan-nb-round'>1<" in panel.cards["initiator"].value


async def test_disconnect_conflict_reconnect(panel: ChannelPanel) -> None:
    await opened(panel)
    panel.who.value = "responder"
    panel.disconnect_button.click()
    await panel.idle()
    assert "no socket" in panel.cards["responder"].value
    assert "disconnected" in panel.cards["responder"].value
    panel.amount.value = "1"
    panel.transfer_button.click()
    await panel.idle()
    # the peer is away: the node rolls the update back, the panel says so
    assert last_notice(panel).startswith("conflict transfer:")
    assert "channel stays at round 1" in last_notice(panel)
    assert "chan-nb-conflict" in panel.notices.value
    panel.reconnect_button.click()
    await panel.idle()
    responder = panel.sessions["responder"]
    assert last_notice(panel) == f"ok reconnect: responder is back on fsm {responder.fsm_id}"
    assert "socket open" in panel.cards["responder"].value
    panel.transfer_button.click()
    await panel.idle()
    assert last_notice(panel).endswith("round 2")
    assert shown_balances(panel, "responder") == {
        "initiator": INITIAL["initiator"] - 1,
        "responder": INITIAL["responder"] + 1,
    }


async def test_message_leave_reestablish_shutdown(panel: ChannelPanel) -> None:
    await opened(panel)
    panel.message_text.value = "hi there"
    panel.direction.value = "responder → initiator"
    panel.message_button.click()
    await panel.idle()
    assert last_notice(panel) == "ok message: responder sent 'hi there' to initiator"
    initiator = panel.sessions["initiator"]
    got = await initiator.wait_for(Message, include_past=True, timeout=5)
    assert isinstance(got, Message)
    assert any(
        f.method == "channels.message" and "hi there" in f.raw
        for f in initiator.recorder.frames
        if f.role == "initiator" and f.direction == "received"
    )

    panel.who.value = "initiator"
    panel.leave_button.click()
    await panel.idle()
    assert last_notice(panel).startswith("ok leave: initiator left")
    for role in ("initiator", "responder"):
        assert "no socket" in panel.cards[role].value
    panel.reestablish_button.click()
    await panel.idle()
    assert last_notice(panel) == "ok reestablish: channel reestablished at round 1"
    for role in ("initiator", "responder"):
        assert ">open</b>" in panel.cards[role].value

    panel.who.value = "responder"
    panel.shutdown_button.click()
    await panel.idle()
    assert last_notice(panel).startswith("ok shutdown: closed mutually by responder: tx_")
    for role in ("initiator", "responder"):  # the node ends both FSMs: closed, not "died"
        assert ">closed</b> · no socket" in panel.cards[role].value
    assert all(button.disabled for button in panel.actions.values())  # nothing can be done
    assert panel.transfer_button.tooltip.startswith("the channel is closed")


async def test_manual_signing_shows_requests_to_approve_or_reject(panel: ChannelPanel) -> None:
    await opened(panel)
    assert panel.signing_box.layout.display == "none"
    panel.signing.value = "manual"
    assert panel.signing_box.layout.display == "flex"
    assert all(s.policy.mode == "manual" for s in panel.sessions.values())
    assert panel.approve_buttons["initiator"].disabled  # nothing to sign yet
    panel.amount.value = "3"
    panel.direction.value = "initiator → responder"
    panel.transfer_button.click()
    initiator, responder = panel.sessions["initiator"], panel.sessions["responder"]
    await initiator.wait_for_signature_request(timeout=5)
    await asyncio.sleep(0)
    panel.refresh()
    assert "<b>update</b>: channel_offchain_tx round 2" in panel.pending["initiator"].value
    assert "amount 3" in panel.pending["initiator"].value
    assert "checks ok" in panel.pending["initiator"].value
    # the change, before approve/reject: who pays whom, our balance before → after, the fee
    before = initiator.balances[initiator.address]
    change = (
        f"you pay 3 to {responder.address[:10]}…: your balance {before:,} → {before - 3:,}; fee 0"
    )
    assert change in panel.pending["initiator"].value
    assert initiator.pending_signatures[0].summary == change
    assert not panel.approve_buttons["initiator"].disabled
    panel.approve_buttons["initiator"].click()
    await responder.wait_for_signature_request(timeout=5)
    await asyncio.sleep(0)
    panel.refresh()
    assert "<b>update_ack</b>" in panel.pending["responder"].value
    assert "you receive 3 from" in panel.pending["responder"].value
    panel.approve_buttons["responder"].click()
    await panel.idle()
    assert any(n.text == "initiator paid 3 to responder: round 2" for n in panel.runner.notices)
    assert "class='chan-nb-round'>2<" in panel.cards["responder"].value

    # a rejected request: the update is aborted and the panel says so
    panel.transfer_button.click()
    await initiator.wait_for_signature_request(timeout=5)
    panel.reject_buttons["initiator"].click()
    await panel.idle()
    transfer = [n for n in panel.runner.notices if n.action == "transfer"][-1]
    assert transfer.level in ("conflict", "error")
    assert "class='chan-nb-round'>2<" in panel.cards["initiator"].value
    assert panel.decide("initiator", True) is False
    assert last_notice(panel) == "info approve (initiator): initiator has nothing to sign"


async def test_the_frame_table_filters(panel: ChannelPanel) -> None:
    await opened(panel)
    panel.frame_filter.value = "responder"
    assert "initiator[" not in panel.frames.value
    assert "responder[1]" in panel.frames.value
    panel.frame_filter.value = "all records"
    panel.frame_search.value = "channel_create_tx"
    assert "channel_create_tx" in panel.frames.value
    panel.frame_search.value = "no such text anywhere"
    assert "no matching records" in panel.frames.value
    panel.frame_search.value = ""
    panel.frame_count.value = 3
    assert panel.frames.value.count("<tr") == 4  # header + 3


async def test_pressing_a_running_action_again_is_refused(panel: ChannelPanel) -> None:
    assert panel.start("open") is True
    assert panel.start("open") is False
    assert last_notice(panel) == "info open: open is still running"
    await panel.idle()
    panel.open_button.click()  # the pair's channel exists already
    await panel.idle()
    assert last_notice(panel) == "error open: this pair has opened its channel already"


async def test_the_live_recording_can_be_replayed(panel: ChannelPanel) -> None:
    await opened(panel)
    stepper = panel.stepper()
    assert isinstance(stepper, ReplayStepper)
    count = stepper.slider.max
    panel.transfer_button.click()
    await panel.idle()
    stepper.last_button.click()
    stepper.refresh()
    assert stepper.slider.max > count
    assert stepper.slider.value == stepper.slider.max


def test_amounts_are_parsed_exactly() -> None:
    assert parse_amount(" 1_000,000 000 ") == 1_000_000_000
    assert parse_amount("18446744073709551617") == 2**64 + 1
    assert parse_amount("-5") == -5
    for bad in ("", "1e3", "0x10", "12.5", "ten"):
        with pytest.raises(InputError, match="whole number"):
            parse_amount(bad)


async def test_the_runner_reports_unexpected_exceptions_as_notices() -> None:
    changes: list[int] = []
    runner = ActionRunner(asyncio.get_running_loop(), lambda: changes.append(1))

    async def boom() -> None:
        raise RuntimeError("kaput")

    assert runner.start("boom", boom)
    await runner.idle()
    assert runner.notices[-1].level == "error"
    assert runner.notices[-1].text == "unexpected RuntimeError: kaput"
    assert not runner.running
    assert len(changes) == 2  # started, finished
    for i in range(20):
        runner.notify("info", "n", str(i))
    assert len(runner.notices) == 8
    assert describe_failure(OSError("refused"))[0] == "error"


def test_every_frame_filter_selects_a_subset() -> None:
    frames = [
        Frame.from_message("initiator", "sent", '{"method":"channels.update.new"}', seq=1, conn=1),
        Frame.from_message(
            "responder", "received", '{"error":{"code":3,"message":"x"}}', seq=2, conn=1
        ),
        Frame.note("responder", "a note", seq=3, conn=1),
    ]
    for name in FRAME_FILTERS:
        chosen = select_frames(frames, name, limit=10)
        assert set(chosen) <= set(frames)
    assert select_frames(frames, "errors and conflicts") == [frames[1]]
    assert select_frames(frames, "frames only") == frames[:2]
    assert select_frames(frames, "all records", limit=1) == [frames[2]]


async def test_a_refusal_by_the_default_policy_shows_in_the_panel(panel: ChannelPanel) -> None:
    await opened(panel)
    initiator, responder = panel.sessions["initiator"], panel.sessions["responder"]
    before = initiator.balances[initiator.address]
    # the responder proposes a transfer *from* the initiator: the initiator refuses it
    with pytest.raises(ClientError):
        await responder.transfer(responder.address, 3, sender=initiator.address, timeout=5)
    await panel.idle()
    refused = [n for n in panel.runner.notices if n.action == "initiator refused"]
    assert [n.text for n in refused] == [
        "refused to sign update_ack: the peer's update_ack lowers our balance by 3"
        " (needs a user rule or approval)"
    ]
    assert refused[0].level == "error"
    assert initiator.balances[initiator.address] == before and initiator.round == 1


async def test_the_dispute_section_closes_solo_and_settles(panel: ChannelPanel) -> None:
    await opened(panel)
    assert "on chain: <b>active</b> · round 1" in panel.chain_line.value
    assert panel.slash_button.disabled and "solo-closing" in panel.slash_button.tooltip
    panel.who.value = "initiator"
    panel.snapshot_button.click()
    await panel.idle()
    assert last_notice(panel).startswith("error snapshot")  # round 1 is the create tx: 2/1012
    panel.close_solo_button.click()
    await panel.idle()
    assert last_notice(panel) == (
        "ok close_solo: close solo by initiator: on chain solo_closing (channel_close_solo_tx)"
    )
    assert "<b>solo-closing</b>, locked until height" in panel.chain_line.value
    assert not panel.settle_button.disabled and panel.close_solo_button.disabled
    panel.settle_button.click()
    for _ in range(6):  # the lock period (10 blocks) passes by hand too
        panel.mine(5)
        await asyncio.sleep(0.05)
    await panel.idle()
    notices = [f"{n.level} {n.action}: {n.text}" for n in panel.runner.notices]
    assert "ok settle: settle by initiator: on chain channel_closed (channel_settle_tx)" in notices
    assert "on chain: <b>closed</b>" in panel.chain_line.value


async def test_the_contract_row_deploys_the_game_and_plays_it(panel: ChannelPanel) -> None:
    assert panel.call_button.disabled and panel.deploy_button.disabled  # no channel yet
    await opened(panel)
    assert panel.call_button.tooltip == "no contract yet: press deploy game"
    panel.who.value = "initiator"
    panel.amount.value = "1,000"
    panel.deploy_button.click()
    await panel.idle()
    assert re.match(
        r"ok deploy: initiator deployed the game ct_\w+… \(pot 1,000\) in round 2",
        last_notice(panel),
    )
    assert panel.contract_id is not None and not panel.call_button.disabled
    panel.args.value = "3"
    panel.call_button.click()
    await panel.idle()
    assert last_notice(panel) == (
        "ok call: initiator called play(3): 3 (gas 6,610, round 3) — verified by its own VM run"
    )
    # the responder cheats (takes 5): the initiator's client refuses, nothing changes
    panel.who.value = "responder"
    panel.args.value = "5"
    panel.call_button.click()
    await panel.idle()
    texts = [f"{n.level} {n.action}: {n.text}" for n in panel.runner.notices]
    assert any(
        t.startswith(
            "error initiator refused: refused to sign update_ack: the peer's contract"
            " call ends in revert: take 1, 2 or 3"
        )
        for t in texts
    ), texts
    assert last_notice(panel).startswith("conflict call: responder: call of play")
    assert panel.sessions["initiator"].round == 3
    panel.args.value = "2"
    panel.dry_run_button.click()
    await panel.idle()
    assert last_notice(panel) == (
        "ok dry_run: dry run of play(2) by responder: 5 (gas 6,610, round 4)"
        " — verified by its own VM run"
    )
    panel.args.value = "not a value"
    panel.call_button.click()
    assert last_notice(panel).startswith("error call: the arguments must be FATE values")
