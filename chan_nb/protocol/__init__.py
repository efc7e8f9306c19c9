"""Shared vocabulary of the channel WebSocket JSON-RPC protocol.

Pure tables and helpers that both sides use — the embedded node (which
produces the frames) and clients (which read them): error codes with the
node's exact messages (:mod:`.codes`), method and event names
(:mod:`.methods`), and frame builders/classifiers (:mod:`.frames`).
"""

from __future__ import annotations

from chan_nb.protocol import codes, frames, methods

__all__ = ["codes", "frames", "methods"]
