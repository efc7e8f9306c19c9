"""The embedded node: a simulator of the æternity node's ``/channel`` WebSocket API.

Start it ``async with EmbeddedNode() as node:`` (``node.url``), on a background
thread with ``EmbeddedNode.start_in_thread()``, or from the shell with
``chan-nb node``. The protocol logic is pure (:mod:`.core`, :mod:`.fsm`,
:mod:`.chain`); :mod:`.server` is the thin asyncio/WebSocket layer.
"""

from __future__ import annotations

from chan_nb.node.chain import ChannelObject
from chan_nb.node.config import DEFAULT_NETWORK_ID, Era, NodeConfig
from chan_nb.node.contracts import PinnedBlock
from chan_nb.node.core import NodeCore
from chan_nb.node.outofband import stale_close_solo
from chan_nb.node.server import EmbeddedNode
from chan_nb.node.threaded import ThreadedNode
from chan_nb.transport.memory import ConnectionClosed, MemoryConnection

__all__ = [
    "DEFAULT_NETWORK_ID",
    "ChannelObject",
    "ConnectionClosed",
    "EmbeddedNode",
    "Era",
    "MemoryConnection",
    "NodeConfig",
    "NodeCore",
    "PinnedBlock",
    "ThreadedNode",
    "stale_close_solo",
]
