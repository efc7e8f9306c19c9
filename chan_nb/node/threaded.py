"""The embedded node on a background thread, for synchronous code.

``node = ThreadedNode(port=0)`` (or ``EmbeddedNode.start_in_thread()``) starts
an :class:`~chan_nb.node.server.EmbeddedNode` on its own event loop in a daemon
thread and returns once it listens; ``node.url`` is ready, ``node.stop()``
shuts it down. Calls that touch the node run on its loop thread.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from types import TracebackType
from typing import Any, TypeVar

from chan_nb.node.faults import FaultPlan
from chan_nb.node.server import EmbeddedNode

T = TypeVar("T")


class ThreadedNode:
    """An :class:`EmbeddedNode` served from a background thread (same arguments)."""

    def __init__(self, *args: Any, startup_timeout: float = 10.0, **kwargs: Any) -> None:
        self._args, self._kwargs = args, kwargs
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop_event: asyncio.Event | None = None
        self.node: EmbeddedNode | None = None
        self._thread = threading.Thread(target=self._run, name="chan-nb-node", daemon=True)
        self._thread.start()
        if not self._ready.wait(startup_timeout):
            raise TimeoutError("the embedded node did not start in time")
        if self._error is not None:
            raise RuntimeError(f"the embedded node failed to start: {self._error}") from self._error

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main())
        finally:
            loop.close()

    async def _main(self) -> None:
        try:
            self.node = EmbeddedNode(*self._args, **self._kwargs)
            await self.node.start()
            self._stop_event = asyncio.Event()
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await self._stop_event.wait()
        await self.node.stop()

    def _on_loop(self, func: Callable[[], T]) -> T:
        """Run ``func`` on the node's loop thread and return its result."""
        if self._loop is None or self.node is None:
            raise RuntimeError("the node is not running")
        future: Future[T] = Future()

        def run() -> None:
            try:
                future.set_result(func())
            except BaseException as exc:
                future.set_exception(exc)

        self._loop.call_soon_threadsafe(run)
        return future.result(timeout=10.0)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        """Run a coroutine on the node's loop (e.g. clients that share it) and wait for it."""
        if self._loop is None:
            raise RuntimeError("the node is not running")
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    @property
    def url(self) -> str:
        assert self.node is not None
        return self.node.url

    @property
    def port(self) -> int | None:
        assert self.node is not None
        return self.node.port

    @property
    def network_id(self) -> str:
        assert self.node is not None
        return self.node.network_id

    @property
    def faults(self) -> FaultPlan:
        """The node's fault plan; rules added from this thread apply from the next frame."""
        assert self.node is not None
        return self.node.faults

    @property
    def running(self) -> bool:
        """The node's thread is alive (False once :meth:`stop` returned)."""
        return self._thread.is_alive()

    def fund(self, account: str | bytes, amount: int) -> None:
        node = self.node
        assert node is not None
        self._on_loop(lambda: node.fund(account, amount))

    def balance(self, account: str | bytes) -> int | None:
        node = self.node
        assert node is not None
        return self._on_loop(lambda: node.balance(account))

    def mine(self, blocks: int = 1) -> None:
        node = self.node
        assert node is not None
        self._on_loop(lambda: node.mine(blocks))

    def stop(self) -> None:
        """Stop serving and join the thread (idempotent)."""
        loop, event = self._loop, self._stop_event
        if loop is not None and event is not None and not loop.is_closed():
            loop.call_soon_threadsafe(event.set)
        self._thread.join(timeout=10.0)

    def __enter__(self) -> ThreadedNode:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
