"""What the channel panel shows, as plain data and HTML (no widgets, no event loop).

:func:`snapshot` reads a session's live attributes into a :class:`RoleSnapshot`; the
``*_html`` functions draw snapshots, notices and the last frames. Keeping this apart
from the ipywidgets wiring lets tests check what a person would read.

Internal: the channel panel's helper; not public API (may change without notice).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any, Final

from chan_nb.client import events as ev
from chan_nb.client.display import life
from chan_nb.display import ACCENT, BAD, BORDER, GOOD, MUTED, WARN
from chan_nb.errors import ChanNbError
from chan_nb.recording.frame import Direction, Frame, Kind
from chan_nb.widgets import html
from chan_nb.widgets.actions import Notice

if TYPE_CHECKING:
    from chan_nb.client.session import Session
    from chan_nb.node import ChannelObject


@dataclass(frozen=True, slots=True)
class PendingRow:
    """A signing request waiting for approve / reject (manual signing mode)."""

    tag: str
    tx_type: str
    round: int | None
    updates: str  # the proposed updates, one line
    problems: tuple[str, ...]  # what the client's checks found (empty: safe to sign)
    change: str = ""  # what signing does: "you pay 1,000 to ak_…: your balance 40,000 → …"


@dataclass(frozen=True, slots=True)
class RoleSnapshot:
    """One participant as its session sees it right now."""

    role: str
    address: str
    status: str
    connected: bool
    round: int | None
    balances: dict[str, int] | None
    channel_id: str | None
    fsm_id: str | None
    pending: tuple[PendingRow, ...]
    signing: str  # "auto" or "manual"


def snapshot(session: Session) -> RoleSnapshot:
    """Read ``session``'s state (cheap; called on every event)."""
    pending = []
    for item in list(session.pending_signatures):
        described = item.describe()
        tx = described.get("tx") or {}
        try:
            tx_type = str(item.request.decoded().innermost.TYPE)
        except (ChanNbError, ValueError) as exc:
            tx_type = f"undecodable tx ({exc})"
        pending.append(
            PendingRow(
                tag=item.tag,
                tx_type=tx_type,
                round=tx.get("round") if isinstance(tx.get("round"), int) else None,
                updates="; ".join(_update_text(u) for u in described.get("updates", [])),
                problems=tuple(item.problems),
                change=item.change.describe() if item.change is not None else "",
            )
        )
    balances = session.balances
    return RoleSnapshot(
        role=session.role,
        address=session.address,
        status=life(session),
        connected=session.connected,
        round=session.round,
        balances=dict(balances) if balances.known else None,
        channel_id=session.channel_id,
        fsm_id=session.fsm_id,
        pending=tuple(pending),
        signing=session.policy.mode,
    )


def _update_text(update: Any) -> str:
    if not isinstance(update, dict):
        return str(update)
    op = str(update.get("op", "?"))
    amount = update.get("amount")
    parts = [op]
    if "from" in update:
        parts.append(f"from {html.short_id(str(update['from']), 7)}")
    if "to" in update:
        parts.append(f"to {html.short_id(str(update['to']), 7)}")
    if isinstance(amount, int):
        parts.append(f"amount {amount:,}")
    return " ".join(parts)


STATUS_COLORS: Final = {
    "open": GOOD,
    "disconnected": MUTED,
    "died": BAD,
    "closed": MUTED,
    "closing": WARN,
}

#: Statuses of a participant whose channel can take an update, a message or a close.
_LIVE: Final = frozenset({"open"})
#: Statuses after which the channel is over for good (a confirmed close).
_OVER: Final = frozenset({"closed"})


def unavailable(
    snaps: dict[str, RoleSnapshot], who: str, payer: str, contract: str | None = None
) -> dict[str, str | None]:
    """Why each panel action cannot be done now (None: it can), from both participants'
    state: the rules of the channel's life in one table. ``who`` is the participant the
    disconnect / reconnect / leave / shutdown buttons act for, ``payer`` the sender of
    transfers and messages, ``contract`` the contract the call buttons act on."""
    if any(s.status in _OVER for s in snaps.values()):
        over = "the channel is closed: start a new panel for a new channel"
        return dict.fromkeys(ACTIONS, over)
    started = any(s.channel_id is not None for s in snaps.values())
    actor, sender = snaps[who], snaps[payer]
    no_channel = "no channel yet: press open"
    both_gone = all(not s.connected for s in snaps.values())
    rules: dict[str, str | None] = {
        "open": "the channel is open already" if started else None,
        "transfer": _needs_open(sender, started, no_channel),
        "message": _needs_open(sender, started, no_channel),
        "shutdown": _needs_open(actor, started, no_channel),
        "leave": _needs_open(actor, started, no_channel),
        "close_solo": _needs_open(actor, started, no_channel),
        "snapshot": _needs_open(actor, started, no_channel),
        "slash": _needs_closing(actor, started, no_channel),
        "settle": _needs_closing(actor, started, no_channel),
        "deploy": _needs_open(actor, started, no_channel),
        "call": _needs_open(actor, started, no_channel)
        or (None if contract else "no contract yet: press deploy game"),
        "dry_run": _needs_open(actor, started, no_channel)
        or (None if contract else "no contract yet: press deploy game"),
        "disconnect": None if actor.connected else f"{who} has no socket",
        "reconnect": (
            no_channel
            if not started
            else f"{who} is connected"
            if actor.connected
            else "both left: use reestablish"
            if both_gone and all(s.status == "died" for s in snaps.values())
            else None
        ),
        "reestablish": (
            no_channel
            if not started
            else None
            if both_gone
            else "a participant is still connected (reestablish follows a leave)"
        ),
    }
    return rules


def _needs_closing(snap: RoleSnapshot, started: bool, no_channel: str) -> str | None:
    """Slash and settle act on a solo-closing channel (after close solo or can_slash)."""
    if not started:
        return no_channel
    if snap.status != "closing":
        return f"the {snap.role} is {snap.status}: slash and settle need a solo-closing channel"
    return None


def _needs_open(snap: RoleSnapshot, started: bool, no_channel: str) -> str | None:
    if not started:
        return no_channel
    if snap.status not in _LIVE:
        return f"the {snap.role} is {snap.status}"
    return None


#: The panel's actions, in the order of its buttons.
ACTIONS: Final = (
    "open",
    "leave",
    "reestablish",
    "shutdown",
    "transfer",
    "message",
    "disconnect",
    "reconnect",
    "close_solo",
    "snapshot",
    "slash",
    "settle",
    "deploy",
    "call",
    "dry_run",
)


def chain_html(on_chain: ChannelObject | None, height: int) -> str:
    """The dispute section's line: the channel as the (embedded) chain holds it."""
    if on_chain is None:
        return f"<i>on chain: no channel yet</i> · height {height}"
    if on_chain.closed:
        state = "<b>closed</b> (settled or closed mutually)"
    elif on_chain.active:
        state = "<b>active</b>"
    else:
        left = max(on_chain.locked_until - height, 0)
        state = f"<b>solo-closing</b>, locked until height {on_chain.locked_until}" + (
            f" ({left} blocks to go)" if left else " (may be settled)"
        )
    return (
        f"on chain: {state} · round {on_chain.round} · solo round {on_chain.solo_round} · "
        f"lock period {on_chain.lock_period} blocks · height {height}"
    )


def role_card(snap: RoleSnapshot, names: dict[str, str]) -> str:
    """A participant's card: status, round, both balances, channel and fsm ids."""
    color = STATUS_COLORS.get(snap.status, ACCENT)
    socket = "socket open" if snap.connected else "no socket"
    rows = [
        ("status", f"<b style='color:{color}' class='chan-nb-status'>{escape(snap.status)}</b>"
                   f" · {socket} · signing {escape(snap.signing)}"),
        ("round", f"<b class='chan-nb-round'>{snap.round if snap.round is not None else '—'}</b>"),
    ]  # fmt: skip
    if snap.balances:
        for account, balance in snap.balances.items():
            who = names.get(account, html.short_id(account))
            rows.append(
                (
                    f"balance of {escape(who)}",
                    f"<code class='chan-nb-balance' data-account='{escape(account)}'>"
                    f"{html.amount(balance)}</code>",
                )
            )
    else:
        rows.append(("balances", "<i>unknown</i>"))
    rows.append(("channel_id", f"<code>{escape(snap.channel_id or '—')}</code>"))
    rows.append(("fsm_id", f"<code>{escape(snap.fsm_id or '—')}</code>"))
    body = "".join(
        f"<tr><td style='color:{MUTED};padding:1px 8px 1px 0;white-space:nowrap'>{escape(k)}</td>"
        f"<td style='padding:1px 0;word-break:break-all'>{v}</td></tr>"
        for k, v in rows
    )
    return (
        f"<div class='chan-nb-role chan-nb-role-{escape(snap.role)}' style='border:1px solid "
        f"{BORDER};border-radius:6px;padding:6px 10px;font-size:12px'><div style='font-weight:bold;"
        f"font-size:13px'>{escape(snap.role)} <span style='font-weight:normal;color:{MUTED}'>"
        f"{escape(html.short_id(snap.address))}</span></div><table>{body}</table></div>"
    )


def refusal(event: object) -> str | None:
    """One line for a refusal by the client (a signing request, or a state), else None."""
    if isinstance(event, ev.Refused):
        return f"refused to sign {event.tag}: " + "; ".join(event.problems)
    if isinstance(event, ev.Untrusted):
        return f"refused the {event.what} state: {event.reason}"
    return None


def pending_html(snap: RoleSnapshot) -> str:
    """The requests waiting for this participant's decision (manual signing)."""
    if not snap.pending:
        return f"<i style='color:#777'>{escape(snap.role)}: nothing to sign</i>"
    items = []
    for row in snap.pending:
        verdict = (
            "<span style='color:#2a8a2a'>checks ok</span>"
            if not row.problems
            else "<span style='color:#c62828'>" + escape("; ".join(row.problems)) + "</span>"
        )
        round_ = f" round {row.round}" if row.round is not None else ""
        updates = f" — {escape(row.updates)}" if row.updates else ""
        change = (
            f"<br><span class='chan-nb-change'>{escape(row.change)}</span>" if row.change else ""
        )
        items.append(
            f"<li><b>{escape(row.tag)}</b>: {escape(row.tx_type)}{round_}{updates} · {verdict}"
            f"{change}</li>"
        )
    return (
        f"<div class='chan-nb-pending'><b>{escape(snap.role)}</b> is asked to sign:"
        f"<ul style='margin:2px 0'>{''.join(items)}</ul></div>"
    )


NOTICE_STYLE: Final = {
    "ok": ("✓", GOOD),
    "conflict": ("⚠", WARN),
    "error": ("✗", BAD),
    "info": ("·", MUTED),
}


def notices_html(notices: Sequence[Notice], running: Sequence[str]) -> str:
    """What the panel's actions did, newest first, and what is still running."""
    lines = [
        f"<div class='chan-nb-running' style='color:{ACCENT}'>running: {escape(name)} …</div>"
        for name in running
    ]
    for notice in reversed(notices):
        mark, color = NOTICE_STYLE[notice.level]
        when = datetime.fromtimestamp(notice.at).strftime("%H:%M:%S")
        lines.append(
            f"<div class='chan-nb-notice chan-nb-{notice.level}' style='color:{color}'>"
            f"{mark} <span style='color:{MUTED}'>{when}</span> <b>{escape(notice.action)}</b>: "
            f"{escape(notice.text)}</div>"
        )
    if not lines:
        return f"<i style='color:{MUTED}'>Nothing done yet: press open.</i>"
    return "<div style='font-size:12px'>" + "".join(lines) + "</div>"


FrameRule = Callable[[Frame], bool]

#: The frame table's filter choices.
FRAME_FILTERS: Final[dict[str, FrameRule]] = {
    "all records": lambda f: True,
    "frames only": lambda f: f.is_frame,
    "initiator": lambda f: f.role == "initiator",
    "responder": lambda f: f.role == "responder",
    "errors and conflicts": lambda f: (
        f.kind is Kind.ERROR or f.method in ("channels.conflict", "channels.error")
    ),
    "signing": lambda f: bool(f.method and ("sign" in f.method or f.method == "channels.update")),
    "transactions": lambda f: f.tx is not None,
}

_ARROWS: Final = {
    Direction.SENT: "→ node",
    Direction.RECEIVED: "← node",
    Direction.OPEN: "open",
    Direction.CLOSE: "close",
    Direction.INFO: "note",
}


def select_frames(
    frames: Sequence[Frame], rule: str = "all records", text: str = "", limit: int = 12
) -> list[Frame]:
    """The last ``limit`` records that pass the filter and contain ``text`` (case-blind)."""
    check = FRAME_FILTERS[rule]
    needle = text.strip().lower()
    chosen = [
        f for f in frames if check(f) and (not needle or needle in (f.brief() + f.raw).lower())
    ]
    return chosen[-limit:] if limit > 0 else chosen


def frames_html(frames: Sequence[Frame], total: int) -> str:
    """The chosen records as a table (newest at the bottom, like a log)."""
    if not frames:
        return f"<i style='color:{MUTED}'>no matching records (of {total})</i>"
    rows = []
    for frame in frames:
        what = frame.method or ""
        if frame.event or frame.info:
            what = f"{what} {frame.event or frame.info}".strip()
        if frame.direction is Direction.INFO:
            what = frame.raw
        detail = frame.error_data_message or frame.error_message or ""
        if frame.amount is not None:
            detail = f"amount {frame.amount:,}"
        if frame.tx_type and not detail:
            detail = frame.tx_type
        rows.append(
            [
                str(frame.seq),
                f"{frame.role}[{frame.conn}]",
                _ARROWS[frame.direction],
                str(frame.kind or ""),
                what,
                "" if frame.round is None else str(frame.round),
                detail,
            ]
        )
    marked = [
        f.kind is Kind.ERROR or f.method in ("channels.conflict", "channels.error") for f in frames
    ]
    table = html.table(
        ["#", "who", "way", "kind", "method / event", "round", "detail"],
        rows,
        marked=marked,
        css_class="chan-nb-frames",
    )
    return (
        f"<div style='color:{MUTED};font-size:11px'>{len(frames)} of {total} records</div>{table}"
    )
