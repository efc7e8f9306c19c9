"""Writing a WebSocket text frame without awaiting, when nothing is waiting to go out.

``websockets``' asyncio ``send()`` is a coroutine around an async context manager: for a
small frame on an idle connection it never suspends, yet every frame pays for the
coroutine, the context manager and — where a writer task feeds the socket — a trip
through the event loop. The connection's Sans-I/O protocol can serialize the frame and
the connection can hand it to the transport right away; that is what ``send()`` does
inside, minus the waiting. Only when nothing is buffered (no back-pressure, no
half-written fragmented message) and the connection is open; otherwise the caller
awaits ``send()`` as usual, which keeps frames in order and flow control intact.
"""

from __future__ import annotations

from typing import Any

from websockets.protocol import State


def write_now(ws: Any, text: str) -> bool:
    """Write ``text`` as one frame now; False when the caller must ``await ws.send(text)``."""
    if not buffer_frame(ws, text):
        return False
    flush(ws)
    return True


def buffer_frame(ws: Any, text: str) -> bool:
    """Serialize ``text`` as one frame into the connection's outgoing bytes, unwritten.

    False when that cannot be done without waiting (see the module docstring). Frames
    buffered this way go out, in order, with the next :func:`flush`, which must come
    before the event loop runs anything else on this connection.
    """
    protocol = getattr(ws, "protocol", None)
    transport = getattr(ws, "transport", None)
    if protocol is None or transport is None or getattr(ws, "send_data", None) is None:
        return False  # not a websockets asyncio connection (or a version without these)
    if protocol.state is not State.OPEN or transport.is_closing():
        return False
    if transport.get_write_buffer_size() or getattr(ws, "fragmented_send_waiter", None):
        return False
    protocol.send_text(text.encode("utf-8"))
    return True


def flush(ws: Any) -> None:
    """Hand every buffered frame to the transport (one write for all of them)."""
    ws.send_data()
