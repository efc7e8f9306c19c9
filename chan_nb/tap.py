"""A recording WebSocket proxy: point any channel client at it, it records every frame.

``Tap`` listens on ``ws://127.0.0.1:PORT/channel``; each client connection is forwarded,
frame for frame, to the node (an embedded node it starts, by default, or the channel
URL given), and every frame of every client goes into one :class:`Recorder` — the
recordings' frame model, so everything that works on a recording works on a tap's.
Clients need not be chan_nb: the JS SDK, a browser app or a script in any language.

Order: the tap runs on one event loop and records a frame when it reads it, before
forwarding it, so the recording is causally ordered: a request comes before the node's
reply to it, a node frame before the client's answer to it. Role names come from the
``role`` query parameter the channel API requires (``client-N`` without one).

In a notebook::

    tap = await Tap()              # embedded node behind it; tap.url for the clients
    ...                            # run any client against tap.url
    tap.log                        # the recording so far (a SessionLog)
    await tap.stop()

The node's refusal of a handshake (a wrong path, a bad query) reaches the client as the
node's own HTTP status; a node that cannot be reached is a 502.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Generator
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidStatus, InvalidURI
from websockets.http11 import Request, Response

from chan_nb.client.recorder import Recorder

if TYPE_CHECKING:
    from chan_nb.node import EmbeddedNode
    from chan_nb.recording import SessionLog


class Tap:
    """A recording proxy in front of a channel node (see the module docstring)."""

    def __init__(
        self,
        upstream: str | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        network_id: str | None = None,
        title: str | None = "tap",
    ) -> None:
        self.upstream = upstream
        self.host = host
        self.port: int | None = None
        self._requested_port = port
        self._network_id = network_id
        self.recorder = Recorder(title)
        self.node: EmbeddedNode | None = None
        self._server: Server | None = None
        self._upstreams: dict[int, ClientConnection] = {}
        self._clients = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> Tap:
        """Start the embedded node (when no upstream was given) and listen."""
        if self.upstream is None:
            from chan_nb.node import EmbeddedNode

            self.node = await EmbeddedNode(network_id=self._network_id).start()
            self.upstream = self.node.url
        self._server = await serve(
            self._relay,
            self.host,
            self._requested_port,
            process_request=self._open_upstream,
            compression=None,
            max_size=None,
            ping_interval=None,
        )
        self.port = int(next(iter(self._server.sockets)).getsockname()[1])
        return self

    async def stop(self) -> None:
        """Stop listening, close every relayed connection, stop the embedded node."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for upstream in list(self._upstreams.values()):
            await upstream.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.node is not None:
            await self.node.stop()
            self.node = None

    def __await__(self) -> Generator[Any, None, Tap]:
        return self.start().__await__()

    async def __aenter__(self) -> Tap:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- what it offers ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Where clients connect: ``ws://host:port/channel``."""
        if self.port is None:
            raise RuntimeError("the tap is not started: await tap.start() (or await Tap())")
        return f"ws://{self.host}:{self.port}/channel"

    @property
    def network_id(self) -> str | None:
        """The embedded node's network id (None for a node given by URL)."""
        return self.node.network_id if self.node is not None else self._network_id

    @property
    def log(self) -> SessionLog:
        """Everything recorded so far, every client, in causal order."""
        return self.recorder.log

    def __repr__(self) -> str:
        where = self.url if self.port is not None else "not started"
        return f"<Tap {where} -> {self.upstream or 'embedded node'}: {len(self.recorder)} records>"

    # -- relaying ---------------------------------------------------------------------------
    def _target(self, path: str) -> str:
        assert self.upstream is not None
        parts = urlsplit(self.upstream)
        return f"{parts.scheme}://{parts.netloc}{path}"

    async def _open_upstream(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """Before accepting a client, open its connection to the node: a refusal there is
        passed on as the node's own answer, so the client sees what it would see."""
        target = self._target(request.path)
        try:
            upstream = await connect(
                target, compression=None, max_size=None, ping_interval=None, open_timeout=10
            )
        except InvalidStatus as exc:
            body = exc.response.body.decode("utf-8", "replace")
            return connection.respond(exc.response.status_code, body)
        except (OSError, InvalidURI, TimeoutError) as exc:
            return connection.respond(
                HTTPStatus.BAD_GATEWAY, f"tap: no node answers at {target} ({exc})\n"
            )
        self._upstreams[id(connection)] = upstream
        return None

    async def _relay(self, client: ServerConnection) -> None:
        upstream = self._upstreams.pop(id(client))
        path = client.request.path if client.request is not None else "/channel"
        role = dict(parse_qsl(urlsplit(path).query)).get("role") or f"client-{next(self._clients)}"
        conn = self.recorder.opened(role, self._target(path))
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            to_node = asyncio.ensure_future(self._pump(client, upstream, role, conn, sent=True))
            to_client = asyncio.ensure_future(self._pump(upstream, client, role, conn, sent=False))
            done, pending = await asyncio.wait(
                {to_node, to_client}, return_when=asyncio.FIRST_COMPLETED
            )
            for other in pending:
                other.cancel()
            for finished in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await finished
            # the side that closed first: its code goes on to the other side
            closer = upstream if to_client in done else client
            code = closer.close_code or 1000
            reason = closer.close_reason or ""
            await upstream.close(code if 1000 <= code < 5000 and code != 1005 else 1000, reason)
            await client.close(code if 1000 <= code < 5000 and code != 1005 else 1000, reason)
        finally:
            self.recorder.closed(role, conn)
            if task is not None:
                self._tasks.discard(task)

    async def _pump(
        self,
        source: ServerConnection | ClientConnection,
        sink: ServerConnection | ClientConnection,
        role: str,
        conn: int,
        *,
        sent: bool,
    ) -> None:
        record = self.recorder.sent if sent else self.recorder.received
        with contextlib.suppress(ConnectionClosed):
            async for message in source:
                # channel frames are text; a binary one is kept as UTF-8 text in the log
                text = message if isinstance(message, str) else message.decode("utf-8", "replace")
                record(role, text, conn)  # recorded before it is forwarded: causal order
                await sink.send(message)
