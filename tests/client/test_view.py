"""The client's own view of the channel, its signing rules, and a property test of them.

Pure: a :class:`ClientProtocol` fed frames and :func:`policy.decide` given requests,
no event loop. The property test takes a valid signing request, mutates its tx or its
updates at random, and checks the client signs exactly when nothing changed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chan_nb.client import Recorder, Session
from chan_nb.client import events as ev
from chan_nb.client import policy as pol
from chan_nb.client.core import ClientProtocol
from chan_nb.codec import txs
from chan_nb.codec import updates as upd
from chan_nb.codec.ids import Id
from chan_nb.codec.keys import Keypair
from tests.client.attack_kit import NET, Forge, MemoryScript, open_victim

# one channel for the whole module (key generation and hashing are the slow parts)
FORGE = Forge("initiator")
ME, PEER = FORGE.me, FORGE.them
THIRD = Keypair.generate().address


def request(tag: str, signed: txs.SignedTx, updates: tuple[upd.Update, ...]) -> ev.SignRequest:
    return ev.SignRequest(
        {}, FORGE.channel, tag, signed.to_api(), tuple(u.to_dict() for u in updates)
    )


def context(**changes: Any) -> pol.Context:
    base = pol.Context(
        role="initiator",
        own=ME,
        network_id=NET,
        params=FORGE.params,
        channel_id=FORGE.channel,
        round=FORGE.round,
        balances=dict(FORGE.balances),
    )
    return dataclasses.replace(base, **changes)


# -- the valid requests the property test starts from ------------------------------------------

TRANSFER = (FORGE.pay(ME, PEER, 1_000),)
OWN_UPDATE = (
    FORGE.offchain(TRANSFER),
    TRANSFER,
    "update",
    pol.Expectation.transfer(ME, PEER, 1_000),
)
GIFT = (FORGE.pay(PEER, ME, 2_500),)
PEER_UPDATE = (FORGE.offchain(GIFT), GIFT, "update_ack", None)
DEPOSIT = (FORGE.dep(ME, 700),)
OWN_DEPOSIT = (
    FORGE.deposit(ME, 700, fee=30_000, nonce=2, ttl=0),
    DEPOSIT,
    "deposit_tx",
    pol.Expectation.deposit(ME, 700, fee=30_000, nonce=2, ttl=0),
)
PEER_DEPOSIT = (FORGE.deposit(PEER, 700), (FORGE.dep(PEER, 700),), "deposit_ack", None)
PEER_WITHDRAW = (FORGE.withdraw(PEER, 700), (FORGE.wd(PEER, 700),), "withdraw_ack", None)
PEER_CLOSE = (FORGE.close(PEER), (), "shutdown_sign_ack", None)
BASES = (OWN_UPDATE, PEER_UPDATE, OWN_DEPOSIT, PEER_DEPOSIT, PEER_WITHDRAW, PEER_CLOSE)


def decide(tx: txs.Tx, updates: tuple[upd.Update, ...], tag: str, asked: Any) -> pol.Decision:
    own = tag in pol.OWN_TAGS
    # a hostile peer signs whatever the node makes of its proposal
    signed = FORGE.signed(tx) if own else FORGE.signed(tx, FORGE.peer)
    expected = {tag: asked} if asked is not None else {}
    return pol.decide(
        pol.SigningPolicy(), request(tag, signed, updates), context(expected=expected)
    )


@pytest.mark.parametrize("base", BASES, ids=[b[2] for b in BASES])
def test_every_valid_base_request_is_signed(base: Any) -> None:
    decision = decide(*base)
    assert decision.sign, decision.problems


#: Fields a mutation may change, per tx type: everything the request pins down. For the
#: peer's own deposit/withdraw/close, its fee, nonce and ttl are the peer's business (the
#: peer pays the fee; the close fee split is checked by the amounts).
PINNED: dict[type[txs.Tx], tuple[str, ...]] = {
    txs.ChannelOffchainTx: ("channel_id", "round", "state_hash"),
    txs.ChannelDepositTx: ("channel_id", "from_id", "amount", "state_hash", "round"),
    txs.ChannelWithdrawTx: ("channel_id", "to_id", "amount", "state_hash", "round"),
    txs.ChannelCloseMutualTx: (
        "channel_id",
        "from_id",
        "initiator_amount_final",
        "responder_amount_final",
        "fee",
    ),
}
OWN_EXTRA = ("fee", "nonce", "ttl")  # pinned too when we asked for them

accounts = st.sampled_from([ME, PEER, THIRD])
amounts = st.one_of(st.integers(0, 10**6), st.integers(0, 10**18))


def values_for(name: str) -> st.SearchStrategy[Any]:
    if name == "channel_id":
        return st.binary(min_size=32, max_size=32).map(Id.channel)
    if name in ("from_id", "to_id"):
        return accounts.map(Id.from_api)
    if name == "state_hash":
        return st.binary(min_size=32, max_size=32)
    if name == "round":
        return st.integers(0, 6)
    return amounts


updates_strategy = st.lists(
    st.one_of(
        st.builds(lambda a, b, n: FORGE.pay(a, b, n), accounts, accounts, amounts),
        st.builds(lambda a, n: FORGE.dep(a, n), accounts, amounts),
        st.builds(lambda a, n: FORGE.wd(a, n), accounts, amounts),
        st.builds(lambda text: upd.OffChainMeta(text.encode()), st.text(max_size=8)),
    ),
    max_size=3,
).map(tuple)


@st.composite
def mutations(draw: st.DrawFn) -> tuple[Any, txs.Tx, tuple[upd.Update, ...]]:
    base = draw(st.sampled_from(BASES))
    tx, updates, tag, _ = base
    fields = PINNED[type(tx)] + (OWN_EXTRA if tag in pol.OWN_TAGS and tag != "update" else ())
    what = draw(st.sampled_from(("field", "field", "updates", "one update")))
    if what == "field":
        name = draw(st.sampled_from(fields))
        tx = dataclasses.replace(tx, **{name: draw(values_for(name))})  # type: ignore[type-var]
    elif what == "updates":
        updates = draw(updates_strategy)
    elif updates:
        index = draw(st.integers(0, len(updates) - 1))
        one = updates[index]
        names = ["from_id", "to_id", "amount"] if isinstance(one, upd.OffChainTransfer) else []
        names += ["from_id"] if isinstance(one, upd.OffChainDeposit) else []
        names += ["to_id"] if isinstance(one, upd.OffChainWithdrawal) else []
        name = draw(st.sampled_from(names or ["amount"]))
        one = dataclasses.replace(one, **{name: draw(values_for(name))})  # type: ignore[type-var]
        updates = (*updates[:index], one, *updates[index + 1 :])
    return base, tx, updates


# derandomized: the same 400 mutations on every run (a property test must not flake)
@settings(
    max_examples=400,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(mutations())
def test_a_mutated_request_is_signed_only_when_nothing_changed(
    mutated: tuple[Any, txs.Tx, tuple[upd.Update, ...]],
) -> None:
    base, tx, updates = mutated
    original_tx, original_updates, tag, asked = base
    unchanged = tx == original_tx and updates == original_updates
    decision = decide(tx, updates, tag, asked)
    assert decision.sign == unchanged, (tag, decision.problems, tx, updates)


# -- the change, as people read it -------------------------------------------------------------


def test_the_change_reads_as_what_signing_does() -> None:
    forge = Forge("responder", initiator_amount=70_000, responder_amount=40_000)
    moves = (forge.pay(forge.me, forge.them, 1_000),)
    signed = forge.signed(forge.offchain(moves), forge.peer)
    req = ev.SignRequest({}, forge.channel, "update_ack", signed.to_api(), (moves[0].to_dict(),))
    ctx = pol.Context(
        role="responder",
        own=forge.me,
        network_id=NET,
        params=forge.params,
        channel_id=forge.channel,
        round=1,
        balances=dict(forge.balances),
    )
    found = pol.verdict(req, ctx)
    assert found.change is not None
    assert found.change.describe() == (
        f"you pay 1,000 to {forge.them[:10]}…: your balance 40,000 → 39,000; fee 0"
    )
    assert found.problems == ()
    assert found.concerns == (
        "the peer's update_ack lowers our balance by 1,000 (needs a user rule or approval)",
    )
    # a user rule sees the typed change and may accept it; the default refuses
    assert not pol.decide(pol.SigningPolicy(), req, ctx).sign
    small = pol.SigningPolicy(
        allow=lambda c: c.before is not None and c.after is not None and c.before - c.after <= 1_000
    )
    assert pol.decide(small, req, ctx).sign
    stingy = pol.SigningPolicy(allow=lambda c: c.after == c.before)
    assert not pol.decide(stingy, req, ctx).sign


def test_a_fair_close_is_signed_and_an_unfair_one_is_not() -> None:
    tx = FORGE.close(PEER)
    assert decide(tx, (), "shutdown_sign_ack", None).sign
    # we pay the whole fee while the peer can pay its half: refused
    mine, theirs = FORGE.balances[ME], FORGE.balances[PEER]
    unfair = dataclasses.replace(
        tx, initiator_amount_final=mine - 20_000, responder_amount_final=theirs
    )
    decision = decide(unfair, (), "shutdown_sign_ack", None)
    assert not decision.sign and "our share 10,000" in decision.problems[0]


def test_dispute_tags_are_signed_only_when_asked() -> None:
    solo = txs.ChannelSnapshotSoloTx(
        channel_id=FORGE.channel_id_obj(),
        from_id=Id.from_api(ME),
        payload=FORGE.latest.serialize(),
        ttl=0,
        fee=20_000,
        nonce=4,
    )
    req = request("snapshot_solo_tx", FORGE.signed(solo), ())
    latest = FORGE.latest.to_api()
    unasked = pol.decide(pol.SigningPolicy(), req, context(state=latest))
    assert unasked.problems == ("nothing was asked that needs snapshot_solo_tx",)
    asked = {"snapshot_solo_tx": pol.Expectation("snapshot_solo_tx")}
    assert pol.decide(pol.SigningPolicy(), req, context(state=latest, expected=asked)).sign
    other = FORGE.cosigned(FORGE.offchain(TRANSFER)).to_api()  # not the payload's state
    stale = pol.decide(pol.SigningPolicy(), req, context(state=other, expected=asked))
    assert stale.problems == ("snapshot_solo_tx payload is not our latest co-signed state",)


# -- the verified view -------------------------------------------------------------------------


def fresh_core() -> tuple[Forge, ClientProtocol]:
    forge = Forge("initiator")
    core = ClientProtocol("initiator", params=forge.params, network_id=NET)
    core.opened(
        "ws://x/channel?" + "&".join(f"{k}={v}" for k, v in forge.params.query("initiator").items())
    )
    return forge, core


def feed(core: ClientProtocol, frame: dict[str, Any]) -> list[ev.Event]:
    return core.receive(json.dumps(frame))


def test_the_view_moves_forward_on_verified_states_only() -> None:
    forge, core = fresh_core()
    (first,) = feed(core, forge.update(forge.latest))
    assert isinstance(first, ev.StateUpdate)
    assert core.round == 1 and core.channel_id == forge.channel and core.channel_id_fixed
    # a round-2 state co-signed, with the updates seen in its signing request
    moves = (forge.pay(forge.me, forge.them, 10),)
    tx = forge.offchain(moves)
    feed(core, forge.sign_request("update", forge.signed(tx), moves))
    feed(core, forge.update(forge.advance(tx, moves)))
    assert core.round == 2 and core.balances == forge.balances
    view = (core.round, core.balances, core.offchain_tx)
    for hostile in (
        forge.update(forge.cosigned(forge.create)),  # a replay
        forge.update(forge.signed(forge.offchain((), balances={forge.me: 0, forge.them: 1}))),
        forge.update(
            forge.cosigned(forge.offchain((), round_=2, balances={forge.me: 1, forge.them: 0}))
        ),
    ):
        (event,) = feed(core, hostile)
        assert isinstance(event, ev.Untrusted) and event.reason
        assert (core.round, core.balances, core.offchain_tx) == view
    # the same state again (a reestablish) is fine
    (same,) = feed(core, forge.update(forge.latest))
    assert isinstance(same, ev.StateUpdate) and core.round == 2


def test_balance_replies_count_only_when_they_hash_to_the_verified_state() -> None:
    forge, core = fresh_core()
    feed(core, forge.update(forge.latest))
    assert core.balances == forge.balances
    out = core.request("channels.get.balances", {"accounts": [forge.me, forge.them]})
    lie = [{"account": forge.me, "balance": 0}, {"account": forge.them, "balance": 1}]
    result, note = feed(
        core, {"jsonrpc": "2.0", "id": out.call.rpc_id, "result": lie, "version": 1}
    )
    assert isinstance(result, ev.Result) and isinstance(note, ev.Untrusted)
    assert core.balances == forge.balances
    # after a round whose updates were not seen, the node's true balances restore them
    unseen = (forge.pay(forge.me, forge.them, 5),)
    feed(core, forge.update(forge.advance(forge.offchain(unseen), unseen)))
    assert core.round == 2 and core.balances is None
    out = core.request("channels.get.balances", {"accounts": [forge.me, forge.them]})
    truth = [{"account": a, "balance": b} for a, b in forge.balances.items()]
    feed(core, {"jsonrpc": "2.0", "id": out.call.rpc_id, "result": truth, "version": 1})
    assert core.balances == forge.balances


def test_the_channel_id_is_fixed_once() -> None:
    forge, core = fresh_core()
    other = Forge("initiator").channel
    feed(core, forge.info("channel_accept", None))
    feed(core, forge.update(forge.latest))
    feed(core, forge.info("closed_confirmed", other))
    assert core.channel_id == forge.channel
    (event,) = feed(core, forge.update(forge.cosigned(forge.offchain((), channel=other))))
    assert isinstance(event, ev.Untrusted) and "not this channel" in event.reason
    assert core.channel_id == forge.channel


# -- buffers and timeouts ----------------------------------------------------------------------


def test_the_recorder_is_complete_by_default_and_capped_on_request() -> None:
    full, capped = Recorder(), Recorder(max_frames=100)
    for n in range(1_000):
        full.received("initiator", f'{{"n": {n}}}', 1)
        capped.received("initiator", f'{{"n": {n}}}', 1)
    assert len(full) == 1_000 and full.dropped == 0
    assert len(capped) == 100 and capped.dropped == 900
    assert [f.seq for f in capped.frames] == list(range(901, 1_001))
    with pytest.raises(ValueError):
        Recorder(max_frames=0)


async def test_a_flood_of_frames_keeps_the_event_list_bounded() -> None:
    forge, script = Forge("initiator"), MemoryScript()
    session = await open_victim(forge, script, max_events=50)
    since = session.mark()
    for n in range(5_000):
        script.push(forge.info("noise", forge.channel, n=n))
    script.push(forge.info("the_end", forge.channel))
    await session.wait_for("the_end", 10)
    assert len(session.events) <= 100
    assert session.mark() > since + 5_000
    late = await session.wait_for("the_end", 1, since=since)  # the mark still finds it
    assert isinstance(late, ev.Info)
    await session.close()


class _Stuck(MemoryScript):
    """A node that never lets the socket close."""

    async def close(self) -> None:
        await asyncio.Event().wait()


async def test_disconnect_and_close_keep_to_their_timeout() -> None:
    forge, script = Forge("initiator"), _Stuck()
    session = await open_victim(forge, script)
    # generous outer bounds: the point is that these return at all, not how fast
    await asyncio.wait_for(session.disconnect(timeout=0.2), 5)
    assert not session.connected
    other = await open_victim(Forge("initiator"), _Stuck())
    await asyncio.wait_for(other.close(timeout=0.2), 5)
    assert not other.connected


async def test_a_session_survives_deep_json_and_reports_it() -> None:
    forge, script = Forge("initiator"), MemoryScript()
    session: Session = await open_victim(forge, script)
    since = session.mark()
    script.push_raw("{" + '"a":{' * 100_000 + "}" * 100_001)
    script.push(forge.info("after", forge.channel))
    await session.wait_for("after", 10)
    assert any(isinstance(e, ev.Unparsed) for e in session.events[since - session.mark() :])
    assert session.connected
    # the recording keeps the frame as it came, marked invalid, and still reads as a table
    df = session.frames
    deep = df[df["raw"].str.len() > 200_000]
    assert len(deep) == 1 and deep.iloc[0]["kind"] == "invalid"
    await session.close()


async def test_a_round_missed_is_recovered_from_a_balance_reply_before_acting() -> None:
    forge, script = Forge("initiator"), MemoryScript()
    session = await open_victim(forge, script)
    # a round co-signed while the client did not see its updates: balances unknown
    unseen = (forge.pay(forge.me, forge.them, 5),)
    mark = session.mark()
    script.push(forge.update(forge.advance(forge.offchain(unseen), unseen)))
    await session.wait_for(ev.StateUpdate, 5, since=mark)
    assert session.round == 2 and not session.balances.known
    since = len(script.sent)
    task = asyncio.ensure_future(session.transfer(forge.them, 10))
    asked = await script.wait_sent("channels.get.balances", since)
    truth = [{"account": a, "balance": b} for a, b in forge.balances.items()]
    script.push({"jsonrpc": "2.0", "id": asked["id"], "result": truth, "version": 1})
    await script.wait_sent("channels.update.new", since)
    assert session.balances == forge.balances  # the reply hashed to the verified state
    moves = (forge.pay(forge.me, forge.them, 10),)
    tx = forge.offchain(moves)
    script.push(forge.sign_request("update", forge.signed(tx), moves))
    await script.wait_sent("channels.update", since)
    script.push(forge.update(forge.advance(tx, moves)))
    await asyncio.wait_for(task, 5)
    assert session.round == 3 and session.balances == forge.balances
    await session.close()


async def test_manual_mode_queues_one_request_per_tag_and_describes_it() -> None:
    forge, script = Forge("initiator"), MemoryScript()
    session = await open_victim(forge, script)
    session.policy = pol.SigningPolicy(mode="manual")
    mark = session.mark()
    for amount in range(1, 201):  # a flood of proposals: only the latest one is pending
        moves = (forge.pay(forge.me, forge.them, amount),)
        script.push(
            forge.sign_request("update_ack", forge.signed(forge.offchain(moves), forge.peer), moves)
        )
    script.push(forge.info("the_end", forge.channel))
    await session.wait_for("the_end", 10, since=mark)
    (pending,) = session.pending_signatures
    mine = forge.balances[forge.me]
    assert pending.summary == (
        f"you pay 200 to {forge.them[:10]}…: your balance {mine:,} → {mine - 200:,}; fee 0"
        " — refused by the policy: the peer's update_ack lowers our balance by 200"
        " (needs a user rule or approval)"
    )
    assert pending.describe()["change"] == pending.summary.split(" — ")[0]
    await session.reject(pending)
    aborted = await script.wait_sent("channels.update_ack")
    assert aborted["params"] == {"error": pol.POLICY_ABORT_CODE}
    await session.close()


# -- what ends an action (pure) ----------------------------------------------------------------


def test_which_events_end_an_action_and_what_they_raise() -> None:
    from chan_nb.client import outcomes
    from chan_nb.client.errors import (
        ChannelClosed,
        ChannelConflict,
        ConnectionLost,
        PolicyViolation,
        UpdateAborted,
    )

    call = ev.Call("channels.update.new", {}, 1, 1)
    transfer = outcomes.Action(call, conflicts=True, tags=frozenset({"update"}))
    read = outcomes.Action(call, died=False)
    conflict = ev.Conflict({}, "ch", 2, "conflict", 1)
    refused = ev.Refused({}, "ch", "update", ("fee 9 is above the cap 1",), 147)
    other_refusal = ev.Refused({}, "ch", "update_ack", ("x",), 147)
    died = ev.Info({}, "ch", "died", None, {})
    aborted = ev.Info({}, "ch", "aborted_update", None, {})
    assert transfer.fails(conflict) and not read.fails(conflict)
    assert transfer.fails(refused) and not transfer.fails(other_refusal)
    assert transfer.fails(died) and not read.fails(died)
    assert transfer.fails(aborted) and not read.fails(aborted)
    assert isinstance(outcomes.failure(conflict, "i: t"), ChannelConflict)
    violation = outcomes.failure(refused, "i: t")
    assert isinstance(violation, PolicyViolation)
    assert (
        str(violation) == "refused to sign update (aborted with code 147): fee 9 is above the cap 1"
    )
    assert isinstance(outcomes.failure(aborted, "i: t"), UpdateAborted)
    assert isinstance(outcomes.failure(died, "i: t"), ChannelClosed)
    closed = outcomes.failure(ev.Closed({}, None, 1, True), "i: connect", connect=True)
    assert isinstance(closed, ConnectionLost)
    assert str(closed) == "i: connect: the socket was closed by the node before fsm_up"


async def test_an_open_fails_at_once_on_a_state_it_cannot_verify() -> None:
    from chan_nb.client import UntrustedState

    forge, script = Forge("initiator"), MemoryScript()
    session = Session(
        "initiator",
        forge.params,
        forge.victim,
        network_id=NET,
        timeout=5,
        **script.session_options(),
    )
    script.push(forge.info("fsm_up", fsm_id="ba_fsm"))
    await session.connect()
    opening = asyncio.ensure_future(session.open())
    script.push(forge.sign_request("initiator_sign", forge.signed(forge.create), channel=None))
    await script.wait_sent("channels.initiator_sign")
    # the "co-signed" create tx carries our signature only
    script.push(forge.update(forge.signed(forge.create, forge.ikey)))
    with pytest.raises(UntrustedState) as refused:
        await asyncio.wait_for(opening, 5)
    assert f"state not signed by {forge.them}" in str(refused.value)
    assert session.round is None and session.offchain_tx is None
    await session.close()


async def test_a_channel_id_named_before_the_create_tx_does_not_stick() -> None:
    forge, script = Forge("initiator"), MemoryScript()
    session = Session(
        "initiator",
        forge.params,
        forge.victim,
        network_id=NET,
        timeout=5,
        **script.session_options(),
    )
    script.push(forge.info("fsm_up", fsm_id="ba_fsm"))
    await session.connect()
    other = Forge("initiator").channel
    script.push(forge.info("channel_accept", other))  # a lie before anything is signed
    script.push(forge.sign_request("initiator_sign", forge.signed(forge.create), channel=None))
    await script.wait_sent("channels.initiator_sign")  # the real create tx is still signed
    mark = session.mark()
    script.push(forge.update(forge.latest))
    await session.wait_for(ev.StateUpdate, 5, since=mark)
    assert session.channel_id == forge.channel and session.core.channel_id_fixed
    await session.close()
