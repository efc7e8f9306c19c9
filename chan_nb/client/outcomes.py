"""What ends an awaited action, and the exception it raises (pure, no event loop).

A session's awaitables (``transfer``, ``shutdown``, reads …) wait for the event that
completes them; :class:`Action` says which other events end the wait unsuccessfully,
and :func:`failure` turns that event into the typed exception the caller sees.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chan_nb.client import events as ev
from chan_nb.client.errors import (
    ChannelClosed,
    ChannelConflict,
    ChannelErrorReport,
    ClientError,
    ConnectionLost,
    NodeError,
    PolicyViolation,
    UntrustedState,
    UpdateAborted,
)
from chan_nb.protocol import methods


@dataclass(frozen=True)
class Action:
    """What an awaited action sent, so that its replies and failures can be recognised."""

    call: ev.Call | None = None
    conflicts: bool = False  # a conflict, abort or channels.error fails it
    died: bool = True  # info died fails it (reads just fail when the socket closes)
    tags: frozenset[str] = field(default_factory=frozenset)  # sign tags it is about
    states: bool = False  # a state the client refused fails it (an open waits for one)

    def fails(self, event: ev.Event) -> bool:
        """Whether ``event`` ends this action unsuccessfully."""
        if isinstance(event, ev.ErrorReply):
            if event.at_connect:
                return True
            answers = event.answers
            if answers is None:
                return False
            return answers is self.call or (
                bool(self.tags) and answers.method in methods.SIGN_BY_REPLY
            )
        if isinstance(event, ev.Conflict | ev.ChannelErrorEvent):
            return self.conflicts
        if isinstance(event, ev.Info):
            if event.event == "aborted_update":
                return self.conflicts
            return self.died and event.event == "died"
        if isinstance(event, ev.Refused):
            return event.tag in self.tags
        if isinstance(event, ev.Untrusted):
            return self.states
        return False


def failure(event: ev.Event, context: str, connect: bool = False) -> ClientError:
    """The exception an awaited action raises for the event that ended it.

    ``context`` names who waited for what ("initiator: transfer of 5 …"); ``connect``
    says the wait was for ``fsm_up`` (a close then means the connect failed).
    """
    if isinstance(event, ev.ErrorReply):
        return NodeError(
            event.code,
            event.message,
            data_code=event.data_code,
            data_message=event.data_message,
            data=event.data,
            request=event.request,
            context=context,
        )
    if isinstance(event, ev.Conflict):
        return ChannelConflict(event.error_code or 0, event.error_msg or "", event.round, context)
    if isinstance(event, ev.ChannelErrorEvent):
        return ChannelErrorReport(event.reason or "", context)
    if isinstance(event, ev.Refused):
        return PolicyViolation(event.tag, event.problems, event.aborted_with)
    if isinstance(event, ev.Untrusted):
        return UntrustedState(f"{context}: refused the {event.what} state: {event.reason}")
    if isinstance(event, ev.Info) and event.event == "aborted_update":
        return UpdateAborted(f"{context}: the update was aborted")
    if isinstance(event, ev.Info) and event.event == "died":
        return ChannelClosed(f"{context}: the channel's FSM ended (info died)")
    how = "closed by the node" if isinstance(event, ev.Closed) and event.by_node else "closed"
    if connect:
        return ConnectionLost(f"{context}: the socket was {how} before fsm_up")
    return ConnectionLost(f"{context}: the socket was {how}")
