"""One participant's channel session over a socket: awaitables for every channel action.

:class:`Session` wraps the pure :class:`~chan_nb.client.core.ClientProtocol` with a
transport, a background reader (which keeps recording and answering signing requests
while no notebook cell runs), a signer and a signing policy. Every awaitable has a
timeout whose message names what was awaited; node errors, conflicts and lost sockets
raise typed exceptions (:mod:`chan_nb.client.errors`).

Nothing here assumes the embedded node: a session speaks to any node by URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final

from chan_nb.client import contracts as cts
from chan_nb.client import events as ev
from chan_nb.client import outcomes
from chan_nb.client import policy as pol
from chan_nb.client.core import ClientProtocol, Outgoing, Status
from chan_nb.client.errors import (
    ClientError,
    ConnectionLost,
    NodeError,
    Timeout,
    UntrustedState,
)
from chan_nb.client.params import ChannelParams, Existing, Role, existing_url, open_url
from chan_nb.client.recorder import Recorder
from chan_nb.client.signer import Signer
from chan_nb.client.transport import (
    MAX_FRAME_BYTES,
    Connection,
    Disconnected,
    FrameTooLarge,
    MemoryTransport,
    Transport,
    WebSocketTransport,
)
from chan_nb.client.vmstate import ContractRunner
from chan_nb.codec.encoding import decode, encode
from chan_nb.codec.fate import CodeObject, FateCode, Value
from chan_nb.codec.keys import Keypair
from chan_nb.codec.signing import Preimage
from chan_nb.errors import ChanNbError, DecodeError
from chan_nb.protocol import methods

if TYPE_CHECKING:
    import pandas as pd

    from chan_nb.node import EmbeddedNode
    from chan_nb.recording import SessionLog

Json = Any
Predicate = Callable[[ev.Event], bool]

#: Default seconds any await may take.
DEFAULT_TIMEOUT: Final = 30.0
#: How long :meth:`Session.close` waits for the socket to close before dropping it.
CLOSE_WAIT: Final = 2.0
#: Events a session keeps in :attr:`Session.events` (twice this before trimming).
MAX_EVENTS: Final = 10_000


class _Latest:
    """Marker: "the latest fsm id this session received"."""

    def __repr__(self) -> str:
        return "LATEST"


LATEST: Final = _Latest()


@dataclass(frozen=True)
class IdStyle:
    """Which requests carry a JSON-RPC id (the node answers those with ``result``/``error``).

    The defaults are the node's own test suite's habits (so sessions reproduce the
    recordings): actions (``update.new``, ``deposit``, ``message``, ``shutdown`` …)
    without id, signing replies with one. Reads always carry an id.
    """

    actions: bool = False
    sign_replies: bool = True


class Balances(dict[str, int]):
    """Known balances (a dict) that can also be called to ask the node for fresh ones."""

    def __init__(self, session: Session, known: dict[str, int] | None) -> None:
        super().__init__(known or {})
        self.known = known is not None
        self._session = session

    async def __call__(
        self, accounts: Sequence[str] | None = None, timeout: float | None = None
    ) -> dict[str, int]:
        """``get.balances`` for the accounts (both participants by default)."""
        return await self._session.balances_of(accounts, timeout)

    def __repr__(self) -> str:
        return super().__repr__() if self.known else "Balances(unknown)"


@dataclass(frozen=True)
class OffchainState:
    """``channels.get.offchain_state``: the latest co-signed tx, a half-signed one, trees."""

    signed_tx: str
    half_signed_tx: str
    trees: str
    calls: str


@dataclass
class PendingSignature:
    """A signing request waiting for a person (manual mode), with what the checks found.

    ``problems`` are every reason the auto policy would not sign it; ``change`` is what
    signing would do (``change.describe()``: "you pay 1,000 to ak_…: your balance
    40,000 → 39,000; fee 0").
    """

    request: ev.SignRequest
    problems: tuple[str, ...]
    change: pol.Change | None = None

    @property
    def summary(self) -> str:
        """One line: the change, then why the policy would refuse it (if it would)."""
        what = self.change.describe() if self.change is not None else f"sign {self.tag}"
        return what if not self.problems else f"{what} — refused by the policy: {self.problems[0]}"

    @property
    def tag(self) -> str:
        return self.request.tag

    def describe(self) -> dict[str, Json]:
        """The request's transaction and updates as plain data (for widgets)."""
        try:
            tx = self.request.decoded().innermost.to_dict()
        except ClientError:
            tx = {}
        except ValueError as exc:
            tx = {"error": str(exc)}
        return {
            "tag": self.tag,
            "tx": tx,
            "updates": list(self.request.updates),
            "change": self.change.describe() if self.change is not None else None,
            "problems": list(self.problems),
        }


@dataclass
class _Waiter:
    predicate: Predicate
    future: asyncio.Future[ev.Event]
    action: outcomes.Action | None = None  # None: only the predicate (and a close) ends the wait
    closes_ok: bool = False  # a Closed event does not end the wait


class Session:
    """A channel participant (``initiator`` or ``responder``) talking to a node.

    Give it the channel terms (:class:`ChannelParams`), its key, and where the node is:
    ``node=`` an :class:`~chan_nb.node.EmbeddedNode` (its URL and network id are used)
    or ``url=`` plus ``network_id=``. ``transport=`` replaces the WebSocket transport
    (e.g. :class:`~chan_nb.client.transport.MemoryTransport`). Sessions sharing a
    ``recorder`` write one merged log.
    """

    def __init__(
        self,
        role: Role,
        params: ChannelParams,
        keypair: Keypair,
        *,
        url: str | None = None,
        node: EmbeddedNode | None = None,
        network_id: str | None = None,
        transport: Transport | None = None,
        recorder: Recorder | None = None,
        policy: pol.SigningPolicy | None = None,
        preimage: Preimage = "hashed",
        timeout: float = DEFAULT_TIMEOUT,
        ids: IdStyle | None = None,
        next_id: Callable[[], Json] | None = None,
        max_events: int = MAX_EVENTS,
        max_frame: int = MAX_FRAME_BYTES,
        vm: ContractRunner | None = None,
    ) -> None:
        if role not in ("initiator", "responder"):
            raise ValueError(f"role must be initiator or responder, got {role!r}")
        if params.party(role) != keypair.address:
            raise ValueError(
                f"the {role} of these params is {params.party(role)}, the key is {keypair.address}"
            )
        if node is not None:
            url = url or node.url
            network_id = network_id or node.network_id
        if url is None:
            raise ValueError("say where the node is: url=… or node=…")
        if network_id is None:
            raise ValueError("network_id is needed to sign for a node given by URL")
        self.role: Role = role
        self.params = params
        self.url = url
        self.signer = Signer(keypair, network_id, preimage)
        self.transport: Transport = transport or WebSocketTransport()
        self.recorder = recorder if recorder is not None else Recorder()
        self.policy = policy or pol.SigningPolicy()
        self.timeout = timeout
        self.ids = ids or IdStyle()
        self.core = ClientProtocol(
            role,
            params=params,
            next_id=next_id,
            network_id=network_id,
            generalized=self.policy.generalized,
            vm=vm,
        )
        #: the latest events (at most ``2 × max_events``; older ones are dropped)
        self.events: list[ev.Event] = []
        self.max_events = max_events
        #: frames longer than this close the socket (:class:`FrameTooLarge` in ``errors``)
        self.max_frame = max_frame
        self._events_dropped = 0
        self.pending_signatures: list[PendingSignature] = []
        self.closing_tx: str | None = None
        #: problems met while handling frames in the background (the reader goes on)
        self.errors: list[Exception] = []
        self._conn: Connection | None = None
        self._conn_no = 0
        self._reader: asyncio.Task[None] | None = None
        self._waiters: list[_Waiter] = []
        self._expected: dict[str, pol.Expectation] = {}
        self._cosigners: dict[str, tuple[Signer, ...]] = {}
        self._reply_ids: dict[str, bool] = {}
        self._listeners: list[Callable[[ev.Event], None]] = []

    # -- what can be read at any time ----------------------------------------------------------
    @property
    def address(self) -> str:
        """This participant's ``ak_``."""
        return self.signer.address

    @property
    def peer(self) -> str:
        return self.params.party("responder" if self.role == "initiator" else "initiator")

    @property
    def network_id(self) -> str:
        return self.signer.network_id

    @property
    def status(self) -> Status:
        return self.core.status

    @property
    def round(self) -> int | None:
        """Round of the latest co-signed state this session saw."""
        return self.core.round

    @property
    def balances(self) -> Balances:
        """Balances by ``ak_`` as this session knows them — and, called, as the node says.

        ``s.balances`` is a dict (``.known`` is False and it is empty when a missed round
        made them unknown); ``await s.balances()`` asks the node (``get.balances``).
        """
        return Balances(self, self.core.balances)

    @property
    def channel_id(self) -> str | None:
        return self.core.channel_id

    @property
    def expected_channel_id(self) -> str | None:
        """The id the channel gets, known from the create tx before the node names it."""
        return self.core.channel_id or self.core.expected_channel_id

    @property
    def fsm_id(self) -> str | None:
        """The latest fsm id received (the credential for reconnecting)."""
        return self.core.fsm_id

    @property
    def offchain_tx(self) -> str | None:
        """The latest co-signed state (keep it to reestablish or dispute)."""
        return self.core.offchain_tx

    @property
    def connected(self) -> bool:
        return self._conn is not None

    @property
    def log(self) -> SessionLog:
        """The recording this session writes to (both roles when the recorder is shared)."""
        return self.recorder.log

    @property
    def frames(self) -> pd.DataFrame:
        """The recording as a DataFrame (the recordings' frame schema)."""
        return self.recorder.df

    def on_event(self, listener: Callable[[ev.Event], None]) -> None:
        """Call ``listener`` with every event as it arrives (widgets use this)."""
        self._listeners.append(listener)

    def __repr__(self) -> str:
        return (
            f"<Session {self.role} {self.address[:12]}… {self.status.value} "
            f"round={self.round} channel={self.channel_id}>"
        )

    def _repr_html_(self) -> str:
        from chan_nb.client.display import session_html

        return session_html(self)

    # -- connecting ----------------------------------------------------------------------------
    async def connect(self, timeout: float | None = None) -> ev.Info:
        """Open a socket with the channel terms and wait for ``fsm_up`` (not for the channel)."""
        return await self._connect(open_url(self.url, self.params, self.role), "fsm_up", timeout)

    async def open(self, timeout: float | None = None) -> ev.StateUpdate:
        """Open the channel: connect, sign the create tx, wait until it is open (round 1).

        On a session that is already open this returns the state it opened with (the
        open may have finished while another coroutine was running). A session whose
        channel exists but whose socket is gone raises :class:`ConnectionLost`: use
        :meth:`reconnect` (or :meth:`reestablish`) — opening again would start a new
        channel.
        """
        done = self._open_state()
        if done is not None:
            return done
        if not self.connected and self.channel_id is not None:
            raise ConnectionLost(
                f"{self.role}: the socket is closed but channel {self.channel_id} exists; "
                "reconnect() or reestablish() instead of open()"
            )
        opened = self._expect(
            self._open_done,
            outcomes.Action(tags=frozenset({"initiator_sign", "responder_sign"}), states=True),
        )
        try:
            if not self.connected:
                await self.connect(timeout)
            event = await self._outcome(opened, "the channel to open", timeout)
        finally:
            self._drop(opened)
        assert isinstance(event, ev.StateUpdate)
        return event

    def _open_done(self, event: ev.Event) -> bool:
        return isinstance(event, ev.StateUpdate) and self.core.status is Status.OPEN

    def _open_state(self) -> ev.StateUpdate | None:
        """The latest co-signed state, if the channel is open on this socket."""
        if self.connected and self.status is Status.OPEN and self.round is not None:
            for event in reversed(self.events):
                if isinstance(event, ev.StateUpdate):
                    return event
        return None

    async def wait_open(self, timeout: float | None = None) -> ev.StateUpdate:
        """Wait until the channel is open (after :meth:`connect`)."""
        return await self.open(timeout)

    async def disconnect(self, timeout: float | None = None) -> None:
        """Close this socket. After the create tx was signed the node's FSM keeps running.

        Takes at most ``timeout`` seconds: a node that does not answer the close is
        dropped (the reader stops, the session counts as disconnected).
        """
        conn, reader = self._conn, self._reader
        if conn is None:
            return
        try:
            async with asyncio.timeout(self._limit(timeout)):
                await conn.close()
                if reader is not None:
                    await asyncio.shield(reader)
        except TimeoutError:
            await self._stop_reader()

    async def reconnect(
        self,
        fsm_id: str | _Latest | None = LATEST,
        *,
        channel_id: str | None = None,
        resync: bool = True,
        offchain_tx: bool = False,
        host: bool | None = None,
        timeout: float | None = None,
    ) -> ev.Info:
        """Attach a new socket to the running FSM (``existing_fsm_id``), wait for ``fsm_up``.

        ``fsm_id`` defaults to the latest one received; None leaves it out, any string is
        sent as is (the node rejects bad ones: :class:`NodeError` 2000 / 1016).
        ``channel_id`` defaults to :attr:`expected_channel_id` (so a session cut before
        the node named the channel can still come back to it).
        ``resync`` reads ``get.offchain_state`` afterwards, since nothing missed is
        replayed. ``offchain_tx`` adds the last co-signed state to the URL as the
        recorded tests did (current nodes ignore it).
        """
        url = self._existing_url(fsm_id, channel_id, offchain_tx, host)
        up = await self._connect(url, "fsm_up after reconnecting", timeout)
        if resync:
            await self.offchain_state(timeout=timeout)
        return up

    async def reestablish(
        self,
        fsm_id: str | _Latest | None = LATEST,
        *,
        channel_id: str | None = None,
        offchain_tx: bool = False,
        timeout: float | None = None,
    ) -> ev.StateUpdate:
        """Start a new FSM for a channel that was left (or whose FSM ended) and wait until open.

        The node answers ``fsm_up`` (a new fsm id), ``channel_reestablished``, ``open`` and
        the latest state. Reestablish the responder first.
        """
        url = self._existing_url(fsm_id, channel_id, offchain_tx, None)
        opened = self._expect(self._open_done, outcomes.Action(states=True))
        try:
            await self._connect(url, "fsm_up after reestablishing", timeout)
            event = await self._outcome(opened, "the reestablished channel to open", timeout)
        finally:
            self._drop(opened)
        assert isinstance(event, ev.StateUpdate)
        return event

    def _existing_url(
        self,
        fsm_id: str | _Latest | None,
        channel_id: str | None,
        offchain_tx: bool,
        host: bool | None,
    ) -> str:
        channel = channel_id or self.expected_channel_id
        if channel is None:
            raise ClientError("no channel id known yet: nothing to reconnect to")
        chosen = self.fsm_id if isinstance(fsm_id, _Latest) else fsm_id
        send_host = self.role == "initiator" if host is None else host
        existing = Existing(
            channel_id=channel,
            fsm_id=chosen,
            role=self.role,
            port=self.params.port,
            host=self.params.host if send_host else None,
            offchain_tx=self.offchain_tx if offchain_tx else None,
        )
        return existing_url(self.url, existing)

    async def attach(self, url: str, timeout: float | None = None) -> None:
        """Open a socket to exactly ``url`` and start reading; wait for nothing else.

        For experiments and replays: whatever the node answers arrives as events.
        """
        await self._open_socket(url, timeout)

    async def _open_socket(self, url: str, timeout: float | None) -> None:
        if self._conn is not None:
            raise ClientError(f"{self.role} is already connected; disconnect first")
        limit = self._limit(timeout)
        # recorded before connecting: the node acts on the socket (the peer may hear of it)
        # before connect() returns, and a cause must come before its effects in the log
        conn_no = self.recorder.opened(self.role, url)
        transport = self.transport
        if isinstance(transport, MemoryTransport) and transport.record_on_delivery:
            connecting = transport.connect(url, self._recording(conn_no))  # the node's order
        else:
            connecting = self.transport.connect(url)
        try:
            conn = await asyncio.wait_for(connecting, limit)
        except TimeoutError:
            self.recorder.closed(self.role, conn_no)
            raise Timeout(f"{self.role}: the socket to open", limit) from None
        except BaseException:
            self.recorder.closed(self.role, conn_no)
            raise
        self._conn = conn
        self._conn_no = conn_no
        self._emit(self.core.opened(url))
        self._reader = asyncio.get_running_loop().create_task(
            self._read(conn, self._conn_no), name=f"chan_nb {self.role} reader"
        )

    def _recording(self, conn_no: int) -> Callable[[str], None]:
        def record(text: str) -> None:
            self.recorder.received(self.role, text, conn_no)

        return record

    async def _connect(self, url: str, what: str, timeout: float | None) -> ev.Info:
        up = self._expect(
            lambda e: isinstance(e, ev.Info) and e.event == "fsm_up", outcomes.Action()
        )
        try:
            await self._open_socket(url, timeout)
            event = await self._outcome(up, f"{what} ({self.role})", timeout, connect=True)
        except NodeError:
            # the node closes the socket right after a connect-time error: record that first
            await self._await_reader(timeout)
            raise
        finally:
            self._drop(up)
        assert isinstance(event, ev.Info)
        return event

    async def _await_reader(self, timeout: float | None) -> None:
        reader = self._reader
        if reader is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(reader), self._limit(timeout))
        except TimeoutError:
            if self._conn is not None:
                await self._conn.close()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(reader), 1.0)

    # -- channel actions -----------------------------------------------------------------------
    async def transfer(
        self,
        to: str,
        amount: int,
        *,
        sender: str | None = None,
        meta: Sequence[str] = (),
        cosigners: Sequence[Keypair | Signer] = (),
        reply_with_id: bool | None = None,
        timeout: float | None = None,
    ) -> ev.StateUpdate:
        """Move ``amount`` to ``to`` off-chain; returns the new co-signed state.

        ``sender`` defaults to this participant (a participant may also start a transfer
        from the peer). ``cosigners`` add more signatures to this side's reply (the
        out-of-band co-signing the node accepts while the peer's client is away).
        Raises :class:`ChannelConflict` when the round is rolled back.
        """
        source = sender or self.address
        params: dict[str, Json] = {"from": source, "to": to, "amount": amount}
        if meta:
            params["meta"] = list(meta)
        try:
            expectation = pol.Expectation.transfer(source, to, amount, tuple(meta))
        except (DecodeError, TypeError, ValueError):
            # sent anyway so the node can say what is wrong; nothing could be signed for it
            expectation = pol.Expectation("update")
        return await self._round_action(
            methods.UPDATE_NEW,
            params,
            expectation,
            f"transfer of {amount} to {to[:12]}…",
            cosigners,
            reply_with_id,
            timeout,
        )

    async def deposit(
        self,
        amount: int,
        *,
        cosigners: Sequence[Keypair | Signer] = (),
        timeout: float | None = None,
        **options: int,
    ) -> ev.StateUpdate:
        """Deposit ``amount`` from this account into the channel (waits for it to lock).

        ``options`` are the optional ``fee``, ``gas_price``, ``nonce``.
        """
        expectation = pol.Expectation.deposit(self.address, amount, **options)
        return await self._round_action(
            methods.DEPOSIT,
            {"amount": amount, **options},
            expectation,
            f"deposit of {amount}",
            cosigners,
            None,
            timeout,
        )

    async def withdraw(
        self,
        amount: int,
        *,
        cosigners: Sequence[Keypair | Signer] = (),
        timeout: float | None = None,
        **options: int,
    ) -> ev.StateUpdate:
        """Withdraw ``amount`` from the channel to this account (waits for it to lock)."""
        expectation = pol.Expectation.withdraw(self.address, amount, **options)
        return await self._round_action(
            methods.WITHDRAW,
            {"amount": amount, **options},
            expectation,
            f"withdrawal of {amount}",
            cosigners,
            None,
            timeout,
        )

    # -- contracts -----------------------------------------------------------------------------
    async def create_contract(
        self,
        code: FateCode | CodeObject | bytes,
        init: str | bytes = "init",
        args: Sequence[Value] = (),
        *,
        deposit: int = 0,
        vm_version: int = cts.FATE_VM,
        abi_version: int = cts.FATE_ABI,
        timeout: float | None = None,
    ) -> cts.ContractCreated:
        """Create a contract in the channel (``update.new_contract``); waits for the round.

        ``code`` is assembled FATE code (:func:`chan_nb.codec.fate.assemble`), a code
        object or its bytes; ``init``/``args`` the init call (or call data as bytes).
        The signing policy runs ``init`` on this side's own copy of the state and signs
        only when the node's state hash is the one it computes. Returns the contract id,
        the round and ``init``'s verified call.
        """
        code_b = cts.code_bytes(code)
        data = cts.call_data(init, args)
        update = cts.new_contract_update(
            self.address, code_b, data, deposit, vm_version, abi_version
        )
        params: dict[str, Json] = {
            "vm_version": vm_version,
            "abi_version": abi_version,
            "deposit": deposit,
            "code": encode("cb", code_b),
            "call_data": encode("cb", data),
        }
        state = await self._round_action(
            methods.NEW_CONTRACT,
            params,
            pol.Expectation("update", (update,)),
            f"new contract (deposit {deposit})",
            (),
            None,
            timeout,
        )
        round_ = state.round or 0
        contract = update.contract_id(round_)
        init_call = self.core.ledger.verified_call(contract.value, update.owner.value, round_)
        return cts.ContractCreated(
            contract.api,
            round_,
            state.state,
            None if init_call is None else cts.ContractCall.of(init_call, verified=True),
        )

    async def call_contract(
        self,
        contract_id: str,
        function: str | bytes,
        args: Sequence[Value] = (),
        *,
        amount: int = 0,
        abi_version: int = cts.FATE_ABI,
        timeout: float | None = None,
    ) -> cts.ContractCall:
        """Call a contract in the channel (``update.call_contract``); waits for the round.

        Signed only when this side's own VM run gives the node's state hash; returns
        that run's call (decoded return value, gas, events). A call that fails
        (revert, error) still makes a round: its result says so.
        """
        data = cts.call_data(function, args)
        update = cts.call_contract_update(self.address, contract_id, data, amount, abi_version)
        params: dict[str, Json] = {
            "contract_id": contract_id,
            "abi_version": abi_version,
            "amount": amount,
            "call_data": encode("cb", data),
        }
        state = await self._round_action(
            methods.CALL_CONTRACT,
            params,
            pol.Expectation("update", (update,)),
            f"call of {_fun_name(function)} on {contract_id[:12]}…",
            (),
            None,
            timeout,
        )
        round_ = state.round or 0
        call = self.core.ledger.verified_call(update.contract.value, update.caller.value, round_)
        if call is None:
            raise UntrustedState(f"{self.role}: round {round_} holds no verified call of ours")
        return cts.ContractCall.of(call, verified=True)

    async def dry_run(
        self,
        contract_id: str,
        function: str | bytes,
        args: Sequence[Value] = (),
        *,
        amount: int = 0,
        abi_version: int = cts.FATE_ABI,
        timeout: float | None = None,
    ) -> cts.ContractCall:
        """What a call would return now (``dry_run.call_contract``; no round, nothing signed).

        When this side can run the call itself (a VM and a verified state) its own
        result is compared with the node's, and a difference raises
        :class:`UntrustedState`; the result is then marked ``verified``.
        """
        data = cts.call_data(function, args)
        params: dict[str, Json] = {
            "contract_id": contract_id,
            "abi_version": abi_version,
            "amount": amount,
            "call_data": encode("cb", data),
        }
        reply = await self.call(methods.DRY_RUN_CALL_CONTRACT, params, timeout=timeout)
        told = self._call_reply(reply, "dry_run.call_contract")
        update = cts.call_contract_update(self.address, contract_id, data, amount, abi_version)
        own = self.core.ledger.dry_run(update)
        if own is None:
            return told
        if own.serialize() != told.call.serialize():
            raise UntrustedState(
                f"{self.role}: dry run of {_fun_name(function)}: the node says "
                f"{told}, our own run gives {cts.ContractCall.of(own)}"
            )
        return cts.ContractCall.of(own, verified=True)

    async def call_result(
        self,
        contract_id: str,
        round_: int | None = None,
        *,
        caller: str | None = None,
        timeout: float | None = None,
    ) -> cts.ContractCall:
        """The call ``caller`` (us by default) made in ``round_`` (the latest by default).

        Asked of the node (``get.contract_call``); when this side verified that round's
        call itself, the node's answer must be the same (else :class:`UntrustedState`).
        """
        who = caller or self.address
        at = self.round if round_ is None else round_
        params = {"contract_id": contract_id, "caller_id": who, "round": at}
        reply = await self.call(methods.GET_CONTRACT_CALL, params, timeout=timeout)
        told = self._call_reply(reply, "get.contract_call")
        own = self.core.ledger.verified_call(
            decode(contract_id, "ct"), decode(who, "ak"), at if isinstance(at, int) else -1
        )
        if own is None:
            return told
        if own.serialize() != told.call.serialize():
            raise UntrustedState(
                f"{self.role}: the node's call of round {at} ({told}) is not the one we "
                f"verified ({cts.ContractCall.of(own)})"
            )
        return cts.ContractCall.of(own, verified=True)

    async def contract_state(
        self, contract_id: str, timeout: float | None = None
    ) -> cts.ContractState:
        """``get.contract``: the contract object and its store, checked against our state.

        When this side holds the verified trees, the node's store and deposit must be
        the ones in them (else :class:`UntrustedState`).
        """
        reply = await self.call(methods.GET_CONTRACT, {"pubkey": contract_id}, timeout=timeout)
        try:
            told = cts.ContractState.from_json(reply)
        except DecodeError as exc:
            raise ClientError(f"{self.role}: get.contract answered {exc}") from None
        own = self.core.ledger.contract(decode(contract_id, "ct"))
        if own is not None:
            obj, store = own
            if dict(told.store) != store or told.deposit != obj.deposit:
                raise UntrustedState(
                    f"{self.role}: the node's store of {contract_id[:12]}… is not the one "
                    f"in our verified state (round {self.round})"
                )
        return told

    async def force_progress(
        self,
        contract_id: str,
        function: str | bytes,
        args: Sequence[Value] = (),
        *,
        amount: int = 0,
        gas_price: int = 10**9,
        gas: int = cts.WS_GAS,
        abi_version: int = cts.FATE_ABI,
        timeout: float | None = None,
        **options: int,
    ) -> ev.OnChainTx:
        """Force a contract call on chain (``channels.force_progress``) from our latest state.

        Signed only when the tx carries exactly this call, our latest state and the
        state hash our own VM run gives; waits for the node's ``on_chain_tx`` report
        (``consumed_forced_progress`` or ``channel_changed``). ``options``: ``fee``,
        ``nonce``. The node may raise the update's gas price to the minimum fee's
        (fate.md §6.9); it is capped by the policy's ``max_gas_price``.
        """
        tag = "force_progress_tx"
        if tag in self._expected:
            raise ClientError(f"{self.role}: a {tag} is already under way")
        data = cts.call_data(function, args)
        update = cts.call_contract_update(
            self.address, contract_id, data, amount, abi_version, gas, gas_price
        )
        self._expected[tag] = pol.Expectation(
            tag, (update,), fee=options.get("fee"), nonce=options.get("nonce")
        )
        params: dict[str, Json] = {
            "contract_id": contract_id,
            "abi_version": abi_version,
            "amount": amount,
            "call_data": encode("cb", data),
            "gas_price": gas_price,
            "gas": gas,
            **options,
        }

        def done(event: ev.Event) -> bool:
            return (
                isinstance(event, ev.OnChainTx)
                and event.info in ("consumed_forced_progress", "channel_changed")
                and event.tx_type == "channel_force_progress_tx"
            )

        try:
            event = await self._act(
                methods.FORCE_PROGRESS,
                params,
                done,
                f"force progress of {_fun_name(function)} ({self.role})",
                timeout,
                tags=frozenset({tag}),
            )
        finally:
            self._expected.pop(tag, None)
        assert isinstance(event, ev.OnChainTx)
        return event

    def _call_reply(self, reply: Json, what: str) -> cts.ContractCall:
        try:
            return cts.ContractCall.from_json(reply, what)
        except DecodeError as exc:
            raise ClientError(f"{self.role}: {what} answered {exc}") from None

    async def _round_action(
        self,
        method: str,
        params: dict[str, Json],
        expectation: pol.Expectation,
        what: str,
        cosigners: Sequence[Keypair | Signer],
        reply_with_id: bool | None,
        timeout: float | None,
    ) -> ev.StateUpdate:
        tag = expectation.tag
        if tag in self._expected:
            raise ClientError(f"{self.role}: a {tag} is already under way")
        await self._know_balances(timeout)
        before = self.round
        self._expected[tag] = expectation
        self._cosigners[tag] = tuple(self._as_signer(c) for c in cosigners)
        if reply_with_id is not None:
            self._reply_ids[tag] = reply_with_id
        try:
            event = await self._act(
                method,
                params,
                lambda e: (
                    isinstance(e, ev.StateUpdate)
                    and e.round is not None
                    and (before is None or e.round > before)
                ),
                f"{what} ({self.role}, round {before})",
                timeout,
                tags=frozenset({tag}),
            )
        finally:
            self._expected.pop(tag, None)
            self._cosigners.pop(tag, None)
            self._reply_ids.pop(tag, None)
        assert isinstance(event, ev.StateUpdate)
        return event

    async def _know_balances(self, timeout: float | None) -> None:
        """Balances unknown (a round whose updates were not seen): ask the node first.

        The reply counts only if it hashes to our verified state; otherwise the policy
        refuses what needs the balances, and says so.
        """
        if self.core.balances is None and self.core.ledger.state_hash is not None:
            with contextlib.suppress(ClientError):
                await self.balances_of(timeout=timeout)

    def _as_signer(self, key: Keypair | Signer) -> Signer:
        if isinstance(key, Signer):
            return key
        return Signer(key, self.signer.network_id, self.signer.preimage)

    async def message(
        self, to: str, info: str, *, with_id: bool | None = None, timeout: float | None = None
    ) -> None:
        """Send a generic message to ``to`` (no answer unless sent with an id)."""
        use_id = self.ids.actions if with_id is None else with_id
        out = self.core.request(methods.MESSAGE, {"to": to, "info": info}, with_id=use_id)
        if not use_id:
            await self._send(out)
            return
        await self._reply_to(out, f"message to {to[:12]}…", timeout)

    async def balances_of(
        self, accounts: Sequence[str] | None = None, timeout: float | None = None
    ) -> dict[str, int]:
        """Balances the node reports (both participants by default), by ``ak_``."""
        wanted = list(accounts) if accounts is not None else [self.params.initiator_id, self.peer]
        if accounts is None and self.role == "responder":
            wanted = [self.params.initiator_id, self.params.responder_id]
        result = await self.call(methods.GET_BALANCES, {"accounts": wanted}, timeout=timeout)
        out: dict[str, int] = {}
        for entry in result if isinstance(result, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("balance"), int):
                out[str(entry.get("account"))] = entry["balance"]
        return out

    async def get_balances(
        self, accounts: Sequence[str] | None = None, timeout: float | None = None
    ) -> dict[str, int]:
        """Alias of :meth:`balances_of` (``balances`` is the tracked property)."""
        return await self.balances_of(accounts, timeout)

    async def offchain_state(self, timeout: float | None = None) -> OffchainState:
        """``get.offchain_state``; the session adopts the node's latest state and round."""
        result = await self.call(methods.GET_OFFCHAIN_STATE, {}, timeout=timeout)
        if not isinstance(result, dict):
            raise ClientError(f"get.offchain_state answered {result!r}")
        return OffchainState(
            str(result.get("signed_tx", "")),
            str(result.get("half_signed_tx", "")),
            str(result.get("trees", "")),
            str(result.get("calls", "")),
        )

    async def poi(
        self,
        accounts: Sequence[str] | None = None,
        contracts: Sequence[str] = (),
        timeout: float | None = None,
    ) -> str:
        """A proof of inclusion (``pi_…``) for the accounts (both parties by default)."""
        params: dict[str, Json] = {
            "accounts": list(accounts)
            if accounts is not None
            else [self.params.initiator_id, self.params.responder_id]
        }
        if contracts:
            params["contracts"] = list(contracts)
        result = await self.call(methods.GET_POI, params, timeout=timeout)
        if isinstance(result, dict) and isinstance(result.get("poi"), str):
            return str(result["poi"])
        raise ClientError(f"get.poi answered {result!r}")

    async def ping(self, timeout: float | None = None) -> Json:
        """``channels.system`` ping with an id (the node answers without asking the FSM)."""
        return await self.call(methods.SYSTEM, {"action": "ping"}, timeout=timeout)

    async def leave(self, timeout: float | None = None) -> ev.Leave:
        """Leave the channel: both FSMs stop, each node keeps the state for a reestablish."""
        event = await self._act(
            methods.LEAVE,
            {},
            lambda e: isinstance(e, ev.Leave),
            f"channels.leave ({self.role})",
            timeout,
            conflicts=False,
        )
        await self.wait_closed(timeout)
        assert isinstance(event, ev.Leave)
        return event

    async def shutdown(self, timeout: float | None = None, **options: int) -> str:
        """Close the channel mutually and wait until the close is confirmed.

        Returns the close transaction (``tx_…``). ``options``: ``fee``, ``gas_price``,
        ``nonce``. The peer's session co-signs on its own (its reader answers).
        """
        await self._know_balances(timeout)
        self._expected["shutdown_sign"] = pol.Expectation.shutdown(**options)
        try:
            await self._act(
                methods.SHUTDOWN,
                dict(options),
                lambda e: isinstance(e, ev.Info) and e.event == "closed_confirmed",
                f"the mutual close to be confirmed ({self.role})",
                timeout,
                tags=frozenset({"shutdown_sign"}),
            )
        finally:
            self._expected.pop("shutdown_sign", None)
        await self.wait_closed(timeout)
        if self.closing_tx is None:
            raise ClientError("the close was confirmed but no close transaction was seen")
        return self.closing_tx

    # -- disputes ------------------------------------------------------------------------------
    async def close_solo(self, *, timeout: float | None = None, **options: int) -> ev.OnChainTx:
        """Close the channel on chain alone, with this side's latest co-signed state.

        Waits until the close is included: the node then reports ``solo_closing`` — or
        ``can_slash`` when the state on chain is older than this side's (someone closed
        with an old state first: :meth:`slash` next). ``options``: ``fee``,
        ``gas_price``, ``nonce``.
        """
        return await self._solo_action(
            methods.CLOSE_SOLO, "close_solo_sign", options, ("solo_closing", "can_slash"), timeout
        )

    async def slash(self, *, timeout: float | None = None, **options: int) -> ev.OnChainTx:
        """Replace an older closing state on chain with this side's latest (while closing);
        waits for the slash's ``solo_closing`` report. The lock period starts again."""
        return await self._solo_action(
            methods.SLASH, "slash_tx", options, ("solo_closing",), timeout, "channel_slash_tx"
        )

    async def settle(self, *, timeout: float | None = None, **options: int) -> ev.OnChainTx:
        """Pay out the closing state once the lock period is over; waits for
        ``channel_closed`` (the node holds the signed settle until the channel unlocks)."""
        return await self._solo_action(
            methods.SETTLE, "settle_sign", options, ("channel_closed",), timeout
        )

    async def snapshot(self, *, timeout: float | None = None, **options: int) -> ev.OnChainTx:
        """Put the latest co-signed state on chain without closing (``snapshot_solo``);
        waits for its ``channel_changed`` report. The channel stays open meanwhile."""
        return await self._solo_action(
            methods.SNAPSHOT_SOLO,
            "snapshot_solo_tx",
            options,
            ("channel_changed",),
            timeout,
            "channel_snapshot_solo_tx",
        )

    async def _solo_action(
        self,
        method: str,
        tag: str,
        options: dict[str, int],
        infos: tuple[str, ...],
        timeout: float | None,
        tx_type: str | None = None,
    ) -> ev.OnChainTx:
        if tag in self._expected:
            raise ClientError(f"{self.role}: a {tag} is already under way")
        self._expected[tag] = pol.Expectation(
            tag, (), fee=options.get("fee"), nonce=options.get("nonce")
        )
        what = f"{method.removeprefix('channels.')} ({self.role})"

        def done(event: ev.Event) -> bool:
            return (
                isinstance(event, ev.OnChainTx)
                and event.info in infos
                and (tx_type is None or event.tx_type == tx_type)
            )

        try:
            event = await self._act(
                method, dict(options), done, what, timeout, tags=frozenset({tag})
            )
        finally:
            self._expected.pop(tag, None)
        assert isinstance(event, ev.OnChainTx)
        return event

    async def stop(self, timeout: float | None = None) -> None:
        """``channels.system`` stop: end the FSM abruptly (test teardown), wait for the close.

        The node may send ``died`` before or after the ``ok`` (both are recorded), so only
        the socket closing is awaited.
        """
        await self._send(self.core.request(methods.SYSTEM, {"action": "stop"}, with_id=True))
        await self.wait_closed(timeout)

    async def wait_closed(self, timeout: float | None = None) -> None:
        """Wait until the node has closed this socket (after ``died``)."""
        reader = self._reader
        if self._conn is None or reader is None:
            return
        await self._bounded(
            asyncio.shield(reader), f"the node to close {self.role}'s socket", timeout
        )

    def mark(self) -> int:
        """A position in the event stream, for ``wait_for(…, since=mark)``."""
        return self._events_dropped + len(self.events)

    async def wait_for(
        self,
        what: str | type[ev.Event] | Predicate,
        timeout: float | None = None,
        *,
        include_past: bool = False,
        since: int | None = None,
    ) -> ev.Event:
        """The next event matching ``what`` (see :func:`chan_nb.client.events.matcher`).

        With ``include_past`` an event that already arrived counts too (the latest one);
        with ``since`` (from :meth:`mark`) the first one that arrived after that mark.
        """
        predicate = ev.matcher(what)
        if include_past:
            for event in reversed(self.events):
                if predicate(event):
                    return event
        if since is not None:
            for event in self.events[max(since - self._events_dropped, 0) :]:
                if predicate(event):
                    return event
        waiter = self._expect(predicate, closes_ok=True)
        try:
            found: ev.Event = await self._bounded(
                waiter.future, f"{_label(what)} ({self.role})", timeout
            )
            return found
        finally:
            self._drop(waiter)

    async def call(self, method: str, params: Json, *, timeout: float | None = None) -> Json:
        """Send any request with an id and return its ``result`` (NodeError on ``error``)."""
        out = self.core.request(method, params, with_id=True)
        event = await self._reply_to(out, method, timeout)
        assert isinstance(event, ev.Result)
        return event.result

    async def send(self, method: str, params: Json, *, with_id: bool = False) -> ev.Call:
        """Send any request without waiting for anything (replay and experiments use it)."""
        out = self.core.request(method, params, with_id=with_id)
        await self._send(out)
        return out.call

    async def send_raw(self, text: str) -> None:
        """Send a frame verbatim (malformed input, replays); it is recorded as sent.

        A request in it is remembered, so its reply is matched like any other.
        """
        await self._send_text(text)
        self.core.sent(text)
        kind = _sign_kind_of(text)
        if kind is not None:
            self.pending_signatures = [p for p in self.pending_signatures if p.request.tag != kind]

    # -- manual signing ------------------------------------------------------------------------
    async def approve(self, pending: PendingSignature | None = None) -> None:
        """Sign and send a queued request (the oldest by default)."""
        item = self._take_pending(pending)
        await self._sign_and_reply(item.request)

    async def reject(
        self, pending: PendingSignature | None = None, code: int | None = None
    ) -> None:
        """Abort a queued request with ``code`` (the policy's abort code by default)."""
        item = self._take_pending(pending)
        await self._send(
            self.core.abort_reply(
                item.request,
                code if code is not None else self.policy.abort_code,
                with_id=self._reply_id(item.request.tag),
            )
        )

    async def wait_for_signature_request(self, timeout: float | None = None) -> PendingSignature:
        """The oldest queued request (manual mode), waiting for one if none is queued."""
        if not self.pending_signatures:
            await self.wait_for(ev.SignRequest, timeout)
        return self.pending_signatures[0]

    def _take_pending(self, pending: PendingSignature | None) -> PendingSignature:
        if not self.pending_signatures:
            raise ClientError(f"{self.role}: no signing request is waiting")
        item = pending or self.pending_signatures[0]
        if item not in self.pending_signatures:
            raise ClientError(f"{self.role}: that signing request is no longer pending")
        self.pending_signatures.remove(item)
        return item

    # -- the reader ----------------------------------------------------------------------------
    async def _read(self, conn: Connection, conn_no: int) -> None:
        by_node = True
        try:
            while True:
                text = await conn.recv()
                if len(text) > self.max_frame:  # characters: a lower bound on its bytes
                    await conn.close()
                    raise FrameTooLarge(len(text), self.max_frame)
                if not getattr(conn, "recorded_on_delivery", False):
                    self.recorder.received(self.role, text, conn_no)
                try:
                    events = self.core.receive(text)
                except Exception as exc:  # hostile input must not stop the reader
                    self._keep_error(ClientError(f"{self.role}: unreadable frame: {exc!r}"))
                    continue
                for event in events:
                    try:
                        await self._dispatch(event)
                    except Disconnected:
                        raise
                    except (ChanNbError, ValueError, RecursionError) as exc:
                        # a frame the client cannot act on must not stop the reader
                        self._keep_error(exc)
        except Disconnected as exc:
            by_node = exc.by_peer
            if isinstance(exc, FrameTooLarge):
                self._keep_error(exc)
                self._note(str(exc))
        except asyncio.CancelledError:
            by_node = False
            raise
        except Exception as exc:
            # a failure of the client itself: say so, and close the socket rather than
            # leave it open with nothing reading it
            self._keep_error(exc)
            by_node = False
            with contextlib.suppress(Exception):
                await conn.close()
        finally:
            self.recorder.closed(self.role, conn_no)
            if self._conn is conn:
                self._conn = None
            self.pending_signatures.clear()
            self._emit(self.core.closed(by_node))

    async def _dispatch(self, event: ev.Event) -> None:
        if isinstance(event, ev.OnChainTx) and event.info in ("close_mutual", "channel_closed"):
            self.closing_tx = event.tx or self.closing_tx
        if isinstance(event, ev.Untrusted):
            self._note(f"refused the {event.what} state: {event.reason}")
        if isinstance(event, ev.SignRequest):
            # answer before anyone sees the event, so the reply is not delayed by listeners;
            # seen it is even when the reply cannot go out (the socket closed meanwhile)
            try:
                await self._answer(event)
            finally:
                self._emit(event)
            return
        self._emit(event)

    def _keep_error(self, exc: Exception) -> None:
        self.errors.append(exc)
        del self.errors[: -self.max_events]

    def _emit(self, event: ev.Event) -> None:
        events = self.events
        events.append(event)
        if len(events) > 2 * self.max_events:
            # bounded: a flood of frames cannot fill memory (the recorder keeps them all)
            dropped = len(events) - self.max_events
            del events[:dropped]
            self._events_dropped += dropped
        for waiter in list(self._waiters):
            if waiter.future.done():
                continue
            ends = (
                waiter.predicate(event)
                or (isinstance(event, ev.Closed) and not waiter.closes_ok)
                or (waiter.action is not None and waiter.action.fails(event))
            )
            if ends:
                waiter.future.set_result(event)
        for listener in list(self._listeners):
            listener(event)

    async def _answer(self, request: ev.SignRequest) -> None:
        context = self._policy_context()
        if self.policy.mode == "manual":
            found = pol.verdict(request, context)
            # the node has one request per tag in flight: a new one replaces the old
            # (and a flood of them cannot grow the queue)
            self.pending_signatures = [p for p in self.pending_signatures if p.tag != request.tag]
            self.pending_signatures.append(PendingSignature(request, found.reasons, found.change))
            return
        decision = pol.decide(self.policy, request, context)
        if decision.sign:
            await self._sign_and_reply(request)
            return
        aborted: int | None = None
        refused = ev.Refused({}, self.channel_id, request.tag, decision.problems, None)
        try:
            if request.abortable:
                aborted = self.policy.abort_code
                refused = replace(refused, aborted_with=aborted)
                await self._send(
                    self.core.abort_reply(request, aborted, with_id=self._reply_id(request.tag))
                )
        finally:
            self._note(f"refused to sign {request.tag}: {'; '.join(decision.problems)}")
            self._emit(refused)

    def _note(self, text: str) -> None:
        """A line in the recording beside the frames (refusals: what and why)."""
        self.recorder.note(self.role, text, self._conn_no)

    def _policy_context(self) -> pol.Context:
        return pol.Context(
            role=self.role,
            own=self.address,
            network_id=self.signer.network_id,
            params=self.params,
            # only a channel id from a verified state or our own reconnect params counts
            channel_id=self.core.channel_id if self.core.channel_id_fixed else None,
            round=self.round,
            balances=self.core.balances,
            expected=dict(self._expected),
            state=self.core.offchain_tx,
            max_fee=self.policy.max_fee,
            max_gas_price=self.policy.max_gas_price,
            generalized=self.policy.generalized,
            trees=self.core.ledger.trees,
            vm=self.core.vm,
        )

    async def _sign_and_reply(self, request: ev.SignRequest) -> None:
        signed = request.decoded()
        for signer in (self.signer, *self._cosigners.get(request.tag, ())):
            signed = signer.sign(signed)
        out = self.core.sign_reply(request, signed.to_api(), with_id=self._reply_id(request.tag))
        await self._send(out)

    def _reply_id(self, tag: str) -> bool:
        return self._reply_ids.get(tag, self.ids.sign_replies)

    # -- plumbing ------------------------------------------------------------------------------
    async def _send(self, out: Outgoing) -> None:
        await self._send_text(out.text)

    async def _send_text(self, text: str) -> None:
        conn = self._conn
        if conn is None:
            raise ConnectionLost(f"{self.role} is not connected")
        self.recorder.sent(self.role, text, self._conn_no)
        if conn.send_now(text):
            return
        try:
            # asyncio.timeout, not wait_for: no task per frame (wait_for wraps the send
            # in one on Python 3.11), and a send that does not block never yields
            async with asyncio.timeout(self.timeout):
                await conn.send(text)
        except TimeoutError:
            raise Timeout(f"{self.role}: the node to take a frame", self.timeout) from None

    def _expect(
        self,
        predicate: Predicate,
        action: outcomes.Action | None = None,
        *,
        closes_ok: bool = False,
    ) -> _Waiter:
        future: asyncio.Future[ev.Event] = asyncio.get_running_loop().create_future()
        waiter = _Waiter(predicate, future, action, closes_ok)
        self._waiters.append(waiter)
        return waiter

    def _drop(self, waiter: _Waiter) -> None:
        with contextlib.suppress(ValueError):
            self._waiters.remove(waiter)
        if not waiter.future.done():
            waiter.future.cancel()

    def _limit(self, timeout: float | None) -> float:
        return self.timeout if timeout is None else timeout

    async def _bounded(self, awaitable: Any, what: str, timeout: float | None) -> Any:
        limit = self._limit(timeout)
        try:
            async with asyncio.timeout(limit):
                return await awaitable
        except TimeoutError:
            raise Timeout(what, limit) from None

    async def _outcome(
        self, waiter: _Waiter, what: str, timeout: float | None, *, connect: bool = False
    ) -> ev.Event:
        """The event that ended the wait, or the exception it means."""
        event: ev.Event = await self._bounded(asyncio.shield(waiter.future), what, timeout)
        if waiter.predicate(event):
            return event
        raise self._failure(event, what, connect)

    def _failure(self, event: ev.Event, what: str, connect: bool) -> ClientError:
        return outcomes.failure(event, f"{self.role}: {what}", connect)

    async def _act(
        self,
        method: str,
        params: Json,
        done: Predicate,
        what: str,
        timeout: float | None,
        *,
        conflicts: bool = True,
        tags: frozenset[str] = frozenset(),
    ) -> ev.Event:
        """Send an action request and wait until ``done`` (or a failure) arrives."""
        out = self.core.request(method, params, with_id=self.ids.actions)
        waiter = self._expect(done, outcomes.Action(out.call, conflicts=conflicts, tags=tags))
        try:
            await self._send(out)
            return await self._outcome(waiter, what, timeout)
        finally:
            self._drop(waiter)

    async def _reply_to(self, out: Outgoing, what: str, timeout: float | None) -> ev.Event:
        """Send a request with an id and wait for its result."""
        call = out.call
        waiter = self._expect(
            lambda e: isinstance(e, ev.Result) and e.answers is call,
            outcomes.Action(call, died=False),
        )
        try:
            await self._send(out)
            return await self._outcome(waiter, f"the reply to {what} ({self.role})", timeout)
        finally:
            self._drop(waiter)

    # -- lifetime ------------------------------------------------------------------------------
    async def close(self, timeout: float = CLOSE_WAIT) -> None:
        """Disconnect (if connected, waiting at most ``timeout`` s) and stop the reader."""
        if self._conn is not None:
            with contextlib.suppress(ClientError, OSError):
                await self.disconnect(timeout=timeout)
        await self._stop_reader()

    async def _stop_reader(self) -> None:
        reader = self._reader
        if reader is not None and not reader.done():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader

    async def __aenter__(self) -> Session:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _sign_kind_of(text: str) -> str | None:
    """The sign request tag a raw frame answers, if it is a signing reply."""
    try:
        method = json.loads(text).get("method")
    except (ValueError, AttributeError):
        return None
    kind = methods.SIGN_BY_REPLY.get(method) if isinstance(method, str) else None
    return kind.request if kind is not None else None


def _fun_name(function: str | bytes) -> str:
    return function if isinstance(function, str) else "call data"


def _label(what: object) -> str:
    if isinstance(what, str):
        return what
    if isinstance(what, type):
        return what.__name__
    return getattr(what, "__name__", "a matching event")
