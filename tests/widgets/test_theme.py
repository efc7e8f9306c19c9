"""The panel's rules for what can be done, closed versus dead, and theme-following styles."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

from chan_nb.client.display import life
from chan_nb.recording import load
from chan_nb.widgets import ReplayStepper
from chan_nb.widgets.panel_view import ACTIONS, RoleSnapshot, unavailable
from chan_nb.widgets.theme import STYLESHEET
from tests.conftest import SAMPLE_SESSION


def snap(role: str, status: str, connected: bool, channel: str | None = "ch_x") -> RoleSnapshot:
    return RoleSnapshot(
        role=role,
        address=f"ak_{role}",
        status=status,
        connected=connected,
        round=1,
        balances=None,
        channel_id=channel,
        fsm_id=None,
        pending=(),
        signing="auto",
    )


def allowed(snaps: dict[str, RoleSnapshot], who: str = "responder", payer: str = "initiator"):
    return {name for name, why in unavailable(snaps, who, payer).items() if why is None}


def test_a_fresh_pair_can_only_open() -> None:
    fresh = {r: snap(r, "disconnected", False, None) for r in ("initiator", "responder")}
    assert allowed(fresh) == {"open"}
    assert unavailable(fresh, "responder", "initiator")["transfer"] == "no channel yet: press open"


def test_an_open_channel() -> None:
    both = {r: snap(r, "open", True) for r in ("initiator", "responder")}
    assert allowed(both) == {
        "transfer",
        "message",
        "shutdown",
        "leave",
        "disconnect",
        "close_solo",
        "snapshot",
        "deploy",
    }
    # calls need a contract: deployed, the panel names it
    contract = "ct_game"
    assert {n for n, why in unavailable(both, "responder", "initiator", contract).items()
            if why is None} >= {"deploy", "call", "dry_run"}  # fmt: skip
    assert (
        unavailable(both, "responder", "initiator")["call"] == "no contract yet: press deploy game"
    )
    away = {**both, "responder": snap("responder", "disconnected", False)}
    assert allowed(away) == {"transfer", "message", "reconnect"}  # a conflict is a lesson
    assert allowed(away, payer="responder") == {"reconnect"}
    assert allowed(away, who="initiator") == {
        "transfer",
        "message",
        "shutdown",
        "leave",
        "disconnect",
        "close_solo",
        "snapshot",
        "deploy",
    }


def test_after_leave_only_reestablish_and_after_close_nothing() -> None:
    left = {r: snap(r, "died", False) for r in ("initiator", "responder")}
    assert allowed(left) == {"reestablish"}
    closed = {r: snap(r, "closed", False) for r in ("initiator", "responder")}
    reasons = unavailable(closed, "responder", "initiator")
    assert set(reasons) == set(ACTIONS) and all(reasons.values())
    one_closed = {**left, "initiator": replace(left["initiator"], status="closed")}
    assert allowed(one_closed) == set()


def test_closed_is_told_from_died() -> None:
    def session(*events: str) -> object:
        return SimpleNamespace(
            status=SimpleNamespace(value="died"), events=[SimpleNamespace(name=e) for e in events]
        )

    assert life(session("closing", "closed_confirmed", "died")) == "closed"  # type: ignore[arg-type]
    assert life(session("died")) == "died"  # type: ignore[arg-type]


def test_styles_follow_the_theme() -> None:
    stepper = ReplayStepper(load(SAMPLE_SESSION), start=46)
    sheet = stepper.widget.children[-1]
    assert "chan-nb-style" in sheet._dom_classes and STYLESHEET in sheet.value
    drawn = stepper.frame_json.value + stepper.balances.value + stepper.header.value
    assert "var(--jp-cell-editor-background" in stepper.frame_json.value
    for light in ("#f7f7f7", "#fff4c2", "#777"):
        assert light not in drawn.replace("var(--jp-cell-editor-background, #f7f7f7)", "")
    assert ">initiator</td>" in stepper.balances.value  # role names, not ak_ ids
    assert "ak_" not in stepper.balances.value
    assert "@container" in STYLESHEET and "min-width: max-content" in STYLESHEET
