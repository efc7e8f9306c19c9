"""Two local sessions with a channel between them, opened in one call."""

from __future__ import annotations

import asyncio
import random
from typing import TYPE_CHECKING, Any

from chan_nb.client.params import ChannelParams
from chan_nb.client.recorder import Recorder
from chan_nb.client.session import Session
from chan_nb.codec.keys import Keypair

if TYPE_CHECKING:
    from chan_nb.node import EmbeddedNode


def pair_params(
    initiator: Keypair,
    responder: Keypair,
    *,
    initiator_amount: int = 70_000_000_000_000,
    responder_amount: int = 40_000_000_000_000,
    push_amount: int = 1,
    channel_reserve: int = 2,
    lock_period: int = 10,
    port: int | None = None,
    **options: Any,
) -> ChannelParams:
    """Channel terms between two keys (defaults: the amounts of the recorded sessions).

    ``port`` (the responder node's listen port for the peer link) is random when not given.
    """
    return ChannelParams(
        initiator_id=initiator.address,
        responder_id=responder.address,
        initiator_amount=initiator_amount,
        responder_amount=responder_amount,
        push_amount=push_amount,
        channel_reserve=channel_reserve,
        lock_period=lock_period,
        port=port if port is not None else random.randint(12_000, 15_999),
        **options,
    )


def new_pair(
    target: EmbeddedNode | str,
    *,
    initiator_key: Keypair | None = None,
    responder_key: Keypair | None = None,
    params: ChannelParams | None = None,
    network_id: str | None = None,
    recorder: Recorder | None = None,
    **session_options: Any,
) -> tuple[Session, Session]:
    """Two unconnected sessions (initiator, responder) sharing one recorder.

    ``target`` is an embedded node or a node URL (then ``network_id`` is needed, and
    the keys must belong to funded accounts). Fresh keys are generated when not given.
    """
    ikey = initiator_key or Keypair.generate()
    rkey = responder_key or Keypair.generate()
    terms = params or pair_params(ikey, rkey)
    shared = recorder if recorder is not None else Recorder()
    where: dict[str, Any] = {"url": target} if isinstance(target, str) else {"node": target}
    initiator = Session(
        "initiator",
        terms,
        ikey,
        network_id=network_id,
        recorder=shared,
        **where,
        **session_options,
    )
    responder = Session(
        "responder",
        terms,
        rkey,
        network_id=network_id,
        recorder=shared,
        **where,
        **session_options,
    )
    return initiator, responder


async def open_pair(
    target: EmbeddedNode | str,
    *,
    initiator_key: Keypair | None = None,
    responder_key: Keypair | None = None,
    params: ChannelParams | None = None,
    network_id: str | None = None,
    recorder: Recorder | None = None,
    timeout: float | None = None,
    **session_options: Any,
) -> tuple[Session, Session]:
    """Open a channel between two new local sessions; returns (initiator, responder).

    The initiator connects first, as in the recordings; both are open (round 1) on return.
    """
    initiator, responder = new_pair(
        target,
        initiator_key=initiator_key,
        responder_key=responder_key,
        params=params,
        network_id=network_id,
        recorder=recorder,
        **session_options,
    )
    try:
        await initiator.connect(timeout)
        await responder.connect(timeout)
        await asyncio.gather(initiator.open(timeout), responder.open(timeout))
    except BaseException:
        await asyncio.gather(initiator.close(), responder.close(), return_exceptions=True)
        raise
    return initiator, responder
