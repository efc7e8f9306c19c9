"""Rich displays for Jupyter: the ``_repr_html_`` cards of sessions, logs, states and audits.

Pure string building, every value escaped; no layer's objects are imported here, so any
layer may use it. Colours come from JupyterLab's theme variables (with light fallbacks
for other front ends), so a card reads in the dark theme too. Amounts are exact ints
with thousands separators: rounding would hide exactly what a user looks for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Final

#: Theme-following colours: JupyterLab's variables, light fallbacks elsewhere.
TEXT: Final = "var(--jp-content-font-color1, #1a1a1a)"
MUTED: Final = "var(--jp-content-font-color2, #555)"
BORDER: Final = "var(--jp-border-color2, #ddd)"
SURFACE: Final = "var(--jp-layout-color1, #fff)"
CODE_BG: Final = "var(--jp-cell-editor-background, #f7f7f7)"
GOOD: Final = "var(--jp-success-color1, #2a8a2a)"
WARN: Final = "var(--jp-warn-color1, #c77700)"
BAD: Final = "var(--jp-error-color1, #c62828)"
ACCENT: Final = "var(--jp-brand-color1, #1f6fb4)"
#: A row to look at (an error, a conflict, a changed balance): a translucent amber that
#: reads on a light and on a dark background alike, the text keeping the theme's colour.
MARK: Final = "rgba(255, 179, 0, 0.28)"


def amount(value: int | None) -> str:
    """An exact amount with separators, or an em dash when unknown."""
    return "—" if value is None else f"{value:,}"


def short_id(text: str | None, keep: int = 10) -> str:
    """``ak_Soj4M7oj…qC1w2``: enough of an id to tell two apart."""
    if text is None:
        return "—"
    return text if len(text) <= 2 * keep + 1 else f"{text[:keep]}…{text[-5:]}"


def short_text(text: str, limit: int = 60) -> str:
    """``text`` cut to ``limit`` characters, saying how long it was."""
    if len(text) <= limit:
        return text
    return f"{text[: limit - 1]}…({len(text):,} chars)"


def badge(text: str, color: str) -> str:
    """A coloured word (a status, a verdict)."""
    return f"<b style='color:{color}'>{escape(text)}</b>"


def card(
    title: str,
    rows: Iterable[tuple[str, str]],
    *,
    status: str = "",
    extra: str = "",
) -> str:
    """A compact key/value card. Row values and ``status``/``extra`` are HTML already
    (built with :func:`escape` or :func:`badge`); keys and the title are escaped here."""
    body = "".join(
        f"<tr><th style='text-align:left;padding:1px 10px 1px 0;color:{MUTED};"
        f"font-weight:normal;vertical-align:top'>{escape(key)}</th>"
        f"<td style='text-align:left;padding:1px 0;"
        f"font-family:var(--jp-code-font-family, monospace);word-break:break-all'>{value}</td></tr>"
        for key, value in rows
    )
    return (
        f"<div class='chan-nb-card' style='border:1px solid {BORDER};border-radius:4px;"
        f"padding:6px 10px;display:inline-block;max-width:100%;color:{TEXT};"
        f"background:{SURFACE};font-size:12px'>"
        f"<div style='font-weight:bold;margin-bottom:4px'>{escape(title)} {status}</div>"
        f"<table style='border-collapse:collapse'>{body}</table>{extra}</div>"
    )


def rows_table(columns: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A small table of plain cells (escaped here)."""
    head = "".join(
        f"<th style='text-align:left;padding:1px 8px;border-bottom:1px solid {BORDER}'>"
        f"{escape(c)}</th>"
        for c in columns
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td style='text-align:left;padding:1px 8px;"
            f"font-family:var(--jp-code-font-family, monospace)'>"
            f"{escape(cell)}</td>"
            for cell in row
        )
        + "</tr>"
        for row in rows
    )
    return (
        f"<table style='border-collapse:collapse;margin-top:4px;font-size:12px'>"
        f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    )


def code_block(text: str, *, max_height: int = 200) -> str:
    """A scrollable monospace block on the theme's code background."""
    return (
        f"<pre style='max-height:{max_height}px;overflow:auto;margin:4px 0 0;padding:4px 6px;"
        f"background:{CODE_BG};color:{TEXT};border:1px solid {BORDER};font-size:11px;"
        f"white-space:pre-wrap;word-break:break-all'>{escape(text)}</pre>"
    )
