"""How a session reaches a node: a WebSocket, or an in-memory connection.

A :class:`Transport` opens a :class:`Connection` to a ``/channel?…`` URL. Both
implementations behave the same way — text frames in order, :class:`Disconnected`
from ``recv`` once the peer closed and everything was read — so a session cannot tell
them apart (and tests run it over both). As with httpx's transports, another one is a
class with ``connect``: :class:`MemoryTransport` dials any
:class:`~chan_nb.transport.memory.MemoryServer` (the embedded node is one) through the
neutral :mod:`chan_nb.transport.memory`, so nothing here imports the simulator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from websockets.exceptions import ConnectionClosed as SocketClosed

from chan_nb.client.errors import ConnectionLost
from chan_nb.transport.memory import ConnectionClosed, MemoryConnection, MemoryServer
from chan_nb.ws_write import ClientLink, write_now

#: Largest frame a session takes from a node (the real node's frames are at most a few
#: hundred KB, contract bytecode included). A WebSocket refuses a bigger one before
#: buffering it (close code 1009); the session checks every transport's frames too.
MAX_FRAME_BYTES: Final = 8 * 1024 * 1024
#: How long closing a socket waits for the node's close frame before dropping it.
CLOSE_TIMEOUT: Final = 2.0


class Disconnected(ConnectionLost):
    """The connection is closed; ``by_peer`` says whether the node closed it."""

    def __init__(self, message: str, by_peer: bool) -> None:
        super().__init__(message)
        self.by_peer = by_peer


class FrameTooLarge(Disconnected):
    """The node sent a frame over the size limit: the client closed the socket."""

    def __init__(self, size: int | None, limit: int) -> None:
        got = f"a {size:,}-byte frame" if size is not None else "a frame"
        super().__init__(f"the node sent {got}, over the {limit:,}-byte limit", by_peer=False)
        self.size = size
        self.limit = limit


class Connection(Protocol):
    def send_now(self, text: str) -> bool:
        """Send without waiting if that is possible right now (False: await ``send``)."""
        ...

    async def send(self, text: str) -> None: ...

    async def recv(self) -> str: ...

    async def close(self) -> None: ...


class Transport(Protocol):
    async def connect(self, url: str) -> Connection: ...


class WebSocketConnection:
    """A ``websockets`` client connection seen as a :class:`Connection`."""

    def __init__(self, ws: object, max_size: int | None = MAX_FRAME_BYTES) -> None:
        assert isinstance(ws, ClientLink)
        self._ws = ws
        self._closing = False
        self._max_size = max_size

    def send_now(self, text: str) -> bool:
        return write_now(self._ws, text)

    async def send(self, text: str) -> None:
        try:
            await self._ws.send(text)
        except SocketClosed as exc:
            raise Disconnected(f"socket closed: {exc}", by_peer=not self._closing) from None

    async def recv(self) -> str:
        try:
            message = await self._ws.recv()
        except SocketClosed as exc:
            sent = exc.sent
            if self._max_size is not None and sent is not None and sent.code == 1009:
                raise FrameTooLarge(None, self._max_size) from None
            raise Disconnected(f"socket closed: {exc}", by_peer=not self._closing) from None
        return message if isinstance(message, str) else message.decode("utf-8", "replace")

    async def close(self) -> None:
        self._closing = True
        await self._ws.close()


class WebSocketTransport:
    """Real sockets (websockets' Sans-I/O client, :mod:`chan_nb.ws_write`), to any node.

    WebSocket-level pings (every ``ping_interval`` seconds) keep the node's idle timer
    (60 s) from closing a quiet socket, without adding JSON-RPC frames to recordings.
    """

    def __init__(
        self,
        *,
        open_timeout: float = 10.0,
        ping_interval: float | None = 20.0,
        max_size: int | None = MAX_FRAME_BYTES,
        close_timeout: float = CLOSE_TIMEOUT,
    ) -> None:
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.max_size = max_size
        self.close_timeout = close_timeout

    async def connect(self, url: str) -> Connection:
        from websockets.exceptions import InvalidHandshake, InvalidURI

        from chan_nb.ws_write import connect

        try:
            ws = await connect(
                url,
                open_timeout=self.open_timeout,
                ping_interval=self.ping_interval,
                max_size=self.max_size,
                close_timeout=self.close_timeout,
            )
        except (OSError, InvalidHandshake, InvalidURI, TimeoutError) as exc:
            raise ConnectionLost(f"cannot open {_short_url(url)}: {exc}") from None
        return WebSocketConnection(ws, self.max_size)

    def __repr__(self) -> str:
        return "WebSocketTransport()"


class MemoryConnectionAdapter:
    """An in-memory connection (:mod:`chan_nb.transport.memory`) seen as a :class:`Connection`."""

    #: frames are recorded as the node delivers them (see :meth:`MemoryTransport.connect`)
    recorded_on_delivery = False

    def __init__(self, conn: MemoryConnection) -> None:
        self._conn = conn
        self._closing = False
        self._receiving: asyncio.Task[Any] | None = None

    def send_now(self, text: str) -> bool:
        return False  # the in-memory send never waits anyway; it goes through send()

    async def send(self, text: str) -> None:
        try:
            await self._conn.send(text)
        except ConnectionClosed as exc:
            raise Disconnected(str(exc), by_peer=not self._closing) from None

    async def recv(self) -> str:
        if self._closing:
            raise Disconnected("connection closed by the client", by_peer=False)
        task = asyncio.current_task()
        self._receiving = task
        try:
            text: str = await self._conn.recv()
        except ConnectionClosed as exc:
            raise Disconnected(str(exc), by_peer=not self._closing) from None
        except asyncio.CancelledError:
            # close() interrupts a pending recv, as closing a socket would
            if self._closing and task is not None and task.cancelling() <= 1:
                task.uncancel()
                raise Disconnected("connection closed by the client", by_peer=False) from None
            raise
        finally:
            self._receiving = None
        return text

    async def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        await self._conn.close()
        receiving = self._receiving
        if receiving is not None and receiving is not asyncio.current_task():
            receiving.cancel()


class MemoryTransport:
    """Connections without sockets to a node serving them (an embedded node)."""

    def __init__(self, node: MemoryServer, *, record_on_delivery: bool = True) -> None:
        self.node = node
        #: sessions record frames as the node sends them (its delivery order) rather than
        #: as they read them; a replay turns it off to act as a networked client would
        #: (before reading what is already on its way)
        self.record_on_delivery = record_on_delivery

    async def connect(
        self, url: str, on_deliver: Callable[[str], None] | None = None
    ) -> Connection:
        """``on_deliver`` hears each frame when the node sends it, before anyone reads it:
        a recorder fed from there follows the node's own delivery order."""
        parts = urlsplit(url)
        path = parts.path or "/channel"
        target = f"{path}?{parts.query}" if parts.query else path
        adapter = MemoryConnectionAdapter(self.node.connect_memory(target, on_deliver))
        adapter.recorded_on_delivery = on_deliver is not None
        return adapter

    def __repr__(self) -> str:
        return "MemoryTransport()"


def _short_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
