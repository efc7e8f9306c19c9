"""A scripted malicious node (and the peer behind it) for attacking a client session.

The script holds both participants' keys — the peer is the attacker, and a node that
lies can replay anything the peer signed — so it can build every frame a hostile node
could send: well-formed, correctly signed by the peer, and wrong. It speaks to a real
:class:`~chan_nb.client.Session` either in memory (:class:`MemoryScript`, the session's
transport) or over a real loopback WebSocket (:class:`SocketScript`, a server on
127.0.0.1 that the session's :class:`WebSocketTransport` connects to).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from chan_nb.client import ChannelParams, PolicyViolation, Session
from chan_nb.client import events as ev
from chan_nb.client.ledger import signed_by, state_hash_of
from chan_nb.client.transport import Disconnected
from chan_nb.codec import hashing, txs
from chan_nb.codec import updates as upd
from chan_nb.codec.encoding import decode
from chan_nb.codec.ids import Id
from chan_nb.codec.keys import Keypair
from chan_nb.codec.signing import sign
from chan_nb.protocol.frames import strings_in

NET = "attack_testnet"
STEP = 10.0


class MemoryScript:
    """The node as a transport: frames pushed in, frames the session sent collected."""

    def __init__(self) -> None:
        self.inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.sent: list[dict[str, Any]] = []
        self.raw_sent: list[str] = []
        self._news = asyncio.Event()
        self.url = "ws://scripted"

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def session_options(self) -> dict[str, Any]:
        return {"url": self.url, "transport": self}

    # transport / connection
    async def connect(self, url: str) -> MemoryScript:
        return self

    def send_now(self, text: str) -> bool:
        return False

    async def send(self, text: str) -> None:
        self._took(text)

    async def recv(self) -> str:
        item = await self.inbox.get()
        if item is None:
            raise Disconnected("closed by the script", by_peer=True)
        return item

    async def close(self) -> None:
        self.inbox.put_nowait(None)

    # the script's side
    def _took(self, text: str) -> None:
        self.raw_sent.append(text)
        try:
            self.sent.append(json.loads(text))
        except ValueError:
            self.sent.append({"raw": text})
        self._news.set()

    def push(self, frame: dict[str, Any]) -> None:
        self.inbox.put_nowait(json.dumps(frame))

    def push_raw(self, text: str) -> None:
        self.inbox.put_nowait(text)

    async def wait_sent(self, method: str, since: int = 0) -> dict[str, Any]:
        """The first frame the session sent with ``method`` (from index ``since``)."""

        async def find() -> dict[str, Any]:
            while True:
                for frame in self.sent[since:]:
                    if frame.get("method") == method:
                        return frame
                self._news.clear()
                await self._news.wait()

        return await asyncio.wait_for(find(), STEP)


class SocketScript(MemoryScript):
    """The same script behind a real WebSocket server on 127.0.0.1."""

    def __init__(self) -> None:
        super().__init__()
        self._server: Any = None

    async def start(self) -> None:
        from websockets.asyncio.server import serve

        self._server = await serve(self._handle, "127.0.0.1", 0, max_size=None)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}/channel"

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def session_options(self) -> dict[str, Any]:
        return {"url": self.url}

    async def _handle(self, ws: Any) -> None:
        async def pump() -> None:
            while True:
                item = await self.inbox.get()
                if item is None:
                    await ws.close()
                    return
                await ws.send(item)

        pumping = asyncio.ensure_future(pump())
        try:
            async for message in ws:
                self._took(message if isinstance(message, str) else message.decode())
        except Exception:  # the client dropped the socket: the script ends too
            pass
        finally:
            pumping.cancel()


def notification(method: str, channel_id: str | None, data: dict[str, Any]) -> dict[str, Any]:
    return {
        "jsonrpc": "2.0",
        "method": method,
        "params": {"channel_id": channel_id, "data": data},
        "version": 1,
    }


@dataclass
class Forge:
    """Real keys, real txs: the workshop of a node that lies with valid cryptography."""

    victim_role: str = "initiator"
    ikey: Keypair = field(default_factory=Keypair.generate)
    rkey: Keypair = field(default_factory=Keypair.generate)
    # real-sized amounts (0.07 and 0.04 AE): fees of the node's size are small beside them
    initiator_amount: int = 7 * 10**16
    responder_amount: int = 4 * 10**16

    def __post_init__(self) -> None:
        self.params = ChannelParams(
            self.ikey.address,
            self.rkey.address,
            self.initiator_amount,
            self.responder_amount,
            ttl=None,
            nonce=None,
        )
        self.balances = self.params.initial_balances()
        self.round = 1
        self.create = self.create_tx()
        self.channel = hashing.channel_id(self.ikey.public_key, 1, self.rkey.public_key)
        self.latest = self.cosigned(self.create)

    # who is who
    @property
    def victim(self) -> Keypair:
        return self.ikey if self.victim_role == "initiator" else self.rkey

    @property
    def peer(self) -> Keypair:
        return self.rkey if self.victim_role == "initiator" else self.ikey

    @property
    def me(self) -> str:
        return self.victim.address

    @property
    def them(self) -> str:
        return self.peer.address

    # txs
    def create_tx(self, **changes: Any) -> txs.ChannelCreateTx:
        fields: dict[str, Any] = {
            "initiator_id": Id.account(self.ikey.public_key),
            "initiator_amount": self.initiator_amount,
            "responder_id": Id.account(self.rkey.public_key),
            "responder_amount": self.responder_amount,
            "channel_reserve": 0,
            "lock_period": 10,
            "ttl": 0,
            "fee": 20_000,
            "state_hash": state_hash_of(self.params.initial_balances()),
            "nonce": 1,
        }
        fields.update(changes)
        return txs.ChannelCreateTx(**fields)

    def channel_id_obj(self, channel: str | None = None) -> Id:
        return Id.from_api(channel or self.channel)

    def after(self, updates: Iterable[upd.Update]) -> dict[str, int]:
        out = dict(self.balances)
        for u in updates:
            if isinstance(u, upd.OffChainTransfer):
                out[u.from_id.api] = out.get(u.from_id.api, 0) - u.amount
                out[u.to_id.api] = out.get(u.to_id.api, 0) + u.amount
            elif isinstance(u, upd.OffChainDeposit):
                out[u.from_id.api] = out.get(u.from_id.api, 0) + u.amount
            elif isinstance(u, upd.OffChainWithdrawal):
                out[u.to_id.api] = out.get(u.to_id.api, 0) - u.amount
        return out

    def offchain(
        self,
        updates: tuple[upd.Update, ...],
        *,
        round_: int | None = None,
        balances: dict[str, int] | None = None,
        channel: str | None = None,
    ) -> txs.ChannelOffchainTx:
        state = balances if balances is not None else self.after(updates)
        return txs.ChannelOffchainTx(
            channel_id=self.channel_id_obj(channel),
            round=self.round + 1 if round_ is None else round_,
            state_hash=state_hash_of(state),
        )

    def deposit(self, who: str, amount: int, **changes: Any) -> txs.ChannelDepositTx:
        balances = changes.pop("balances", None) or self.after([self.dep(who, amount)])
        fields = self._flow_fields(balances, from_id=Id.from_api(who), amount=amount)
        return txs.ChannelDepositTx(**{**fields, **changes})

    def withdraw(self, who: str, amount: int, **changes: Any) -> txs.ChannelWithdrawTx:
        balances = changes.pop("balances", None) or self.after([self.wd(who, amount)])
        fields = self._flow_fields(balances, to_id=Id.from_api(who), amount=amount)
        return txs.ChannelWithdrawTx(**{**fields, **changes})

    def _flow_fields(self, balances: dict[str, int], **who: Any) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id_obj(),
            **who,
            "ttl": 0,
            "fee": 30_000,
            "state_hash": state_hash_of(balances),
            "round": self.round + 1,
            "nonce": 2,
        }

    def close(self, closer: str, fee: int = 20_000, **changes: Any) -> txs.ChannelCloseMutualTx:
        i, r = self.balances[self.ikey.address], self.balances[self.rkey.address]
        fields: dict[str, Any] = {
            "channel_id": self.channel_id_obj(),
            "from_id": Id.from_api(closer),
            "initiator_amount_final": i - (fee + 1) // 2,
            "responder_amount_final": r - fee // 2,
            "ttl": 0,
            "fee": fee,
            "nonce": 3,
        }
        fields.update(changes)
        return txs.ChannelCloseMutualTx(**fields)

    # updates
    def pay(self, source: str, target: str, amount: int) -> upd.OffChainTransfer:
        return upd.OffChainTransfer(Id.from_api(source), Id.from_api(target), amount)

    def dep(self, who: str, amount: int) -> upd.OffChainDeposit:
        return upd.OffChainDeposit(Id.from_api(who), amount)

    def wd(self, who: str, amount: int) -> upd.OffChainWithdrawal:
        return upd.OffChainWithdrawal(Id.from_api(who), amount)

    # signing
    def signed(self, tx: txs.Tx, *keys: Keypair, network_id: str = NET) -> txs.SignedTx:
        wrapped = txs.SignedTx.wrap(tx)
        for key in keys:
            wrapped = wrapped.with_signature(sign(wrapped.tx_bytes, key, network_id, "hashed"))
        return wrapped

    def cosigned(self, tx: txs.Tx) -> txs.SignedTx:
        return self.signed(tx, self.ikey, self.rkey)

    def advance(self, tx: txs.Tx, updates: Iterable[upd.Update]) -> txs.SignedTx:
        """The script's own record that a round happened (as an honest node would)."""
        self.balances = self.after(updates)
        round_ = getattr(tx, "round", 1)
        self.round = round_
        self.latest = self.cosigned(tx)
        return self.latest

    # frames
    def sign_request(
        self,
        tag: str,
        signed: txs.SignedTx,
        updates: Iterable[upd.Update] = (),
        channel: str | None = None,
    ) -> dict[str, Any]:
        data = {"signed_tx": signed.to_api(), "updates": [u.to_dict() for u in updates]}
        return notification(f"channels.sign.{tag}", channel or self.channel, data)

    def update(self, signed: txs.SignedTx, channel: str | None = None) -> dict[str, Any]:
        return notification("channels.update", channel or self.channel, {"state": signed.to_api()})

    def info(self, event: str, channel: str | None = None, **data: Any) -> dict[str, Any]:
        return notification("channels.info", channel, {"event": event, **data})


def signatures_of(
    frames: Iterable[dict[str, Any]], account: str, network_id: str = NET
) -> Iterator[str]:
    """Every ``tx_`` in the frames that carries a valid signature of ``account``."""
    for frame in frames:
        for text in strings_in(frame):
            if not text.startswith("tx_"):
                continue
            try:
                signed = txs.decode_signed(text)
            except Exception:  # not a signed tx: cannot carry a signature
                continue
            if signed_by(signed, account, network_id):
                yield text


def view(session: Session) -> tuple[Any, ...]:
    """The client's view of its channel: what an attack must not change."""
    return (session.round, dict(session.balances), session.channel_id, session.offchain_tx)


async def open_victim(forge: Forge, script: MemoryScript, **options: Any) -> Session:
    """A session of the victim, open at round 1 with the honest create tx."""
    session = Session(
        forge.victim_role,  # type: ignore[arg-type]
        options.pop("params", forge.params),
        forge.victim,
        network_id=NET,
        timeout=STEP,
        **script.session_options(),
        **options,
    )
    script.push(forge.info("fsm_up", fsm_id="ba_fsm"))
    await session.connect()
    if forge.victim_role == "initiator":
        script.push(forge.sign_request("initiator_sign", forge.signed(forge.create), channel=None))
        await script.wait_sent("channels.initiator_sign")
    else:
        request = forge.signed(forge.create, forge.ikey)
        script.push(forge.sign_request("responder_sign", request, channel=None))
        await script.wait_sent("channels.responder_sign")
    mark = session.mark()
    script.push(forge.update(forge.latest))
    script.push(forge.info("open", forge.channel))
    await session.wait_for("open", since=mark)
    assert session.round == 1 and session.channel_id == forge.channel
    assert session.balances == forge.balances
    return session


async def honest_transfer(
    forge: Forge, script: MemoryScript, session: Session, amount: int
) -> None:
    """One honest round: the victim pays ``amount`` to the peer (round + 1)."""
    moves = (forge.pay(forge.me, forge.them, amount),)
    task = asyncio.ensure_future(session.transfer(forge.them, amount))
    since = len(script.sent)
    await script.wait_sent("channels.update.new", since)
    tx = forge.offchain(moves)
    script.push(forge.sign_request("update", forge.signed(tx), moves))
    await script.wait_sent("channels.update", since)
    script.push(forge.update(forge.advance(tx, moves)))
    await asyncio.wait_for(task, STEP)
    assert session.balances == forge.balances


def peer_key_address(forge: Forge) -> bytes:
    return decode(forge.them, "ak")


__all__ = [
    "NET",
    "STEP",
    "Forge",
    "MemoryScript",
    "SocketScript",
    "ev",
    "honest_transfer",
    "notification",
    "open_victim",
    "refused_ask",
    "signatures_of",
    "view",
]


async def refused_ask(
    script: MemoryScript,
    start: Callable[[], Coroutine[Any, Any, Any]],
    method: str,
    answer: Callable[[], Any],
) -> PolicyViolation:
    """We ask for something (``start``); the node answers ``method`` with ``answer()``;
    the ask must fail with a :class:`PolicyViolation`, which is returned."""
    since = len(script.sent)
    task = asyncio.ensure_future(start())
    try:
        await script.wait_sent(method, since)
        script.push(answer())
        with pytest.raises(PolicyViolation) as refused:
            await asyncio.wait_for(task, STEP)
    finally:
        task.cancel()
    return refused.value
