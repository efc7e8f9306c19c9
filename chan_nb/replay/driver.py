"""Re-driving the client side of a recorded session against a node.

The recording's client records — sockets opened and closed, frames sent — are
performed again in their recorded order with fresh keys: parties, channel ids, fsm ids
and states are translated to this run's, and every signing reply is re-signed over the
transaction the node sent *this* time, by the same parties (found by verifying the
recorded signatures) with the same preimage. Before each client action the driver
waits until every role has received as many frames as the recording shows at that
point; on the embedded node it makes blocks only when what is awaited needs them
(confirmations), so chain events fall where they fell in the recording.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlsplit

from chan_nb import vm
from chan_nb.client import events as ev
from chan_nb.client.errors import ClientError
from chan_nb.client.params import ChannelParams, as_role, with_query
from chan_nb.client.policy import SigningPolicy
from chan_nb.client.recorder import Recorder
from chan_nb.client.session import Session
from chan_nb.client.signer import Signer
from chan_nb.client.transport import Transport
from chan_nb.codec import contracts as codec_contracts
from chan_nb.codec import encoding, signing, trees, txs
from chan_nb.codec.fate import decode as fate_decode
from chan_nb.codec.hashing import channel_pubkey
from chan_nb.codec.ids import Id
from chan_nb.codec.keys import Keypair
from chan_nb.errors import ChanNbError, DecodeError
from chan_nb.node import PinnedBlock, stale_close_solo
from chan_nb.node.rpc import NOT_SIMULATED
from chan_nb.protocol import codes, methods
from chan_nb.protocol.frames import strings_in
from chan_nb.recording import Direction, Frame, Kind, load
from chan_nb.replay import fate_ids

if TYPE_CHECKING:
    from chan_nb.node import EmbeddedNode, Era

#: Recorded frames that only a new block can cause.
CHAIN_INFOS: Final = frozenset(
    {
        "channel_changed",
        "channel_closed",
        "solo_closing",
        "can_slash",
        "can_snapshot",
        "consumed_forced_progress",
    }
)
CHAIN_EVENTS: Final = frozenset(
    {
        "own_funding_locked",
        "own_deposit_locked",
        "own_withdraw_locked",
        "closed_confirmed",
        "minimum_depth_achieved",
        "min_depth_achieved",
    }
)
PRELUDE_NAME: Final = "init_per_group.md"
#: vm_version of AEVM contracts (fate.md §0): the 2020 recordings' vm 6 among them
AEVM_VM_VERSIONS: Final = frozenset({1, 3, 4, 6})
FUNDING_EVENTS: Final = frozenset({"funding_created", "funding_signed"})


def _kind(frame: Frame) -> tuple[Any, ...]:
    """What pairs a recorded frame with a replayed one."""
    return (frame.method, frame.event or frame.info, frame.error_code, frame.error_data_code)


def _describe(frame: Frame) -> str:
    what = (frame.method or "result").removeprefix("channels.")
    detail = frame.event or frame.info
    return f"#{frame.seq} {what}" + (f" {detail}" if detail else "")


#: Key blocks of the recorded chain whose facts the reference gives (fate.md §8.2): the
#: block ``sc_ws_environment_contract`` pins (height 1903, its time and beneficiary).
RECORDED_KEY_BLOCKS: Final = {
    "kh_nTjny4hWV15gwiiEqYPcmabb1GfPG4vKNA2BYNjNqFNUqW1w2": vm.RECORDED_ENV,
}
#: The pointers the node's name tests give a name when they update it (on chain, out of
#: band): what ``contracts/sc_ws_nameservice_contract`` and ``…refering_onchain_data``
#: resolve after the update (``missing_key`` stays absent).
TEST_NAME_POINTERS: Final = ("account_pubkey", "oracle", "unexpected_key")


def _names_in(call_data: Any) -> list[str]:
    """The AENS names (``….chain`` strings) a FATE call's arguments carry."""
    if not isinstance(call_data, str):
        return []
    try:
        value = fate_decode(encoding.decode(call_data, "cb"))
    except DecodeError:
        return []
    args = value[1] if isinstance(value, tuple) and len(value) == 2 else ()
    if not isinstance(args, tuple):
        return []
    names = []
    for arg in args:
        text = arg.decode("utf-8", "replace") if isinstance(arg, bytes) else arg
        if isinstance(text, str) and text.endswith(".chain"):
            names.append(text)
    return names


def _created(frame: Frame) -> list[str]:
    """Owners of the contracts a sign request's updates create (``ak_`` each)."""
    if not (frame.method or "").startswith(methods.SIGN_PREFIX):
        return []
    data = ((frame.message or {}).get("params") or {}).get("data") or {}
    updates = data.get("updates") if isinstance(data, dict) else None
    if not isinstance(updates, list):
        return []
    return [
        u["owner"]
        for u in updates
        if isinstance(u, dict) and u.get("op") == "OffChainNewContract" and "owner" in u
    ]


def _contract_api(owner: str, round_: int) -> str:
    """``ct_`` of the contract ``owner`` creates in ``round_`` (fate.md §6.2)."""
    try:
        pubkey = codec_contracts.contract_pubkey(encoding.decode(owner, "ak"), round_)
    except DecodeError:
        return owner
    return encoding.encode("ct", pubkey)


def _needs_block(frame: Frame) -> bool:
    return frame.info in CHAIN_INFOS or frame.event in CHAIN_EVENTS


def _unsimulated_method(frame: Frame) -> str | None:
    """The method of a request the embedded node answered "not simulated" (−32603)."""
    if frame.kind is not Kind.ERROR or frame.error_code != codes.INTERNAL_ERROR:
        return None
    error = frame.message.get("error") if isinstance(frame.message, dict) else None
    request = error.get("request") if isinstance(error, dict) else None
    method = request.get("method") if isinstance(request, dict) else None
    return method if isinstance(method, str) and method in NOT_SIMULATED else None


def recorded_era(frames: Sequence[Frame]) -> Era:
    """Which node build made a recording (disputes-and-current-node.md §2.1, §2.3).

    Funding reports without ``fsm_id`` are the 2019 build's ("older"); a version-2
    create tx is a current node's (Iris+, "current"); anything else is the 2020 build's.
    """
    for frame in frames:
        if frame.direction is Direction.RECEIVED and frame.event in FUNDING_EVENTS:
            data = (frame.message.get("params") or {}).get("data") or {}
            if isinstance(data, dict) and "fsm_id" not in data:
                return "older"
    for frame in frames:
        if frame.tx_type == "channel_create_tx" and frame.tx:
            with contextlib.suppress(DecodeError):
                tx = txs.decode_signed(frame.tx).tx
                return "current" if getattr(tx, "version", 1) >= 2 else "recorded"
    return "recorded"


#: The least a step is waited for (the node's own pace plus scheduling).
MIN_STEP_TIMEOUT: Final = 2.0


def step_timeout_for(frames: Sequence[Frame]) -> float:
    """How long to wait for what a step awaits: the longest ``timeout_*`` a socket opening
    of the recording sets (a recording may wait for its 3 s funding-lock timer), plus a
    second, and never less than :data:`MIN_STEP_TIMEOUT`."""
    longest = 0
    for frame in frames:
        for key, value in (frame.params or {}).items():
            if frame.direction is Direction.OPEN and key.startswith("timeout_") and value.isdigit():
                longest = max(longest, int(value))
    return max(MIN_STEP_TIMEOUT, longest / 1000 + 1.0)


def _case_start_round(case: Sequence[Frame]) -> int | None:
    """The co-signed round a mid-group case starts from: its first proposal's round − 1,
    or the round its first conflict names."""
    for frame in case:
        if frame.direction is not Direction.RECEIVED or frame.round is None:
            continue
        if frame.method == methods.CONFLICT:
            return frame.round
        kind = methods.SIGN_BY_REQUEST.get((frame.method or "").removeprefix(methods.SIGN_PREFIX))
        if kind is not None and kind.request in (
            "update",
            "update_ack",
            "deposit_tx",
            "withdraw_tx",
            "deposit_ack",
            "withdraw_ack",
        ):
            return frame.round - 1
    return None


class ReplayError(ChanNbError):
    """A recording cannot be replayed (the message says why)."""


def needs_prelude(frames: Sequence[Frame]) -> bool:
    """Whether the session starts mid-channel (sockets opened before the recording)."""
    return any(f.conn == 0 for f in frames if f.direction is not Direction.INFO)


def find_prelude(path: Path, levels: int = 3) -> Path | None:
    """The group's ``init_per_group.md`` beside the recording or in a parent folder."""
    folder = path.resolve().parent
    for _ in range(levels):
        candidate = folder / PRELUDE_NAME
        if candidate.is_file() and candidate.resolve() != path.resolve():
            return candidate
        folder = folder.parent
    return None


@dataclass
class Plan:
    """What is replayed: the records in order (prelude first) and who the parties are."""

    frames: list[Frame]
    parties: dict[str, str]  # recorded ak_ -> role
    terms: dict[str, str]  # the first fresh open's query (channel terms)
    prelude: Path | None = None
    prelude_records: int = 0
    notes: list[str] = field(default_factory=list)
    #: recorded values that stand for others (a case's channel id for its prelude's)
    aliases: dict[str, str] = field(default_factory=dict)
    era: Era = "recorded"  # the node build that made the recording


def plan(path: Path, prelude: Path | None = None) -> Plan:
    """Read a recording (and its prelude when it starts mid-channel)."""
    case = load(path).frames
    frames = list(case)
    used: Path | None = None
    if needs_prelude(case):
        used = prelude or find_prelude(path)
        if used is None:
            raise ReplayError(
                f"{path.name} starts mid-channel and no {PRELUDE_NAME} was found beside it; "
                "give the recording that opened the channel with --prelude"
            )
        frames = [*load(used).frames, *case]
    elif prelude is not None:
        used = prelude
        frames = [*load(prelude).frames, *case]
    openings = [
        dict(f.params)
        for f in frames
        if f.direction is Direction.OPEN
        and f.params
        and "initiator_id" in f.params
        and "existing_channel_id" not in f.params
    ]
    if not openings:
        raise ReplayError(f"{path.name}: no socket opening with channel terms to start from")
    # the parties are the ids most openings name (bad-parameter cases use bogus ones)
    initiator = Counter(q["initiator_id"] for q in openings).most_common(1)[0][0]
    responder = Counter(q.get("responder_id", "") for q in openings).most_common(1)[0][0]
    terms = next(
        q
        for q in openings
        if q["initiator_id"] == initiator and q.get("responder_id", "") == responder
    )
    parties = {initiator: "initiator", responder: "responder"}
    parties.pop("", None)
    notes: list[str] = []
    aliases: dict[str, str] = {}
    if used is not None:
        rebound = case_parties(case, parties)
        if rebound:
            parties.update(rebound)
            opened = next((f.channel_id for f in frames if f.channel_id), None)
            continued = next((f.channel_id for f in case if f.channel_id), None)
            if opened and continued and opened != continued:
                aliases[continued] = opened
            notes.append(
                f"{path.name} names other accounts than {used.name} opened the channel with "
                "(recorded in another run of the group); they play the same roles here"
            )
    count = len(frames) - len(case) if used is not None else 0
    return Plan(frames, parties, terms, used, count, notes, aliases, recorded_era(frames))


def case_parties(case: Sequence[Frame], parties: dict[str, str]) -> dict[str, str]:
    """Roles of accounts a mid-channel case names that its prelude did not open with.

    A case recorded in another run of its group than the group's init recording names
    other keys. Two unknown accounts and the case's channel id identify who was the
    initiator: the channel id is ``blake2b(initiator ‖ nonce ‖ responder)``.
    """
    unknown: list[str] = []
    for frame in case:
        if frame.direction is Direction.SENT:
            for text in strings_in(frame.message):
                if text.startswith("ak_") and text not in parties and text not in unknown:
                    unknown.append(text)
    channel = next((f.channel_id for f in case if f.channel_id), None)
    if len(unknown) != 2 or channel is None:
        return {}
    try:
        target = encoding.decode(channel, "ch")
        keys = [encoding.decode(a, "ak") for a in unknown]
    except DecodeError:
        return {}
    for first, second in ((0, 1), (1, 0)):
        for nonce in range(1 << 14):
            if channel_pubkey(keys[first], nonce, keys[second]) == target:
                return {unknown[first]: "initiator", unknown[second]: "responder"}
    return {}


@dataclass
class _Maps:
    """Recorded identifiers → this run's, learned as the runs go along."""

    accounts: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)
    fsm_ids: dict[str, str] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)  # th_ of recorded txs
    contracts: dict[str, str] = field(default_factory=dict)  # ct_ of recorded contracts

    def string(self, text: str) -> str:
        tables = (
            self.accounts,
            self.channels,
            self.fsm_ids,
            self.states,
            self.hashes,
            self.contracts,
        )
        for table in tables:
            if text in table:
                return table[text]
        if text.startswith("cb_"):  # call data naming accounts or contracts
            return fate_ids.translate(text, self.string)
        return text

    def value(self, item: Any) -> Any:
        if isinstance(item, dict):
            return {k: self.value(v) for k, v in item.items()}
        if isinstance(item, list):
            return [self.value(v) for v in item]
        if isinstance(item, str):
            return self.string(item)
        return item


@dataclass
class ReplayResult:
    plan: Plan
    recorded: list[Frame]
    replayed: list[Frame]
    recorded_parties: dict[str, str]
    replayed_parties: dict[str, str]
    notes: list[str]
    #: why the replay stopped before the recording's end (None: it went all the way)
    stopped: str | None = None


class Replayer:
    """Performs a :class:`Plan`'s client records against a node."""

    def __init__(
        self,
        plan: Plan,
        *,
        url: str,
        network_id: str,
        node: EmbeddedNode | None = None,
        transport: Transport | None = None,
        step_timeout: float = 2.0,
        quiet: float = 0.25,
        keys: tuple[Keypair, Keypair] | None = None,
    ) -> None:
        self.plan = plan
        self.quiet = quiet
        self.url = url
        self.network_id = network_id
        self.node = node
        self.transport = transport
        self.step_timeout = step_timeout
        self.recorder = Recorder("replay")
        fresh = keys or (Keypair.generate(), Keypair.generate())
        self.keys = dict(zip(("initiator", "responder"), fresh, strict=True))
        self.maps = _Maps()
        for address, role in plan.parties.items():
            self.maps.accounts[address] = self.keys[role].address
        self.sessions: dict[tuple[str, int], Session] = {}
        self._latest: dict[str, Session] = {}
        self.notes: list[str] = list(plan.notes)
        self._expected_received: dict[str, int] = {}
        self._expected_closes: dict[str, int] = {}
        # recorded and replayed frames waiting for a partner of the same kind, per role
        self._unpaired_recorded: dict[str, dict[tuple[Any, ...], deque[Frame]]] = {}
        self._unpaired_replayed: dict[str, dict[tuple[Any, ...], deque[Frame]]] = {}
        self._missing_by_seq: dict[str, dict[int, Frame]] = {}
        self._close_count: dict[str, int] = {}
        self._progress = asyncio.Event()
        self._recorded_network: str | None = None
        self._recorded_requests: dict[tuple[str, str], Frame] = {}
        #: (method, recorded seq) of the first request the embedded node answered with
        #: its "not simulated" error: the replay stops there instead of waiting, step by
        #: step, for frames that can never come
        self.unsimulated: tuple[str, int] | None = None
        #: why the replay stopped before a client frame the embedded node cannot take
        self.stopped_because: str | None = None
        self._last_sent_seq = 0
        self._cheats: set[int] = set()  # awaited can_slash seqs a stale close was posted for
        self._advancing = False
        self._advance_seqs: set[int] = set()  # this run's records of the round advance
        self._name_blocks: dict[str, str] = {}  # AENS name -> the first block a call pinned
        self._names_updated: set[str] = set()

    # -- setup ---------------------------------------------------------------------------------
    def _session(self, frame: Frame) -> Session:
        """The session standing for the recorded socket ``frame`` travelled on.

        Every recorded socket gets its own session (a role may hold two at once); a
        socket opened before the recording started (``conn`` 0) is the role's latest.
        """
        role, key = frame.role, (frame.role, frame.conn)
        if frame.direction is Direction.OPEN or (key not in self.sessions and frame.conn):
            self.sessions[key] = self._new_session(role)
            self._latest[role] = self.sessions[key]
        elif key not in self.sessions:
            if role not in self._latest:
                self._latest[role] = self._new_session(role)
            return self._latest[role]
        return self.sessions[key]

    def _new_session(self, role: str) -> Session:
        query = {k: self.maps.string(v) for k, v in self.plan.terms.items()}
        terms = ChannelParams.from_query(query)
        options: dict[str, Any] = {}
        if self.transport is not None:
            options["transport"] = self.transport
        return Session(
            as_role(role),
            terms,
            self.keys[role],
            url=self.url,
            network_id=self.network_id,
            recorder=self.recorder,
            policy=SigningPolicy(mode="manual"),
            timeout=self.step_timeout,
            **options,
        )

    # -- the run -------------------------------------------------------------------------------
    async def run(self) -> ReplayResult:
        self.recorder.listeners.append(self._on_record)
        performed = self.plan.frames
        try:
            for index, frame in enumerate(self.plan.frames):
                if index == self.plan.prelude_records and self.plan.prelude is not None:
                    await self._advance_to_case_round(self.plan.frames[index:])
                if not await self._perform(frame):
                    performed = self.plan.frames[:index]
                    break
            await self._catch_up()
            if self.stopped_because is not None:
                self.notes.append(self.stopped_because)
            elif self.unsimulated is not None:
                method, seq = self.unsimulated
                self.notes.append(
                    f"stopped after #{seq}: the embedded node does not simulate {method} "
                    "(it answered -32603); the rest of the recording depends on it"
                )
            # sockets the recording leaves open are closed after the comparison point
            replayed = [f for f in self.recorder.frames if f.seq not in self._advance_seqs]
        finally:
            everyone = {id(s): s for s in [*self.sessions.values(), *self._latest.values()]}
            await asyncio.gather(*(s.close() for s in everyone.values()))
        replayed_parties = {self.keys[r].address: r for r in ("initiator", "responder")}
        return ReplayResult(
            self.plan,
            [f for f in performed if f.direction is not Direction.INFO],
            replayed,
            dict(self.plan.parties),
            replayed_parties,
            self.notes,
            self.stopped_because
            or (f"{self.unsimulated[0]} is not simulated" if self.unsimulated else None),
        )

    async def _perform(self, frame: Frame) -> bool:
        """Do what the record shows the client did; False: the replay stops before it."""
        role = frame.role
        if self.unsimulated is not None:
            return False
        if role not in ("initiator", "responder") or frame.direction is Direction.INFO:
            return True
        if frame.direction is Direction.RECEIVED:
            self._expected_received[role] = self._expected_received.get(role, 0) + 1
            self._recorded_arrives(frame)
            if frame.method and frame.method.startswith(methods.SIGN_PREFIX):
                self._recorded_requests[(role, frame.method)] = frame
            return True
        await self._catch_up()
        if self.unsimulated is not None:
            return False
        if self.node is not None and frame.direction is Direction.SENT:
            self._cheat_before(frame)
        reason = self._not_simulated(frame)
        if reason is not None:
            self.stopped_because = f"stopped before #{frame.seq}: {reason}"
            return False
        session = self._session(frame)
        if frame.direction is Direction.OPEN:
            await self._open(session, frame)
        elif frame.direction is Direction.SENT:
            await self._send(session, frame)
        elif frame.direction is Direction.CLOSE:
            await self._close(session, frame)
        return True

    def _not_simulated(self, frame: Frame) -> str | None:
        """Why the embedded node cannot take this client frame (None: it can)."""
        if self.node is None or frame.direction is not Direction.SENT:
            return None
        if frame.method == methods.NEW_CONTRACT:
            params = (frame.message or {}).get("params") or {}
            vm = params.get("vm_version") if isinstance(params, dict) else None
            if vm in AEVM_VM_VERSIONS:
                return (
                    f"an AEVM contract (vm {vm}): the embedded node runs FATE only, and no "
                    "FATE engine reproduces AEVM gas or return values (fate.md §8.3)"
                )
        if not frame.tx:
            return None
        try:
            signed = txs.decode_signed(frame.tx)
        except DecodeError:
            return None
        if isinstance(signed.tx, txs.GaMetaTx):
            return (
                "a generalized account authenticates with a contract call (ga_meta_tx) "
                "against on-chain contracts, which the embedded chain does not hold"
            )
        return None

    async def _open(self, session: Session, frame: Frame) -> None:
        query = dict(parse_qsl(urlsplit(frame.raw).query, keep_blank_values=True))
        translated = {k: self._translate_param(k, v, session) for k, v in query.items()}
        try:
            await session.attach(with_query(self.url, translated))
        except ClientError as exc:
            self.notes.append(f"#{frame.seq} {frame.role}: could not open a socket: {exc}")

    def _translate_param(self, key: str, value: str, session: Session) -> str:
        if key == "offchain_tx":
            return self.maps.states.get(value) or self._latest_state(session.role) or value
        return self.maps.string(value)

    async def _close(self, session: Session, frame: Frame) -> None:
        self._expected_closes[frame.role] = self._expected_closes.get(frame.role, 0) + 1
        if self._node_closes(frame):
            await self._catch_up(grace=True)
            if not session.connected:
                return
        await session.disconnect(timeout=self.step_timeout)

    def _latest_state(self, role: str) -> str | None:
        """The last co-signed state ``role`` received in this run."""
        for frame in reversed(self.recorder.frames):
            ours = frame.role == role and frame.direction is Direction.RECEIVED
            if ours and frame.method in (methods.UPDATE, methods.LEAVE) and frame.tx:
                return frame.tx
        return None

    def _node_closes(self, close: Frame) -> bool:
        """Whether the recorded close was the node's (after died, an error, or nothing)."""
        before = [
            f
            for f in self.plan.frames
            if f.role == close.role and f.seq < close.seq and f.direction is not Direction.INFO
        ]
        if not before:
            return True
        last = before[-1]
        if last.direction is Direction.OPEN:
            return True
        at_connect = last.error_code is not None and isinstance(last.message, dict)
        at_connect = at_connect and (last.message.get("error") or {}).get("request") == {}
        return last.event == "died" or bool(at_connect)

    async def _send(self, session: Session, frame: Frame) -> None:
        self._last_sent_seq = frame.seq
        self._pin_recorded_block(frame)
        kind = methods.SIGN_BY_REPLY.get(frame.method) if frame.method else None
        if kind is not None:
            await self._request_seen(session, frame, kind)
        text = self._translate_sent(session, frame)
        try:
            await session.send_raw(text)
        except ClientError as exc:
            self.notes.append(f"#{frame.seq} {frame.role}: could not send: {exc}")

    async def _request_seen(self, session: Session, frame: Frame, kind: methods.SignKind) -> None:
        """Until ``session`` has read as many of the reply's sign requests as the recording shows.

        In memory, frames are recorded as the node delivers them, so the recording (which
        the waiting above follows) can be ahead of the session's own reading.
        """
        wanted = sum(
            1
            for f in self.plan.frames
            if f.seq < frame.seq
            and (f.role, f.conn) == (frame.role, frame.conn)
            and f.direction is Direction.RECEIVED
            and f.method == kind.request_method
        )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.step_timeout
        while loop.time() < deadline and session.connected:
            seen = sum(
                1 for e in session.events if isinstance(e, ev.SignRequest) and e.tag == kind.request
            )
            if seen >= wanted:
                return
            await asyncio.sleep(0.001)

    @staticmethod
    def _sign_request_of(session: Session, kind: methods.SignKind) -> ev.SignRequest | None:
        request = session.core.pending_sign.get(kind.request)
        if request is not None:
            return request
        return next(
            (
                e
                for e in reversed(session.events)
                if isinstance(e, ev.SignRequest) and e.tag == kind.request
            ),
            None,
        )

    # -- translating client frames -------------------------------------------------------------
    def _translate_sent(self, session: Session, frame: Frame) -> str:
        message = frame.message
        if not isinstance(message, dict):
            return frame.raw
        method = message.get("method")
        params = message.get("params")
        kind = methods.SIGN_BY_REPLY.get(method) if isinstance(method, str) else None
        if kind is not None and isinstance(params, dict) and "signed_tx" in params:
            signed = self._resign(session, frame, kind, params["signed_tx"])
            out = dict(message)
            out["params"] = {**self.maps.value(params), "signed_tx": signed}
            return json.dumps(out, separators=(",", ":"))
        return json.dumps(self.maps.value(message), separators=(",", ":"))

    def _resign(self, session: Session, frame: Frame, kind: methods.SignKind, recorded: Any) -> str:
        """This run's tx for the request, signed by whoever signed the recorded reply."""
        request = self._sign_request_of(session, kind)
        if request is None:
            self.notes.append(
                f"#{frame.seq} {frame.role}: the node sent no {kind.request_method} to answer"
            )
            return str(recorded)
        signed = request.decoded()
        for role, preimage in self._recorded_signers(frame, kind, recorded):
            signed = Signer(self.keys[role], self.network_id, preimage).sign(signed)
        return signed.to_api()

    def _recorded_signers(
        self, frame: Frame, kind: methods.SignKind, recorded: Any
    ) -> list[tuple[str, signing.Preimage]]:
        """Who added signatures in the recorded reply (and with which preimage)."""
        own: list[tuple[str, signing.Preimage]] = [(frame.role, "hashed")]
        if not isinstance(recorded, str):
            return own
        try:
            reply = txs.decode_signed(recorded)
        except DecodeError:
            return own
        asked = self._recorded_requests.get((frame.role, kind.request_method))
        before: set[bytes] = set()
        if asked is not None and asked.tx:
            try:
                before = set(txs.decode_signed(asked.tx).signatures)
            except DecodeError:
                before = set()
        added = [s for s in reply.signatures if s not in before]
        pubkeys = {encoding.decode(a, "ak"): r for a, r in self.plan.parties.items()}
        network = self._recorded_network or signing.detect_network_id(
            added[0] if added else b"", list(pubkeys), reply.tx_bytes
        )
        if network is None:
            return own
        self._recorded_network = network
        found: list[tuple[str, signing.Preimage]] = []
        for signature in added:
            match = signing.find_signer(signature, list(pubkeys), reply.tx_bytes, network)
            if match is not None:
                found.append((pubkeys[match[0]], match[1]))
        return found or own

    # -- waiting for the node ------------------------------------------------------------------
    # pairing: the k-th recorded frame of a kind with the k-th replayed one of that kind, so
    # frames arriving in another order (a message overtaking a block's frames) still pair
    def _on_record(self, frame: Frame) -> None:
        if self._advancing:
            self._advance_seqs.add(frame.seq)
            self._progress.set()
            return
        if frame.direction is Direction.RECEIVED and self.unsimulated is None:
            method = _unsimulated_method(frame) if self.node is not None else None
            if method is not None:
                self.unsimulated = (method, self._last_sent_seq)
        if frame.direction is Direction.RECEIVED:
            key = _kind(frame)
            waiting = self._unpaired_recorded.setdefault(frame.role, {}).get(key)
            if waiting:
                self._pair(waiting.popleft(), frame)
            else:
                self._unpaired_replayed.setdefault(frame.role, {}).setdefault(key, deque()).append(
                    frame
                )
        elif frame.direction is Direction.CLOSE:
            self._close_count[frame.role] = self._close_count.get(frame.role, 0) + 1
        self._progress.set()

    def _recorded_arrives(self, frame: Frame) -> None:
        key = _kind(frame)
        ready = self._unpaired_replayed.setdefault(frame.role, {}).get(key)
        if ready:
            self._pair(frame, ready.popleft())
            return
        self._unpaired_recorded.setdefault(frame.role, {}).setdefault(key, deque()).append(frame)
        self._missing_by_seq.setdefault(frame.role, {})[frame.seq] = frame

    def _pair(self, recorded: Frame, replayed: Frame) -> None:
        self._missing_by_seq.get(recorded.role, {}).pop(recorded.seq, None)
        self._learn(recorded, replayed)

    def _closes(self, role: str) -> int:
        return self._close_count.get(role, 0)

    def _missing_of(self, role: str) -> list[Frame]:
        found = self._missing_by_seq.get(role, {})
        return [found[seq] for seq in sorted(found)]

    def _missing(self) -> list[Frame]:
        """Recorded frames (up to now) the replay has not received, nor given up on."""
        return [f for role in self._expected_received for f in self._missing_of(role)]

    def _only_blocks_missing(self) -> bool:
        """Whether every role's next awaited frame needs a block (so one may be made now).

        Making a block while a role still awaits an ordinary frame would let the block's
        frames overtake it.
        """
        firsts = [self._first_missing(role) for role in self._expected_received]
        present = [f for f in firsts if f is not None]
        return bool(present) and all(_needs_block(f) for f in present)

    def _first_missing(self, role: str) -> Frame | None:
        found = self._missing_by_seq.get(role, {})
        return found[min(found)] if found else None

    def _closes_missing(self) -> bool:
        return any(self._closes(r) < n for r, n in self._expected_closes.items())

    def _learn(self, old: Frame, new: Frame) -> None:
        """Paired frames carry corresponding ids and states: remember the translation."""
        if old.fsm_id and new.fsm_id:
            self.maps.fsm_ids.setdefault(old.fsm_id, new.fsm_id)
        if old.channel_id and new.channel_id:
            self.maps.channels.setdefault(old.channel_id, new.channel_id)
        if old.tx and new.tx and old.method in (methods.UPDATE, methods.LEAVE):
            self.maps.states.setdefault(old.tx, new.tx)
        if old.round is not None and new.round is not None:
            for recorded, replayed in zip(_created(old), _created(new), strict=False):
                self.maps.contracts.setdefault(
                    _contract_api(recorded, old.round), _contract_api(replayed, new.round)
                )
        if old.tx and new.tx and old.method == methods.ON_CHAIN_TX:
            with contextlib.suppress(DecodeError):
                recorded_hash = txs.decode_signed(old.tx).hash
                self.maps.hashes.setdefault(recorded_hash, txs.decode_signed(new.tx).hash)

    async def _catch_up(self, grace: bool = False) -> None:
        """Wait until the replay has received what the recording had by now.

        Frames that need blocks are waited for up to ``step_timeout`` (making blocks on
        the embedded node); others until the node has been quiet for ``quiet`` seconds —
        a node that diverged from the recording does not cost a full timeout per step.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.step_timeout
        quiet_since = loop.time()
        while True:
            missing = self._missing()
            if not missing and not (grace and self._closes_missing()):
                return
            if self.unsimulated is not None:  # what is missing now will never come
                self._give_up()
                return
            now = loop.time()
            slow = any(_needs_block(f) or f.event == "timeout" for f in missing)
            if now >= deadline or (not slow and now - quiet_since >= self.quiet):
                self._give_up()
                return
            chain = self.node is not None and self._only_blocks_missing()
            self._progress.clear()
            if chain and self.node is not None:
                self._post_stale_close(missing)
                self.node.mine(1)
            try:
                await asyncio.wait_for(self._progress.wait(), 0.05 if chain else self.quiet)
            except TimeoutError:
                continue
            quiet_since = loop.time()

    # -- a group case recorded at a later round -------------------------------------------------
    async def _advance_to_case_round(self, case: Sequence[Frame]) -> None:
        """Bring the channel to the round the case starts at, with zero-amount transfers.

        A group's cases were recorded one after another on one channel, so a later case
        starts at a later round than the group's prelude leaves; the frames of the advance
        are not compared (a note says how many rounds were added).
        """
        await self._catch_up()
        target = _case_start_round(case)
        current = self._current_round()
        i, r = self._latest.get("initiator"), self._latest.get("responder")
        if target is None or current is None or target <= current or i is None or r is None:
            return
        self._advancing = True
        try:
            for _ in range(target - current):
                if not await self._zero_transfer(i, r):
                    self.notes.append("could not advance the channel to the case's round")
                    return
        finally:
            self._advancing = False
        self.notes.append(
            f"advanced the channel from round {current} to {target} (the round the case was "
            f"recorded at) with {target - current} zero transfers, not compared"
        )

    def _current_round(self) -> int | None:
        state = self._latest_state("initiator")
        if state is None:
            return None
        with contextlib.suppress(DecodeError):
            return getattr(txs.decode_signed(state).innermost, "round", 1)
        return None

    async def _zero_transfer(self, i: Session, r: Session) -> bool:
        """One transfer of 0 from the initiator, signed by both (manual signing)."""
        before = self._current_round() or 0
        params = {"from": self.keys["initiator"].address, "to": self.keys["responder"].address}
        update = {"jsonrpc": "2.0", "method": methods.UPDATE_NEW, "params": {**params, "amount": 0}}
        seen = {
            "update": self._requests_seen(i, "update"),
            "update_ack": self._requests_seen(r, "update_ack"),
        }
        await i.send_raw(json.dumps(update))
        for session, tag, role in ((i, "update", "initiator"), (r, "update_ack", "responder")):
            kind = methods.SIGN_BY_REQUEST[tag]

            def asked(session: Session = session, tag: str = tag) -> bool:
                return self._requests_seen(session, tag) > seen[tag]

            request = self._sign_request_of(session, kind) if await self._until(asked) else None
            if request is None:
                return False
            signed = Signer(self.keys[role], self.network_id).sign(request.decoded())
            reply = {
                "jsonrpc": "2.0",
                "method": kind.reply_method,
                "params": {"signed_tx": signed.to_api()},
            }
            await session.send_raw(json.dumps(reply))

        def both_updated() -> bool:
            rounds = set()
            for role in ("initiator", "responder"):
                state = self._latest_state(role)
                if state is None:
                    return False
                rounds.add(getattr(txs.decode_signed(state).innermost, "round", 1))
            return rounds == {before + 1}

        return await self._until(both_updated)

    @staticmethod
    def _requests_seen(session: Session, tag: str) -> int:
        return sum(1 for e in session.events if isinstance(e, ev.SignRequest) and e.tag == tag)

    async def _until(self, done: Callable[[], bool]) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.step_timeout
        while not done():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.001)
        return True

    # -- what the node's test suite did out of band -------------------------------------------
    def _post_stale_close(self, missing: Sequence[Frame]) -> None:
        """Post the node test suite's cheating close_solo when a ``can_slash`` is awaited.

        The recordings' slash cases push, straight into the mempool, a close_solo with an
        empty payload and a PoI the client fetched earlier (``sc_ws_cheating_close_solo_``);
        no frame shows it. It is posted here — once per awaited ``can_slash``, only while
        the channel is active and no dispute tx is pending — by the party that does not
        slash next, with the test's fee (30 000 gas) and ttl (height + 10).
        """
        awaited = [f for f in missing if f.info == "can_slash"]
        if awaited:
            self._cheat(awaited)

    def _cheat_before(self, frame: Frame) -> None:
        """A client's close_solo answered by ``can_slash`` for its own role: a stale close
        was posted just before it (it landed first), as chan_nb's dispute scenario does."""
        if frame.method != methods.CLOSE_SOLO:
            return
        for later in self.plan.frames:
            ours = later.seq > frame.seq and later.role == frame.role
            if ours and later.method == methods.ON_CHAIN_TX:
                if later.info == "can_slash":
                    self._cheat([later])
                return

    def _cheat(self, awaited: Sequence[Frame]) -> None:
        if self.node is None or any(f.seq in self._cheats for f in awaited):
            return
        chain = self.node.core.chain
        channel = self._replay_channel()
        if channel is None:
            return
        on_chain = chain.channel(channel)
        if on_chain is None or not on_chain.active or on_chain.closed:
            return
        if any(getattr(t.tx, "channel_id", None) == Id.channel(channel) for t in chain.mempool):
            return
        poi = self._stale_poi(on_chain.state_hash)
        if poi is None:
            self.notes.append("a can_slash is awaited but no PoI of the on-chain state is known")
            self._cheats.update(f.seq for f in awaited)
            return
        self._cheats.update(f.seq for f in awaited)
        cheater = self._cheater(awaited[0])
        signed = stale_close_solo(chain, channel, self.keys[cheater], poi)
        self.node.post_tx(signed)
        self.notes.append(
            f"posted the test's stale close_solo (by the {cheater}) out of band before "
            f"#{awaited[0].seq}"
        )

    def _pin_recorded_block(self, frame: Frame) -> None:
        """Make the block a recorded contract request pins known to the embedded chain.

        The recorded chain's blocks are not this chain's: a block the reference describes
        (:data:`RECORDED_KEY_BLOCKS`) is pinned with its facts, any other as a snapshot of
        the chain as it is when first named. The name tests' AENS transactions (claim,
        then an update setting :data:`TEST_NAME_POINTERS`) are on chain, out of band: a
        name is updated when a call about it first pins another block than its first.
        """
        if self.node is None:
            return
        params = (frame.message or {}).get("params") if isinstance(frame.message, dict) else None
        block = params.get("block_hash") if isinstance(params, dict) else None
        if not isinstance(block, str) or not block.startswith("kh_"):
            return
        try:
            raw = encoding.decode(block, "kh")
        except DecodeError:
            return
        chain = self.node.core.chain
        pointee = self.keys["initiator"].public_key
        for name in _names_in(params.get("call_data") if isinstance(params, dict) else None):
            first = self._name_blocks.setdefault(name, block)
            if first != block and name not in self._names_updated:
                self._names_updated.add(name)
                chain.set_name(name, {key: ("account", pointee) for key in TEST_NAME_POINTERS})
                self.notes.append(
                    f"updated the name {name} on chain before #{frame.seq} (the test's AENS "
                    "update, out of band)"
                )
        if raw in chain.pinned:
            return
        known = RECORDED_KEY_BLOCKS.get(block)
        if known is None:
            chain.pin_block(raw)
            return
        top = chain.env()
        chain.pin_block(
            raw,
            PinnedBlock(
                height=known.height,
                timestamp=known.timestamp,
                beneficiary=known.beneficiary,
                difficulty=known.difficulty,
                network_id=top.network_id,
                accounts=dict(top.accounts),
                names=top.names,
            ),
        )

    def _replay_channel(self) -> bytes | None:
        for frame in reversed(self.recorder.frames):
            if frame.channel_id:
                with contextlib.suppress(DecodeError):
                    return encoding.decode(frame.channel_id, "ch")
        return None

    def _stale_poi(self, state_hash: bytes) -> bytes | None:
        """A PoI proving the on-chain state: the latest one fetched, else the opening's."""
        fetched = self._last_poi()
        if fetched is not None and trees.Poi.decode(fetched).state_hash() == state_hash:
            return fetched
        keys = [self.keys[r].public_key for r in ("initiator", "responder")]
        try:
            terms = ChannelParams.from_query(self.plan.terms)
            balances = {
                keys[0]: terms.initiator_amount - terms.push_amount,
                keys[1]: terms.responder_amount + terms.push_amount,
            }
        except (ChanNbError, ValueError, AttributeError):
            return None
        opening = trees.StateTrees.from_balances(balances).poi(accounts=keys)
        return opening.serialize() if opening.state_hash() == state_hash else None

    def _last_poi(self) -> bytes | None:
        """The PoI of this run's latest ``channels.get.poi`` answer."""
        for frame in reversed(self.recorder.frames):
            message = frame.message if isinstance(frame.message, dict) else {}
            params = message.get("params")
            holder = params.get("data") if isinstance(params, dict) else message.get("result")
            poi = holder.get("poi") if isinstance(holder, dict) else None
            if isinstance(poi, str):
                with contextlib.suppress(DecodeError):
                    return encoding.decode(poi, "pi")
        return None

    def _cheater(self, awaited: Frame) -> str:
        """The party that does not slash after ``awaited`` (the initiator by default)."""
        for frame in self.plan.frames:
            later = frame.seq > awaited.seq and frame.direction is Direction.SENT
            if later and frame.method == methods.SLASH:
                return "responder" if frame.role == "initiator" else "initiator"
        return "initiator"

    def _give_up(self) -> None:
        for role in self._expected_received:
            missing = self._missing_of(role)
            if missing:
                self._missing_by_seq[role] = {}  # written off: the node never sent them
                kinds = ", ".join(_describe(f) for f in missing[:3])
                more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
                self.notes.append(f"{role}: never received {kinds}{more}")
        for role, wanted in self._expected_closes.items():
            if self._closes(role) < wanted:
                self.notes.append(f"{role}: the node did not close the socket")


async def replay(
    path: Path,
    *,
    url: str | None = None,
    network_id: str | None = None,
    prelude: Path | None = None,
    memory: bool = False,
    step_timeout: float | None = None,
    era: Era | None = None,
    keys: tuple[Keypair, Keypair] | None = None,
) -> ReplayResult:
    """Replay ``path`` against a fresh embedded node (default) or the node at ``url``.

    ``step_timeout`` defaults to :func:`step_timeout_for` the recording.
    A real node needs ``keys`` of funded accounts (initiator, responder); the embedded
    node funds fresh ones itself and plays the node build ``era`` (default: the one the
    recording shows, :func:`recorded_era`; ``result.plan.era`` says which).
    """
    what = plan(path, prelude)
    if step_timeout is None:
        step_timeout = step_timeout_for(what.frames)
    if url is not None:
        if network_id is None:
            raise ReplayError("a node given by URL needs its network id")
        return await Replayer(
            what, url=url, network_id=network_id, step_timeout=step_timeout, keys=keys
        ).run()
    from chan_nb.client.transport import MemoryTransport
    from chan_nb.node import EmbeddedNode

    used = era or what.era
    what.era = used
    create_version = 2 if used == "current" else 1
    async with EmbeddedNode(
        block_interval=None, network_id=network_id, create_tx_version=create_version, era=used
    ) as node:
        return await Replayer(
            what,
            url=node.url,
            network_id=node.network_id,
            node=node,
            # recorded as read: the replayed clients act before reading what is on its way
            transport=MemoryTransport(node, record_on_delivery=False) if memory else None,
            step_timeout=step_timeout,
        ).run()
