"""An in-memory connection between a channel client and a node (no sockets).

A :class:`MemoryConnection` is what a client holds instead of a WebSocket:
``await send(text)``, ``await recv()`` (raises :class:`ConnectionClosed` once
the node closed it and every frame was read), ``await close()``. It behaves
like the socket would — frames in order, the node closing it after ``died``
or a connect-time error — so a client can be tested against a node both in
memory and over loopback sockets.

Neither side owns it: a node serves it (:class:`MemoryServer`, which the embedded
node is) and a client's transport dials it, each importing only this module.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Final, Protocol

from chan_nb.errors import ChanNbError

_CLOSED: Final = None


class ConnectionClosed(ChanNbError):
    """The connection is closed (by the node or by this end)."""


class MemoryConnection:
    """The client end of an in-memory connection (made by a :class:`MemoryServer`).

    The node's side calls :meth:`deliver` and :meth:`node_close`; ``on_send`` and
    ``on_close`` carry the client's frames and its close to the node.
    """

    def __init__(
        self,
        path: str,
        on_send: Callable[[str], None],
        on_close: Callable[[], None],
        on_deliver: Callable[[str], None] | None = None,
    ) -> None:
        self.path = path
        self._on_send = on_send
        self._on_close = on_close
        #: told of each frame the moment the node sends it (a recorder keeps the node's
        #: own delivery order across connections that way, whoever reads first)
        self.on_deliver = on_deliver
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._closed_by_node = False
        self._closed_here = False

    # -- node side ---------------------------------------------------------------------------
    def deliver(self, text: str) -> None:
        """The node sends a frame."""
        if not self._closed_by_node:
            if self.on_deliver is not None:
                self.on_deliver(text)
            self._inbox.put_nowait(text)

    def node_close(self) -> None:
        """The node closes the connection (after queued frames)."""
        if not self._closed_by_node:
            self._closed_by_node = True
            self._inbox.put_nowait(_CLOSED)

    # -- client side -----------------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self._closed_here or (self._closed_by_node and self._inbox.empty())

    async def send(self, text: str) -> None:
        if self._closed_here or self._closed_by_node:
            raise ConnectionClosed("connection is closed")
        self._on_send(text)

    async def recv(self, timeout: float | None = None) -> str:
        """Next frame from the node; ConnectionClosed when there is none and never will be."""
        if self._closed_here:
            raise ConnectionClosed("connection is closed")
        if timeout is None:
            item = await self._inbox.get()
        else:
            item = await asyncio.wait_for(self._inbox.get(), timeout)
        if item is _CLOSED:
            self._inbox.put_nowait(_CLOSED)  # stay closed for later readers
            raise ConnectionClosed("closed by the node")
        return item

    def recv_nowait(self) -> str | None:
        """Next frame if one is waiting, else None; ConnectionClosed once closed and drained."""
        if self._closed_here:
            raise ConnectionClosed("connection is closed")
        try:
            item = self._inbox.get_nowait()
        except asyncio.QueueEmpty:
            return None
        if item is _CLOSED:
            self._inbox.put_nowait(_CLOSED)
            raise ConnectionClosed("closed by the node")
        return item

    def pending(self) -> int:
        """Frames received but not read yet."""
        return self._inbox.qsize()

    async def close(self) -> None:
        if not self._closed_here:
            self._closed_here = True
            self._inbox.put_nowait(_CLOSED)  # wake a reader waiting in recv()
            self._on_close()

    def __aiter__(self) -> MemoryConnection:
        return self

    async def __anext__(self) -> str:
        try:
            return await self.recv()
        except ConnectionClosed:
            raise StopAsyncIteration from None


class MemoryServer(Protocol):
    """What serves in-memory connections (:class:`~chan_nb.node.EmbeddedNode` does)."""

    def connect_memory(
        self, query: str, on_deliver: Callable[[str], None] | None = None
    ) -> MemoryConnection:
        """A new connection to ``/channel?query``; ``on_deliver`` hears each frame sent."""
        ...
