"""Small HTML fragments the widgets show (pure string building, everything escaped).

Amounts are exact ints, shown in full with thousands separators (they are ~10^13 aettos
and a transfer may move 1, so rounding would hide exactly what the user looks for).

Internal: the widgets' helper; not public API (may change without notice).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from chan_nb.recording.operations import Operation, Outcome
from chan_nb.widgets.replay import BalanceRow

OUTCOME_COLORS = {
    Outcome.OK: "#2a8a2a",
    Outcome.CONFLICT: "#c77700",
    Outcome.ERROR: "#c62828",
    Outcome.ABORTED: "#777",
    Outcome.INCOMPLETE: "#777",
}


def amount(value: int | None) -> str:
    """An exact amount with separators, or an em dash when unknown."""
    return "—" if value is None else f"{value:,}"


def short_id(text: str | None, keep: int = 10) -> str:
    """``ak_Soj4M7oj…qC1w2``: enough of an id to tell two apart."""
    if text is None:
        return "—"
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-5:]}"


def pre(text: str, *, max_height: int = 320, title: str | None = None) -> str:
    """A scrollable monospace block."""
    head = f"<div style='font-weight:bold;margin:2px 0'>{escape(title)}</div>" if title else ""
    return (
        f"{head}<pre style='max-height:{max_height}px;overflow:auto;margin:0;padding:6px;"
        f"background:#f7f7f7;border:1px solid #ddd;font-size:11px;white-space:pre-wrap;"
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
        f"<th style='text-align:left;padding:2px 8px;border-bottom:1px solid #999'>{escape(c)}</th>"
        for c in columns
    )
    body = []
    for i, row in enumerate(rows):
        tint = " style='background:#fff4c2'" if i < len(marks) and marks[i] else ""
        cells = "".join(
            f"<td style='padding:2px 8px;font-family:monospace'>{escape(cell)}</td>" for cell in row
        )
        body.append(f"<tr{tint}>{cells}</tr>")
    return (
        f"<table class='{css_class}' style='border-collapse:collapse;font-size:12px'>"
        f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
    )


def balances_table(rows: Sequence[BalanceRow]) -> str:
    """Each account's balance at a step (state replay, its round, and the last reply)."""
    if not rows:
        return "<i>no balances known yet (the channel has no co-signed state so far)</i>"
    channels = {row.channel_id for row in rows}
    columns = ["account", "balance", "round", "last get.balances reply"]
    if len(channels) > 1:
        columns.insert(0, "channel")
    cells = []
    for row in rows:
        line = [row.account, amount(row.balance), _opt(row.round), amount(row.reply)]
        if len(channels) > 1:
            line.insert(0, short_id(row.channel_id))
        cells.append(line)
    return table(columns, cells, marked=[row.changed for row in rows], css_class="chan-nb-balances")


def operation_line(operation: Operation | None) -> str:
    """``op 6: update by initiator → conflict (…)`` with the outcome in colour."""
    if operation is None:
        return "<span style='color:#777'>not part of an operation</span>"
    color = OUTCOME_COLORS.get(operation.outcome, "#333")
    detail = f" — {escape(operation.detail)}" if operation.detail else ""
    round_ = f", round {operation.round}" if operation.round is not None else ""
    return (
        f"op {operation.op_id}: <b>{escape(operation.kind)}</b> by {escape(operation.starter)}"
        f"{round_} → <b style='color:{color}'>{escape(str(operation.outcome))}</b>{detail}"
    )


def _opt(value: int | None) -> str:
    return "—" if value is None else str(value)
