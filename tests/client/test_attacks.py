"""Attacks on a client by a malicious node (and the peer behind it), in memory and over sockets.

Every attack runs against a real :class:`Session` with the default signing policy,
both over a loopback WebSocket and in memory, and asserts three things: the refusal
says why (in the exception, the event stream and the recording), no valid signature of
ours left the client, and the client's view of the channel (round, balances, channel
id, latest state) is unchanged — proven again by an honest round that follows.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest

from chan_nb.client import Session
from chan_nb.client import events as ev
from chan_nb.client.policy import DEFAULT_MAX_FEE, DEFAULT_MAX_GAS_PRICE, RULES
from chan_nb.client.transport import FrameTooLarge
from chan_nb.codec import hashing, txs
from chan_nb.codec import updates as upd
from chan_nb.codec.ids import Id
from chan_nb.codec.keys import Keypair
from chan_nb.recording import Direction
from tests.client.attack_kit import (
    NET,
    STEP,
    Forge,
    MemoryScript,
    SocketScript,
    honest_transfer,
    notification,
    open_victim,
    refused_ask,
    signatures_of,
    view,
)

HUGE_FEE = 10**20
OTHER_CHANNEL = hashing.channel_id(Keypair.generate().public_key, 1, Keypair.generate().public_key)


@dataclass
class Kit:
    forge: Forge
    script: MemoryScript
    session: Session
    mark: int = 0  # session.mark() when the attack began

    @property
    def f(self) -> Forge:
        return self.forge

    def push(self, frame: dict[str, Any]) -> None:
        self.script.push(frame)

    async def refused(self) -> str:
        """The policy's refusal of a request the attack pushed (its one-line reasons)."""
        event = await self.session.wait_for(ev.Refused, STEP, since=self.mark)
        assert isinstance(event, ev.Refused)
        return "; ".join(event.problems)

    async def untrusted(self) -> str:
        """The client's refusal of a state the attack pushed."""
        event = await self.session.wait_for(ev.Untrusted, STEP, since=self.mark)
        assert isinstance(event, ev.Untrusted)
        return event.reason

    async def own(
        self,
        start: Callable[[], Coroutine[Any, Any, Any]],
        method: str,
        answer: Callable[[], dict[str, Any]],
    ) -> str:
        """We ask for something; the node answers with ``answer()``; the ask must fail."""
        refused = await refused_ask(self.script, start, method, answer)
        assert refused.aborted_with is not None  # the round was aborted, not left
        return str(refused)


Run = Callable[[Kit], Awaitable[str]]


@dataclass(frozen=True)
class Attack:
    name: str
    category: str
    run: Run
    expect: str  # a part of the one-line reason
    role: str = "initiator"
    tags: tuple[str, ...] = ()  # the sign tags it aims at
    then_honest: bool = True  # an honest round follows (the socket stays up)
    options: dict[str, Any] = field(default_factory=dict)


ATTACKS: list[Attack] = []


def attack(
    category: str, expect: str, *, role: str = "initiator", tags: tuple[str, ...] = (), **kw: Any
) -> Callable[[Run], Run]:
    def register(run: Run) -> Run:
        ATTACKS.append(Attack(run.__name__, category, run, expect, role, tags, **kw))
        return run

    return register


# -- what we asked for: a transfer ------------------------------------------------------------


def _transfer(k: Kit, make: Callable[[], dict[str, Any]]) -> Awaitable[str]:
    return k.own(lambda: k.session.transfer(k.f.them, 1_000), "channels.update.new", make)


def _update(k: Kit, moves: tuple[upd.Update, ...], **kw: Any) -> dict[str, Any]:
    return k.f.sign_request("update", k.f.signed(k.f.offchain(moves, **kw)), moves)


@attack("own transfer", "are not the requested", tags=("update",))
async def transfer_amount_raised(k: Kit) -> str:
    moves = (k.f.pay(k.f.me, k.f.them, 2_000),)
    return await _transfer(k, lambda: _update(k, moves))


@attack("own transfer", "are not the requested", tags=("update",))
async def transfer_to_someone_else(k: Kit) -> str:
    thief = Keypair.generate().address
    moves = (k.f.pay(k.f.me, thief, 1_000),)
    return await _transfer(k, lambda: _update(k, moves))


@attack("own transfer", "state hash does not match", tags=("update",))
async def transfer_state_hash_gives_more(k: Kit) -> str:
    moves = (k.f.pay(k.f.me, k.f.them, 1_000),)
    worse = k.f.after((k.f.pay(k.f.me, k.f.them, 9_000),))
    return await _transfer(k, lambda: _update(k, moves, balances=worse))


@attack("own transfer", "does not follow our round", tags=("update",))
async def transfer_round_skipped(k: Kit) -> str:
    moves = (k.f.pay(k.f.me, k.f.them, 1_000),)
    return await _transfer(k, lambda: _update(k, moves, round_=k.f.round + 2))


@attack("own transfer", "does not follow our round", tags=("update",))
async def transfer_round_replayed(k: Kit) -> str:
    moves = (k.f.pay(k.f.me, k.f.them, 1_000),)
    return await _transfer(k, lambda: _update(k, moves, round_=k.f.round))


@attack("own transfer", "is not this channel", tags=("update",))
async def transfer_for_another_channel(k: Kit) -> str:
    moves = (k.f.pay(k.f.me, k.f.them, 1_000),)
    return await _transfer(k, lambda: _update(k, moves, channel=OTHER_CHANNEL))


@attack("own transfer", "are not the requested", tags=("update",))
async def transfer_with_an_extra_update(k: Kit) -> str:
    moves = (k.f.pay(k.f.me, k.f.them, 1_000), k.f.pay(k.f.me, k.f.them, 5_000))
    return await _transfer(k, lambda: _update(k, moves))


@attack("own transfer", "must carry a channel_offchain_tx", tags=("update",))
async def transfer_answered_with_a_deposit_tx(k: Kit) -> str:
    tx = k.f.deposit(k.f.me, 1_000)
    dep = (k.f.dep(k.f.me, 1_000),)
    return await _transfer(k, lambda: k.f.sign_request("update", k.f.signed(tx), dep))


# -- what we asked for: deposit, withdraw, shutdown --------------------------------------------


def _deposit(k: Kit, make: Callable[[], dict[str, Any]], **options: int) -> Awaitable[str]:
    return k.own(lambda: k.session.deposit(500, **options), "channels.deposit", make)


def _withdraw(k: Kit, make: Callable[[], dict[str, Any]]) -> Awaitable[str]:
    return k.own(lambda: k.session.withdraw(500), "channels.withdraw", make)


@attack("own deposit", "above the cap", tags=("deposit_tx",))
async def deposit_fee_raised(k: Kit) -> str:
    tx = k.f.deposit(k.f.me, 500, fee=HUGE_FEE)
    return await _deposit(
        k, lambda: k.f.sign_request("deposit_tx", k.f.signed(tx), (k.f.dep(k.f.me, 500),))
    )


@attack("own deposit", "not the fee", tags=("deposit_tx",))
async def deposit_fee_not_the_one_asked(k: Kit) -> str:
    tx = k.f.deposit(k.f.me, 500, fee=40_000)
    dep = (k.f.dep(k.f.me, 500),)
    return await _deposit(
        k, lambda: k.f.sign_request("deposit_tx", k.f.signed(tx), dep), fee=30_000
    )


@attack("own deposit", "not the nonce", tags=("deposit_tx",))
async def deposit_nonce_changed(k: Kit) -> str:
    tx = k.f.deposit(k.f.me, 500, nonce=9)
    dep = (k.f.dep(k.f.me, 500),)
    return await _deposit(k, lambda: k.f.sign_request("deposit_tx", k.f.signed(tx), dep), nonce=5)


@attack("own deposit", "are not the requested", tags=("deposit_tx",))
async def deposit_amount_changed(k: Kit) -> str:
    tx = k.f.deposit(k.f.me, 5_000)
    dep = (k.f.dep(k.f.me, 5_000),)
    return await _deposit(k, lambda: k.f.sign_request("deposit_tx", k.f.signed(tx), dep))


@attack("own deposit", "disagrees with its update", tags=("deposit_tx",))
async def deposit_tx_bigger_than_its_update(k: Kit) -> str:
    tx = k.f.deposit(k.f.me, 50_000, balances=k.f.after([k.f.dep(k.f.me, 500)]))
    dep = (k.f.dep(k.f.me, 500),)
    return await _deposit(k, lambda: k.f.sign_request("deposit_tx", k.f.signed(tx), dep))


@attack("own deposit", "are not the requested", tags=("deposit_tx",))
async def deposit_with_an_extra_transfer(k: Kit) -> str:
    moves = (k.f.dep(k.f.me, 500), k.f.pay(k.f.me, k.f.them, 30_000))
    tx = k.f.deposit(k.f.me, 500, balances=k.f.after(moves))
    return await _deposit(k, lambda: k.f.sign_request("deposit_tx", k.f.signed(tx), moves))


@attack("own withdraw", "above the cap", tags=("withdraw_tx",))
async def withdraw_fee_raised(k: Kit) -> str:
    tx = k.f.withdraw(k.f.me, 500, fee=HUGE_FEE)
    wd = (k.f.wd(k.f.me, 500),)
    return await _withdraw(k, lambda: k.f.sign_request("withdraw_tx", k.f.signed(tx), wd))


@attack("own withdraw", "are not the requested", tags=("withdraw_tx",))
async def withdraw_to_the_peer(k: Kit) -> str:
    tx = k.f.withdraw(k.f.them, 500)
    wd = (k.f.wd(k.f.them, 500),)
    return await _withdraw(k, lambda: k.f.sign_request("withdraw_tx", k.f.signed(tx), wd))


@attack("own withdraw", "state hash does not match", tags=("withdraw_tx",))
async def withdraw_hash_takes_more(k: Kit) -> str:
    wd = (k.f.wd(k.f.me, 500),)
    tx = k.f.withdraw(k.f.me, 500, balances=k.f.after([k.f.wd(k.f.me, 50_000)]))
    return await _withdraw(k, lambda: k.f.sign_request("withdraw_tx", k.f.signed(tx), wd))


def _shutdown(k: Kit, tx: txs.ChannelCloseMutualTx) -> Awaitable[str]:
    return k.own(
        lambda: k.session.shutdown(),
        "channels.shutdown",
        lambda: k.f.sign_request("shutdown_sign", k.f.signed(tx)),
    )


def _finals(k: Kit, ours: int, theirs: int) -> dict[str, int]:
    if k.f.victim_role == "initiator":
        return {"initiator_amount_final": ours, "responder_amount_final": theirs}
    return {"initiator_amount_final": theirs, "responder_amount_final": ours}


@attack("own shutdown", "close gives us 0", tags=("shutdown_sign",))
async def shutdown_gives_us_nothing(k: Kit) -> str:
    total = sum(k.f.balances.values())
    return await _shutdown(k, k.f.close(k.f.me, 20_000, **_finals(k, 0, total - 20_000)))


@attack("own shutdown", "above the cap", tags=("shutdown_sign",))
async def shutdown_whole_channel_as_fee(k: Kit) -> str:
    total = sum(k.f.balances.values())
    return await _shutdown(k, k.f.close(k.f.me, total, **_finals(k, 0, 0)))


@attack("own shutdown", "as closer", tags=("shutdown_sign",))
async def shutdown_closer_is_the_peer(k: Kit) -> str:
    return await _shutdown(k, k.f.close(k.f.them))


@attack("own shutdown", "sum to", tags=("shutdown_sign",))
async def shutdown_amounts_do_not_add_up(k: Kit) -> str:
    total = sum(k.f.balances.values())
    return await _shutdown(k, k.f.close(k.f.me, 20_000, **_finals(k, 1, total)))


# -- what the peer proposes ------------------------------------------------------------------


def _ack(k: Kit, moves: tuple[upd.Update, ...], *keys: Keypair, **kw: Any) -> dict[str, Any]:
    signers = keys or (k.f.peer,)
    return k.f.sign_request("update_ack", k.f.signed(k.f.offchain(moves, **kw), *signers), moves)


@attack("peer proposal", "lowers our balance by 5,000", tags=("update_ack",))
async def peer_takes_our_coins(k: Kit) -> str:
    k.push(_ack(k, (k.f.pay(k.f.me, k.f.them, 5_000),)))
    return await k.refused()


@attack("peer proposal", "lowers our balance", role="responder", tags=("update_ack",))
async def peer_takes_the_responders_coins(k: Kit) -> str:
    k.push(_ack(k, (k.f.pay(k.f.me, k.f.them, 5_000),)))
    return await k.refused()


@attack("peer proposal", "has not signed it", tags=("update_ack",))
async def peer_proposal_unsigned(k: Kit) -> str:
    moves = (k.f.pay(k.f.them, k.f.me, 5_000),)
    k.push(k.f.sign_request("update_ack", k.f.signed(k.f.offchain(moves)), moves))
    return await k.refused()


@attack("peer proposal", "has not signed it", tags=("update_ack",))
async def peer_signed_for_another_network(k: Kit) -> str:
    moves = (k.f.pay(k.f.them, k.f.me, 5_000),)
    tx = k.f.signed(k.f.offchain(moves), k.f.peer, network_id="ae_mainnet")
    k.push(k.f.sign_request("update_ack", tx, moves))
    return await k.refused()


@attack("peer proposal", "non-participant", tags=("update_ack",))
async def peer_pays_a_third_party(k: Kit) -> str:
    k.push(_ack(k, (k.f.pay(k.f.me, Keypair.generate().address, 5_000),)))
    return await k.refused()


@attack("peer proposal", "state hash does not match", tags=("update_ack",))
async def peer_gift_whose_hash_takes(k: Kit) -> str:
    gift = (k.f.pay(k.f.them, k.f.me, 5_000),)
    taken = k.f.after((k.f.pay(k.f.me, k.f.them, 60_000),))
    k.push(_ack(k, gift, balances=taken))
    return await k.refused()


@attack("peer proposal", "does not follow our round", tags=("update_ack",))
async def peer_gift_for_an_old_round(k: Kit) -> str:
    k.push(_ack(k, (k.f.pay(k.f.them, k.f.me, 5_000),), round_=k.f.round))
    return await k.refused()


@attack("peer proposal", "as caller", tags=("update_ack",))
async def peer_contract_call_in_our_name(k: Kit) -> str:
    # the peer proposes a call that we make (and pay 10,000 for)
    call = upd.OffChainCallContract(
        caller=Id.from_api(k.f.me),
        contract=Id.contract(bytes(32)),
        abi_version=3,
        amount=10_000,
        gas=10_000,
        gas_price=1_000_000_000,
        call_data=b"",
        call_stack=(),
    )
    k.push(_ack(k, (call,), balances=dict(k.f.balances)))
    return await k.refused()


@attack("peer proposal", "names", tags=("deposit_ack",))
async def peer_deposit_in_our_name(k: Kit) -> str:
    dep = (k.f.dep(k.f.me, 500),)
    tx = k.f.signed(k.f.deposit(k.f.me, 500), k.f.peer)
    k.push(k.f.sign_request("deposit_ack", tx, dep))
    return await k.refused()


@attack("peer proposal", "exactly one", tags=("deposit_ack",))
async def peer_deposit_with_an_extra_transfer(k: Kit) -> str:
    moves = (k.f.dep(k.f.them, 500), k.f.pay(k.f.me, k.f.them, 30_000))
    tx = k.f.signed(k.f.deposit(k.f.them, 500, balances=k.f.after(moves)), k.f.peer)
    k.push(k.f.sign_request("deposit_ack", tx, moves))
    return await k.refused()


@attack("peer proposal", "state hash does not match", tags=("withdraw_ack",))
async def peer_withdrawal_taken_from_us(k: Kit) -> str:
    wd = (k.f.wd(k.f.them, 500),)
    tx = k.f.withdraw(k.f.them, 500, balances=k.f.after([k.f.wd(k.f.me, 500)]))
    k.push(k.f.sign_request("withdraw_ack", k.f.signed(tx, k.f.peer), wd))
    return await k.refused()


@attack("peer proposal", "names", tags=("withdraw_ack",))
async def peer_withdrawal_in_our_name(k: Kit) -> str:
    wd = (k.f.wd(k.f.me, 500),)
    k.push(k.f.sign_request("withdraw_ack", k.f.signed(k.f.withdraw(k.f.me, 500), k.f.peer), wd))
    return await k.refused()


def _peer_close(k: Kit, tx: txs.ChannelCloseMutualTx, signed: bool = True) -> dict[str, Any]:
    keys = (k.f.peer,) if signed else ()
    return k.f.sign_request("shutdown_sign_ack", k.f.signed(tx, *keys))


@attack("peer proposal", "close gives us 0", tags=("shutdown_sign_ack",))
async def peer_close_gives_us_nothing(k: Kit) -> str:
    total = sum(k.f.balances.values())
    k.push(_peer_close(k, k.f.close(k.f.them, 20_000, **_finals(k, 0, total - 20_000))))
    return await k.refused()


@attack("peer proposal", "close gives us", role="responder", tags=("shutdown_sign_ack",))
async def peer_close_fee_paid_by_us(k: Kit) -> str:
    total, mine = sum(k.f.balances.values()), k.f.balances[k.f.me]
    fee = 2 * 20_000
    k.push(_peer_close(k, k.f.close(k.f.them, fee, **_finals(k, mine - fee, total - mine))))
    return await k.refused()


@attack("peer proposal", "above the cap", tags=("shutdown_sign_ack",))
async def peer_close_whole_channel_as_fee(k: Kit) -> str:
    total = sum(k.f.balances.values())
    k.push(_peer_close(k, k.f.close(k.f.them, total, **_finals(k, 0, 0))))
    return await k.refused()


@attack("peer proposal", "sum to", tags=("shutdown_sign_ack",))
async def peer_close_amounts_do_not_add_up(k: Kit) -> str:
    total = sum(k.f.balances.values())
    k.push(_peer_close(k, k.f.close(k.f.them, 0, **_finals(k, 1, total))))
    return await k.refused()


@attack("peer proposal", "has not signed it", tags=("shutdown_sign_ack",))
async def peer_close_unsigned(k: Kit) -> str:
    k.push(_peer_close(k, k.f.close(k.f.them), signed=False))
    return await k.refused()


# -- create txs ------------------------------------------------------------------------------


async def _create(k: Kit, tag: str, tx: txs.ChannelCreateTx, *keys: Keypair) -> str:
    """A new channel's create tx, to a fresh session of the victim (same recorder)."""
    script = type(k.script)()
    await script.start()
    session = Session(
        k.f.victim_role,  # type: ignore[arg-type]
        k.session.params,
        k.f.victim,
        network_id=NET,
        timeout=STEP,
        recorder=k.session.recorder,
        **script.session_options(),
    )
    try:
        script.push(k.f.info("fsm_up", fsm_id="ba_new"))
        await session.connect()
        script.push(k.f.sign_request(tag, k.f.signed(tx, *keys), channel=None))
        event = await session.wait_for(ev.Refused, STEP)
        assert isinstance(event, ev.Refused)
        assert session.round is None and session.offchain_tx is None
    finally:
        await session.close()
        await script.stop()
        k.script.sent += script.sent  # checked for our signatures with the rest
    return "; ".join(event.problems)


@attack("create", "above the cap", tags=("initiator_sign",), then_honest=False)
async def create_fee_raised(k: Kit) -> str:
    return await _create(k, "initiator_sign", k.f.create_tx(fee=HUGE_FEE))


@attack("create", "ttl", tags=("initiator_sign",), then_honest=False, options={"ttl": 500})
async def create_ttl_changed(k: Kit) -> str:
    return await _create(k, "initiator_sign", k.f.create_tx(ttl=77))


@attack("create", "nonce", tags=("initiator_sign",), then_honest=False, options={"nonce": 1})
async def create_nonce_changed(k: Kit) -> str:
    return await _create(k, "initiator_sign", k.f.create_tx(nonce=7))


@attack("create", "delegate_ids", tags=("initiator_sign",), then_honest=False)
async def create_with_delegates(k: Kit) -> str:
    thief = Id.account(Keypair.generate().public_key)
    return await _create(k, "initiator_sign", k.f.create_tx(initiator_delegate_ids=(thief,)))


@attack("create", "state hash does not match", tags=("initiator_sign",), then_honest=False)
async def create_with_a_hidden_push(k: Kit) -> str:
    pushed = {k.f.ikey.address: 0, k.f.rkey.address: 110_000}
    from chan_nb.client.ledger import state_hash_of

    return await _create(k, "initiator_sign", k.f.create_tx(state_hash=state_hash_of(pushed)))


@attack("create", "responder_amount", role="responder", tags=("responder_sign",), then_honest=False)
async def create_greedy_amounts(k: Kit) -> str:
    return await _create(k, "responder_sign", k.f.create_tx(responder_amount=1), k.f.ikey)


@attack("create", "lock_period", role="responder", tags=("responder_sign",), then_honest=False)
async def create_lock_period_changed(k: Kit) -> str:
    return await _create(k, "responder_sign", k.f.create_tx(lock_period=1), k.f.ikey)


@attack(
    "create", "has not signed it", role="responder", tags=("responder_sign",), then_honest=False
)
async def create_not_signed_by_the_initiator(k: Kit) -> str:
    return await _create(k, "responder_sign", k.f.create_tx())


# -- the channel id --------------------------------------------------------------------------


@attack("channel id", "is not this channel", tags=("update_ack",))
async def another_channel_named_then_proposed(k: Kit) -> str:
    k.push(k.f.info("open", OTHER_CHANNEL))
    gift = (k.f.pay(k.f.them, k.f.me, 5_000),)
    k.push(
        k.f.sign_request(
            "update_ack",
            k.f.signed(k.f.offchain(gift, channel=OTHER_CHANNEL), k.f.peer),
            gift,
            channel=OTHER_CHANNEL,
        )
    )
    return await k.refused()


@attack("channel id", "not this channel", tags=())
async def state_of_another_channel(k: Kit) -> str:
    gift = (k.f.pay(k.f.them, k.f.me, 5_000),)
    other = k.f.cosigned(k.f.offchain(gift, channel=OTHER_CHANNEL))
    k.push(k.f.update(other, channel=OTHER_CHANNEL))
    return await k.untrusted()


# -- states the node sends -------------------------------------------------------------------


@attack("state", "not signed by", tags=())
async def forged_unsigned_update(k: Kit) -> str:
    theft = (k.f.pay(k.f.me, k.f.them, k.f.balances[k.f.me]),)
    k.push(k.f.update(k.f.signed(k.f.offchain(theft))))
    return await k.untrusted()


@attack("state", "not signed by", tags=())
async def state_signed_by_the_peer_only(k: Kit) -> str:
    theft = (k.f.pay(k.f.me, k.f.them, 10_000),)
    k.push(k.f.update(k.f.signed(k.f.offchain(theft), k.f.peer)))
    return await k.untrusted()


@attack("state", "replayed state", tags=())
async def replayed_round_one(k: Kit) -> str:
    k.push(k.f.update(k.f.cosigned(k.f.create)))
    return await k.untrusted()


def _ga_claimed(tx: txs.Tx, *accounts: Keypair) -> txs.SignedTx:
    """``tx`` wrapped in meta txs that claim to be ``accounts``' authorisations (no key used)."""
    signed = txs.SignedTx.wrap(tx)
    for account in accounts:
        meta = txs.GaMetaTx(
            ga_id=Id.account(account.public_key),
            auth_data=b"",
            abi_version=3,
            fee=0,
            gas=0,
            gas_price=0,
            tx=signed.serialize(),
        )
        signed = txs.SignedTx.wrap(meta)
    return signed


@attack("state", "not signed by", tags=())
async def state_authorised_by_forged_meta_txs(k: Kit) -> str:
    # neither party is a generalized account: a meta tx naming one is not its signature
    theft = (k.f.pay(k.f.me, k.f.them, k.f.balances[k.f.me]),)
    k.push(k.f.update(_ga_claimed(k.f.offchain(theft), k.f.victim, k.f.peer)))
    return await k.untrusted()


@attack("peer proposal", "has not signed it", tags=("update_ack",))
async def peer_proposal_authorised_by_a_forged_meta_tx(k: Kit) -> str:
    moves = (k.f.pay(k.f.them, k.f.me, 5_000),)
    k.push(k.f.sign_request("update_ack", _ga_claimed(k.f.offchain(moves), k.f.peer), moves))
    return await k.refused()


@attack("state", "a second round", tags=())
async def second_state_for_our_round(k: Kit) -> str:
    # a different state for the round we hold, signed by both (an old double-signing)
    other = k.f.offchain((k.f.pay(k.f.me, k.f.them, 7),), round_=k.f.round)
    k.push(k.f.update(k.f.cosigned(other)))
    return await k.untrusted()


@attack("state", "not signed by", tags=())
async def leave_with_a_forged_state(k: Kit) -> str:
    theft = (k.f.pay(k.f.me, k.f.them, 10_000),)
    forged = k.f.signed(k.f.offchain(theft), k.f.peer)
    k.push(
        {
            "jsonrpc": "2.0",
            "method": "channels.leave",
            "params": {"channel_id": k.f.channel, "data": {"state": forged.to_api()}},
            "version": 1,
        }
    )
    return await k.untrusted()


@attack("state", "replayed state", tags=())
async def offchain_state_reply_rolls_back(k: Kit) -> str:
    task = asyncio.ensure_future(k.session.offchain_state())
    asked = await k.script.wait_sent("channels.get.offchain_state")
    old = k.f.cosigned(k.f.create).to_api()
    k.push(
        {
            "jsonrpc": "2.0",
            "id": asked["id"],
            "version": 1,
            "result": {"signed_tx": old, "half_signed_tx": "", "trees": "", "calls": ""},
        }
    )
    await asyncio.wait_for(task, STEP)
    return await k.untrusted()


@attack("state", "do not hash to our verified state", tags=())
async def balance_reply_lies(k: Kit) -> str:
    task = asyncio.ensure_future(k.session.get_balances())
    asked = await k.script.wait_sent("channels.get.balances")
    total = sum(k.f.balances.values())
    lie = [{"account": k.f.me, "balance": 0}, {"account": k.f.them, "balance": total}]
    k.push({"jsonrpc": "2.0", "id": asked["id"], "version": 1, "result": lie})
    await asyncio.wait_for(task, STEP)
    return await k.untrusted()


# -- dispute txs nobody asked for ------------------------------------------------------------


def _solo(k: Kit, cls: type[txs.Tx], **extra: Any) -> txs.Tx:
    base: dict[str, Any] = {
        "channel_id": k.f.channel_id_obj(),
        "from_id": Id.from_api(k.f.me),
        "ttl": 0,
        "fee": 20_000,
        "nonce": 5,
    }
    base.update(extra)
    return cls(**base)


def _unasked(tag: str, make: Callable[[Kit], txs.Tx]) -> Run:
    async def run(k: Kit) -> str:
        k.push(k.f.sign_request(tag, k.f.signed(make(k))))
        return await k.refused()

    run.__name__ = f"unasked_{tag}"
    return run


for _tag, _make in (
    ("close_solo_sign", lambda k: _solo(k, txs.ChannelCloseSoloTx, payload=b"", poi=b"")),
    ("slash_tx", lambda k: _solo(k, txs.ChannelSlashTx, payload=b"", poi=b"")),
    (
        "settle_sign",
        lambda k: _solo(
            k, txs.ChannelSettleTx, initiator_amount_final=0, responder_amount_final=109_000
        ),
    ),
    ("snapshot_solo_tx", lambda k: _solo(k, txs.ChannelSnapshotSoloTx, payload=b"")),
    (
        "force_progress_tx",
        lambda k: _solo(
            k,
            txs.ChannelForceProgressTx,
            payload=b"",
            round=9,
            update=b"",
            state_hash=bytes(32),
            offchain_trees=b"",
        ),
    ),
):
    attack("dispute", "nothing was asked", tags=(_tag,))(_unasked(_tag, _make))


# -- hostile frames --------------------------------------------------------------------------


@attack("hostile frame", "unparsed", tags=())
async def json_nested_100000_deep(k: Kit) -> str:
    k.script.push_raw("[" * 100_000 + "]" * 100_000)
    await k.session.wait_for(ev.Unparsed, STEP, since=k.mark)
    return "unparsed frame survived"


@attack("hostile frame", "undecodable", tags=("update_ack",))
async def garbage_sign_request(k: Kit) -> str:
    data = {"signed_tx": "tx_garbage", "updates": []}
    k.push(notification("channels.sign.update_ack", k.f.channel, data))
    return await k.refused()


@attack("hostile frame", "over the", tags=(), then_honest=False)
async def frame_over_the_size_limit(k: Kit) -> str:
    k.script.push_raw(json.dumps({"jsonrpc": "2.0", "method": "x", "pad": "a" * 9_000_000}))
    await k.session.wait_for(ev.Closed, STEP, since=k.mark)
    (error,) = [e for e in k.session.errors if isinstance(e, FrameTooLarge)]
    return str(error)


# -- the runner ------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "socket"])
async def kind(request: pytest.FixtureRequest) -> Any:
    return request.param


@pytest.mark.parametrize("case", ATTACKS, ids=[a.name for a in ATTACKS])
async def test_attack(case: Attack, kind: str) -> None:
    script: MemoryScript = MemoryScript() if kind == "memory" else SocketScript()
    await script.start()
    forge = Forge(case.role)
    params = forge.params.with_(**case.options) if case.options else forge.params
    forge.params = params
    session = await open_victim(forge, script)
    try:
        await honest_transfer(forge, script, session, 1_000)  # a round 2 to defend
        before = view(session)
        sent_before = len(script.sent)
        kit = Kit(forge, script, session, session.mark())
        reason = await asyncio.wait_for(case.run(kit), STEP)
        assert case.expect in reason, reason
        assert "\n" not in reason
        leaked = list(signatures_of(script.sent[sent_before:], forge.me))
        assert leaked == [], f"{case.name}: a valid signature of ours left the client"
        assert view(session) == before
        if case.tags or "state" in case.category:
            notes = [f.raw for f in session.recorder.frames if f.direction is Direction.INFO]
            assert any("refused" in n for n in notes), notes
        if case.then_honest:
            await honest_transfer(forge, script, session, 1)  # no rollback, no second round
            assert session.round == before[0] + 1
    finally:
        await session.close()
        await script.stop()


def test_there_are_at_least_40_attacks_on_every_sign_tag_and_category() -> None:
    assert len(ATTACKS) >= 40
    answered = {tag for a in ATTACKS for tag in a.tags}
    assert answered == set(RULES), set(RULES) - answered
    assert {a.category for a in ATTACKS} >= {
        "own transfer",
        "own deposit",
        "own withdraw",
        "own shutdown",
        "peer proposal",
        "create",
        "channel id",
        "state",
        "dispute",
        "hostile frame",
    }
    # the raised fees are above the default cap for any channel tx (gas < 100,000)
    assert DEFAULT_MAX_FEE is None and DEFAULT_MAX_GAS_PRICE * 100_000 < HUGE_FEE


def test_a_meta_tx_stands_for_a_signature_only_for_an_account_said_to_be_generalized() -> None:
    from chan_nb.client.ledger import signed_by

    f = Forge("initiator")
    claimed = _ga_claimed(f.offchain((f.pay(f.them, f.me, 5),)), f.peer)
    assert not signed_by(claimed, f.them, NET)
    assert signed_by(claimed, f.them, NET, frozenset({f.them}))
    assert not signed_by(claimed, f.me, NET, frozenset({f.them}))  # names only the peer
