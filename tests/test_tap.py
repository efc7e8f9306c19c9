"""``chan-nb tap`` / :class:`Tap`: a recording proxy — chan_nb sessions and the official JS
SDK run through it unchanged, and it records every frame of every client in causal order."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chan_nb.client import open_pair
from chan_nb.client.recorder import Recorder
from chan_nb.recording import Direction, load
from chan_nb.tap import Tap
from tests.node.test_sdkjs import ROOT, SCRIPT, sdk_dir  # noqa: F401  (the fixture)


def per_role(frames: list, role: str) -> list[tuple[str, str]]:
    return [(f.direction.value, f.raw) for f in frames if f.role == role and f.is_frame]


async def test_sessions_through_the_tap_are_recorded_frame_for_frame() -> None:
    async with Tap() as tap:
        assert tap.url.startswith("ws://127.0.0.1:") and tap.network_id
        own = Recorder()
        initiator, responder = await open_pair(
            tap.url, network_id=tap.network_id, recorder=own, timeout=10
        )
        try:
            await initiator.transfer(responder.address, 250)
            await responder.disconnect()
            await responder.reconnect()
            await responder.transfer(initiator.address, 5)
            await initiator.shutdown()
        finally:
            await initiator.close()
            await responder.close()
    log = tap.log
    assert log.roles == ["initiator", "responder"]
    for role in ("initiator", "responder"):  # exactly what each client sent and got
        assert per_role(log.frames, role) == per_role(own.frames, role)
    assert [f.conn for f in log if f.role == "responder" and f.direction is Direction.OPEN] == [
        1,
        2,
    ]
    # causal order: every reply after its request, across both clients
    for pair in log.pairs():
        if pair.reply_seq is not None:
            assert pair.request_seq < pair.reply_seq
    assert log.audit().ok
    assert sum(f.direction is Direction.CLOSE for f in log) == 3  # every socket's end


async def test_the_nodes_refusal_reaches_the_client() -> None:
    async with Tap() as tap:
        wrong = tap.url.replace("/channel", "/nope")
        with pytest.raises(InvalidStatus) as refused:
            async with connect(wrong):
                pass
        assert refused.value.response.status_code == 404
    async with Tap("ws://127.0.0.1:9/channel") as dead:  # nothing listens on port 9
        with pytest.raises(InvalidStatus) as gateway:
            async with connect(dead.url + "?role=initiator"):
                pass
        assert gateway.value.response.status_code == 502
        assert b"no node answers" in gateway.value.response.body
    assert len(dead.log) == 0


async def test_tap_is_awaitable() -> None:
    tap = await Tap()
    try:
        assert "records>" in repr(tap) and tap.port is not None
    finally:
        await tap.stop()


@pytest.mark.slow
def test_the_js_sdk_runs_through_chan_nb_tap(sdk_dir: Path, tmp_path: Path) -> None:  # noqa: F811
    out = tmp_path / "sdk.jsonl"
    proc = subprocess.Popen(
        [sys.executable, "-m", "chan_nb", "tap", "--port", "0", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "chan-nb tap listening on ws://" in line, line + (
            proc.stderr.read() if proc.stderr else ""
        )
        url = line.split("listening on ", 1)[1].split()[0]
        network_id = line.rsplit("network id ", 1)[1].rstrip(")\n")
        done = subprocess.run(
            ["node", str(SCRIPT), url, network_id, str(sdk_dir)],
            capture_output=True,
            text=True,
            timeout=180,
        )
        steps = [json.loads(s)["step"] for s in done.stdout.splitlines() if s.startswith("{")]
        assert done.returncode == 0, f"SDK run failed: {steps[-1:]} {done.stderr[-2000:]}"
        assert steps[-1] == "done" and "reconnect" in steps and "shutdown" in steps
    finally:
        proc.send_signal(signal.SIGTERM)
        rest, errors = proc.communicate(timeout=30)
    assert proc.returncode == 0, errors
    assert f"written to {out}" in rest
    log = load(out)
    assert sorted(log.roles) == ["initiator", "responder"]
    methods = {f.method for f in log if f.method}
    assert {"channels.update.new", "channels.shutdown", "channels.deposit"} <= methods
    assert len(log) > 100
    report = log.audit()
    assert report.ok, [str(p) for p in report.problems[:3]]
    assert report.signatures_ok > 10
    for pair in log.pairs():
        if pair.reply_seq is not None:
            assert pair.request_seq < pair.reply_seq
