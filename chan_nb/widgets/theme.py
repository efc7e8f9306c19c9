"""The widgets' stylesheet: what inline styles cannot say (layout of ipywidgets' own
parts, a narrow notebook), in JupyterLab's theme variables so light and dark both read.

Each widget puts :func:`style_widget` last in its box (a text repr shows the start); the
rules are scoped to the ``chan-nb-panel`` / ``chan-nb-replay`` classes, so nothing else on
the page changes.
"""

from __future__ import annotations

from typing import Any, Final

STYLESHEET: Final = """
.chan-nb-panel, .chan-nb-replay { color: var(--jp-content-font-color1); }
/* buttons as wide as their labels: "approve (responder)", "◀◀ first" are never cut */
.chan-nb-panel .widget-button, .chan-nb-replay .widget-button {
  width: auto; min-width: max-content; padding: 0 10px;
}
/* rows of controls wrap instead of squeezing, their labels on one line */
.chan-nb-panel .widget-hbox, .chan-nb-replay .widget-hbox {
  flex-wrap: wrap; align-items: center; gap: 2px 4px;
}
/* a toggle's description on the line of its buttons (ipywidgets 8 stacks them: the box is
   display:block and its label a block above the buttons) */
.chan-nb-panel .widget-toggle-buttons {
  display: flex; flex-direction: row; align-items: center; gap: 6px;
}
.chan-nb-panel .widget-toggle-buttons > .widget-label {
  width: auto; height: auto; margin: 0; padding: 0 0 0 4px; line-height: normal; flex: 0 0 auto;
}
.chan-nb-panel .widget-toggle-buttons .widget-toggle-button { min-width: max-content; }
/* the two participants' cards side by side (their ids break inside), stacked when narrow */
.chan-nb-panel .chan-nb-cards { flex-wrap: nowrap; }
.chan-nb-panel .widget-button:disabled, .chan-nb-replay .widget-button:disabled {
  opacity: 0.45;
}
/* the stepper: ladder and record side by side when the cell is wide, stacked when not
   (a container query: it is the cell's width that counts, not the window's) */
.chan-nb-replay, .chan-nb-panel { container-type: inline-size; }
.chan-nb-replay .chan-nb-balances { width: max-content; }
@container (max-width: 760px) {
  .chan-nb-replay .chan-nb-stage > .widget-html,
  .chan-nb-replay .chan-nb-stage > .widget-vbox {
    flex: 1 1 100% !important; min-width: 0 !important;
  }
  .chan-nb-panel .chan-nb-cards { flex-wrap: wrap; }
  .chan-nb-panel .chan-nb-cards > .widget-html { flex: 1 1 100% !important; }
}
"""


def style_widget() -> Any:
    """An (invisible) HTML widget carrying the stylesheet."""
    import ipywidgets as w

    sheet = w.HTML(f"<style>{STYLESHEET}</style>", layout=w.Layout(height="0px", margin="0"))
    sheet.add_class("chan-nb-style")
    return sheet
