"""A session as a Jupyter card: who, where, its status, round and balances by role."""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from chan_nb.display import BAD, GOOD, MUTED, WARN, amount, badge, card, short_id

if TYPE_CHECKING:
    from chan_nb.client.session import Session

_STATUS_COLORS = {"open": GOOD, "closed": MUTED, "died": BAD}


def life(session: Session) -> str:
    """The session's status as a person names it: a channel whose closing tx was
    confirmed is "closed" even after its FSM ended (the node reports ``died`` after
    every close); "died" is left for a channel that ended without one."""
    status = session.status.value
    if status == "died" and any(e.name == "closed_confirmed" for e in session.events):
        return "closed"
    return status


def session_html(session: Session) -> str:
    """What a user checks first: status, round, balances named by role, not by ``ak_``."""
    status = life(session)
    color = _STATUS_COLORS.get(status, WARN)
    params = session.params
    names = {params.initiator_id: "initiator", params.responder_id: "responder"}
    balances = session.balances
    if balances.known and balances:
        shown = ", ".join(
            f"{names.get(account, short_id(account))} {amount(value)}"
            for account, value in balances.items()
        )
    else:
        shown = "unknown"
    rows = [
        ("address", escape(short_id(session.address))),
        ("round", escape(str(session.round))),
        ("balances", escape(shown)),
        ("channel", escape(short_id(session.channel_id))),
        ("node", escape(session.url)),
        ("records", f"{len(session.recorder):,}"),
    ]
    if session.pending_signatures:
        rows.append(("waiting to sign", str(len(session.pending_signatures))))
    if session.errors:
        rows.append(("errors", escape(f"{len(session.errors)}: {session.errors[-1]}")))
    return card(f"Session {session.role}", rows, status=badge(status, color))
