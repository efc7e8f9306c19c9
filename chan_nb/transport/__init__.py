"""Ways for a channel client and a node to exchange frames that neither side owns.

:mod:`.memory` is the socket-free pipe: the embedded node serves it
(``EmbeddedNode.connect_memory``), a session reaches it through
``chan_nb.client.transport.MemoryTransport``. Both import it from here, so the client
needs nothing of the simulator to talk to it in memory.
"""

from __future__ import annotations

from chan_nb.transport.memory import ConnectionClosed, MemoryConnection, MemoryServer

__all__ = ["ConnectionClosed", "MemoryConnection", "MemoryServer"]
