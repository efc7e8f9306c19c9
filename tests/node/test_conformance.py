"""Conformance: the embedded node answers recorded client actions as the real node did.

Each test plays the client side of a recorded session (../shared/recordings)
against an :class:`EmbeddedNode` — fresh keys, its own signatures — and checks
that every node frame matches the recording in (kind, method, event, error code,
data codes, channel_id nullness), per role and in order. The node emulates the
recordings' node (create tx v1, recorded-era quirks) and mines only when the
driver waits for something, as the real chain moved while the tests waited.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from chan_nb.node import EmbeddedNode
from chan_nb.node.config import Era
from chan_nb.recording import load
from chan_nb.replay.driver import recorded_era
from tests.node.harness import ConformanceError, RecordingDriver, Step, parse_recording, recording

pytestmark = pytest.mark.shared


def _node(era: Era = "recorded") -> EmbeddedNode:
    """The node build the recordings show (the 2021 assume_min_depth one is a current node)."""
    version = 2 if era == "current" else 1
    return EmbeddedNode(
        create_tx_version=version, era=era, block_interval=None, serve_sockets=False
    )


async def _play(recordings_dir: Path, *cases: tuple[str, ...]) -> RecordingDriver:
    node = _node(recorded_era(load(recordings_dir.joinpath("json-rpc", *cases[-1])).frames))
    await node.start()
    try:
        driver = RecordingDriver(node)
        for parts in cases:
            await driver.play(recording(recordings_dir, *parts), "/".join(parts))
        await driver.finish()
        return driver
    finally:
        await node.stop()


SINGLE = [
    ("sc_ws_basic_open_close.md",),
    ("sc_ws_basic_open_close_server.md",),
    ("sc_ws_close_mutual.md",),
    ("sc_ws_leave_reestablish.md",),
    ("sc_ws_leave_reconnect.md",),
    ("sc_ws_broken_open_params.md",),
    ("sc_ws_timeout_open.md",),
    ("sc_ws_reconnect_early.md",),
    ("sc_ws_min_depth_is_modifiable.md",),
    ("sc_ws_update_with_meta.md",),
    ("assume_min_depth", "sc_ws_basic_open_close.md"),
    ("reconnect", "sc_ws_basic_client_reconnect_r.md"),
    ("abort_updates", "sc_ws_abort_offchain_update.md"),
    ("abort_updates", "sc_ws_abort_deposit.md"),
    ("abort_updates", "sc_ws_abort_withdraw.md"),
    ("abort_updates", "sc_ws_abort_shutdown.md"),
    ("abort_updates", "sc_ws_can_not_abort_while_open.md"),
    ("changeable_fee", "sc_ws_optional_params_create.md"),
    ("changeable_fee", "sc_ws_optional_params_deposit.md"),
    ("changeable_fee", "sc_ws_optional_params_withdrawal.md"),
    ("changeable_gas_price", "sc_ws_optional_params_create.md"),
    ("changeable_gas_price", "sc_ws_optional_params_deposit.md"),
    ("changeable_gas_price", "sc_ws_optional_params_withdrawal.md"),
    ("changeable_fee_lower_than_gas_price", "sc_ws_optional_params_create.md"),
    ("changeable_fee_lower_than_gas_price", "sc_ws_optional_params_deposit.md"),
    ("changeable_fee_lower_than_gas_price", "sc_ws_optional_params_withdrawal.md"),
    ("changeable_nonce", "sc_ws_optional_params_fail_create.md"),
    ("changeable_nonce", "sc_ws_optional_params_fail_deposit.md"),
    ("changeable_nonce", "sc_ws_optional_params_fail_close_mutual.md"),
]


@pytest.mark.parametrize("parts", SINGLE, ids=lambda p: "/".join(p))
async def test_recorded_session(recordings_dir: Path, parts: tuple[str, ...]) -> None:
    driver = await _play(recordings_dir, parts)
    assert driver.log, "the recording produced no node frames"


GROUPED = [
    ("continuous", "sc_ws_deposit.md"),
    ("continuous", "sc_ws_ping_pong.md"),
    ("continuous", "sc_ws_generic_messages.md"),
    ("continuous", "sc_ws_failed_update.md"),
    ("with_meta", "sc_ws_withdraw.md"),
    ("both_sign", "conflicts", "sc_ws_conflict_two_offchain_updates.md"),
    ("both_sign", "conflicts", "sc_ws_conflict_two_deposits.md"),
    ("both_sign", "conflicts", "sc_ws_conflict_deposit_and_offchain_update.md"),
    ("both_sign", "conflicts", "sc_ws_conflict_withdrawal_and_deposit.md"),
    ("both_sign", "conflicts", "sc_ws_conflict_withdrawal_and_offchain_update.md"),
    ("only_one_signs", "sc_ws_conflict_on_new_offchain.md"),
    ("only_one_signs", "conflicts", "sc_ws_conflict_two_offchain_updates.md"),
    ("only_one_signs", "conflicts", "sc_ws_conflict_two_deposits.md"),
    ("only_one_signs", "conflicts", "sc_ws_conflict_two_withdrawals.md"),
    ("only_one_signs", "conflicts", "sc_ws_conflict_deposit_and_offchain_update.md"),
    ("only_one_signs", "conflicts", "sc_ws_conflict_withdrawal_and_offchain_update.md"),
]


@pytest.mark.parametrize("parts", GROUPED, ids=lambda p: "/".join(p))
async def test_recorded_group_case(recordings_dir: Path, parts: tuple[str, ...]) -> None:
    prelude = (*parts[:1], "init_per_group.md")
    driver = await _play(recordings_dir, prelude, parts)
    assert driver.log


async def test_rendered_seed_session(recordings_dir: Path) -> None:
    """The rendered copy of the seed session (the form the project was specified from)."""
    steps = parse_recording(recordings_dir / "rendered" / "sc_ws_basic_client_reconnect_r.txt")
    assert sum(1 for s in steps if s.kind in ("send", "recv")) > 50
    node = _node()
    await node.start()
    try:
        driver = RecordingDriver(node)
        await driver.play(steps, "rendered seed")
        await driver.finish()
    finally:
        await node.stop()


async def test_the_driver_notices_a_node_that_answers_differently(recordings_dir: Path) -> None:
    """A recording whose expectations were altered must fail: the comparison is real."""
    steps = recording(recordings_dir, "sc_ws_basic_open_close.md")
    index = next(n for n, s in enumerate(steps) if s.kind == "recv" and '"channel_open"' in s.text)
    altered = list(steps)
    altered[index] = Step(
        steps[index].role, "recv", steps[index].text.replace("channel_open", "channel_accept")
    )
    node = _node()
    await node.start()
    try:
        with pytest.raises(ConformanceError, match="channel_accept"):
            await RecordingDriver(node, wait_limit=0.5).play(altered, "altered")
    finally:
        await node.stop()


def test_both_recording_forms_parse_to_the_same_steps(recordings_dir: Path) -> None:
    rendered = parse_recording(recordings_dir / "rendered" / "sc_ws_basic_client_reconnect_r.txt")
    markdown = recording(recordings_dir, "reconnect", "sc_ws_basic_client_reconnect_r.md")
    shape = [(s.role, s.kind) for s in rendered if s.kind != "info"]
    assert shape == [(s.role, s.kind) for s in markdown if s.kind != "info"]
    assert len(shape) == 75  # the 75 frames/events of websocket-api.md §6.3
