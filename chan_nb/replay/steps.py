"""What a recorded step *is*, stripped of everything that differs between two runs.

Two runs of the same session differ in keys, signatures, channel ids, fsm ids,
transaction strings, request ids and timestamps — but not in who did what:
:func:`step_key` reduces a record to ``(role, direction, method, event, error)``, the
skeleton both runs must share. Cross-role order depends on timing, so sequences are
compared per role (:func:`per_role`).

Internal: used by the replay comparison and ``chan-nb demo``; not public API (may change).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from chan_nb.recording import Direction, Frame


class StepKey(NamedTuple):
    role: str
    direction: str
    method: str | None
    event: str | None  # channels.info event or on_chain_tx info
    error: str | None  # "3/1016", "-32601", conflict "2"

    def text(self) -> str:
        arrow = {"sent": "->", "received": "<-", "open": "OPEN", "close": "CLOSE"}.get(
            self.direction, self.direction
        )
        parts = [self.role, arrow]
        if self.method:
            parts.append(self.method.removeprefix("channels."))
        elif self.direction == "received":
            parts.append("result" if self.error is None else "error")
        if self.event:
            parts.append(self.event)
        if self.error:
            parts.append(f"[{self.error}]")
        return " ".join(parts)


def error_text(frame: Frame) -> str | None:
    if frame.error_code is None:
        return None
    if frame.error_data_code is not None:
        return f"{frame.error_code}/{frame.error_data_code}"
    return str(frame.error_code)


def step_key(frame: Frame) -> StepKey | None:
    """The skeleton of one record (None for human notes, which are not steps)."""
    if frame.direction is Direction.INFO:
        return None
    return StepKey(
        frame.role,
        frame.direction.value,
        frame.method,
        frame.event or frame.info,
        error_text(frame),
    )


def step_keys(frames: Iterable[Frame], role: str | None = None) -> list[StepKey]:
    out = []
    for frame in frames:
        key = step_key(frame)
        if key is not None and (role is None or key.role == role):
            out.append(key)
    return out


def per_role(frames: Sequence[Frame]) -> dict[str, list[StepKey]]:
    """Each role's steps in order."""
    roles = list(dict.fromkeys(f.role for f in frames))
    return {role: step_keys(frames, role) for role in roles}


def sequence_diff(expected: Sequence[StepKey], actual: Sequence[StepKey]) -> list[str]:
    """Unified diff lines between two step sequences (empty when equal)."""
    if list(expected) == list(actual):
        return []
    return list(
        difflib.unified_diff(
            [k.text() for k in expected],
            [k.text() for k in actual],
            "recorded",
            "this run",
            lineterm="",
        )
    )


def compare_per_role(expected: Sequence[Frame], actual: Sequence[Frame]) -> dict[str, list[str]]:
    """Per role, the diff between two recordings' step sequences (empty lists: same)."""
    want, got = per_role(expected), per_role(actual)
    return {role: sequence_diff(want.get(role, []), got.get(role, [])) for role in {*want, *got}}
