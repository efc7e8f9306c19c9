"""Rich displays (HTML cards, short text reprs) and plots that read: one figure per call,
integer rounds, role names in legends, a latency plot."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import nbformat
import pytest
from nbclient import NotebookClient

from chan_nb.client import open_pair
from chan_nb.client.events import StateUpdate
from chan_nb.client.recorder import Recorder
from chan_nb.client.transport import MemoryTransport
from chan_nb.node import EmbeddedNode
from chan_nb.recording import Frame, SessionLog, load
from tests.conftest import SAMPLE_SESSION


@pytest.fixture
async def node() -> AsyncIterator[EmbeddedNode]:
    async with EmbeddedNode() as started:
        yield started


def test_session_log_card_and_short_repr() -> None:
    log = load(SAMPLE_SESSION)
    html = log._repr_html_()
    assert "SessionLog sc_ws_basic_client_reconnect_r" in html
    assert "<th" in html and ">86<" in html
    assert "responder 46, initiator 40" in html
    assert "… 78 more" in html
    assert "var(--jp-" in html  # follows the JupyterLab theme
    assert len(repr(log)) < 300
    hostile = SessionLog([Frame.note("initiator", "<script>alert(1)</script>", seq=1, conn=1)])
    assert "<script>" not in hostile._repr_html_()
    assert "&lt;script&gt;" in hostile._repr_html_()


def test_audit_report_card() -> None:
    good = load(SAMPLE_SESSION).audit()
    assert ">ok<" in good._repr_html_() and "6 ok, 0 bad" in good._repr_html_()
    assert repr(good).startswith("<AuditReport ") and len(repr(good)) < 300
    text = SAMPLE_SESSION.read_text().replace('"balance": 69999999999999', '"balance": 1', 1)
    from chan_nb.recording import loads

    bad = loads(text).audit()
    html = bad._repr_html_()
    assert "1 problems" in html and "state_hash" in html and "<td" in html


async def test_session_and_state_update_displays(node: EmbeddedNode) -> None:
    recorder = Recorder()
    initiator, responder = await open_pair(
        node, timeout=10, transport=MemoryTransport(node), recorder=recorder
    )
    try:
        await initiator.transfer(responder.address, 250)
        html = initiator._repr_html_()
        assert "Session initiator" in html and ">open<" in html
        assert "round</th><td" in html and ">2<" in html
        balances = dict(initiator.balances)
        shown = f"initiator {balances[initiator.address]:,}, responder "
        assert shown in html  # balances by role, exact, with separators
        update = next(e for e in reversed(initiator.events) if isinstance(e, StateUpdate))
        text = repr(update)
        assert text.startswith("StateUpdate(round=2, tx_type=channel_offchain_tx")
        assert len(text) < 160 and update.state not in text
        card = update._repr_html_()
        assert "signatures</th><td" in card and ">2<" in card
        await initiator.shutdown()
        assert ">closed<" in initiator._repr_html_()
    finally:
        await initiator.close()
        await responder.close()


def _legend(fig: object) -> list[str]:
    ax = fig.axes[0]  # type: ignore[attr-defined]
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_balance_plot_has_integer_rounds_and_role_names() -> None:
    import matplotlib.pyplot as plt

    log = load(SAMPLE_SESSION)
    before = plt.get_fignums()
    fig = log.plot_balances()
    assert plt.get_fignums() == before  # not in pyplot's state: shown once, as the value
    fig.savefig(io.BytesIO(), format="png")
    ticks = fig.axes[0].get_xticks()
    assert len(ticks) > 1 and all(float(t).is_integer() for t in ticks)
    labels = _legend(fig)
    assert "initiator (state)" in labels and "responder (state)" in labels
    assert not any("ak_" in label for label in labels)


def test_latency_plot_without_and_with_clocks() -> None:
    log = load(SAMPLE_SESSION)
    fig = log.plot_latency()
    ax = fig.axes[0]
    assert ax.get_ylabel() == "records to the outcome (no clocks)"
    plotted = sum(len(c.get_offsets()) for c in ax.collections)
    assert plotted == len(log.operations())
    assert "reconnect" in _legend(fig)


async def test_latency_plot_of_a_live_recording(node: EmbeddedNode) -> None:
    recorder = Recorder()
    initiator, responder = await open_pair(
        node, timeout=10, transport=MemoryTransport(node), recorder=recorder
    )
    try:
        await initiator.transfer(responder.address, 1)
        await responder.transfer(initiator.address, 2)
    finally:
        await initiator.close()
        await responder.close()
    log = recorder.log
    timed = [op for op in log.operations() if op.latency_s is not None]
    assert timed
    ax = log.plot_latency().axes[0]
    assert ax.get_ylabel() == "latency (ms)"
    ys = sorted(float(y) for c in ax.collections for _, y in c.get_offsets())
    assert ys == pytest.approx(sorted(op.latency_s * 1000 for op in timed))  # type: ignore[operator]


def test_a_plot_as_the_last_expression_is_drawn_once() -> None:
    """In a real kernel with the inline backend: one image per call, not two."""
    cells = [
        "from chan_nb.recording import load\n"
        f"log = load({str(SAMPLE_SESSION)!r})\n"
        "log.plot_balances()",
        "log.plot_latency()",
        "fig = log.plot_balances()",  # assigned: nothing shown
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    images = [sum("image/png" in out.get("data", {}) for out in cell.outputs) for cell in nb.cells]
    assert images == [1, 1, 0]
