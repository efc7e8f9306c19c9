"""The audit: clean on real recordings, and it catches every kind of tampering."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from chan_nb.audit import AuditReport, audit_frames
from chan_nb.cli import main
from chan_nb.codec import encoding, txs
from chan_nb.recording import loads
from tests.conftest import SAMPLE_SESSION, all_recordings

SEED = SAMPLE_SESSION


def _audit_text(text: str, network_id: str | None = None) -> AuditReport:
    log = loads(text, source="tampered")
    return audit_frames(log.frames, network_id=network_id, source="tampered")


def test_seed_session_is_clean() -> None:
    report = _audit_text(SEED.read_text())
    assert report.ok, [str(p) for p in report.problems]
    assert report.network_id == "local_iris_testnet"
    assert report.txs == 9
    assert report.signatures_ok == 6 and report.signatures_bad == 0
    assert report.state_hashes_ok >= 3
    assert report.count("channel_id", True) == 1
    checks = {f.check for f in report.findings}
    assert {"signature", "state_hash", "channel_id"} <= checks


def _first_signed_tx(text: str, method: str) -> str:
    log = loads(text)
    for frame in log.frames:
        if frame.method == method and isinstance(frame.message, dict):
            found: str = frame.message["params"]["data"]["state"]
            return found
    raise AssertionError(method)


def test_tampered_signature_is_bad() -> None:
    text = SEED.read_text()
    state = _first_signed_tx(text, "channels.update")
    signed = txs.decode_api(state)
    assert isinstance(signed, txs.SignedTx)
    sig = bytearray(signed.signatures[0])
    sig[5] ^= 0x01
    forged = txs.SignedTx((bytes(sig), *signed.signatures[1:]), signed.tx_bytes).to_api()
    report = _audit_text(text.replace(state, forged))
    assert report.signatures_bad == 1
    assert not report.ok
    assert "verifies for no party" in str(report.problems[0])


def test_wrong_network_id_makes_every_signature_bad() -> None:
    report = _audit_text(SEED.read_text(), network_id="ae_mainnet")
    assert report.signatures_ok == 0
    assert report.signatures_bad == 6


def test_tampered_balance_reply_is_a_bad_state_hash() -> None:
    text = SEED.read_text()
    # the initiator's balance in the get.balances reply after the open
    assert '"balance": 69999999999999' in text
    report = _audit_text(text.replace('"balance": 69999999999999', '"balance": 69999999999998', 1))
    assert report.state_hashes_bad == 1
    assert "balances reply matches no recorded state" in str(report.problems[0])


def test_tampered_update_amount_breaks_the_replay() -> None:
    text = SEED.read_text()
    log = loads(text)
    sign = next(f for f in log.frames if f.method == "channels.sign.update")
    assert '"amount": 1' in sign.raw
    tampered = sign.raw.replace('"amount": 1', '"amount": 2')
    report = _audit_text(text.replace(sign.raw, tampered))
    bad = [p for p in report.problems if p.check == "state_hash"]
    assert len(bad) == text.count(sign.raw) >= 1  # each tampered proposal, nothing else
    assert all("replaying 1 updates" in p.detail for p in bad)


def test_undecodable_tx_is_reported() -> None:
    text = SEED.read_text()
    state = _first_signed_tx(text, "channels.update")
    body = encoding.decode(state, "tx")
    broken = encoding.encode("tx", body[:-1])  # valid checksum, truncated RLP
    report = _audit_text(text.replace(state, broken))
    decode_bad = [p for p in report.problems if p.check == "decode"]
    assert len(decode_bad) == 1 and "does not decode" in decode_bad[0].detail


@dataclass(frozen=True)
class _Frame:
    seq: int
    role: str
    direction: str
    message: Any
    params: Mapping[str, str] | None
    line: int | None


def test_round_going_back_is_reported() -> None:
    log = loads(SEED.read_text())
    frames = [_Frame(f.seq, f.role, f.direction, f.message, f.params, f.line) for f in log.frames]
    assert not [p for p in audit_frames(frames).problems if p.check == "round"]
    idx = [
        i
        for i, f in enumerate(log.frames)
        if f.method == "channels.update" and f.direction == "received" and f.role == "initiator"
    ]
    first, last = idx[0], idx[-1]
    assert log.frames[first].round == 1 and log.frames[last].round == 2
    # the initiator receives round 2 first, then round 1
    frames[first], frames[last] = (
        dataclasses.replace(frames[first], message=frames[last].message),
        dataclasses.replace(frames[last], message=frames[first].message),
    )
    rounds = [p for p in audit_frames(frames).problems if p.check == "round"]
    assert len(rounds) == 1 and "round 1 after round 2" in rounds[0].detail


def test_wrong_channel_id_is_reported() -> None:
    text = SEED.read_text()
    log = loads(text)
    channel = next(f.channel_id for f in log.frames if f.channel_id)
    assert channel is not None
    other = encoding.encode("ch", bytes(32))
    report = _audit_text(text.replace(channel, other))
    bad = [p for p in report.problems if p.check == "channel_id"]
    assert len(bad) == 1 and "never uses" in bad[0].detail


@pytest.mark.shared
@pytest.mark.parametrize("path", all_recordings(), ids=lambda p: p.name)
def test_every_recording_audits_clean(path: Path) -> None:
    from chan_nb.recording import load

    log = load(path)
    report = audit_frames(log.frames, source=str(path))
    assert report.ok, [str(p) for p in report.problems]
    if report.signatures_ok:
        assert report.network_id in ("local_iris_testnet", "local_lima_testnet")


def test_cli_over_all_recordings(recordings_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["audit", str(recordings_dir)])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0, "\n".join(line for line in out if "BAD" in line)
    last = out[-1]
    n_files = len(all_recordings())
    assert last.startswith(f"audit: {n_files} files, ")
    assert last.endswith("0 signatures bad, " + last.split(", ")[-2] + ", 0 state hashes bad")
    parts = dict(p.split(" ", 1)[::-1] for p in last.removeprefix("audit: ").split(", "))
    assert int(parts["txs"]) > 2000
    assert int(parts["signatures ok"]) > 1000
    assert int(parts["state hashes ok"]) > 500
    assert len(out) == n_files + 1


def test_cli_exit_code_and_names_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = SEED.read_text()
    bad = tmp_path / "bad.txt"
    bad.write_text(text.replace('"balance": 69999999999999', '"balance": 1', 1))
    good = tmp_path / "good.txt"
    good.write_text(text)
    hashes_ok = _audit_text(text).state_hashes_ok
    assert main(["audit", str(good)]) == 0
    assert main(["audit", str(good), str(bad)]) == 1
    out = capsys.readouterr().out
    assert "bad.txt: BAD (1 problems)" in out
    assert "state_hash BAD" in out
    assert out.strip().splitlines()[-1] == (
        "audit: 2 files, 18 txs, 12 signatures ok, 0 signatures bad, "
        f"{2 * hashes_ok - 1} state hashes ok, 1 state hashes bad"
    )


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "chan_nb", "audit", str(SEED)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1].startswith("audit: 1 files, 9 txs, 6 signatures ok")
    assert json.dumps(proc.stdout)  # plain text, no exceptions
