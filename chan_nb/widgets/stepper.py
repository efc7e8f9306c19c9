"""The replay stepper: ipywidgets controls over a :class:`~chan_nb.widgets.replay.Replay`.

Step forward and back (stopping where the *stop at* rule says), jump to the first or
last record, or drag the slider; the view shows the record's JSON, its decoded
transaction, the ladder up to it and the balances at that point. All logic lives in
:class:`Replay`; this module only wires widgets to it, so ``.click()`` and slider
changes in a test behave exactly as in a browser.

Display it by putting ``ReplayStepper(log)`` last in a cell (or ``display(stepper)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

import ipywidgets as w

from chan_nb.display import MUTED
from chan_nb.recording.frame import Frame
from chan_nb.widgets import html
from chan_nb.widgets.ladder_svg import ladder_svg
from chan_nb.widgets.replay import Replay, StepView
from chan_nb.widgets.theme import style_widget


class ReplayStepper:
    """Step through any recorded session (imported, or a live recording that grows)."""

    def __init__(
        self,
        log: Sequence[Frame],
        *,
        stop_at: str = "every record",
        window: int = 24,
        start: int = 0,
    ) -> None:
        self.replay = Replay(log, stop_at=stop_at)
        self.window = window
        self.first_button = w.Button(description="◀◀ first", tooltip="first record")
        self.back_button = w.Button(description="◀ back", tooltip="previous stop")
        self.forward_button = w.Button(description="forward ▶", tooltip="next stop")
        self.last_button = w.Button(description="last ▶▶", tooltip="last record")
        for button in self._buttons:
            button.layout = w.Layout(width="auto")  # the label decides (see widgets.theme)
        self.stop_at = w.Dropdown(
            options=list(self.replay.rules),
            value=stop_at,
            description="stop at",
            layout=w.Layout(width="330px"),
        )
        self.slider = w.IntSlider(
            min=1,
            max=max(1, len(self.replay)),
            value=1,
            description="record",
            continuous_update=True,
            layout=w.Layout(width="98%"),
        )
        self.header = w.HTML()
        self.ladder = w.HTML(layout=w.Layout(flex="1 1 56%", overflow="auto"))
        self.frame_json = w.HTML()
        self.tx_json = w.HTML()
        self.balances = w.HTML()
        stage = w.HBox(
            [self.ladder, w.VBox([self.frame_json, self.tx_json], layout=_side())],
            layout=w.Layout(flex_flow="row wrap", align_items="flex-start"),
        )
        stage.add_class("chan-nb-stage")
        self.widget = w.VBox(
            [
                w.HBox([*self._buttons, self.stop_at]),
                self.slider,
                self.header,
                self.balances,
                stage,
                style_widget(),
            ]
        )
        self.widget.add_class("chan-nb-replay")
        self.first_button.on_click(lambda _: self._move(self.replay.first))
        self.back_button.on_click(lambda _: self._move(self.replay.back))
        self.forward_button.on_click(lambda _: self._move(self.replay.forward))
        self.last_button.on_click(lambda _: self._move(self.replay.last))
        self.slider.observe(self._on_slider, names="value")
        self.stop_at.observe(self._on_stop_at, names="value")
        self.replay.goto(start)
        self._show()

    @property
    def _buttons(self) -> tuple[Any, ...]:
        return (self.first_button, self.back_button, self.forward_button, self.last_button)

    # -- events ------------------------------------------------------------------------
    def _move(self, action: Any) -> None:
        action()
        self._show()

    def _on_slider(self, change: dict[str, Any]) -> None:
        if len(self.replay) and change["new"] - 1 != self.replay.position:
            self.replay.goto(int(change["new"]) - 1)
            self._show()

    def _on_stop_at(self, change: dict[str, Any]) -> None:
        self.replay.stop_at = str(change["new"])
        self._show()

    def refresh(self) -> None:
        """Pick up records a live recording added since; follow them if at the end."""
        at_end = self.replay.position >= len(self.replay) - 1
        if self.replay.sync():
            self.stop_at.options = list(self.replay.rules)
            self.stop_at.value = self.replay.stop_at
            self.slider.max = max(1, len(self.replay))
            if at_end:
                self.replay.last()
        self._show()

    # -- drawing -------------------------------------------------------------------------
    def _show(self) -> None:
        if not len(self.replay):
            self.header.value = "<b>This recording is empty</b>: there is nothing to step through."
            for button in self._buttons:
                button.disabled = True
            self.slider.disabled = True
            return
        view = self.replay.view()
        self.slider.disabled = False
        self.slider.value = view.index + 1
        self.first_button.disabled = view.index == 0
        self.back_button.disabled = not self.replay.can_go_back
        self.forward_button.disabled = not self.replay.can_go_forward
        self.last_button.disabled = view.index == view.total - 1
        self.header.value = _header(view)
        self.ladder.value = ladder_svg(view.lanes, view.ladder, window=self.window)
        self.frame_json.value = html.pre(view.body, title="record")
        if view.tx is not None:
            self.tx_json.value = html.pre(
                html.json_text(view.tx), title=f"decoded transaction ({view.frame.tx_type})"
            )
        elif view.tx_error is not None:
            self.tx_json.value = html.pre(view.tx_error, title="transaction does not decode")
        else:
            self.tx_json.value = f"<i style='color:{MUTED}'>no transaction in this record</i>"
        self.balances.value = (
            f"<div style='font-weight:bold;margin-top:4px'>balances at record "
            f"#{view.frame.seq}</div>{html.balances_table(view.balances, self.replay.names)}"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<ReplayStepper at record {self.replay.position + 1} of {len(self.replay)}>"


def _side() -> Any:
    return w.Layout(flex="1 1 40%", min_width="320px")


def _header(view: StepView) -> str:
    round_ = f"round {view.round}" if view.round is not None else "no co-signed round yet"
    return (
        f"<div class='chan-nb-step'><b>record {view.index + 1} of {view.total}</b> · "
        f"<code>{escape(view.headline)}</code><br>{html.operation_line(view.operation)} · "
        f"channel at <b>{escape(round_)}</b></div>"
    )
