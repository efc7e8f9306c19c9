"""Panel actions as background tasks: a click starts one and returns at once.

A widget callback must never wait: the kernel cannot deliver the frames the action is
waiting for while a callback blocks it. :class:`ActionRunner` schedules each action
(a coroutine factory) on the event loop the sessions live on, remembers which actions
are running (so their buttons can be disabled), and turns every outcome — done, a
conflict, a node error, a timeout, even an unexpected exception — into a
:class:`Notice` the panel shows. Nothing ends up only on the console.

Internal: the channel panel's helper; not public API (may change without notice).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, Literal

from chan_nb.client.errors import ChannelConflict, ClientError, PolicyViolation, UpdateAborted
from chan_nb.errors import ChanNbError

Level = Literal["ok", "conflict", "error", "info"]
#: How many notices the panel keeps (newest last).
KEEP_NOTICES: Final = 8


@dataclass(frozen=True, slots=True)
class Notice:
    """One line in the panel's messages: what happened to an action."""

    level: Level
    action: str
    text: str
    at: float  # wall clock, for ordering and display


def describe_failure(exc: BaseException) -> tuple[Level, str]:
    """How a failed action reads in the panel (conflicts are not errors: nothing changed)."""
    if isinstance(exc, ChannelConflict):
        return "conflict", str(exc)
    if isinstance(exc, UpdateAborted | PolicyViolation):
        return "conflict", str(exc)
    if isinstance(exc, ClientError | ChanNbError):
        return "error", str(exc)
    if isinstance(exc, OSError):
        return "error", f"{type(exc).__name__}: {exc}"
    return "error", f"unexpected {type(exc).__name__}: {exc}"


class ActionRunner:
    """Runs named actions on ``loop``; ``on_change`` is called when one starts or ends."""

    def __init__(self, loop: asyncio.AbstractEventLoop, on_change: Callable[[], None]) -> None:
        self.loop = loop
        self.on_change = on_change
        self.running: dict[str, concurrent.futures.Future[Any]] = {}
        self.notices: list[Notice] = []

    def is_running(self, name: str) -> bool:
        return name in self.running

    def notify(self, level: Level, action: str, text: str) -> None:
        self.notices.append(Notice(level, action, text, time.time()))
        del self.notices[:-KEEP_NOTICES]

    def start(
        self,
        name: str,
        factory: Callable[[], Awaitable[Any]],
        done: Callable[[Any], str] = lambda _: "done",
    ) -> bool:
        """Schedule ``factory()``; False (and a notice) when ``name`` is already running.

        ``done`` turns the action's result into the success notice's text.
        """
        if name in self.running:
            self.notify("info", name, f"{name} is still running")
            self.on_change()
            return False

        async def run() -> Any:
            return await factory()

        future = asyncio.run_coroutine_threadsafe(run(), self.loop)
        self.running[name] = future
        future.add_done_callback(lambda finished: self._finished(name, finished, done))
        self.on_change()
        return True

    def _finished(
        self,
        name: str,
        future: concurrent.futures.Future[Any],
        done: Callable[[Any], str],
    ) -> None:
        if self.running.get(name) is future:
            del self.running[name]
        if future.cancelled():
            self.notify("info", name, "cancelled")
        elif (exc := future.exception()) is not None:
            level, text = describe_failure(exc)
            self.notify(level, name, text)
        else:
            try:
                self.notify("ok", name, done(future.result()))
            except Exception as exc:  # a bad description must not hide the success
                self.notify("ok", name, f"done ({type(exc).__name__} describing it)")
        self.on_change()

    async def idle(self) -> None:
        """Wait until no action runs (tests and scripts; never call it from a callback)."""
        while self.running:
            pending = [asyncio.wrap_future(f) for f in list(self.running.values())]
            await asyncio.wait(pending)
            for wrapped in pending:  # outcomes are reported as notices, not re-raised here
                if not wrapped.cancelled():
                    wrapped.exception()
            await asyncio.sleep(0)  # let the done callbacks run
