"""The exception types chan_nb raises, in one place so callers can catch them.

Every bad input to the codec raises :class:`DecodeError` (never IndexError,
KeyError or a silently wrong value); its message names what is wrong and where.
"""

from __future__ import annotations


class ChanNbError(Exception):
    """Base class of every error chan_nb raises on purpose."""


class DecodeError(ChanNbError, ValueError):
    """Input bytes or strings are not a valid encoding of what was expected.

    ``where`` names the place (a field path like ``signed_tx.transaction.round``
    or a byte offset) so the message says what is wrong *and* where.
    """

    def __init__(self, message: str, where: str | None = None) -> None:
        self.reason = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)

    def at(self, where: str) -> DecodeError:
        """The same error, located one level further out (``where.inner``)."""
        inner = f"{where}.{self.where}" if self.where else where
        return DecodeError(self.reason, inner)


class SignatureError(ChanNbError):
    """A signature does not verify, or a key is unusable."""


def one_line(exc: BaseException) -> str:
    """An exception as one line: chan_nb's own errors and OS errors say what is wrong; any
    other is a defect, so the line says how to see the traceback and report it."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, ChanNbError):
        return text
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        return f"{where}{exc.strerror or text}"
    return (
        f"unexpected {type(exc).__name__}: {text[:200]} "
        "(a chan_nb bug: rerun with --debug for the traceback and report it)"
    )
