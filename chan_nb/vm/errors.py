"""What the VM raises: a call's failure (a result, not an exception to the caller) and
"not implemented" (an exception: the VM refuses rather than give a result it cannot vouch for).

:class:`FateError` and :class:`FateRevert` travel inside the engine and become the call's
``error`` / ``revert`` result (fate.md §4.5); they never leave :func:`chan_nb.vm.execute`.
:class:`VmNotImplemented` does leave it: the instruction or the case is one this VM does
not model exactly, so it gives no result at all.
"""

from __future__ import annotations

from chan_nb.errors import ChanNbError


class VmNotImplemented(ChanNbError, NotImplementedError):
    """The VM does not model this instruction or case exactly; it gives no result."""


class FateError(Exception):
    """``runtime_error`` / ``runtime_exit``: the call fails with this raw text; all gas is used
    (except reservations of enclosing gas-capped remote calls)."""

    def __init__(self, message: bytes) -> None:
        super().__init__(message.decode("utf-8", "replace"))
        self.message = message


class FateRevert(Exception):
    """``ABORT``: the call is reverted with this FATE string; the gas left is kept."""

    def __init__(self, value: str | bytes) -> None:
        super().__init__(value if isinstance(value, str) else value.decode("utf-8", "replace"))
        self.value = value


__all__ = ["FateError", "FateRevert", "VmNotImplemented"]
