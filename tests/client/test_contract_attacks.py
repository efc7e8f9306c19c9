"""Contract rounds against a node that lies: the client runs every call itself first.

The victim holds a channel with the :data:`~chan_nb.codec.fate.examples.RACE21` game,
created by its own :meth:`Session.create_contract` (round 2: ``init`` run by the
client's own VM and found to give the node's state hash). Then the script — a node
and peer that hold both keys — answers the victim's requests, or proposes rounds, with
frames that are well-formed, correctly signed, and wrong: another call result, more gas,
the pot moved, another call, a call in our name. Each attack asserts the one-line
reason, that no valid signature of ours left the client, and that the client's view is
unchanged; an honest move follows, and its result is the one the client computed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, replace
from typing import Any

import pytest

from chan_nb.client import ClientError, Session, UntrustedState, vmstate
from chan_nb.client import contracts as cts
from chan_nb.client import events as ev
from chan_nb.codec import contracts as ct
from chan_nb.codec import encoding, txs
from chan_nb.codec import updates as upd
from chan_nb.codec.fate import Address, encode, encode_call
from chan_nb.codec.fate.examples import race21_code
from chan_nb.codec.ids import Id
from chan_nb.codec.trees import StateTrees
from chan_nb.recording import Direction
from tests.client.attack_kit import (
    STEP,
    Forge,
    MemoryScript,
    SocketScript,
    open_victim,
    refused_ask,
)
from tests.client.attack_kit import signatures_of as signatures

CODE = cts.code_bytes(race21_code())
POT = 10**15


class ContractForge(Forge):
    """The forge with the channel's whole state: rounds are run with the VM, as a node would."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.trees: StateTrees = vmstate.trees_of_balances(self.balances)
        self.contract = ""

    def run(self, updates: tuple[upd.Update, ...]) -> vmstate.RanRound:
        return vmstate.run_round(
            self.trees, updates, self.round + 1, parties=(self.ikey.address, self.rkey.address)
        )

    def tx(self, state_hash: bytes, round_: int | None = None) -> txs.ChannelOffchainTx:
        return txs.ChannelOffchainTx(
            channel_id=self.channel_id_obj(),
            round=self.round + 1 if round_ is None else round_,
            state_hash=state_hash,
        )

    def take(self, tx: txs.ChannelOffchainTx, ran: vmstate.RanRound) -> txs.SignedTx:
        self.trees = ran.trees
        self.balances = vmstate.participant_balances(ran.trees, self.balances)
        self.round = tx.round
        self.latest = self.cosigned(tx)
        return self.latest

    def play(self, who: str, n: int, amount: int = 0) -> upd.OffChainCallContract:
        return cts.call_contract_update(who, self.contract, encode_call("play", [n]), amount)


def with_call(ran: vmstate.RanRound, **changes: Any) -> bytes:
    """The state hash of ``ran`` with its one call object changed (a lie about the result)."""
    (call,) = ran.calls
    forged = replace(call, **changes)
    state = StateTrees(
        accounts=ran.trees.accounts,
        contracts=ran.trees.contracts,
        calls={forged.key: forged.serialize()},
    )
    return state.state_hash()


def with_balances(ran: vmstate.RanRound, moves: dict[bytes, int]) -> bytes:
    """The state hash of ``ran`` with some account balances changed."""
    accounts = dict(ran.trees.accounts)
    for key, delta in moves.items():
        old = ct_account(accounts[key])
        accounts[key] = replace(old, balance=old.balance + delta).serialize()
    return StateTrees(
        accounts=accounts, contracts=ran.trees.contracts, calls=ran.trees.calls
    ).state_hash()


def ct_account(raw: bytes) -> Any:
    from chan_nb.codec.trees import Account

    return Account.decode(raw)


@dataclass
class Kit:
    f: ContractForge
    script: MemoryScript
    session: Session
    mark: int = 0
    #: the view to keep, and where the attack's own frames start (after honest rounds)
    before: tuple[Any, ...] = ()
    sent_from: int = 0

    def push(self, frame: dict[str, Any]) -> None:
        self.script.push(frame)

    async def refused(self) -> str:
        event = await self.session.wait_for(ev.Refused, STEP, since=self.mark)
        assert isinstance(event, ev.Refused)
        return "; ".join(event.problems)

    async def own(
        self, start: Callable[[], Coroutine[Any, Any, Any]], method: str, answer: Callable[[], Any]
    ) -> str:
        """We ask for something; the node answers with ``answer()``; the ask must fail."""
        return str(await refused_ask(self.script, start, method, answer))

    async def read(
        self, start: Callable[[], Coroutine[Any, Any, Any]], method: str, result: Any
    ) -> str:
        """We read something; the node's reply disagrees with our own state."""
        since = len(self.script.sent)
        task = asyncio.ensure_future(start())
        try:
            asked = await self.script.wait_sent(method, since)
            self.push({"jsonrpc": "2.0", "id": asked["id"], "version": 1, "result": result})
            with pytest.raises(UntrustedState) as untrusted:
                await asyncio.wait_for(task, STEP)
        finally:
            task.cancel()
        return str(untrusted.value)


async def own_round(
    f: ContractForge,
    script: MemoryScript,
    start: Awaitable[Any],
    method: str,
    updates: tuple[upd.Update, ...],
) -> Any:
    """An honest round the victim asked for: the node's hash is the VM's."""
    task = asyncio.ensure_future(start)
    since = len(script.sent)
    await script.wait_sent(method, since)
    ran = f.run(updates)
    tx = f.tx(ran.state_hash)
    script.push(f.sign_request("update", f.signed(tx), updates))
    await script.wait_sent("channels.update", since)
    script.push(f.update(f.take(tx, ran)))
    return await asyncio.wait_for(task, STEP)


async def create_game(f: ContractForge, script: MemoryScript, session: Session) -> None:
    players = [Address.from_api(f.me), Address.from_api(f.them)]
    created = await own_round(
        f,
        script,
        session.create_contract(race21_code(), "init", players, deposit=POT),
        "channels.update.new_contract",
        (cts.new_contract_update(f.me, CODE, encode_call("init", players), POT),),
    )
    assert isinstance(created, cts.ContractCreated) and created.round == 2
    f.contract = created.contract_id
    assert created.init is not None and created.init.verified and created.init.ok
    assert session.balances == f.balances and session.balances[f.me] == f.initiator_amount - POT


def view(session: Session) -> tuple[Any, ...]:
    trees = session.core.ledger.trees
    return (
        session.round,
        dict(session.balances),
        session.offchain_tx,
        None if trees is None else trees.state_hash(),
    )


Run = Callable[[Kit], Awaitable[str]]
ATTACKS: list[tuple[str, str, Run]] = []


def attack(expect: str) -> Callable[[Run], Run]:
    def register(run: Run) -> Run:
        ATTACKS.append((run.__name__, expect, run))
        return run

    return register


# -- our own call, answered with a lie ---------------------------------------------------------


def _own_call(k: Kit, answer: Callable[[], Any], n: int = 3) -> Awaitable[str]:
    return k.own(
        lambda: k.session.call_contract(k.f.contract, "play", [n]),
        "channels.update.call_contract",
        answer,
    )


def _request(k: Kit, updates: tuple[upd.Update, ...], state_hash: bytes, **kw: Any) -> Any:
    return k.f.sign_request("update", k.f.signed(k.f.tx(state_hash, **kw)), updates)


@attack("state hash does not match the state our own run")
async def call_result_is_another_value(k: Kit) -> str:
    play = (k.f.play(k.f.me, 3),)
    lie = with_call(k.f.run(play), return_value=encode(21))  # "you reached 21"
    return await _own_call(k, lambda: _request(k, play, lie))


@attack("state hash does not match the state our own run")
async def call_used_more_gas(k: Kit) -> str:
    play = (k.f.play(k.f.me, 3),)
    ran = k.f.run(play)
    lie = with_call(ran, gas_used=ran.calls[0].gas_used + 1)
    return await _own_call(k, lambda: _request(k, play, lie))


@attack("state hash does not match the state our own run")
async def call_said_to_revert(k: Kit) -> str:
    play = (k.f.play(k.f.me, 3),)
    lie = with_call(k.f.run(play), return_type=2, return_value=encode("not your turn"))
    return await _own_call(k, lambda: _request(k, play, lie))


@attack("state hash does not match the state our own run")
async def call_moves_the_pot_to_the_peer(k: Kit) -> str:
    play = (k.f.play(k.f.me, 3),)
    pot = encoding.decode(k.f.contract, "ct")
    lie = with_balances(k.f.run(play), {pot: -POT, encoding.decode(k.f.them, "ak"): POT})
    return await _own_call(k, lambda: _request(k, play, lie))


@attack("are not the requested")
async def call_answered_with_another_move(k: Kit) -> str:
    other = (k.f.play(k.f.me, 1),)
    return await _own_call(k, lambda: _request(k, other, k.f.run(other).state_hash))


@attack("are not the requested")
async def call_answered_with_an_amount(k: Kit) -> str:
    paid = (k.f.play(k.f.me, 3, amount=5_000),)
    return await _own_call(k, lambda: _request(k, paid, k.f.run(paid).state_hash))


@attack("does not follow our round")
async def call_for_an_old_round(k: Kit) -> str:
    play = (k.f.play(k.f.me, 3),)
    return await _own_call(k, lambda: _request(k, play, k.f.run(play).state_hash, round_=2))


# -- the peer's moves ---------------------------------------------------------------------------


def _ack(k: Kit, updates: tuple[upd.Update, ...], state_hash: bytes) -> Any:
    return k.f.sign_request("update_ack", k.f.signed(k.f.tx(state_hash), k.f.peer), updates)


async def _peer_moved_first(k: Kit) -> None:
    """The victim moved first (round 3); now it is the peer's turn."""
    play = (k.f.play(k.f.me, 3),)
    call = await own_round(
        k.f,
        k.script,
        k.session.call_contract(k.f.contract, "play", [3]),
        "channels.update.call_contract",
        play,
    )
    assert call.verified and call.value == 3
    k.mark = k.session.mark()
    k.before, k.sent_from = view(k.session), len(k.script.sent)


@attack("state hash does not match the state our own run")
async def peer_move_whose_hash_takes_the_pot(k: Kit) -> str:
    await _peer_moved_first(k)
    move = (k.f.play(k.f.them, 3),)
    pot = encoding.decode(k.f.contract, "ct")
    lie = with_balances(k.f.run(move), {pot: -POT, encoding.decode(k.f.them, "ak"): POT})
    k.push(_ack(k, move, lie))
    return await k.refused()


@attack("ends in revert: not your turn")
async def peer_moves_out_of_turn(k: Kit) -> str:
    move = (k.f.play(k.f.them, 3),)  # it is our turn: the contract refuses the move
    k.push(_ack(k, move, k.f.run(move).state_hash))
    return await k.refused()


@attack("ends in revert: take 1, 2 or 3")
async def peer_takes_five(k: Kit) -> str:
    await _peer_moved_first(k)
    move = (k.f.play(k.f.them, 5),)
    k.push(_ack(k, move, k.f.run(move).state_hash))
    return await k.refused()


@attack("as owner")
async def peer_creates_a_contract_paid_by_us(k: Kit) -> str:
    players = [Address.from_api(k.f.them), Address.from_api(k.f.me)]
    new = (cts.new_contract_update(k.f.me, CODE, encode_call("init", players), 5_000),)
    k.push(_ack(k, new, bytes(32)))
    return await k.refused()


@attack("as caller")
async def peer_plays_our_move(k: Kit) -> str:
    move = (k.f.play(k.f.me, 3),)
    k.push(_ack(k, move, k.f.run(move).state_hash))
    return await k.refused()


@attack("gas price")
async def peer_move_at_a_huge_gas_price(k: Kit) -> str:
    await _peer_moved_first(k)
    move = (replace(k.f.play(k.f.them, 3), gas_price=10**15),)
    k.push(_ack(k, move, bytes(32)))
    return await k.refused()


@attack("unknown_contract")
async def peer_calls_a_contract_that_is_not_there(k: Kit) -> str:
    await _peer_moved_first(k)
    move = (replace(k.f.play(k.f.them, 3), contract=Id.contract(bytes(32))),)
    k.push(_ack(k, move, bytes(32)))
    return await k.refused()


# -- reads that disagree with our state ----------------------------------------------------------


@attack("our own run gives")
async def dry_run_reply_lies(k: Kit) -> str:
    own = k.f.run((k.f.play(k.f.me, 3),)).calls[0]
    lie = replace(own, return_value=encode(21)).to_dict()
    return await k.read(
        lambda: k.session.dry_run(k.f.contract, "play", [3]),
        "channels.dry_run.call_contract",
        lie,
    )


@attack("is not the one we verified")
async def call_result_reply_lies(k: Kit) -> str:
    await _peer_moved_first(k)
    own = k.session.core.ledger.calls[k.f.round][0]
    lie = replace(own, gas_used=1).to_dict()
    return await k.read(
        lambda: k.session.call_result(k.f.contract),
        "channels.get.contract_call",
        lie,
    )


@attack("not the one in our verified state")
async def contract_store_reply_lies(k: Kit) -> str:
    pot = encoding.decode(k.f.contract, "ct")
    store = dict(k.f.trees.contract_store(pot))
    store[ct.register_key(1)] = encode(20)  # "the total is 20"
    reply = {
        "contract": {
            "id": k.f.contract,
            "owner_id": k.f.me,
            "vm_version": 7,
            "abi_version": 3,
            "active": True,
            "referrer_ids": [],
            "deposit": POT,
        },
        "contract_state": {
            encoding.encode("ck", key): encoding.encode("cv", value) for key, value in store.items()
        },
    }
    return await k.read(
        lambda: k.session.contract_state(k.f.contract), "channels.get.contract", reply
    )


# -- force progress --------------------------------------------------------------------------------


def _force(k: Kit, **changes: Any) -> Any:
    update = k.f.play(k.f.me, 3)
    update = replace(update, gas_price=10**9)
    ran = k.f.run((update,))
    fields: dict[str, Any] = {
        "channel_id": k.f.channel_id_obj(),
        "from_id": Id.from_api(k.f.me),
        "payload": k.f.latest.serialize(),
        "round": k.f.round + 1,
        "update": changes.pop("update", update).serialize(),
        "state_hash": ran.state_hash,
        "offchain_trees": k.f.trees.serialize(),
        "ttl": 0,
        "fee": 30_000 * 10**9,
        "nonce": 5,
    }
    fields.update(changes)
    tx = txs.ChannelForceProgressTx(**fields)
    return k.f.sign_request("force_progress_tx", k.f.signed(tx), [update])


async def _forced(k: Kit, **changes: Any) -> str:
    return await k.own(
        lambda: k.session.force_progress(k.f.contract, "play", [3], gas_price=10**9),
        "channels.force_progress",
        lambda: _force(k, **changes),
    )


@attack("state hash does not match the state our own run")
async def force_progress_with_another_result(k: Kit) -> str:
    return await _forced(k, state_hash=bytes(32))


@attack("is not the call we asked")
async def force_progress_of_another_move(k: Kit) -> str:
    other = replace(k.f.play(k.f.me, 1), gas_price=10**9)
    return await _forced(k, update=other)


@attack("do not hash to our latest state")
async def force_progress_on_other_trees(k: Kit) -> str:
    other = vmstate.trees_of_balances({k.f.me: 1, k.f.them: 2})
    return await _forced(k, offchain_trees=other.serialize())


@attack("payload is not our latest")
async def force_progress_on_an_old_state(k: Kit) -> str:
    return await _forced(k, payload=k.f.cosigned(k.f.create).serialize())


# -- the runner ----------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "socket"])
async def kind(request: pytest.FixtureRequest) -> Any:
    return request.param


async def _game(kind: str) -> tuple[ContractForge, MemoryScript, Session]:
    script: MemoryScript = MemoryScript() if kind == "memory" else SocketScript()
    await script.start()
    forge = ContractForge("initiator")
    session = await open_victim(forge, script)
    await create_game(forge, script, session)
    return forge, script, session


@pytest.mark.parametrize("case", ATTACKS, ids=[a[0] for a in ATTACKS])
async def test_contract_attack(case: tuple[str, str, Run], kind: str) -> None:
    name, expect, run = case
    forge, script, session = await _game(kind)
    try:
        kit = Kit(forge, script, session, session.mark(), view(session), len(script.sent))
        reason = await asyncio.wait_for(run(kit), 2 * STEP)
        assert expect in reason, reason
        assert "\n" not in reason
        leaked = list(signatures(script.sent[kit.sent_from :], forge.me))
        assert leaked == [], f"{name}: a valid signature of ours left the client"
        assert view(session) == kit.before
        notes = [f.raw for f in session.recorder.frames if f.direction is Direction.INFO]
        refusals = [n for n in notes if "refused" in n]
        assert refusals or "reply" in name, notes
    finally:
        await session.close()
        await script.stop()


async def test_a_game_played_out_keeps_the_balances_known(kind: str) -> None:
    """Honest rounds: our moves and the peer's are verified, the pot's SPEND is ours."""
    forge, script, session = await _game(kind)
    try:
        mark = session.mark()
        total = 0
        for turn in range(14):
            mine = turn % 2 == 0
            n = 3 if total + 3 <= 21 else 21 - total
            if mine:
                call = await own_round(
                    forge,
                    script,
                    session.call_contract(forge.contract, "play", [n]),
                    "channels.update.call_contract",
                    (forge.play(forge.me, n),),
                )
                assert call.verified and call.value == total + n
            else:
                move = (forge.play(forge.them, n),)
                ran = forge.run(move)
                tx = forge.tx(ran.state_hash)
                since = len(script.sent)
                script.push(forge.sign_request("update_ack", forge.signed(tx, forge.peer), move))
                await script.wait_sent("channels.update_ack", since)
                script.push(forge.update(forge.take(tx, ran)))
                await session.wait_for(lambda e, r=tx.round: session.round == r, STEP, since=mark)
            total += n
            assert session.balances == forge.balances
            if total == 21:
                break
        # we reached 21 on our move: the pot came back to us through the contract
        assert total == 21 and session.balances[forge.me] == forge.initiator_amount
        assert session.core.ledger.trees is not None
        assert session.core.ledger.trees.state_hash() == forge.trees.state_hash()
        assert not [e for e in session.events if isinstance(e, ev.Refused | ev.Untrusted)]
    finally:
        await session.close()
        await script.stop()


async def test_dry_run_and_reads_agreeing_with_our_state_are_verified() -> None:
    forge, script, session = await _game("memory")
    try:
        kit = Kit(forge, script, session)
        own = forge.run((forge.play(forge.me, 2),)).calls[0]
        task = asyncio.ensure_future(session.dry_run(forge.contract, "play", [2]))
        asked = await script.wait_sent("channels.dry_run.call_contract")
        kit.push({"jsonrpc": "2.0", "id": asked["id"], "version": 1, "result": own.to_dict()})
        call = await asyncio.wait_for(task, STEP)
        assert call.verified and call.value == 2 and call.round == 3
        with pytest.raises(ClientError, match="answered"):
            since = len(script.sent)
            task = asyncio.ensure_future(session.dry_run(forge.contract, "play", [2]))
            asked = await script.wait_sent("channels.dry_run.call_contract", since)
            kit.push({"jsonrpc": "2.0", "id": asked["id"], "version": 1, "result": {"x": 1}})
            await asyncio.wait_for(task, STEP)
    finally:
        await session.close()
        await script.stop()


def test_every_contract_attack_is_listed_once() -> None:
    names = [a[0] for a in ATTACKS]
    assert len(names) == len(set(names)) >= 20
