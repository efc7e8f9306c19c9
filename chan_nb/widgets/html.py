"""Small HTML fragments the widgets show (pure string building, everything escaped).

Amounts are exact ints, shown in full with thousands separators (they are ~10^13 aettos
and a transfer may move 1, so rounding would hide exactly what the user looks for).

Internal: the widgets' helper; not public API (may change without notice).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from html import escape
from typing import Any

from chan_nb.display import (
    BAD,
    BORDER,
    CODE_BG,
    GOOD,
    MARK,
    MUTED,
    TEXT,
    WARN,
    amount,
    short_id,
)
from chan_nb.recording.operations import Operation, Outcome
from chan_nb.widgets.replay import BalanceRow

__all__ = ["amount", "short_id"]  # re-exported: their home is chan_nb.display

OUTCOME_COLORS = {
    Outcome.OK: GOOD,
    Outcome.CONFLICT: WARN,
    Outcome.ERROR: BAD,
    Outcome.ABORTED: MUTED,
    Outcome.INCOMPLETE: MUTED,
}


def pre(text: str, *, max_height: int = 320, title: str | None = None) -> str:
    """A scrollable monospace block."""
    head = f"<div style='font-weight:bold;margin:2px 0'>{escape(title)}</div>" if title else ""
    return (
        f"{head}<pre class='chan-nb-pre' style='max-height:{max_height}px;overflow:auto;"
        f"margin:0;padding:6px;"
        f"background:{CODE_BG};color:{TEXT};border:1px solid {BORDER};font-size:11px;"
        f"white-space:pre-wrap;"
        f"word-break:break-all'>{escape(text)}</pre>"
    )


def json_text(value: Any) -> str:
    """Pretty JSON of decoded data (ints stay exact; bytes and ids shown as text)."""
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    marked: Iterable[bool] = (),
    css_class: str = "chan-nb-table",
) -> str:
    """An HTML table of already formatted cells (escaped here); ``marked`` rows are tinted."""
    marks = list(marked)
    head = "".join(
        f"<th style='text-align:left;padding:2px 8px;border-bottom:1px solid {BORDER}'>"
        f"{escape(c)}</th>"
        for c in columns
    )
    body = []
    for i, row in enumerate(rows):
        tint = (
            f" class='chan-nb-marked' style='background:{MARK}'"
            if i < len(marks) and marks[i]
            else ""
        )
        cells = "".join(
            f"<td style='padding:2px 8px;font-family:monospace;white-space:nowrap'>"
            f"{escape(cell)}</td>"
            for cell in row
        )
        body.append(f"<tr{tint}>{cells}</tr>")
    return (
        f"<div style='overflow-x:auto;max-width:100%'>"
        f"<table class='{css_class}' style='border-collapse:collapse;font-size:12px;color:{TEXT}'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def balances_table(rows: Sequence[BalanceRow], names: Mapping[str, str] | None = None) -> str:
    """Each participant's balance at a step (state replay, its round, and the last reply),
    named by role when ``names`` (account -> role) knows the account."""
    names = names or {}
    if not rows:
        return "<i>no balances known yet (the channel has no co-signed state so far)</i>"
    channels = {row.channel_id for row in rows}
    columns = ["participant", "balance", "round", "get.balances reply"]
    if len(channels) > 1:
        columns.insert(0, "channel")
    cells = []
    for row in rows:
        label = names.get(row.account) or short_id(row.account)
        line = [label, amount(row.balance), _opt(row.round), amount(row.reply)]
        if len(channels) > 1:
            line.insert(0, short_id(row.channel_id))
        cells.append(line)
    return table(columns, cells, marked=[row.changed for row in rows], css_class="chan-nb-balances")


def operation_line(operation: Operation | None) -> str:
    """``op 6: update by initiator → conflict (…)`` with the outcome in colour."""
    if operation is None:
        return f"<span style='color:{MUTED}'>not part of an operation</span>"
    color = OUTCOME_COLORS.get(operation.outcome, TEXT)
    detail = f" — {escape(operation.detail)}" if operation.detail else ""
    round_ = f", round {operation.round}" if operation.round is not None else ""
    return (
        f"op {operation.op_id}: <b>{escape(operation.kind)}</b> by {escape(operation.starter)}"
        f"{round_} → <b style='color:{color}'>{escape(str(operation.outcome))}</b>{detail}"
    )


def _opt(value: int | None) -> str:
    return "—" if value is None else str(value)
