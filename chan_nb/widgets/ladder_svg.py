"""A ladder diagram as inline SVG text, for widgets that redraw it at every step.

Mermaid needs a front end that renders it and matplotlib takes a noticeable moment per
figure; a stepper redraws on every click, so it draws the rows of
:func:`chan_nb.recording.diagram.build_steps` itself: one lane per participant with
the node in the middle, the newest rows at the bottom, the current row highlighted.
Pure string building; the output works in any HTML front end (JupyterLab, Voilà,
VS Code, a saved page).

Internal: the replay stepper's helper; not public API (may change without notice).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Final

from chan_nb.recording.diagram import Step
from chan_nb.recording.frame import NODE

ROW: Final = 20  # px per row
HEAD: Final = 34  # px for the lane titles
COLORS: Final = {"to_node": "#1f6fb4", "from_node": "#2a8a2a", "error": "#c62828"}


def ladder_svg(
    lanes: Sequence[str],
    steps: Sequence[Step],
    *,
    window: int | None = 24,
    width: int = 640,
    highlight_last: bool = True,
    label_limit: int | None = None,
) -> str:
    """SVG of ``steps`` (only the last ``window`` rows; an earlier-rows line above them).

    Labels are clipped to what fits between two lanes unless ``label_limit`` says otherwise.
    """
    hidden = 0
    if window is not None and len(steps) > window:
        hidden = len(steps) - window
        steps = steps[hidden:]
    lanes = list(lanes) or [NODE]
    margin = 66
    span = width - 2 * margin
    if label_limit is None:
        gap = span / max(1, len(lanes) - 1)
        label_limit = max(12, int(gap / 6.0))
    x = {
        lane: margin + (span * i / (len(lanes) - 1) if len(lanes) > 1 else span / 2)
        for i, lane in enumerate(lanes)
    }
    node_x = x.get(NODE, width / 2)
    top = HEAD + (ROW if hidden else 0)
    height = top + ROW * len(steps) + 10
    out = [
        # scales down to the space it gets (never up): the lanes stay whole in a narrow cell
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chan-nb-ladder" width="100%" '
        f'viewBox="0 0 {width} {height}" style="max-width:{width}px;height:auto" '
        f'font-family="sans-serif" font-size="11">',
        "<defs>",
        *(
            f'<marker id="chan-nb-arrow-{what}" viewBox="0 0 10 10" refX="9" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" fill="{color}"/></marker>'
            for what, color in COLORS.items()
        ),
        "</defs>",
        # a paper of its own, like a figure: the colours read in light and dark themes
        f'<rect width="{width}" height="{height}" rx="4" fill="#fff"/>',
    ]
    for lane, pos in x.items():
        out.append(
            f'<line x1="{pos:.1f}" y1="{HEAD - 8}" x2="{pos:.1f}" y2="{height}" '
            f'stroke="#bbb" stroke-width="1"/>'
        )
        out.append(
            f'<rect x="{pos - 55:.1f}" y="4" width="110" height="20" rx="5" fill="#eef" '
            f'stroke="#99a"/><text x="{pos:.1f}" y="18" text-anchor="middle" '
            f'font-weight="bold">{escape(lane)}</text>'
        )
    if hidden:
        out.append(
            f'<text x="{width / 2:.1f}" y="{HEAD + 13}" text-anchor="middle" fill="#777" '
            f'font-style="italic">⋯ {hidden} earlier step{"s" if hidden != 1 else ""}</text>'
        )
    for row, step in enumerate(steps):
        y = top + ROW * row + ROW / 2 + 3
        current = highlight_last and row == len(steps) - 1
        if current:
            out.append(
                f'<rect class="current" x="2" y="{y - ROW / 2 - 3:.1f}" width="{width - 4}" '
                f'height="{ROW}" fill="#fff4c2"/>'
            )
        pos = x.get(step.role or "", node_x)
        text = escape(_clip(step.label, label_limit))
        seq = f"#{step.seq}" if step.seq is not None else ""
        out.append(f'<text x="4" y="{y + 4:.1f}" fill="#999" font-size="9">{seq}</text>')
        if step.what in COLORS:
            start, end = (pos, node_x) if step.what == "to_node" else (node_x, pos)
            color = COLORS[step.what]
            dash = ' stroke-dasharray="4,2"' if step.what != "to_node" else ""
            out.append(
                f'<line x1="{start:.1f}" y1="{y + 4:.1f}" x2="{end:.1f}" y2="{y + 4:.1f}" '
                f'stroke="{color}" stroke-width="1.3"{dash} '
                f'marker-end="url(#chan-nb-arrow-{step.what})"/>'
            )
            out.append(
                f'<text x="{(start + end) / 2:.1f}" y="{y:.1f}" text-anchor="middle" '
                f'fill="{color}">{text}</text>'
            )
        else:
            at = node_x if step.what == "collapsed" else pos
            fill = "#f4f4f4" if step.what == "collapsed" else "#fffbe0"
            box = min(len(step.label), label_limit) * 5.6 + 12
            # notes lean towards the node so the outer lanes' notes stay inside the picture
            if at < node_x - 1:
                left, anchor, text_x = at + 4, "start", at + 10
            elif at > node_x + 1:
                left, anchor, text_x = at - 4 - box, "end", at - 10
            else:
                left, anchor, text_x = at - box / 2, "middle", at
            out.append(
                f'<rect x="{left:.1f}" y="{y - 9:.1f}" width="{box:.1f}" height="16" '
                f'rx="3" fill="{fill}" stroke="#ccb"/><text x="{text_x:.1f}" y="{y + 3:.1f}" '
                f'text-anchor="{anchor}" font-style="italic" fill="#555">{text}</text>'
            )
    out.append("</svg>")
    return "".join(out)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
