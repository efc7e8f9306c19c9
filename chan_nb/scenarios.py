"""Scripted channel sessions between two local participants, recorded as they run.

Each scenario is a short async function over a :class:`Stage` (where it runs: an
embedded node or a node URL, one shared recorder, and — on the embedded node — control
over when blocks are made). They re-enact sessions of the node's own test suite:

* ``basic_client_reconnect_r`` — the seed session (shipped as sample data): the
  responder disconnects, the initiator's update meets a conflict, a co-signed retry
  goes through, bad reconnect attempts are rejected, the responder reconnects, the
  responder closes mutually;
* ``basic_client_reconnect_i`` — its mirror image (the initiator disconnects);
* ``open_transfer_close`` — open, bad and good transfers both ways, mutual close;
* ``leave_reestablish`` — leave, reestablish (responder first), transfers, close;
* ``conflict`` — both sides propose an update at once, twice;
* ``dispute`` — the responder vanishes and posts a stale close out of band; the
  initiator closes solo, slashes and settles (embedded node only).

:func:`run_scenario` runs one and returns its recording; ``chan-nb demo`` prints it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from chan_nb.client import events as ev
from chan_nb.client.errors import ChannelConflict, ClientError, NodeError
from chan_nb.client.pair import new_pair, pair_params
from chan_nb.client.recorder import Recorder
from chan_nb.client.session import Session
from chan_nb.client.transport import MemoryTransport
from chan_nb.codec import encoding
from chan_nb.codec.keys import Keypair
from chan_nb.errors import ChanNbError
from chan_nb.protocol import methods

if TYPE_CHECKING:
    from chan_nb.node import EmbeddedNode
    from chan_nb.recording import SessionLog

#: The seed session shipped with the package.
SEED_FILE: Final = Path(__file__).parent / "data" / "sc_ws_basic_client_reconnect_r.txt"


class ScenarioError(ChanNbError):
    """The node did not behave as the scenario's recording says it should."""


class Miner:
    """Block production for an embedded node started with ``block_interval=None``.

    ``hold()`` stops blocks (so steps can happen while a tx waits for confirmations, as
    in the recordings); ``release()`` lets them flow again; ``mine(n)`` makes n now.
    """

    def __init__(self, node: EmbeddedNode, interval: float = 0.005) -> None:
        self.node = node
        self.interval = interval
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="miner")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def hold(self) -> None:
        self._flowing.clear()

    def release(self) -> None:
        self._flowing.set()

    def mine(self, blocks: int = 1) -> None:
        self.node.mine(blocks)

    async def _run(self) -> None:
        while True:
            await self._flowing.wait()
            self.node.mine(1)
            await asyncio.sleep(self.interval)


@dataclass
class Stage:
    """Where a scenario runs and what it has recorded so far."""

    target: EmbeddedNode | str
    network_id: str | None = None
    memory: bool = False
    timeout: float = 10.0
    miner: Miner | None = None
    recorder: Recorder = field(default_factory=Recorder)
    steps: list[str] = field(default_factory=list)
    keys: tuple[Keypair, Keypair] | None = None  # funded keys (a real node needs them)
    sessions: list[Session] = field(default_factory=list)

    def pair(self, **terms: Any) -> tuple[Session, Session]:
        """Two sessions (initiator, responder) on this stage, with channel terms overrides."""
        ikey, rkey = self.keys or (Keypair.generate(), Keypair.generate())
        options: dict[str, Any] = {"timeout": self.timeout}
        if self.memory:
            from chan_nb.node import EmbeddedNode

            if not isinstance(self.target, EmbeddedNode):
                raise ValueError("the memory transport needs an embedded node")
            options["transport"] = MemoryTransport(self.target)
        i, r = new_pair(
            self.target,
            initiator_key=ikey,
            responder_key=rkey,
            params=pair_params(ikey, rkey, **terms),
            network_id=self.network_id,
            recorder=self.recorder,
            **options,
        )
        self.sessions += [i, r]
        return i, r

    def step(self, text: str) -> None:
        """Note what the scenario does next (shown in the demo's summary)."""
        self.steps.append(text)

    @contextlib.contextmanager
    def blocks_held(self) -> Iterator[None]:
        """No blocks inside (embedded node only; a real node's chain goes on)."""
        if self.miner is not None:
            self.miner.hold()
        try:
            yield
        finally:
            if self.miner is not None:
                self.miner.release()

    def mine(self, blocks: int = 1) -> None:
        if self.miner is not None:
            self.miner.mine(blocks)


ScenarioFunc = Callable[[Stage], Awaitable[None]]


@dataclass(frozen=True)
class Scenario:
    name: str
    summary: str
    run: ScenarioFunc
    recording: str | None = None  # the recorded session it re-enacts (under recordings/)


# -- building blocks ---------------------------------------------------------------------------


async def open_as_recorded(stage: Stage, i: Session, r: Session) -> None:
    """The recordings' opening block: connect both, and while the create tx waits for its
    confirmations exchange "Hello"/"Hello back" and read the balances, then wait for open."""
    stage.step("initiator and responder connect; the create tx is signed by both")
    with stage.blocks_held():
        await i.connect()
        await r.connect()
        await i.wait_for("on_chain_tx.funding_signed", include_past=True)
        await r.wait_for("on_chain_tx.funding_created", include_past=True)
        stage.mine(1)  # the create tx is included: both get channel_changed
        await i.wait_for("on_chain_tx.channel_changed", include_past=True)
        await r.wait_for("on_chain_tx.channel_changed", include_past=True)
        stage.step("while the create tx gets confirmations: messages and a balance read")
        await exchange_messages(i, r)
        await i.balances_of()
    await asyncio.gather(i.wait_open(), r.wait_open())
    stage.step(f"channel {i.channel_id} is open at round {i.round}")


async def exchange_messages(i: Session, r: Session) -> None:
    """ "Hello" from the initiator, "Hello back" from the responder."""
    mark = r.mark()
    await i.message(r.address, "Hello")
    await r.wait_for("channels.message", since=mark)
    mark = i.mark()
    await r.message(i.address, "Hello back")
    await i.wait_for("channels.message", since=mark)


async def expect_error(session: Session, method: str, params: Any, data_code: int) -> None:
    """Send an id-less request the node must reject with ``data_code``."""
    mark = session.mark()
    call = await session.send(method, params)
    reply = await session.wait_for(
        lambda e: isinstance(e, ev.ErrorReply) and e.answers is call, since=mark
    )
    assert isinstance(reply, ev.ErrorReply)
    if reply.data_code != data_code:
        raise ScenarioError(f"{method} {params}: expected error {data_code}, got {reply.data_code}")


async def transfer_expecting_conflict(
    stage: Stage, starter: Session, to: str, amount: int, **options: Any
) -> ChannelConflict:
    try:
        await starter.transfer(to, amount, **options)
    except ChannelConflict as conflict:
        stage.step(
            f"  -> conflict {conflict.error_code} {conflict.error_msg!r}, "
            f"the channel stays at round {conflict.round}"
        )
        return conflict
    raise ScenarioError(f"{starter.role}'s transfer should have met a conflict")


async def wait_round(session: Session, round_: int | None) -> None:
    """Until ``session`` has seen the state of ``round_`` (the peer's update comes a bit later)."""
    await session.wait_for(lambda e: session.round == round_, include_past=True)


def random_fsm_id() -> str:
    """A well-formed fsm id that belongs to nobody."""
    return encoding.encode("ba", os.urandom(32))


#: The recorded bad reconnect attempts: (existing_fsm_id or None, expected data code).
BAD_FSM_IDS: Final = ((None, 2000), ("Invalid", 1016), ("ba_0l8E77UMjdvRtTsx", 1016))


async def bad_reconnects(stage: Stage, session: Session) -> None:
    """Reconnect attempts the node must refuse: no fsm id, garbage, 8 bytes, someone else's."""
    attempts = [*BAD_FSM_IDS, (random_fsm_id(), 1016)]
    for fsm_id, code in attempts:
        shown = "no existing_fsm_id" if fsm_id is None else f"existing_fsm_id={fsm_id[:20]}"
        try:
            await session.reconnect(fsm_id, resync=False, offchain_tx=True, host=True)
        except NodeError as exc:
            if exc.data_code != code:
                raise ScenarioError(f"{shown}: expected {code}, got {exc.data_code}") from exc
            stage.step(f"{session.role} reconnects with {shown}: rejected {exc.data_code}")
            continue
        raise ScenarioError(f"{shown} was accepted")


async def mutual_close(stage: Stage, closer: Session, other: Session) -> None:
    stage.step(f"{closer.role} closes the channel mutually")
    await closer.shutdown()
    await other.wait_closed()
    stage.step("the close is confirmed on chain; both FSMs end")


# -- the scenarios ----------------------------------------------------------------------------


async def _client_reconnect(stage: Stage, away_role: str) -> None:
    i, r = stage.pair()
    await open_as_recorded(stage, i, r)
    away, actor = (r, i) if away_role == "responder" else (i, r)
    away_key = away.signer.keypair
    stage.step(f"{away.role} closes its socket; its FSM keeps running")
    await away.disconnect()
    stage.step(f"{actor.role} transfers 1 coin; {away.role}'s FSM cannot get it signed")
    await transfer_expecting_conflict(stage, actor, away.address, 1, reply_with_id=False)
    stage.step(f"{actor.role} retries, co-signing with {away.role}'s key too")
    state = await actor.transfer(away.address, 1, cosigners=[away_key], reply_with_id=False)
    stage.step(f"  -> round {state.round}, made while {away.role} was away")
    await bad_reconnects(stage, away)
    up = await away.reconnect(resync=False, offchain_tx=True, host=away.role == "initiator")
    stage.step(f"{away.role} reconnects with its fsm id: the same FSM ({up.fsm_id})")
    await mutual_close(stage, away, actor)


async def basic_client_reconnect_r(stage: Stage) -> None:
    """The seed session: the responder disconnects and later reconnects."""
    await _client_reconnect(stage, "responder")


async def basic_client_reconnect_i(stage: Stage) -> None:
    """The seed's mirror image: the initiator disconnects and later reconnects."""
    await _client_reconnect(stage, "initiator")


async def open_transfer_close(stage: Stage) -> None:
    """Open, five rounds of transfers (with rejected bad requests), mutual close."""
    i, r = stage.pair()
    await open_as_recorded(stage, i, r)
    for starter in (i, r, r, i, r):
        other = r if starter is i else i
        await i.balances_of()
        stage.step(f"{starter.role}: bad update.new requests are rejected")
        base = {"from": starter.address, "to": other.address, "amount": 1}
        await expect_error(starter, methods.UPDATE_NEW, {**base, "amount": "1"}, 1008)
        await expect_error(starter, methods.UPDATE_NEW, {**base, "from": "ABCDEF"}, 1005)
        await expect_error(starter, methods.UPDATE_NEW, {**base, "to": "ABCDEF"}, 1005)
        await expect_error(starter, methods.UPDATE_NEW, {**base, "meta": 17}, 1014)
        state = await starter.transfer(other.address, 1)
        await wait_round(other, state.round)
        stage.step(f"{starter.role} transfers 1 coin: round {state.round}")
        await i.balances_of()
        await i.offchain_state()
    await mutual_close(stage, i, r)


async def leave_reestablish(stage: Stage) -> None:
    """Leave, reestablish (the responder first), transfer both ways, close."""
    i, r = stage.pair()
    await open_as_recorded(stage, i, r)
    stage.step("initiator leaves: both FSMs stop, each node keeps the state")
    left = await i.leave()
    await r.wait_closed()
    stage.step(f"  -> state at round {left.round} kept")
    stage.step("responder reestablishes first, then the initiator")
    mark = r.mark()
    responder_back = asyncio.ensure_future(r.reestablish())
    await r.wait_for(lambda e: isinstance(e, ev.Info) and e.event == "fsm_up", since=mark)
    await asyncio.gather(responder_back, i.reestablish())
    stage.step(f"  -> open again with new fsm ids, round {i.round}")
    await i.balances_of()
    for starter in (i, r):
        other = r if starter is i else i
        state = await starter.transfer(other.address, 1)
        await wait_round(other, state.round)
        stage.step(f"{starter.role} transfers 1 coin: round {state.round}")
    await mutual_close(stage, i, r)


async def conflict(stage: Stage) -> None:
    """Both sides propose an update at the same time: each gets a conflict (twice)."""
    from chan_nb.client.policy import SigningPolicy

    i, r = stage.pair()
    await open_as_recorded(stage, i, r)
    for first, second, amounts in ((i, r, (1, 2)), (r, i, (1, 2))):
        stage.step(f"{first.role} and {second.role} both propose a transfer at once")
        # hold both signatures until both requests are in, as racing clients would
        for session in (first, second):
            session.policy = SigningPolicy(mode="manual")
        payer, payee = (i, r) if first is i else (r, i)
        tasks = [
            asyncio.ensure_future(first.transfer(payee.address, amounts[0], sender=payer.address)),
            asyncio.ensure_future(second.transfer(payee.address, amounts[1], sender=payer.address)),
        ]
        pending = [await s.wait_for_signature_request() for s in (first, second)]
        for session, item in zip((first, second), pending, strict=True):
            if item.problems:
                raise ScenarioError(f"{session.role} would not sign: {item.problems}")
            await session.approve(item)
        results = await asyncio.gather(*tasks, return_exceptions=True)
        for session, result in zip((first, second), results, strict=True):
            if not isinstance(result, ChannelConflict):
                raise ScenarioError(f"{session.role} expected a conflict, got {result!r}")
            stage.step(f"  -> {session.role}: conflict {result.error_code}, round {result.round}")
        for session in (first, second):
            session.policy = SigningPolicy()
    state = await i.transfer(r.address, 1)
    stage.step(f"afterwards a transfer goes through: round {state.round}")
    await wait_round(r, state.round)
    await mutual_close(stage, r, i)


async def dispute(stage: Stage) -> None:
    """The peer vanishes; solo close; the peer's stale close lands first; slash; settle."""
    from chan_nb.node import EmbeddedNode, stale_close_solo

    node = stage.target
    if not isinstance(node, EmbeddedNode):
        raise ScenarioError("the dispute scenario posts a tx out of band: embedded node only")
    i, r = stage.pair()
    await open_as_recorded(stage, i, r)
    stale_poi = await r.poi()  # all a cheater needs: a proof of the state on chain
    for _ in range(2):
        state = await r.transfer(i.address, 1_000)
        await wait_round(i, state.round)
    stage.step(f"two transfers to the initiator: round {i.round}; the responder vanishes")
    await r.disconnect()
    channel = encoding.decode(str(i.channel_id), "ch")
    with stage.blocks_held():
        cheat = stale_close_solo(
            node.core.chain, channel, r.signer.keypair, encoding.decode(stale_poi, "pi")
        )
        node.post_tx(cheat)
        stage.step(
            "the responder posts a close_solo on round 1 out of band; the initiator closes solo"
        )
        mark = i.mark()
        closing = asyncio.ensure_future(i.close_solo())
        await i.wait_for("sign.close_solo_sign", since=mark)
    report = await closing
    stage.step(f"  -> {report.info}: round 1 is on chain, the initiator holds round {i.round}")
    report = await i.slash()
    stage.step(f"the initiator slashes with round {i.round}: {report.info} ({report.tx_type})")
    report = await i.settle()
    stage.step(f"after the lock period the initiator settles: {report.info}")
    await i.wait_closed()
    stage.step("the settle is confirmed; the initiator's FSM ends")


SCENARIOS: Final[dict[str, Scenario]] = {
    s.name: s
    for s in (
        Scenario(
            "basic_client_reconnect_r",
            "the seed: responder disconnects, conflict, co-signed update, bad reconnects, close",
            basic_client_reconnect_r,
            "reconnect/sc_ws_basic_client_reconnect_r",
        ),
        Scenario(
            "basic_client_reconnect_i",
            "the seed's mirror: the initiator disconnects and comes back",
            basic_client_reconnect_i,
            "reconnect/sc_ws_basic_client_reconnect_i",
        ),
        Scenario(
            "open_transfer_close",
            "open, five transfer rounds with rejected bad requests, mutual close",
            open_transfer_close,
        ),
        Scenario(
            "leave_reestablish",
            "leave, reestablish (responder first), transfers, mutual close",
            leave_reestablish,
        ),
        Scenario(
            "conflict",
            "both sides propose an update at once, twice: conflicts, then a transfer",
            conflict,
        ),
        Scenario(
            "dispute",
            "the peer vanishes and cheats with an old state: close solo, slash, settle",
            dispute,
        ),
    )
}

DEFAULT_SCENARIO: Final = "basic_client_reconnect_r"


@dataclass
class ScenarioRun:
    """A finished (or failed) scenario run: its recording and its steps."""

    scenario: Scenario
    log: SessionLog
    steps: list[str]
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


async def run_on(stage: Stage, scenario: Scenario) -> ScenarioRun:
    """Run ``scenario`` on a prepared stage; every session is closed afterwards."""
    error: BaseException | None = None
    try:
        await scenario.run(stage)
    except (ChanNbError, ClientError, OSError, AssertionError) as exc:
        error = exc
        stage.step(f"FAILED: {type(exc).__name__}: {exc}")
    finally:
        await asyncio.gather(*(s.close() for s in stage.sessions), return_exceptions=True)
    return ScenarioRun(scenario, stage.recorder.log, stage.steps, error)


async def run_scenario(
    name: str = DEFAULT_SCENARIO,
    *,
    url: str | None = None,
    network_id: str | None = None,
    memory: bool = False,
    timeout: float = 10.0,
    keys: tuple[Keypair, Keypair] | None = None,
) -> ScenarioRun:
    """Run a scenario against a fresh embedded node (default) or the node at ``url``."""
    scenario = SCENARIOS.get(name)
    if scenario is None:
        raise KeyError(f"no scenario {name!r}; known: {', '.join(SCENARIOS)}")
    recorder = Recorder(name)
    if url is not None:
        stage = Stage(url, network_id=network_id, timeout=timeout, recorder=recorder, keys=keys)
        return await run_on(stage, scenario)
    from chan_nb.node import EmbeddedNode

    async with EmbeddedNode(block_interval=None, network_id=network_id) as node:
        miner = Miner(node)
        miner.start()
        stage = Stage(
            node, memory=memory, timeout=timeout, miner=miner, recorder=recorder, keys=keys
        )
        try:
            return await run_on(stage, scenario)
        finally:
            await miner.stop()
