"""chan_nb: explore the æternity State Channel protocol from Jupyter.

The public API is the names in :data:`__all__`, importable from here::

    from chan_nb import EmbeddedNode, open_pair, load

    async with EmbeddedNode() as node:
        initiator, responder = await open_pair(node)
        await initiator.transfer(responder.address, 10)
    log = load("sc_ws_basic_open_close.md")

Each name is imported on first use (module ``__getattr__``), so ``import chan_nb`` stays
cheap: it loads neither the codec's crypto, websockets, pandas nor ipywidgets. The
subpackages (:mod:`chan_nb.client`, :mod:`chan_nb.node`, :mod:`chan_nb.recording`,
:mod:`chan_nb.codec`, :mod:`chan_nb.widgets` …) hold the rest; a module whose
docstring says *internal* may change without notice. docs/architecture.md shows the
layers.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it (the one place each is looked up)
_HOMES: dict[str, str] = {
    # sessions over the channel WebSocket API
    "Session": "chan_nb.client",
    "open_pair": "chan_nb.client",
    "new_pair": "chan_nb.client",
    "pair_params": "chan_nb.client",
    "ChannelParams": "chan_nb.client",
    "Recorder": "chan_nb.client",
    "SigningPolicy": "chan_nb.client",
    "Expectation": "chan_nb.client",
    "Signer": "chan_nb.client",
    "run": "chan_nb.client",
    "ClientError": "chan_nb.client",
    "ChannelClosed": "chan_nb.client",
    "ChannelConflict": "chan_nb.client",
    "ConnectionLost": "chan_nb.client",
    "NodeError": "chan_nb.client",
    "PolicyViolation": "chan_nb.client",
    "Timeout": "chan_nb.client",
    "UpdateAborted": "chan_nb.client",
    # the embedded node
    "EmbeddedNode": "chan_nb.node",
    "ThreadedNode": "chan_nb.node",
    "NodeConfig": "chan_nb.node",
    # recorded sessions
    "load": "chan_nb.recording",
    "loads": "chan_nb.recording",
    "save": "chan_nb.recording",
    "dumps": "chan_nb.recording",
    "SessionLog": "chan_nb.recording",
    "Frame": "chan_nb.recording",
    "audit_frames": "chan_nb.audit",
    "AuditReport": "chan_nb.audit",
    "run_scenario": "chan_nb.scenarios",
    # the codec
    "Keypair": "chan_nb.codec",
    "decode_tx": "chan_nb.codec",
    "ChanNbError": "chan_nb.errors",
    "DecodeError": "chan_nb.errors",
    # notebook widgets (need ipywidgets)
    "ChannelPanel": "chan_nb.widgets",
    "ReplayStepper": "chan_nb.widgets",
}

__all__ = [
    "AuditReport",
    "ChanNbError",
    "ChannelClosed",
    "ChannelConflict",
    "ChannelPanel",
    "ChannelParams",
    "ClientError",
    "ConnectionLost",
    "DecodeError",
    "EmbeddedNode",
    "Expectation",
    "Frame",
    "Keypair",
    "NodeConfig",
    "NodeError",
    "PolicyViolation",
    "Recorder",
    "ReplayStepper",
    "Session",
    "SessionLog",
    "Signer",
    "SigningPolicy",
    "ThreadedNode",
    "Timeout",
    "UpdateAborted",
    "__version__",
    "audit_frames",
    "decode_tx",
    "dumps",
    "load",
    "loads",
    "new_pair",
    "open_pair",
    "pair_params",
    "run",
    "run_scenario",
    "save",
]

if TYPE_CHECKING:  # what the names are, for type checkers; at run time they load lazily
    from chan_nb.audit import AuditReport, audit_frames
    from chan_nb.client import (
        ChannelClosed,
        ChannelConflict,
        ChannelParams,
        ClientError,
        ConnectionLost,
        Expectation,
        NodeError,
        PolicyViolation,
        Recorder,
        Session,
        Signer,
        SigningPolicy,
        Timeout,
        UpdateAborted,
        new_pair,
        open_pair,
        pair_params,
        run,
    )
    from chan_nb.codec import Keypair, decode_tx
    from chan_nb.errors import ChanNbError, DecodeError
    from chan_nb.node import EmbeddedNode, NodeConfig, ThreadedNode
    from chan_nb.recording import Frame, SessionLog, dumps, load, loads, save
    from chan_nb.scenarios import run_scenario
    from chan_nb.widgets import ChannelPanel, ReplayStepper


if not TYPE_CHECKING:  # hidden from type checkers, so that a misspelt name is an error

    def __getattr__(name: str) -> Any:
        """Import a public name's module on first use and remember the name here."""
        home = _HOMES.get(name)
        if home is None:
            raise AttributeError(f"module 'chan_nb' has no attribute {name!r}")
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_HOMES})
