"""Happens-before rules of a merged two-role recording, and a checker for them.

A merged log orders the frames of both roles. Some frames a role receives are
*caused* by something the other role did: the initiator's ``channel_accept`` exists
only once the responder's socket is open, the responder's ``sign.update_ack`` only once
the initiator signed the update. In any order that really happened the cause comes
first, so the k-th such effect at one role has at least k causes at the other role
before it. The real node's recordings obey every rule below (tests check that), and
so must every recording chan_nb writes: a replay re-performs a log's client actions in
its merged order, so a log with an effect before its cause cannot be replayed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from chan_nb.protocol import methods
from chan_nb.recording import Direction, Frame

Match = Callable[[Frame], bool]


def _received(method: str, detail: str | None = None) -> Match:
    def match(frame: Frame) -> bool:
        if frame.direction is not Direction.RECEIVED or frame.method != method:
            return False
        return detail is None or (frame.event or frame.info) == detail

    return match


def _sent(*names: str) -> Match:
    wanted = frozenset(names)

    def match(frame: Frame) -> bool:
        return frame.direction is Direction.SENT and frame.method in wanted

    return match


def _opened(frame: Frame) -> bool:
    return frame.direction is Direction.OPEN


def _sign_request(request: str) -> Match:
    return _received(methods.SIGN_PREFIX + request)


def _reply(request: str) -> Match:
    return _sent(*methods.SIGN_BY_REQUEST[request].replies)


@dataclass(frozen=True)
class CausalRule:
    """The k-th ``effect`` a role receives needs k ``cause`` records of the other role before it."""

    name: str
    effect: Match
    cause: Match


#: Effects at one role and their causes at the other (websocket-api.md §6 flows).
CAUSAL_RULES: Final[tuple[CausalRule, ...]] = (
    CausalRule(
        "channel_accept after the responder's socket opened",
        _received(methods.INFO, "channel_accept"),
        _opened,
    ),
    CausalRule(
        "channel_open after the initiator's socket opened",
        _received(methods.INFO, "channel_open"),
        _opened,
    ),
    CausalRule(
        "funding_created after initiator_sign",
        _received(methods.INFO, "funding_created"),
        _reply("initiator_sign"),
    ),
    CausalRule(
        "sign.responder_sign after initiator_sign",
        _sign_request("responder_sign"),
        _reply("initiator_sign"),
    ),
    CausalRule(
        "funding_signed after responder_sign",
        _received(methods.INFO, "funding_signed"),
        _reply("responder_sign"),
    ),
    CausalRule(
        "sign.update_ack after the peer signed its update",
        _sign_request("update_ack"),
        _reply("update"),
    ),
    CausalRule(
        "sign.deposit_ack after the peer signed its deposit",
        _sign_request("deposit_ack"),
        _reply("deposit_tx"),
    ),
    CausalRule(
        "sign.withdraw_ack after the peer signed its withdrawal",
        _sign_request("withdraw_ack"),
        _reply("withdraw_tx"),
    ),
    CausalRule(
        "sign.shutdown_sign_ack after the peer signed its shutdown",
        _sign_request("shutdown_sign_ack"),
        _reply("shutdown_sign"),
    ),
    CausalRule(
        "a message after the peer sent it", _received(methods.MESSAGE), _sent(methods.MESSAGE)
    ),
)


@dataclass(frozen=True)
class Violation:
    rule: str
    role: str
    seq: int  # the effect's seq
    needed: int  # causes needed before it
    found: int  # causes found before it

    def __str__(self) -> str:
        return (
            f"#{self.seq} ({self.role}): {self.rule} — {self.needed} needed before it, "
            f"{self.found} found"
        )


def violations(
    frames: Sequence[Frame], rules: Sequence[CausalRule] = CAUSAL_RULES
) -> list[Violation]:
    """Every effect in ``frames`` (merged order) that comes before its cause."""
    roles = ("initiator", "responder")
    found: list[Violation] = []
    for rule in rules:
        causes = dict.fromkeys(roles, 0)
        effects = dict.fromkeys(roles, 0)
        for frame in frames:
            if frame.role not in causes:
                continue
            other = roles[1 - roles.index(frame.role)]
            if rule.effect(frame):
                effects[frame.role] += 1
                if causes[other] < effects[frame.role]:
                    found.append(
                        Violation(
                            rule.name, frame.role, frame.seq, effects[frame.role], causes[other]
                        )
                    )
            if rule.cause(frame):
                causes[frame.role] += 1
    return sorted(found, key=lambda v: v.seq)
