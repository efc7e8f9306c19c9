"""The embedded node's I/O: a WebSocket server at ``/channel`` over the pure core.

:class:`EmbeddedNode` runs a :class:`~chan_nb.node.core.NodeCore` on the
current asyncio loop: one task per socket reads frames into the core, one
writer task per socket sends what the core emits (so a slow reader never
holds up another channel), and a timer task fires FSM timers and produces
blocks. ``async with EmbeddedNode() as node:`` starts it on an ephemeral port
(``node.url``); ``node.connect_memory(query)`` gives a socket-free connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import DATA_OPCODES, CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import Event

from chan_nb.codec import txs
from chan_nb.codec.txs import SignedTx
from chan_nb.node.config import Era, NodeConfig
from chan_nb.node.core import Action, Close, NodeCore, Send
from chan_nb.node.faults import Direction, FaultPlan, Verdict
from chan_nb.node.memory import MemoryConnection
from chan_nb.node.params import CHANNEL_PATH
from chan_nb.ws_write import buffer_frame, flush

if TYPE_CHECKING:
    from chan_nb.node.threaded import ThreadedNode

#: "not given" for keyword overrides where None is a meaningful value
_UNSET: Final[Any] = object()


class _Cut:
    """Writer-queue marker: drop the TCP connection without a WebSocket close (a fault)."""


_CUT: Final = _Cut()


class _Session(Protocol):
    def deliver(self, text: str) -> None: ...

    def node_close(self) -> None: ...


class _SocketSession:
    """Outgoing side of one WebSocket: a queue drained by a writer task."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[str | _Cut | None] = asyncio.Queue()
        self.closing = False
        self.writing = False  # the writer is inside ws.send (it may be waiting on a drain)
        self.corked = False
        self.unflushed = False
        self.writer = asyncio.get_running_loop().create_task(self._write())

    def deliver(self, text: str) -> None:
        if self.closing:
            return
        # straight to the socket when the writer has nothing queued (in order, and no
        # loop trip per frame); behind the queue otherwise
        if self.queue.empty() and not self.writing and buffer_frame(self.ws, text):
            if self.corked:
                self.unflushed = True
            else:
                flush(self.ws)
            return
        self.queue.put_nowait(text)

    def cork(self) -> None:
        """Hold frames delivered from now on until :meth:`uncork` (one write for a burst)."""
        self.corked = True

    def uncork(self) -> None:
        self.corked = False
        if self.unflushed:
            self.unflushed = False
            flush(self.ws)

    def node_close(self) -> None:
        if not self.closing:
            self.closing = True
            self.queue.put_nowait(None)

    def cut(self) -> None:
        """After the frames already queued, close the TCP connection with no close frame."""
        if not self.closing:
            self.closing = True
            self.queue.put_nowait(_CUT)

    async def _write(self) -> None:
        try:
            while True:
                text = await self.queue.get()
                if text is None:
                    await self.ws.close()
                    return
                if isinstance(text, _Cut):
                    self.ws.transport.close()
                    return
                self.writing = True
                try:
                    await self.ws.send(text)
                finally:
                    self.writing = False
        except ConnectionClosed:
            return


class _NodeConnection(ServerConnection):
    """A server connection that hands each incoming message to the node as it is parsed.

    websockets queues messages for a task that awaits them, one loop trip per frame;
    the node's core is synchronous, so a frame can be handled right where it is parsed.
    Only whole single-frame messages, and only while nothing went the queued way: a
    fragmented message, invalid UTF-8 or a frame that came before the node attached
    switch this connection to websockets' own path for good, so order is always kept.
    """

    on_message: Callable[[str | bytes], None] | None = None
    direct: bool = True
    #: the node raised on a frame: as a failed handler would, the connection closes
    #: with 1011 and nothing more from it reaches the node
    failed: bool = False
    _closing: asyncio.Task[None] | None = None

    def process_event(self, event: Event) -> None:
        if isinstance(event, Frame) and event.opcode in DATA_OPCODES:
            if self.failed:
                return
            handler = self.on_message
            if handler is not None and self.direct and event.fin:
                message = _whole_message(event)
                if message is not None:
                    try:
                        handler(message)
                    except Exception:
                        self._fail()
                    return
            self.direct = False
        super().process_event(event)

    def _fail(self) -> None:
        self.failed = True
        self.logger.error("embedded node failed on a frame", exc_info=True)
        self._closing = self.loop.create_task(
            self.close(CloseCode.INTERNAL_ERROR, "internal error")
        )


def _whole_message(frame: Frame) -> str | bytes | None:
    """The message a final text/binary frame carries (None: leave it to websockets)."""
    if frame.opcode is Opcode.TEXT:
        try:
            return bytes(frame.data).decode("utf-8")
        except UnicodeDecodeError:
            return None
    if frame.opcode is Opcode.BINARY:
        return bytes(frame.data)
    return None  # a continuation: part of a fragmented message


class EmbeddedNode:
    """A simulated æternity node serving the channel WebSocket API.

    Keyword arguments override :class:`NodeConfig` fields (``network_id``,
    ``create_tx_version``, ``era``, ``block_interval``, ``minimum_depth``,
    ``auto_fund``, ``peer_loss_delay`` …). ``port=0`` picks a free port;
    ``serve_sockets=False`` starts no server (only :meth:`connect_memory`);
    ``faults`` (or later ``node.faults``) injects faults (:mod:`chan_nb.node.faults`).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        config: NodeConfig | None = None,
        network_id: str | None = None,
        create_tx_version: int | None = None,
        era: Era | None = None,
        block_interval: float | None = _UNSET,
        minimum_depth: int | None = None,
        auto_fund: bool | None = None,
        peer_loss_delay: float | None = None,
        serve_sockets: bool = True,
        faults: FaultPlan | None = None,
    ) -> None:
        base = config or NodeConfig()
        overrides: dict[str, Any] = {}
        if network_id is not None:
            overrides["network_id"] = network_id
        if create_tx_version is not None:
            overrides["create_tx_version"] = create_tx_version
        if era is not None:
            overrides["era"] = era
        if block_interval is not _UNSET:
            overrides["block_interval"] = block_interval
        if minimum_depth is not None:
            overrides["minimum_depth"] = minimum_depth
        if auto_fund is not None:
            overrides["auto_fund"] = auto_fund
        if peer_loss_delay is not None:
            overrides["peer_loss_delay"] = peer_loss_delay
        self.config = NodeConfig(**{**base.__dict__, **overrides})
        self.core = NodeCore(self.config)
        self.host = host
        self._requested_port = port
        self._serve_sockets = serve_sockets
        self._server: Server | None = None
        self._sessions: dict[int, _Session] = {}
        self._ids = itertools.count(1)
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.port: int | None = None
        #: fault injection (see :mod:`chan_nb.node.faults`); empty, it costs nothing
        self.faults = faults if faults is not None else FaultPlan()
        self._held: dict[tuple[int, Direction], deque[tuple[float, Callable[[], None]]]] = {}

    # -- properties -------------------------------------------------------------------------
    @property
    def network_id(self) -> str:
        return self.config.network_id

    @property
    def url(self) -> str:
        """``ws://host:port/channel`` (the node is started)."""
        if self.port is None:
            raise RuntimeError("the node is not started")
        return f"ws://{self.host}:{self.port}{CHANNEL_PATH}"

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> EmbeddedNode:
        self._loop = asyncio.get_running_loop()
        self._running = True
        if self._serve_sockets:
            self._server = await serve(
                self._serve,
                self.host,
                self._requested_port,
                process_request=self._check_path,
                create_connection=_NodeConnection,
                compression=None,
                max_size=2**22,
                ping_interval=None,
            )
            sockname = next(iter(self._server.sockets)).getsockname()
            self.port = int(sockname[1])
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self._running = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def __aenter__(self) -> EmbeddedNode:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @classmethod
    def start_in_thread(cls, *args: Any, **kwargs: Any) -> ThreadedNode:
        """Run a node on a background thread (for synchronous code); ``.stop()`` ends it."""
        from chan_nb.node.threaded import ThreadedNode

        return ThreadedNode(*args, **kwargs)

    # -- chain and accounts ------------------------------------------------------------------
    def fund(self, account: str | bytes, amount: int) -> None:
        """Credit an account on the simulated chain (creating it)."""
        self.core.fund(account, amount)

    def balance(self, account: str | bytes) -> int | None:
        return self.core.balance(account)

    def post_tx(self, signed: SignedTx | str) -> str:
        """Post a signed tx (``tx_…`` or decoded) to the mempool out of band, as a party
        using the node's HTTP API would; returns its ``th_`` hash. Blocks include it."""
        tx = txs.decode_signed(signed) if isinstance(signed, str) else signed
        self._dispatch(self.core.post(tx, self._now()))
        return tx.hash

    def mine(self, blocks: int = 1) -> None:
        """Produce blocks now (with ``block_interval=None`` this is the only source)."""
        self._dispatch(self.core.mine(self._now(), blocks))

    # -- in-memory connections -----------------------------------------------------------------
    def connect_memory(
        self, query: str, on_deliver: Callable[[str], None] | None = None
    ) -> MemoryConnection:
        """A socket-free connection to ``/channel?query`` (``query`` may include the path).

        ``on_deliver`` hears each frame as the node sends it (from the connect on).
        """
        path = query if query.startswith("/") else f"{CHANNEL_PATH}?{query.lstrip('?')}"
        conn_id = next(self._ids)

        def on_send(text: str) -> None:
            self._receive(conn_id, text)

        def on_close() -> None:
            if self._sessions.pop(conn_id, None) is not None:
                self._gone(conn_id)

        conn = MemoryConnection(path, on_send, on_close, on_deliver)
        self._sessions[conn_id] = conn
        self.faults.connected(conn_id, path)
        self._dispatch(self.core.connect(conn_id, path, self._now()))
        return conn

    # -- internals -------------------------------------------------------------------------------
    def _now(self) -> float:
        loop = self._loop or asyncio.get_running_loop()
        return loop.time()

    def _dispatch(self, actions: list[Action]) -> None:
        faulty = self.faults.active or bool(self._held)
        # the frames of one step (a reply, an info and the next signing request …) leave
        # in one write per socket, as they would from the node's own send buffer
        corked: list[_SocketSession] = []
        try:
            for action in actions:
                session = self._sessions.get(action.conn_id)
                if session is None:
                    continue
                if isinstance(session, _SocketSession) and not session.corked:
                    session.cork()
                    corked.append(session)
                if faulty:
                    self._faulty_out(action, session)
                elif isinstance(action, Send):
                    session.deliver(action.text)
                elif isinstance(action, Close):
                    session.node_close()
        finally:
            for session in corked:
                session.uncork()
        self._reschedule()

    def _receive(self, conn_id: int, text: str | bytes) -> None:
        """A client frame, through the fault plan when it has rules."""
        if not (self.faults.active or self._held):
            self._dispatch(self.core.receive(conn_id, text, self._now()))
            return
        verdict = self.faults.judge("in", conn_id, text)

        def deliver() -> None:
            if conn_id in self._sessions:
                self._dispatch(self.core.receive(conn_id, text, self._now()))

        self._apply(conn_id, "in", verdict, deliver)

    def _gone(self, conn_id: int) -> None:
        """The connection ended (either side): the core and the fault plan forget it."""
        self.faults.disconnected(conn_id)
        self._held.pop((conn_id, "in"), None)
        self._held.pop((conn_id, "out"), None)
        self._dispatch(self.core.disconnect(conn_id, self._now()))

    # -- faults ------------------------------------------------------------------------------
    def _faulty_out(self, action: Action, session: _Session) -> None:
        conn_id = action.conn_id
        if isinstance(action, Close):
            self._hold_or_run(conn_id, "out", 0.0, session.node_close)
            return
        verdict = self.faults.judge("out", conn_id, action.text)

        def deliver() -> None:
            if self._sessions.get(conn_id) is session:
                session.deliver(action.text)

        self._apply(conn_id, "out", verdict, deliver)

    def _apply(
        self, conn_id: int, direction: Direction, verdict: Verdict, deliver: Callable[[], None]
    ) -> None:
        """Carry out a verdict: copies of ``deliver`` (maybe held back), then maybe an end."""
        end = verdict.end
        if end is not None and verdict.end_before:
            self._hold_or_run(conn_id, direction, verdict.delay, lambda: self._end(conn_id, end))
            return

        def run() -> None:
            for _ in range(verdict.copies):
                deliver()
            if end is not None:
                self._end(conn_id, end)

        self._hold_or_run(conn_id, direction, verdict.delay, run)

    def _hold_or_run(
        self, conn_id: int, direction: Direction, delay: float, fn: Callable[[], None]
    ) -> None:
        """Run ``fn`` now, or queue it behind held frames (a socket keeps frames in order)."""
        key = (conn_id, direction)
        queue = self._held.get(key)
        if delay <= 0 and not queue:
            fn()
            return
        now = self._now()
        due = now + delay
        if queue:
            due = max(due, queue[-1][0])
        else:
            queue = self._held[key] = deque()
        queue.append((due, fn))
        if len(queue) == 1:
            self._arm_release(key)

    def _arm_release(self, key: tuple[int, Direction]) -> None:
        queue = self._held.get(key)
        if queue and self._loop is not None:
            self._loop.call_at(queue[0][0], self._release, key)

    def _release(self, key: tuple[int, Direction]) -> None:
        queue = self._held.get(key)
        if not queue:
            return
        now = self._now()
        while queue and queue[0][0] <= now:
            _, fn = queue.popleft()
            fn()
            if self._held.get(key) is not queue:
                return  # the connection ended meanwhile
        if queue:
            self._arm_release(key)
        else:
            self._held.pop(key, None)

    def _end(self, conn_id: int, how: str) -> None:
        """A fault ends the connection: ``cut`` (no close handshake) or ``close``."""
        session = self._sessions.get(conn_id)
        if session is None:
            return
        if isinstance(session, _SocketSession):
            if how == "cut":
                session.cut()
            else:
                session.node_close()
            return  # the reader sees the socket end and tells the core
        self._sessions.pop(conn_id, None)
        session.node_close()
        self._gone(conn_id)

    def _reschedule(self) -> None:
        """Arm one loop timer for the core's next deadline (timers, blocks, delays).

        An armed timer that is due no later than the new deadline is kept: firing early
        costs one empty ``advance`` (which re-arms), re-arming on every frame — each one
        moves some FSM's timer — costs a timer handle per frame.
        """
        if not self._running or self._loop is None:
            return
        deadline = self.core.next_deadline()
        if self._timer is not None and self._timer_at is not None:
            if deadline is not None and self._timer_at <= deadline:
                return
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        assert self._loop is not None
        self._dispatch(self.core.advance(self._loop.time()))

    @staticmethod
    def _check_path(connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path != CHANNEL_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, f"no such endpoint: {path}\n")
        return None

    async def _serve(self, ws: ServerConnection) -> None:
        conn_id = next(self._ids)
        session = _SocketSession(ws)
        self._sessions[conn_id] = session
        path = ws.request.path if ws.request else "/"
        self.faults.connected(conn_id, path)
        self._dispatch(self.core.connect(conn_id, path, self._now()))

        def on_message(message: str | bytes) -> None:
            if not session.closing:
                self._receive(conn_id, message)

        if isinstance(ws, _NodeConnection):
            ws.on_message = on_message  # before any await: no frame can come in between
        try:
            async for message in ws:
                if session.closing or (isinstance(ws, _NodeConnection) and ws.failed):
                    continue
                self._receive(conn_id, message)
        except ConnectionClosed:
            pass
        finally:
            if isinstance(ws, _NodeConnection):
                ws.on_message = None
            self._gone(conn_id)
            self._sessions.pop(conn_id, None)
            session.node_close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(session.writer, 1.0)
