"""The embedded node's I/O: a WebSocket server at ``/channel`` over the pure core.

:class:`EmbeddedNode` runs a :class:`~chan_nb.node.core.NodeCore` on the
current asyncio loop. Each socket is a :class:`~chan_nb.ws_write.ServerLink`
(websockets' Sans-I/O protocol on an asyncio transport, no task per socket): a
message goes to the core where it is parsed, what the core emits is written at once,
one write per socket per step. A slow reader never holds up another channel: its
output waits in its own transport buffer, bounded by the config's output limits
(:class:`_NodeSocket`). One loop timer fires FSM timers and produces blocks.
``async with EmbeddedNode() as node:`` starts it on an ephemeral port (``node.url``);
``node.connect_memory(query)`` gives a socket-free connection.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Callable
from http import HTTPStatus
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, Protocol

from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from chan_nb.codec import txs
from chan_nb.codec.txs import SignedTx
from chan_nb.node.config import Era, NodeConfig
from chan_nb.node.core import Action, Close, NodeCore, Pause, Send
from chan_nb.node.faults import Direction, FaultPlan, Verdict
from chan_nb.node.params import CHANNEL_PATH
from chan_nb.transport.memory import MemoryConnection
from chan_nb.ws_write import ServerLink

if TYPE_CHECKING:
    from chan_nb.node.threaded import ThreadedNode

#: "not given" for keyword overrides where None is a meaningful value
_UNSET: Final[Any] = object()

logger = logging.getLogger(__name__)


class _Session(Protocol):
    def deliver(self, text: str) -> None: ...

    def node_close(self) -> None: ...


class _NodeSocket(ServerLink):
    """One client socket of the node: frames in go to the core as they are parsed.

    The transport's write buffer is this client's output queue. Above
    ``output_high_water`` the node stops reading the client (a client that sends but
    does not read is held back by TCP, as the node's blocking send holds its handler);
    above ``output_limit``, or when the queue stays high for ``send_timeout``, the node
    closes with 1008 and drops the connection ``close_timeout`` later. Reading also
    pauses while the client's handler waits on a postponed call (:class:`Pause`).
    """

    def __init__(self, node: EmbeddedNode) -> None:
        config = node.config
        super().__init__(max_size=config.max_message_size, close_timeout=config.close_timeout)
        self.node = node
        self.config = config
        self.conn_id: int | None = None
        self.closing = False
        self.last_rx = self.loop.time()
        self._pauses: set[str] = set()
        self._timer: asyncio.TimerHandle | None = None  # handshake, then idle
        self._send_timer: asyncio.TimerHandle | None = None

    # -- connection ----------------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        self.transport.set_write_buffer_limits(high=self.config.output_high_water)
        links = self.node._links
        links.add(self)
        limit = self.config.max_connections
        if limit is not None and len(links) > limit:
            self.abort()  # too_many_ws_sockets: closed without a frame
            return
        self._timer = self.loop.call_later(self.config.open_timeout, self.abort)

    def refuse(self, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path != CHANNEL_PATH:
            return self.respond(HTTPStatus.NOT_FOUND, f"no such endpoint: {path}\n")
        return None

    def opened(self, request: Request) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.conn_id = self.node._socket_opened(self, request.path)
        self._arm_idle()

    def data_received(self, data: bytes) -> None:
        self.last_rx = self.loop.time()
        super().data_received(data)

    def message(self, message: str | bytes) -> None:
        if self.conn_id is None or self.closing:
            return
        try:
            self.node._receive(self.conn_id, message)
        except Exception:  # never expected (the core isolates its own failures)
            logger.error("embedded node failed on a frame", exc_info=True)
            self.closing = True
            self.fail(CloseCode.INTERNAL_ERROR, "internal error")

    def closed(self) -> None:
        self.node._links.discard(self)
        for timer in (self._timer, self._send_timer):
            if timer is not None:
                timer.cancel()
        if self.conn_id is not None:
            self.node._socket_gone(self.conn_id, self)

    # -- what the node sends -----------------------------------------------------------------
    def deliver(self, text: str) -> None:
        if self.closing or not self.send_text(text):
            return
        if self.buffered() > self.config.output_limit:
            self._give_up("output queue over its limit: the client does not read")

    def node_close(self, code: int = CloseCode.NORMAL_CLOSURE) -> None:
        """Close after the frames already queued (1000 as the node's stop, 1011 a crash)."""
        if not self.closing:
            self.closing = True
            self.send_close(code)
            # read again (websockets discards the data) so that the client's close
            # frame is seen and the handshake ends now, not at close_timeout
            self.pause("blocked", False)

    def cut(self) -> None:
        """After the frames already queued, close the TCP connection with no close frame."""
        if not self.closing and self.transport is not None:
            self.closing = True
            self.flush()
            self.transport.close()
            self.loop.call_later(self.close_timeout, self.abort)

    def pause(self, reason: str, paused: bool) -> None:
        """Stop or resume reading this client, for ``reason`` (reading resumes when none)."""
        if self.transport is None or self.lost:
            return
        before = bool(self._pauses)
        if paused:
            self._pauses.add(reason)
        else:
            self._pauses.discard(reason)
        if before != bool(self._pauses):
            if self._pauses:
                self.transport.pause_reading()
            else:
                self.transport.resume_reading()

    def writing_state_changed(self) -> None:
        self.pause("output", self.writing_paused)
        if self.writing_paused:
            if self._send_timer is None:
                self._send_timer = self.loop.call_later(
                    self.config.send_timeout,
                    self._give_up,
                    "send timeout: the client does not read",
                )
        elif self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None

    def _give_up(self, reason: str) -> None:
        self._send_timer = None
        logger.info("embedded node: closing connection %s: %s", self.conn_id, reason)
        self.closing = True
        self.fail(CloseCode.POLICY_VIOLATION, reason[:100])

    def _arm_idle(self) -> None:
        idle = self.config.idle_timeout
        if idle is not None and not self.lost:
            self._timer = self.loop.call_at(self.last_rx + idle, self._idle_check)

    def _idle_check(self) -> None:
        idle = self.config.idle_timeout
        assert idle is not None
        if self.loop.time() - self.last_rx >= idle:
            self._timer = None
            self.node_close()  # cowboy's idle timeout: close 1000 (only client data re-arms it)
        else:
            self._arm_idle()


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
        self._server: asyncio.Server | None = None
        self._links: set[_NodeSocket] = set()  # every open TCP connection
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

    @property
    def socket_count(self) -> int:
        """Open TCP connections (handshaking, open or closing)."""
        return len(self._links)

    # -- lifecycle -----------------------------------------------------------------------------
    async def start(self) -> EmbeddedNode:
        self._loop = asyncio.get_running_loop()
        self._running = True
        if self._serve_sockets:
            loop = self._loop
            self._server = await loop.create_server(
                lambda: _NodeSocket(self), self.host, self._requested_port
            )
            sockname = next(iter(self._server.sockets)).getsockname()
            self.port = int(sockname[1])
        return self

    async def stop(self) -> None:
        """Stop listening and close every socket (1001 going away, as websockets' server)."""
        if self._server is not None:
            self._server.close()
            for link in list(self._links):
                link.closing = True
                link.send_close(CloseCode.GOING_AWAY)
            deadline = self._now() + self.config.close_timeout + 0.5
            while self._links and self._now() < deadline:
                await asyncio.sleep(0.01)
            for link in list(self._links):
                link.abort()
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

    def expire_timers(self, within: float) -> None:
        """Fire now every FSM timer due within ``within`` seconds (see NodeCore.expire_timers)."""
        self._dispatch(self.core.expire_timers(self._now(), within))

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
        corked: list[_NodeSocket] = []
        try:
            for action in actions:
                session = self._sessions.get(action.conn_id)
                if session is None:
                    continue
                if isinstance(action, Pause):
                    if isinstance(session, _NodeSocket):
                        session.pause("blocked", action.paused)
                    continue
                if isinstance(session, _NodeSocket) and not session.corked:
                    session.cork()
                    corked.append(session)
                if faulty:
                    self._faulty_out(action, session)
                elif isinstance(action, Send):
                    session.deliver(action.text)
                else:
                    _close(session, action.code)
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
    def _faulty_out(self, action: Send | Close, session: _Session) -> None:
        conn_id = action.conn_id
        if isinstance(action, Close):
            code = action.code
            self._hold_or_run(conn_id, "out", 0.0, lambda: _close(session, code))
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
        if isinstance(session, _NodeSocket):
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

    # -- sockets -------------------------------------------------------------------------------
    def _socket_opened(self, link: _NodeSocket, path: str) -> int:
        """A WebSocket finished its handshake: the core gets a new connection."""
        conn_id = next(self._ids)
        self._sessions[conn_id] = link
        self.faults.connected(conn_id, path)
        self._dispatch(self.core.connect(conn_id, path, self._now()))
        return conn_id

    def _socket_gone(self, conn_id: int, link: _NodeSocket) -> None:
        if self._sessions.get(conn_id) is link:
            del self._sessions[conn_id]
            self._gone(conn_id)


def _close(session: _Session, code: int) -> None:
    if isinstance(session, _NodeSocket):
        session.node_close(code)
    else:
        session.node_close()
