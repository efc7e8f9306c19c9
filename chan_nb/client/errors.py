"""What a channel session raises: the node's errors, conflicts, timeouts, lost sockets.

Every exception carries what the node said (codes and messages exactly as sent) and
what the client was waiting for, so a notebook cell's traceback reads as a diagnosis.
"""

from __future__ import annotations

from typing import Any

from chan_nb.errors import ChanNbError


class ClientError(ChanNbError):
    """Base of everything a channel session raises on purpose."""


class NodeError(ClientError):
    """The node answered with a JSON-RPC error frame.

    ``code``/``message`` are ``error.code``/``error.message``; ``data_code`` and
    ``data_message`` the first ``error.data`` entry (e.g. 3 "Rejected" / 1001
    "Insufficient balance"); ``request`` is the request the node echoed (``{}`` at
    connect time).
    """

    def __init__(
        self,
        code: int | None,
        message: str | None,
        *,
        data_code: int | None = None,
        data_message: str | None = None,
        data: list[Any] | None = None,
        request: Any = None,
        context: str = "",
    ) -> None:
        self.code = code
        self.message = message
        self.data_code = data_code
        self.data_message = data_message
        self.data = data or []
        self.request = request
        self.context = context
        detail = f"{code} {message!r}"
        if data_code is not None:
            detail += f" / {data_code} {data_message!r}"
        prefix = f"{context}: " if context else ""
        super().__init__(f"{prefix}node error {detail}")


class ChannelConflict(ClientError):
    """The node rolled the round back (``channels.conflict``): nothing changed.

    ``round`` is the last co-signed round, which stays the channel's state.
    """

    def __init__(
        self, error_code: int, error_msg: str, round: int | None, context: str = ""
    ) -> None:
        self.error_code = error_code
        self.error_msg = error_msg
        self.round = round
        prefix = f"{context}: " if context else ""
        super().__init__(
            f"{prefix}conflict {error_code} {error_msg!r}, channel stays at round {round}"
        )


class UpdateAborted(ClientError):
    """The update was aborted by this client (``info aborted_update``)."""


class ChannelErrorReport(ClientError):
    """The node sent ``channels.error`` (a signing reply it could not accept, or a fatal error)."""

    def __init__(self, reason: str, context: str = "") -> None:
        self.reason = reason
        prefix = f"{context}: " if context else ""
        super().__init__(f"{prefix}channels.error {reason!r}")


class PolicyViolation(ClientError):
    """The signing policy refused a sign request; ``problems`` says why."""

    def __init__(self, tag: str, problems: tuple[str, ...], aborted_with: int | None) -> None:
        self.tag = tag
        self.problems = problems
        self.aborted_with = aborted_with
        how = f"aborted with code {aborted_with}" if aborted_with is not None else "not signed"
        super().__init__(f"refused to sign {tag} ({how}): " + "; ".join(problems))


class UntrustedState(ClientError):
    """A state the node sent failed the client's own checks (signatures, round, hash)."""


class Timeout(ClientError, TimeoutError):
    """An await ran out of time; ``what`` names what was awaited."""

    def __init__(self, what: str, seconds: float) -> None:
        self.what = what
        self.seconds = seconds
        super().__init__(f"timed out after {seconds:g}s waiting for {what}")


class ConnectionLost(ClientError):
    """The socket closed (or was never open) while something was awaited."""


class ChannelClosed(ClientError):
    """The channel's FSM on the node ended (``info died``) while something was awaited."""
