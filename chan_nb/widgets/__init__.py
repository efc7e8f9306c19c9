"""Notebook widgets: a replay stepper for recorded sessions and a channel panel.

The logic of each widget is a plain class (:class:`~chan_nb.widgets.replay.Replay`)
that tests drive directly; the ipywidgets classes only draw it.
"""

from __future__ import annotations

from chan_nb.widgets.panel import ChannelPanel
from chan_nb.widgets.replay import Replay, StepView
from chan_nb.widgets.stepper import ReplayStepper

__all__ = ["ChannelPanel", "Replay", "ReplayStepper", "StepView"]
