"""The tutorial notebooks: stored clean, and every one executes headless without network.

Each notebook runs in a fresh kernel of this environment, in the notebooks folder (so the
sections that use ../shared run when it is there), and its outputs are checked for
the facts the tutorial text talks about — not just for the absence of errors.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT

_NEEDS = "the notebook tools (nbclient, nbformat, ipykernel: the 'notebook' extra)"
nbformat = pytest.importorskip("nbformat", reason=f"executing notebooks needs {_NEEDS}")
NotebookClient = pytest.importorskip("nbclient", reason=f"executing notebooks needs {_NEEDS}")
NotebookClient = NotebookClient.NotebookClient
pytest.importorskip("ipykernel", reason=f"executing notebooks needs {_NEEDS}")

NOTEBOOK_DIR = PROJECT_ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))

#: What each notebook's outputs must show (regular expressions), by file name.
EXPECTED: dict[str, list[str]] = {
    "01_quickstart.ipynb": [
        r"initiator:\s+69,999,999,999,999\n\s+responder:\s+40,000,000,000,001",
        r"round 2\n\s+initiator:\s+69,999,999,997,499",
        r"conflict: initiator: transfer of 1 .* channel stays at round 2",
        r"responder: open round 2 \| same fsm: ba_",
        r"round 3\n\s+initiator:\s+69,999,999,997,498\n\s+responder:\s+40,000,000,002,502",
        r"<Ladder initiator \| node \| responder",
        r"<SessionLog tap: \d+ records \| (initiator|responder):\d+ (initiator|responder):\d+",
        r"chan_nb channel panel",
    ],
    "02_seed_session_reproduced.ipynb": [
        r"^ok$",
        r"initiator: 35 recorded frames, 35 reproduced",
        r"responder: 40 recorded frames, 40 reproduced",
        r"75 of 75 frames match",
        r"no mismatch",
        r"recorded: ok · 9 txs, 6 signatures ok, 4 state hashes ok",
        r"reproduced: ok · 9 txs, 6 signatures ok, 4 state hashes ok",
    ],
    "03_analysing_recordings.ipynb": [
        r"<SessionLog sc_ws_basic_client_reconnect_r: 86 records",
        r"channels\.conflict",
        r"Missing field: existing_fsm_id",
        r"-576460752303422689",  # JSON-RPC ids stay exact in the pairs table
        r": ok; network local_iris_testnet; 9 txs, 6 signatures ok, 0 bad",
        r"69999999999998",  # the balance after the one-aetto transfer
        r"#62 responder\[5\] <- error",  # the replay loop's last stop
        r"(recordings in|No published recordings found)",
        r"\d+ recordings in .*, \d+ audit ok",  # load_many / audit_many
        r"last_round",  # the DuckDB query over the Parquet dataset
    ],
    "04_conflicts_and_reconnects.ipynb": [
        r"initiator: ChannelConflict: .*conflict 2 'conflict', channel stays at round 1",
        r"responder: ChannelConflict: .*conflict 2 'conflict', channel stays at round 1",
        r"one at a time it works: round 2",
        r"2 operations ended in a conflict",
        r"initiator: open at round 2; new fsm id: True",
        r"responder: open at round 2; new fsm id: True",
        r"update while the responder is away -> .*conflict",
        r"reconnect with fsm id None: refused 3/2000 'Missing field: existing_fsm_id'",
        r"reconnect with fsm id 'ba_notmyfsm': refused 3/1016 'Invalid fsm id'",
        r"the update goes through: round 4",
        r"statuses: died died",
    ],
    "05_real_node.ipynb": [r"no node answers: the rest of this notebook is skipped"],
    "06_disputes.ipynb": [
        r"open at round 1 \| height \d+: active, round 1",
        r"round 3 \{'me \(initiator\)': 70000000001999, 'peer \(responder\)': 39999999998001\}",
        r"can_slash — channel_offchain_tx\nheight \d+: solo-closing until height \d+, round 1",
        r"solo_closing — channel_slash_tx\nheight \d+: solo-closing until height \d+, round 3",
        r"channel_closed — channel_settle_tx\nheight \d+: closed, round 3",
        r"\('close_solo', 'initiator', <Outcome.OK: 'ok'>\), \('slash', 'initiator'",
        r"<Ladder initiator \| node",
    ],
    "07_contracts.ipynb": [
        r"\['init', 'total', 'turn', 'play  \(payable\)'\]",
        r"created ct_\S+ in round 2; init: \(\) \(gas \d+, round 2\), verified=True",
        r"alice's balance: 69,999,999,999,999 -> 69,999,999,998,999 \| both agree: True",
        r"alice plays 3 -> total 3 \(gas [\d,]+, round 3, verified=True\)",
        r"bob plays 2 -> total 5 \(gas [\d,]+, round 4, verified=True\)",
        r"alice refused: the peer's contract call ends in revert: not your turn",
        r"bob takes 5 -> alice refused: the peer's contract call ends in revert: take 1, 2 or 3",
        r"round 5 \| both sides agree: True",
        r"dry run of play\(1\) by alice: revert: not your turn .*verified=True",
        r"store: total 8, turn: bob, deposit 1,000",
        r"alice's call in round 3: 3 \(gas [\d,]+, round 3\) \(verified=True\)",
        r"alice plays 3 -> total 21 \(gas [\d,]+, round 11, verified=True\)",
        r"alice: 69,999,999,999,999 -> 69,999,999,999,999 \(the pot came back\)",
        r"bob and alice agree on the balances: True",
        r"a move after the end -> alice refused: .*revert: the game is over",
        r"closed: tx_",
    ],
}
#: Notebook 5's outputs when a node does answer (the embedded node, served on 127.0.0.1).
EXPECTED_WITH_NODE = [
    r"a node answers",
    r"open: ch_\w+ round 1",
    r"transfer: round 2",
    r"while the responder is away: .*conflict",
    r"reconnected: open round 2",
    r"closed: tx_",
    r"scenario: ok",
    r"initiator: 35 of 35 frames have the recorded method",
    r"responder: 40 of 40 frames have the recorded method",
    r"basic_client_reconnect_r: ok;",
]


def execute(path: Path, cwd: Path, *, timeout: int = 180, env: dict[str, str] | None = None) -> Any:
    """Run every cell of ``path`` in a fresh kernel with ``cwd`` as working directory."""
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    )
    if env is None:
        client.execute()
    else:
        client.execute(env=env)
    return notebook


def errors(notebook: Any) -> list[str]:
    """Error outputs and tracebacks printed to stderr, one string each."""
    found = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                found.append(f"{output.ename}: {output.evalue}")
            elif output.output_type == "stream" and "Traceback" in output.text:
                found.append(output.text)
    return found


def output_text(notebook: Any) -> str:
    """Every text the notebook shows (streams, plain text and HTML results)."""
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream":
                parts.append(output.text)
            elif output.output_type in ("execute_result", "display_data"):
                for mime in ("text/plain", "text/html", "text/markdown"):
                    if mime in output.data:
                        parts.append(output.data[mime])
    return "\n".join(parts)


def check_outputs(name: str, notebook: Any, expected: list[str] | None = None) -> None:
    problems = errors(notebook)
    assert not problems, f"{name} raised: {problems}"
    text = output_text(notebook)
    wanted = EXPECTED.get(name, []) if expected is None else expected
    missing = [p for p in wanted if not re.search(p, text, flags=re.MULTILINE)]
    assert not missing, f"{name}: outputs lack {missing}"


def test_there_are_tutorials_and_each_has_expectations() -> None:
    assert NOTEBOOKS, "notebooks/ holds no tutorial"
    assert {p.name for p in NOTEBOOKS} >= set(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_clean_and_titled(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    assert notebook.cells[0].cell_type == "markdown"
    assert re.match(r"# \d+ · \S", notebook.cells[0].source), "first cell: '# N · Title'"
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: store notebooks without outputs (cell {cell.get('id')})"
            )
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes_headless(path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAN_NB_")}
    env["CHAN_NB_NODE_URL"] = f"ws://127.0.0.1:{closed_port()}/channel"  # surely no node
    notebook = execute(path, NOTEBOOK_DIR, env=env)
    check_outputs(path.name, notebook)


def closed_port() -> int:
    """A local port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_real_node_notebook_runs_against_a_node_that_answers() -> None:
    """Notebook 5 pointed at an embedded node served on 127.0.0.1, with generated keys."""
    from chan_nb.codec.keys import Keypair
    from chan_nb.node import ThreadedNode

    node = ThreadedNode(port=0)
    try:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CHAN_NB_")}
        env.update(
            CHAN_NB_NODE_URL=node.url,
            CHAN_NB_NETWORK_ID=node.network_id,
            # throwaway keys for this run only, passed to the kernel through its environment
            CHAN_NB_INITIATOR_SECRET=Keypair.generate().secret_seed().hex(),
            CHAN_NB_RESPONDER_SECRET=Keypair.generate().secret_seed().hex(),
        )
        notebook = execute(NOTEBOOK_DIR / "05_real_node.ipynb", NOTEBOOK_DIR, env=env)
    finally:
        node.stop()
    check_outputs("05_real_node.ipynb", notebook, EXPECTED_WITH_NODE)
    assert env["CHAN_NB_INITIATOR_SECRET"] not in output_text(notebook)
