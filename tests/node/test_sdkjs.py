"""Interop: the official JS SDK (@aeternity/aepp-sdk 14.x) runs a channel against ``chan-nb node``.

The SDK is installed with npm into the git-ignored ``.sdkjs/`` folder on first use;
``tests/sdkjs/interop.mjs`` drives two ``Channel`` objects (the SDK doing its own
signing) through open, transfers both ways, messages, balances/state/PoI,
keep-alive pings, deposit and withdraw, leave + reestablish, reconnect, a contract
(the SDK's ``createContract`` and ``callContract`` with code and call data from
chan_nb's FATE assembler, the call result, a dry run and the store read back) and a
mutual close. Skipped only when node or npm is not installed.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SDK_DIR = ROOT / ".sdkjs"
SCRIPT = ROOT / "tests" / "sdkjs" / "interop.mjs"
PACKAGE = ROOT / "tests" / "sdkjs" / "package.json"
SDK_PACKAGE = SDK_DIR / "node_modules" / "@aeternity" / "aepp-sdk" / "package.json"

pytestmark = pytest.mark.slow


def _sdk_version() -> str | None:
    if not SDK_PACKAGE.exists():
        return None
    version: str = json.loads(SDK_PACKAGE.read_text())["version"]
    return version


@pytest.fixture(scope="module")
def sdk_dir() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the JS SDK interop test (not installed)")
    version = _sdk_version()
    if version is None or not version.startswith("14."):
        SDK_DIR.mkdir(exist_ok=True)
        shutil.copy(PACKAGE, SDK_DIR / "package.json")
        done = subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=SDK_DIR,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"npm install of the JS SDK failed:\n{done.stderr[-2000:]}"
        version = _sdk_version()
    assert version is not None and version.startswith("14."), f"JS SDK version {version}"
    return SDK_DIR


@pytest.fixture
def node_url() -> Iterator[str]:
    """``chan-nb node --port 0`` in a subprocess; its URL from the first output line."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "chan_nb", "node", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "listening on ws://" in line, f"node did not start: {line!r}"
        yield line.split("listening on ", 1)[1].split()[0]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _contract_args() -> list[str]:
    """COUNTER's code and the call data of init(5), tick() and get(), as ``cb_`` strings."""
    from chan_nb.client.contracts import call_data, code_bytes
    from chan_nb.codec.encoding import encode
    from chan_nb.codec.fate.examples import counter_code

    raw = [code_bytes(counter_code()), call_data("init", [5]), call_data("tick"), call_data("get")]
    return [encode("cb", b) for b in raw]


def test_js_sdk_channel_lifecycle(sdk_dir: Path, node_url: str) -> None:
    done = subprocess.run(
        ["node", str(SCRIPT), node_url, "local_iris_testnet", str(sdk_dir), *_contract_args()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    steps = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    names = [s["step"] for s in steps]
    assert done.returncode == 0, f"SDK run failed: {steps[-1:]} {done.stderr[-2000:]}"
    assert names == [
        "open",
        "transfers",
        "messages",
        "balances",
        "pings",
        "deposit_withdraw",
        "reestablish",
        "reconnect",
        "contracts",
        "shutdown",
        "done",
    ]
    by_name = {s["step"]: s for s in steps}
    assert by_name["open"]["round"] == 1
    assert by_name["transfers"]["round"] == 3
    assert by_name["transfers"]["overdraft"] == "Insufficient balance"
    assert by_name["pings"]["pongs"] >= 4
    assert by_name["deposit_withdraw"]["round"] == 5
    assert by_name["reconnect"]["round"] == 7
    _check_contract_step(by_name["contracts"])
    final = by_name["shutdown"]
    fee = int(final["fee"])
    assert fee % 10**9 == 0 and 15_000 * 10**9 < fee < 25_000 * 10**9  # gas × min gas price
    # the channel held both amounts, +1000 deposited, −500 withdrawn; the close pays the fee
    total = int(final["initiatorAmountFinal"]) + int(final["responderAmountFinal"])
    assert total + fee == 2 * 10**17 + 1000 - 500
    assert abs(int(final["initiatorAmountFinal"]) - int(final["responderAmountFinal"])) < 2_000


def _check_contract_step(step: dict[str, Any]) -> None:
    """The SDK's contract step: our code ran on the node, as our own VM runs it."""
    from chan_nb.codec import contracts as ct
    from chan_nb.codec.encoding import decode
    from chan_nb.codec.fate import decode as fate_decode

    assert (step["createRound"], step["round"]) == (8, 9)
    assert step["address"].startswith("ct_")
    assert (step["returnType"], fate_decode(decode(step["returnValue"], "cb"))) == ("ok", 6)
    assert int(step["gasUsed"]) > 0
    assert (step["dryReturnType"], fate_decode(decode(step["dryReturnValue"], "cb"))) == ("ok", 6)
    store = {decode(k, "ck"): decode(v, "cv") for k, v in step["store"].items()}
    assert fate_decode(store[ct.register_key(1)]) == 6 and step["deposit"] == "0"
