"""Running a coroutine from synchronous code (a script, a plain IPython cell).

Top-level ``await`` is the main style in notebooks. For code that cannot await,
:func:`run` runs a coroutine to completion:

* inside a running event loop (a Jupyter kernel), it applies ``nest_asyncio2`` to that
  loop — only then, never at import — and runs the coroutine on it, so sessions keep
  living on the kernel's loop and their background readers keep recording between cells;
* without a running loop, it uses one long-lived loop on a daemon thread, so sessions
  created by one ``run`` call are still alive (and still recording) in the next.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_background: asyncio.AbstractEventLoop | None = None


def _background_loop() -> asyncio.AbstractEventLoop:
    global _background
    with _lock:
        if _background is None or _background.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="chan_nb event loop", daemon=True
            )
            thread.start()
            _background = loop
        return _background


def run(coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coro`` to completion from synchronous code and return its result."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        import nest_asyncio2

        nest_asyncio2.apply(loop)
        return loop.run_until_complete(asyncio.wait_for(coro, timeout))
    background = _background_loop()
    future = asyncio.run_coroutine_threadsafe(coro, background)
    return future.result(timeout)


def background_loop() -> asyncio.AbstractEventLoop:
    """The loop :func:`run` uses outside a running loop (started on first use)."""
    return _background_loop()
