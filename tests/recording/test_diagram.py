"""Ladder diagrams (Mermaid and matplotlib), collapsing, and the balances plot."""

from __future__ import annotations

import io
import sys

import pytest

from chan_nb.recording import load
from chan_nb.recording.diagram import Ladder, PlottingUnavailable, lanes_for
from tests.conftest import SAMPLE_SESSION, shared_path


@pytest.fixture(autouse=True)
def _agg_backend() -> None:
    import matplotlib

    matplotlib.use("Agg")


def test_lanes_put_the_node_between_participants() -> None:
    assert lanes_for(["responder", "initiator", "responder"]) == ["initiator", "node", "responder"]
    assert lanes_for(["alice", "bob", "carol"]) == ["alice", "node", "bob", "carol"]


def test_mermaid_has_one_line_per_record_without_collapsing() -> None:
    log = load(SAMPLE_SESSION)
    ladder = log.ladder(collapse=False, max_steps=None)
    text = ladder.mermaid()
    lines = text.strip().split("\n")
    assert lines[0] == "sequenceDiagram"
    assert "participant p0 as initiator" in text and "participant p2 as responder" in text
    body = [line for line in lines[1:] if "participant" not in line and "title" not in line]
    assert len(body) == len(log)
    sent = sum(1 for f in log if f.direction == "sent")
    assert sum(1 for line in body if "->>p1:" in line) == sent
    assert sum(1 for line in body if "--xp" in line) == 4  # the four rejected reconnects
    assert ";" not in text.replace("sequenceDiagram", "")


def test_collapsing_folds_identical_operations() -> None:
    log = load(SAMPLE_SESSION)
    full = log.ladder(collapse=False, max_steps=None)
    folded = log.ladder(max_steps=None)
    assert len(folded.steps) < len(full.steps)
    notes = [s.label for s in folded.steps if s.what == "collapsed"]
    assert notes == ["⋯ 2 more × reconnect by responder (error)"]


def test_big_sessions_are_capped() -> None:
    log = load(shared_path("recordings", "json-rpc", "contracts", "sc_ws_basic_contracts.md"))
    ladder = log.ladder(max_steps=50)
    assert len(ladder.steps) == 51
    assert ladder.steps[-1].label.startswith("⋯ ")
    assert len(log.ladder(max_steps=None).steps) < len(log)  # repeated calls fold


def test_mimebundle_offers_mermaid() -> None:
    bundle = load(SAMPLE_SESSION).ladder()._repr_mimebundle_()
    assert bundle["text/vnd.mermaid"].startswith("sequenceDiagram")
    assert bundle["text/markdown"].startswith("```mermaid\n")
    assert bundle["text/plain"].startswith("<Ladder initiator | node | responder")


def test_filtered_ladder() -> None:
    log = load(SAMPLE_SESSION)
    part = log.filter(role="responder", conn=1).ladder(collapse=False)
    assert part.lanes == ["responder", "node"]
    assert all(step.role == "responder" for step in part.steps)


def test_figures_render() -> None:
    from matplotlib.figure import Figure

    log = load(SAMPLE_SESSION)
    fig = log.ladder().figure()
    assert isinstance(fig, Figure)
    assert len(fig.axes[0].texts) >= len(log.ladder().steps)
    plot = log.plot_balances()
    assert isinstance(plot, Figure)
    assert plot.axes[0].get_xlabel() == "round"


def test_dollar_signs_do_not_break_matplotlib() -> None:
    from chan_nb.recording import Frame

    frames = [Frame.note("initiator", "costs $5 and $6", seq=1, conn=1)]
    fig = Ladder(frames).figure()
    fig.savefig(io.BytesIO(), format="png")  # renders every text


def test_missing_matplotlib_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    ladder = load(SAMPLE_SESSION).ladder()
    assert ladder.mermaid()  # text needs no matplotlib
    with pytest.raises(PlottingUnavailable, match="pip install"):
        ladder.figure()
    with pytest.raises(ImportError):
        load(SAMPLE_SESSION).plot_balances()
