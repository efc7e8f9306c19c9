"""WebSocket connections on websockets' public Sans-I/O protocol, driven by our own transport.

``websockets``' asyncio layer hands every message to a task through a queue and offers
only awaitable sends. The embedded node's core is synchronous and the client writes
most frames on an idle socket, so both drive websockets' public Sans-I/O objects
(:class:`~websockets.server.ServerProtocol`, :class:`~websockets.client.ClientProtocol`)
from an :class:`asyncio.Protocol` of ours instead: bytes in, whole messages out to a
callback where they are parsed; a frame to send is serialized by websockets and handed
to the transport at once (several in one write while :meth:`Link.cork`-ed). The
framing, the handshakes, UTF-8 checks, close codes and pings stay websockets' own; this
module only moves bytes, reassembles fragmented messages and applies flow control:
the transport's write buffer is the output queue, with a high-water mark and a limit.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import ssl
from typing import Final

from websockets.client import ClientProtocol
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Protocol, State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

__all__ = [
    "ClientLink",
    "ConnectionClosed",
    "Link",
    "ServerLink",
    "connect",
    "write_now",
]

#: what :meth:`Link.send_close` sends when asked for no particular code
NORMAL: Final = CloseCode.NORMAL_CLOSURE


class Link(asyncio.Protocol):
    """One WebSocket over one asyncio transport (the side is the protocol object's)."""

    def __init__(self, ws: Protocol, *, close_timeout: float = 1.0) -> None:
        self.ws = ws
        self.close_timeout = close_timeout
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.corked = False
        #: the transport's buffer is above its high-water mark (the peer reads slowly)
        self.writing_paused = False
        self.lost = False
        self._parts: list[bytes] = []
        self._text = False
        self._abort: asyncio.TimerHandle | None = None
        self._failed = False

    # -- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.ws.receive_data(data)
        self._take_events()
        self.flush()

    def eof_received(self) -> bool | None:
        self.ws.receive_eof()
        self._take_events()
        self.flush()
        return None  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self.ws.state is not State.CLOSED:
            # the TCP connection ended without a closing handshake (1006 to websockets)
            with contextlib.suppress(EOFError):
                self.ws.receive_eof()
            self._take_events()
        if self._abort is not None:
            self._abort.cancel()
        self.closed()

    def pause_writing(self) -> None:
        self.writing_paused = True
        self.writing_state_changed()

    def resume_writing(self) -> None:
        self.writing_paused = False
        self.writing_state_changed()

    # -- hooks for the two sides ---------------------------------------------------------------
    def message(self, message: str | bytes) -> None:
        """A whole text (str) or binary (bytes) message arrived."""

    def handshake(self, event: Request | Response) -> None:
        """The opening handshake's request (server) or response (client) arrived."""

    def closed(self) -> None:
        """The TCP connection is gone."""

    def writing_state_changed(self) -> None:
        """:attr:`writing_paused` changed."""

    def pong(self) -> None:
        """A pong arrived."""

    # -- sending ------------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        return self.ws.state is State.OPEN and not self.lost

    def send_text(self, text: str) -> bool:
        """Queue ``text`` as one frame and write it (unless corked); False when not open."""
        if self.ws.state is not State.OPEN or self.lost:
            return False
        self.ws.send_text(text.encode("utf-8"))
        if not self.corked:
            self.flush()
        return True

    def cork(self) -> None:
        """Hold the frames sent from now on until :meth:`uncork` (one write for a burst)."""
        self.corked = True

    def uncork(self) -> None:
        self.corked = False
        self.flush()

    def send_close(self, code: int = NORMAL, reason: str = "") -> None:
        """Start the closing handshake; the TCP connection is dropped if it takes too long."""
        if self.ws.state is State.OPEN:
            self.ws.send_close(code, reason)
            self.flush()
            self._arm_abort()
        elif self.ws.state is State.CONNECTING:
            self.abort()

    def fail(self, code: int, reason: str = "") -> None:
        """Close with ``code`` at once, reading nothing more (websockets' ``fail``)."""
        self._failed = True
        if self.ws.state in (State.OPEN, State.CONNECTING):
            self.ws.fail(code, reason)
            self.flush()
        self._arm_abort()

    def abort(self) -> None:
        """Drop the TCP connection now (no closing handshake; unsent bytes are lost)."""
        if self.transport is not None and not self.lost:
            self.transport.abort()

    def buffered(self) -> int:
        """Bytes written but not yet taken by the kernel (this connection's output queue)."""
        if self.transport is None or self.lost:
            return 0
        return self.transport.get_write_buffer_size()

    def flush(self) -> None:
        """Hand what the protocol serialized to the transport (one write)."""
        chunks = self.ws.data_to_send()
        if not chunks or self.transport is None or self.lost:
            return
        eof = not chunks[-1]
        data = b"".join(chunks)
        if data:
            self.transport.write(data)
        if eof:
            # the protocol is done sending: half-close, and go on reading (websockets
            # discards it) until the peer closes, so that bytes still in flight from it
            # do not turn our close into a reset; dropped after close_timeout at most
            if self.transport.can_write_eof():
                self.transport.write_eof()
            else:
                self.transport.close()
            self._arm_abort()

    # -- internals -----------------------------------------------------------------------------
    def _arm_abort(self) -> None:
        if self._abort is None and not self.lost:
            self._abort = self.loop.call_later(self.close_timeout, self.abort)

    def _take_events(self) -> None:
        for event in self.ws.events_received():
            if isinstance(event, Frame):
                self._frame(event)
            else:
                self.handshake(event)

    def _frame(self, frame: Frame) -> None:
        opcode = frame.opcode
        if opcode is Opcode.TEXT or opcode is Opcode.BINARY:
            if frame.fin:  # the usual case: a whole message in one frame
                self._deliver(opcode is Opcode.TEXT, bytes(frame.data))
                return
            self._text = opcode is Opcode.TEXT
            self._parts = [bytes(frame.data)]
        elif opcode is Opcode.CONT:
            self._parts.append(bytes(frame.data))
            if frame.fin:
                data, self._parts = b"".join(self._parts), []
                self._deliver(self._text, data)
        elif opcode is Opcode.PONG:
            self.pong()
        # pings and close frames are websockets' business (it answers them)

    def _deliver(self, text: bool, data: bytes) -> None:
        # messages that came before the peer's close frame are delivered (in order),
        # nothing after this side failed the connection
        if self._failed:
            return
        if not text:
            self.message(data)
            return
        try:
            decoded = data.decode("utf-8")
        except UnicodeDecodeError:
            self.fail(CloseCode.INVALID_DATA, "invalid UTF-8")
            return
        self.message(decoded)


class ServerLink(Link):
    """The server side: websockets answers the HTTP upgrade, :meth:`accept` decides."""

    def __init__(self, *, max_size: int | None, close_timeout: float = 1.0) -> None:
        super().__init__(ServerProtocol(max_size=max_size), close_timeout=close_timeout)
        self.request: Request | None = None

    def handshake(self, event: Request | Response) -> None:
        if not isinstance(event, Request):
            return
        assert isinstance(self.ws, ServerProtocol)
        self.request = event
        refusal = self.refuse(event)
        response = self.ws.accept(event) if refusal is None else refusal
        self.ws.send_response(response)
        self.flush()
        if response.status_code == 101:
            self.opened(event)

    def refuse(self, request: Request) -> Response | None:
        """An HTTP response refusing ``request`` (None: go on with the upgrade)."""
        return None

    def respond(self, status: int, text: str) -> Response:
        assert isinstance(self.ws, ServerProtocol)
        return self.ws.reject(status, text)

    def opened(self, request: Request) -> None:
        """The handshake is done: the WebSocket is open."""


class ClientLink(Link):
    """The client side, with the calls a session needs (``send``, ``recv``, ``close``)."""

    def __init__(
        self,
        ws: ClientProtocol,
        *,
        ping_interval: float | None,
        ping_timeout: float | None = 20.0,
        close_timeout: float = 10.0,
    ) -> None:
        super().__init__(ws, close_timeout=close_timeout)
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self._awaiting_pong: asyncio.TimerHandle | None = None
        self.opening: asyncio.Future[None] = self.loop.create_future()
        self._inbox: collections.deque[str | bytes] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._ended: asyncio.Future[None] = self.loop.create_future()
        self._pinger: asyncio.TimerHandle | None = None
        self._backlog: collections.deque[tuple[str, asyncio.Future[bool]]] = collections.deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert isinstance(self.ws, ClientProtocol)
        self.ws.send_request(self.ws.connect())
        self.flush()

    def handshake(self, event: Request | Response) -> None:
        if self.opening.done():
            return
        if self.ws.handshake_exc is not None:
            self.opening.set_exception(self.ws.handshake_exc)
            self.abort()
            return
        self.opening.set_result(None)
        self._arm_ping()

    def message(self, message: str | bytes) -> None:
        self._inbox.append(message)
        self._wake()

    def writing_state_changed(self) -> None:
        self._pump()

    def _pump(self) -> None:
        """Send the frames waiting for the peer to read, while it does."""
        while self._backlog and (self.lost or not self.writing_paused):
            text, turn = self._backlog.popleft()
            if not turn.done():
                turn.set_result(self.send_text(text))

    def closed(self) -> None:
        self._pump()
        for timer in (self._pinger, self._awaiting_pong):
            if timer is not None:
                timer.cancel()
        if not self.opening.done():
            self.opening.set_exception(
                ConnectionError("the connection closed during the handshake")
            )
        if not self._ended.done():
            self._ended.set_result(None)
        self._wake()

    # -- the calls -----------------------------------------------------------------------------
    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    def send_now(self, text: str) -> bool:
        """Write ``text`` now if nothing holds it up; False: ``await send(text)`` instead."""
        if self.writing_paused or self._backlog:
            return False
        return self.send_text(text)

    async def send(self, text: str) -> None:
        """Send ``text``, waiting while the peer reads slowly; ConnectionClosed when closed.

        Frames that had to wait go out in the order they were sent, before any later one.
        """
        if self.writing_paused or self._backlog:
            turn: asyncio.Future[bool] = self.loop.create_future()
            self._backlog.append((text, turn))
            sent = await turn
        else:
            sent = self.send_text(text)
        if not sent:
            await self._wait_closed()
            raise self._closed_exc()

    async def recv(self) -> str | bytes:
        """The next message; ConnectionClosed once the connection closed and all was read."""
        while not self._inbox:
            if self.ws.state is State.CLOSED or self.lost:
                raise self._closed_exc()
            self._waiter = self.loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._inbox.popleft()

    async def close(self, code: int = NORMAL, reason: str = "") -> None:
        """Close (handshake first, then the TCP connection) and wait until it is gone."""
        self.send_close(code, reason)
        await self._wait_closed()

    # -- internals -----------------------------------------------------------------------------
    def _closed_exc(self) -> ConnectionClosed:
        if self.ws.state is State.CLOSED:
            return self.ws.close_exc
        return ConnectionClosed(None, None)

    async def _wait_closed(self) -> None:
        if not self.lost and self.transport is not None:
            await asyncio.shield(self._ended)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _arm_ping(self) -> None:
        if self.ping_interval is not None and not self.lost:
            self._pinger = self.loop.call_later(self.ping_interval, self._ping)

    def _ping(self) -> None:
        # a WebSocket ping keeps the node's idle timer from closing a quiet socket (no
        # JSON-RPC frame in any recording); no pong within ping_timeout: the peer is gone
        if self.is_open:
            self.ws.send_ping(os.urandom(4))
            self.flush()
            if self.ping_timeout is not None and self._awaiting_pong is None:
                self._awaiting_pong = self.loop.call_later(self.ping_timeout, self._no_pong)
            self._arm_ping()

    def pong(self) -> None:
        if self._awaiting_pong is not None:
            self._awaiting_pong.cancel()
            self._awaiting_pong = None

    def _no_pong(self) -> None:
        self._awaiting_pong = None
        self.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")


async def connect(
    url: str,
    *,
    open_timeout: float | None = 10.0,
    ping_interval: float | None = 20.0,
    ping_timeout: float | None = 20.0,
    max_size: int | None = None,
    close_timeout: float = 10.0,
) -> ClientLink:
    """Open a client WebSocket to ``url`` (``ws://``, or ``wss://`` with default TLS checks).

    Raises what websockets' own ``connect`` raises: InvalidURI, InvalidHandshake (and
    its subclasses), OSError, TimeoutError.
    """
    uri = parse_uri(url)
    tls = ssl.create_default_context() if uri.secure else None
    loop = asyncio.get_running_loop()
    protocol = ClientProtocol(uri, max_size=max_size)

    def factory() -> ClientLink:
        return ClientLink(
            protocol,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            close_timeout=close_timeout,
        )

    async def opening() -> ClientLink:
        _, link = await loop.create_connection(
            factory, uri.host, uri.port, ssl=tls, server_hostname=uri.host if tls else None
        )
        try:
            await link.opening
        except BaseException:
            link.abort()
            raise
        return link

    async with asyncio.timeout(open_timeout):
        return await opening()


def write_now(ws: object, text: str) -> bool:
    """Write ``text`` as one frame on a :class:`ClientLink` now; False: ``await`` a send."""
    return isinstance(ws, ClientLink) and ws.send_now(text)
