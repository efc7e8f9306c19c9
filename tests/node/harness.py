"""Test helpers for the embedded node: recorded steps, signing clients, a conformance driver.

* :func:`parse_recording` reads a recording with the package's readers
  (:func:`chan_nb.recording.load`) into :class:`Step` s.
* :class:`Harness` drives the pure :class:`NodeCore` synchronously in virtual
  time (unit tests of the protocol logic).
* :class:`RecordingDriver` plays the *client side* of a recording against an
  :class:`EmbeddedNode` over in-memory connections: fresh keys replace the
  recorded participants, sign requests are signed anew with those keys, and
  every node frame received is compared with the recorded one on
  (kind, method, event, error code, data codes, channel_id nullness).

  It is not :mod:`chan_nb.replay`, on purpose: the replayer drives client
  :class:`~chan_nb.client.Session` s (which refuse malformed requests and settle frames
  that race) and reports differences as notes; conformance sends the recorded client
  frames as they are — broken ones included — over raw connections, and fails on the
  first node frame that differs, in order, per socket.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from chan_nb.codec import encoding, signing, txs
from chan_nb.codec.keys import Keypair
from chan_nb.errors import DecodeError
from chan_nb.node import EmbeddedNode
from chan_nb.node.core import Action, Close, NodeCore, Send
from chan_nb.protocol import frames, methods
from chan_nb.recording import Direction, load
from chan_nb.transport.memory import ConnectionClosed, MemoryConnection

Json = Any

# -- recordings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    role: str  # "initiator" / "responder"
    kind: str  # open / send / recv / close / info
    text: str  # URL, JSON text, or note

    @property
    def frame(self) -> Json:
        return json.loads(self.text)


#: the step kind of each record direction of :mod:`chan_nb.recording`
_STEP_KIND: dict[Direction, str] = {
    Direction.OPEN: "open",
    Direction.SENT: "send",
    Direction.RECEIVED: "recv",
    Direction.CLOSE: "close",
    Direction.INFO: "info",
}


def parse_recording(path: Path) -> list[Step]:
    """Steps of a recorded session, read by the package's own (strict) readers.

    Any format :func:`chan_nb.recording.load` reads (published Markdown, rendered text,
    JSONL …); a step's text is the record's raw text: the URL of an open, the exact
    JSON of a frame, a note.
    """
    log = load(path, decode_txs=False)
    return [Step(frame.role, _STEP_KIND[frame.direction], frame.raw) for frame in log.frames]


def frame_key(frame: Json) -> tuple[Any, ...]:
    """What conformance compares for one node frame."""
    s = frames.summarize(frame)
    return (s.kind.value, s.method, s.event, s.error_code, s.data_codes, s.channel_id is None)


def recorded_participants(steps: Iterable[Step]) -> dict[str, str]:
    """Recorded ``ak_`` of each role: the most frequent value in the fresh-open URLs.

    (``sc_ws_broken_open_params`` also opens with a bogus key now and then.)
    """
    seen: dict[str, Counter[str]] = {"initiator": Counter(), "responder": Counter()}
    for step in steps:
        if step.kind != "open":
            continue
        query = dict(parse_qsl(urlsplit(step.text).query))
        for role in seen:
            value = query.get(f"{role}_id", "")
            if value.startswith("ak_"):
                seen[role][value] += 1
    return {role: count.most_common(1)[0][0] for role, count in seen.items() if count}


# -- signing --------------------------------------------------------------------------------------


def sign_tx_text(text: str, keys: Iterable[Keypair], network_id: str, hashed: bool = False) -> str:
    """The ``tx_`` of a signed_tx with signatures of ``keys`` added."""
    signed = txs.decode_signed(encoding.decode(text, "tx"))
    for key in keys:
        preimage: signing.Preimage = "hashed" if hashed else "raw"
        signed = signed.with_signature(signing.sign(signed.tx_bytes, key, network_id, preimage))
    return signed.to_api()


def sign_reply(
    request: Json, keys: Iterable[Keypair], network_id: str, request_id: Json = None
) -> str:
    """The signing reply to a ``channels.sign.<tag>`` request."""
    tag = request["method"][len(methods.SIGN_PREFIX) :]
    method = methods.SIGN_BY_REQUEST[tag].reply_method
    signed = sign_tx_text(request["params"]["data"]["signed_tx"], keys, network_id)
    return json.dumps(frames.request(method, {"signed_tx": signed}, request_id))


# -- a synchronous harness over the pure core -----------------------------------------------------


@dataclass
class Harness:
    """Drive a :class:`NodeCore` by hand in virtual time; frames land in ``inbox[conn]``."""

    core: NodeCore
    now: float = 0.0
    inbox: dict[int, list[Json]] = field(default_factory=lambda: defaultdict(list))
    closed: set[int] = field(default_factory=set)
    _next: int = 1

    def _run(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, Send):
                decoded = json.loads(action.text)
                self.inbox[action.conn_id].append(decoded)
            elif isinstance(action, Close):
                self.closed.add(action.conn_id)
            # Pause: flow control of a socket, nothing a harness without one sees

    def connect(self, query: dict[str, Any] | str) -> int:
        conn = self._next
        self._next += 1
        text = query if isinstance(query, str) else urlencode(query)
        self._run(self.core.connect(conn, f"/channel?{text}", self.now))
        return conn

    def send(self, conn: int, frame: Json) -> None:
        text = frame if isinstance(frame, str) else json.dumps(frame)
        self._run(self.core.receive(conn, text, self.now))

    def request(self, conn: int, method: str, params: Json, request_id: Json = None) -> None:
        self.send(conn, frames.request(method, params, request_id))

    def disconnect(self, conn: int) -> None:
        self._run(self.core.disconnect(conn, self.now))

    def mine(self, blocks: int = 1) -> None:
        self._run(self.core.mine(self.now, blocks))

    def post(self, signed: txs.SignedTx) -> None:
        """Post a tx to the mempool out of band (as through the node's HTTP API)."""
        self._run(self.core.post(signed, self.now))

    def sleep(self, seconds: float) -> None:
        """Advance virtual time, firing everything due on the way."""
        end = self.now + seconds
        while True:
            due = self.core.next_deadline()
            if due is None or due > end:
                break
            self.now = max(self.now, due)
            self._run(self.core.advance(self.now))
        self.now = end
        self._run(self.core.advance(self.now))

    def take(self, conn: int) -> list[Json]:
        out = self.inbox[conn]
        self.inbox[conn] = []
        return out

    def keys(self, conn: int) -> list[tuple[Any, ...]]:
        return [frame_key(f) for f in self.take(conn)]

    def last_sign_request(self, conn: int) -> Json:
        for frame in reversed(self.inbox[conn]):
            if str(frame.get("method", "")).startswith(methods.SIGN_PREFIX):
                return frame
        raise AssertionError(f"no sign request on connection {conn}")


def info(event: str, null_channel: bool = False) -> tuple[Any, ...]:
    return ("notification", methods.INFO, event, None, (), null_channel)


def note(method: str, event: str | None = None, code: int | None = None) -> tuple[Any, ...]:
    kind = "sign_request" if method.startswith(methods.SIGN_PREFIX) else "notification"
    return (kind, method, event, code, (), False)


def result(null_channel: bool = False) -> tuple[Any, ...]:
    return ("result", None, None, None, (), null_channel)


def error(code: int, *data: int, null_channel: bool = False) -> tuple[Any, ...]:
    return ("error", None, None, code, tuple(data), null_channel)


# -- the conformance driver --------------------------------------------------------------------


class ConformanceError(AssertionError):
    pass


_RACING = {("result", None, None), ("notification", methods.INFO, "died")}  # kind, method, event
_TOKEN = re.compile(r"\b(?:ak|ch|ba|tx|th)_[A-Za-z0-9+/=]+")


@dataclass
class _Conn:
    """One client socket of a role, with frames read but not yet matched."""

    conn: MemoryConnection
    buffer: list[Json] = field(default_factory=list)
    closed_seen: bool = False
    ended: bool = False  # got died or a connect-time error: the node will close it
    consumed: bool = False  # its close was matched by a recorded CLOSE step

    def pull(self) -> None:
        while True:
            try:
                text = self.conn.recv_nowait()
            except ConnectionClosed:
                self.closed_seen = True
                return
            if text is None:
                return
            self.buffer.append(json.loads(text))


@dataclass
class RecordingDriver:
    """Play the client side of recorded steps against a node; compare what comes back.

    A role may have several sockets at once (``sc_ws_close_mutual`` runs a second
    channel while the first one closes): a recorded frame is matched against the
    next unread frame of each of that role's sockets; a send goes to the newest.
    """

    node: EmbeddedNode
    keys: dict[str, Keypair] = field(
        default_factory=lambda: {"initiator": Keypair.generate(), "responder": Keypair.generate()}
    )
    wait_limit: float = 5.0
    conns: dict[str, list[_Conn]] = field(default_factory=lambda: defaultdict(list))
    mapping: dict[str, str] = field(default_factory=dict)  # recorded token -> actual
    last_sign: dict[str, Json] = field(default_factory=dict)
    log: list[tuple[str, str, tuple[Any, ...]]] = field(default_factory=list)
    recorded_keys: dict[str, str] = field(default_factory=dict)
    recorded_network: str | None = None

    def learn_participants(self, steps: list[Step]) -> None:
        for role, address in recorded_participants(steps).items():
            self.recorded_keys.setdefault(role, address)
            self.mapping.setdefault(address, self.keys[role].address)

    async def play(self, steps: list[Step], name: str = "") -> None:
        self.learn_participants(steps)
        for number, step in enumerate(steps, 1):
            where = f"{name} step {number} ({step.role} {step.kind})"
            if step.kind == "open":
                self._open(step)
            elif step.kind == "send":
                await self._send(step, where)
            elif step.kind == "recv":
                await self._expect(step, where)
            elif step.kind == "close":
                await self._close(step, where)

    async def finish(self) -> None:
        """No frame may be left unread or unmatched."""
        await asyncio.sleep(0.01)
        for role, conns in self.conns.items():
            for c in conns:
                c.pull()
                if c.buffer:
                    raise ConformanceError(f"{role}: unexpected frames {c.buffer}")

    # -- steps --------------------------------------------------------------------------------
    def _substitute(self, text: str) -> str:
        return _TOKEN.sub(lambda m: self.mapping.get(m.group(0), m.group(0)), text)

    def _open(self, step: Step) -> None:
        parts = urlsplit(step.text)
        query = [
            (k, self._substitute(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)
        ]
        conn = self.node.connect_memory(f"{parts.path}?{urlencode(query)}")
        self.conns[step.role].append(_Conn(conn))

    def _signers(self, recorded: Json) -> list[Keypair]:
        """Which participants signed a recorded signing reply (their fresh keys)."""
        signed = txs.decode_signed(encoding.decode(recorded["params"]["signed_tx"], "tx"))
        pubkeys = {role: encoding.decode(addr, "ak") for role, addr in self.recorded_keys.items()}
        if self.recorded_network is None:
            for sig in signed.signatures:
                self.recorded_network = signing.detect_network_id(
                    sig, pubkeys.values(), signed.tx_bytes
                )
                if self.recorded_network:
                    break
        out: list[Keypair] = []
        for sig in signed.signatures:
            for role, pub in pubkeys.items():
                network = self.recorded_network
                if network and signing.verify(sig, pub, signed.tx_bytes, network):
                    out.append(self.keys[role])
        return out

    async def _send(self, step: Step, where: str) -> None:
        conns = self.conns.get(step.role)
        if not conns:
            raise ConformanceError(f"{where}: no socket open for {step.role}")
        target = conns[-1]
        if target.conn.closed or target.closed_seen:
            return  # the recording sent into a socket the node had already closed
        recorded = step.frame
        method = recorded.get("method") if isinstance(recorded, dict) else None
        params = recorded.get("params") if isinstance(recorded, dict) else None
        if method in methods.SIGN_BY_REPLY and isinstance(params, dict) and "signed_tx" in params:
            request = self.last_sign.get(step.role)
            if request is None:
                raise ConformanceError(f"{where}: a signing reply but no sign request arrived")
            signed = sign_tx_text(
                request["params"]["data"]["signed_tx"],
                self._signers(recorded),
                self.node.network_id,
            )
            text = json.dumps(dict(recorded, params={**params, "signed_tx": signed}))
        else:
            text = self._substitute(step.text)
        with contextlib.suppress(ConnectionClosed):
            await target.conn.send(text)

    def _learn(self, recorded: Json, actual: Json) -> None:
        """Map recorded ch_/ba_/tx_ values to the actual ones at the same place."""
        if isinstance(recorded, dict) and isinstance(actual, dict):
            for key, value in recorded.items():
                if key in actual:
                    self._learn(value, actual[key])
        elif isinstance(recorded, list) and isinstance(actual, list):
            for a, b in zip(recorded, actual, strict=False):
                self._learn(a, b)
        elif isinstance(recorded, str) and isinstance(actual, str):
            if recorded[:3] in ("ch_", "ba_", "tx_") and recorded[:3] == actual[:3]:
                self.mapping.setdefault(recorded, actual)
            if recorded.startswith("tx_") and actual.startswith("tx_"):
                try:  # clients refer to txs by hash too (assume_minimum_depth)
                    before, after = decode_tx(recorded), decode_tx(actual)
                except AssertionError:
                    return
                self.mapping.setdefault(before.hash, after.hash)

    def _match(self, role: str, want: tuple[Any, ...]) -> Json | None:
        """Take the first frame equal to ``want`` at the head of one of the role's sockets.

        A ``died``/``result`` pair may arrive in either order (websocket-api.md §4.15).
        """
        for c in self.conns[role]:
            c.pull()
            if not c.buffer:
                continue
            found: Json = None
            if frame_key(c.buffer[0]) == want:
                found = c.buffer.pop(0)
            elif (
                frame_key(c.buffer[0])[:3] in _RACING
                and want[:3] in _RACING
                and len(c.buffer) > 1
                and frame_key(c.buffer[1]) == want
            ):
                found = c.buffer.pop(1)
            if found is not None:
                summary = frames.summarize(found)
                if summary.event == "died" or (
                    summary.kind is frames.FrameKind.ERROR
                    and summary.request_id is None
                    and found.get("error", {}).get("request") == {}
                ):
                    c.ended = True
                return found
        return None

    async def _expect(self, step: Step, where: str) -> None:
        recorded = step.frame
        want = frame_key(recorded)
        loop = asyncio.get_running_loop()
        end = loop.time() + self.wait_limit
        while True:
            got = self._match(step.role, want)
            if got is not None:
                self._matched(step, recorded, got)
                return
            await asyncio.sleep(0.002)
            got = self._match(step.role, want)
            if got is not None:
                self._matched(step, recorded, got)
                return
            heads = [c.buffer[0] for c in self.conns[step.role] if c.buffer]
            racing_only = all(frame_key(h)[:3] in _RACING for h in heads)
            if heads and not (racing_only and want[:3] in _RACING):
                shown = [frame_key(h) for h in heads]
                raise ConformanceError(
                    f"{where}: expected {want}, got {shown}: {json.dumps(heads[0])[:300]}"
                )
            if loop.time() > end:
                raise ConformanceError(f"{where}: {want} did not arrive within {self.wait_limit}s")
            self.node.mine(1)  # nothing pending: only the chain (or a timer) can move things

    def _matched(self, step: Step, recorded: Json, actual: Json) -> None:
        self._learn(recorded, actual)
        self.log.append((step.role, "recv", frame_key(actual)))
        if str(actual.get("method", "")).startswith(methods.SIGN_PREFIX):
            self.last_sign[step.role] = actual

    async def _close(self, step: Step, where: str) -> None:
        await asyncio.sleep(0)
        conns = self.conns.get(step.role, [])
        for c in conns:  # a socket the node closes (after died or an error), not noted yet
            if not (c.ended or c.closed_seen) or c.consumed:
                continue
            loop = asyncio.get_running_loop()
            end = loop.time() + self.wait_limit
            while not c.closed_seen and loop.time() < end:
                c.pull()
                await asyncio.sleep(0.002)
            c.pull()
            if c.buffer:
                raise ConformanceError(f"{where}: unread frames before close: {c.buffer}")
            c.consumed = True
            if not c.closed_seen:
                await c.conn.close()
            return
        live = [c for c in conns if not c.closed_seen and not c.conn.closed]
        if not live:
            raise ConformanceError(f"{where}: no socket to close")
        target = live[-1]
        if target.buffer:
            raise ConformanceError(f"{where}: unread frames before close: {target.buffer}")
        target.consumed = True
        await target.conn.close()


def recording(recordings_dir: Path, *parts: str) -> list[Step]:
    return parse_recording(recordings_dir.joinpath("json-rpc", *parts))


def decode_tx(text: str) -> txs.SignedTx:
    try:
        return txs.decode_signed(encoding.decode(text, "tx"))
    except DecodeError as exc:  # pragma: no cover - a failing test shows the message
        raise AssertionError(str(exc)) from None


# -- opening channels on the harness -------------------------------------------------------------

#: connect parameters of the recorded sessions (amounts before push, reserve, lock period)
RECORDED_AMOUNTS: dict[str, Any] = {
    "initiator_amount": 70_000_000_000_000,
    "responder_amount": 40_000_000_000_000,
    "push_amount": 1,
    "channel_reserve": 2,
    "lock_period": 10,
}


@dataclass
class OpenChannel:
    """A channel opened on a :class:`Harness`: connections, keys and id."""

    h: Harness
    i: int
    r: int
    ikey: Keypair
    rkey: Keypair
    channel_id: str
    fsm_ids: dict[str, str]

    @property
    def network_id(self) -> str:
        return self.h.core.config.network_id

    def key_of(self, conn: int) -> Keypair:
        return self.ikey if conn == self.i else self.rkey

    def other(self, conn: int) -> int:
        return self.r if conn == self.i else self.i

    def sign_last(
        self,
        conn: int,
        keys: Iterable[Keypair] | None = None,
        request_id: Json = None,
        network_id: str | None = None,
    ) -> None:
        """Answer the last sign request on ``conn`` (by default with that side's key)."""
        request = self.h.last_sign_request(conn)
        signers = list(keys) if keys is not None else [self.key_of(conn)]
        self.h.send(conn, sign_reply(request, signers, network_id or self.network_id, request_id))

    def ask(self, conn: int, method: str, params: Json) -> Json:
        """The ``result`` of a read call (other frames stay in the inbox)."""
        self.h.request(conn, method, params, request_id="ask")
        reply = self.h.inbox[conn].pop()
        assert reply.get("id") == "ask", reply
        return reply["result"]

    def balances(self, conn: int | None = None) -> dict[str, int]:
        conn = self.i if conn is None else conn
        accounts = [self.ikey.address, self.rkey.address]
        entries = self.ask(conn, methods.GET_BALANCES, {"accounts": accounts})
        return {entry["account"]: entry["balance"] for entry in entries}

    def transfer(self, starter: int, amount: int) -> None:
        """A full, accepted off-chain transfer from ``starter`` to the other side."""
        payer, payee = self.key_of(starter), self.key_of(self.other(starter))
        self.h.request(
            starter,
            methods.UPDATE_NEW,
            {"from": payer.address, "to": payee.address, "amount": amount},
        )
        self.sign_last(starter)
        self.sign_last(self.other(starter))

    def state(self, conn: int) -> txs.SignedTx:
        """The latest co-signed state as the node on ``conn`` reports it."""
        return decode_tx(self.ask(conn, methods.GET_OFFCHAIN_STATE, {})["signed_tx"])


def connect_params(ikey: Keypair, rkey: Keypair, role: str, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        **RECORDED_AMOUNTS,
        "initiator_id": ikey.address,
        "responder_id": rkey.address,
        "port": 13179,
        "protocol": "json-rpc",
        "role": role,
        "keep_running": "false",
    }
    if role == "initiator":
        params["host"] = "localhost"
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


def open_channel(
    h: Harness,
    ikey: Keypair | None = None,
    rkey: Keypair | None = None,
    *,
    confirm: bool = True,
    **overrides: Any,
) -> OpenChannel:
    """Open a channel on the harness (both clients sign); mined to ``open`` when ``confirm``."""
    ikey = ikey or Keypair.generate()
    rkey = rkey or Keypair.generate()
    i = h.connect(connect_params(ikey, rkey, "initiator", **overrides))
    r = h.connect(connect_params(ikey, rkey, "responder", **overrides))
    fsm_ids = {
        "initiator": h.inbox[i][0]["params"]["data"]["fsm_id"],
        "responder": h.inbox[r][0]["params"]["data"]["fsm_id"],
    }
    ch = OpenChannel(h, i, r, ikey, rkey, "", fsm_ids)
    ch.sign_last(i, request_id=1)
    ch.sign_last(r, request_id=2)
    created = [f for f in h.inbox[i] if f.get("method") == methods.ON_CHAIN_TX]
    assert created, f"the create tx was not posted: {h.inbox[i]}"
    ch.channel_id = created[0]["params"]["channel_id"]
    if confirm:
        for _ in range(20):
            if any(f.get("method") == methods.UPDATE for f in h.inbox[i]) and any(
                f.get("method") == methods.UPDATE for f in h.inbox[r]
            ):
                break
            h.mine()
        else:
            raise AssertionError("the channel did not open")
    return ch
