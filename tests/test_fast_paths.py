"""The speed-ups keep their answers: caches, memos and the WebSocket fast paths.

Every shortcut taken for ``chan-nb bench`` must give the answer the slow path gives:
cached verifications and decodes, memoised serializations, frames written without
awaiting, frames handed to the node where they are parsed (and the fallbacks when a
shortcut does not apply: back-pressure, fragmented messages, invalid UTF-8).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode

from chan_nb import ws_write
from chan_nb.client.signer import Signer
from chan_nb.codec import encoding, signing, txs
from chan_nb.codec.ids import Id
from chan_nb.codec.keys import Keypair
from chan_nb.errors import DecodeError
from chan_nb.node import EmbeddedNode
from chan_nb.protocol import frames, methods
from tests.node.harness import connect_params

NETWORK = "ae_uat"


def _offchain(round_: int) -> txs.ChannelOffchainTx:
    return txs.ChannelOffchainTx(Id.channel(bytes(range(32))), round_, bytes(32))


# -- signatures -----------------------------------------------------------------------------


def test_remembered_verifications_never_change_an_answer() -> None:
    key, other = Keypair.generate(), Keypair.generate()
    tx_bytes = _offchain(7).serialize()
    good = signing.sign(tx_bytes, key, NETWORK, "hashed")
    bad = bytes([good[0] ^ 1]) + good[1:]
    for _ in range(2):  # the second pass answers from the cache
        assert signing.verify(good, key.public_key, tx_bytes, NETWORK) == "hashed"
        assert signing.verify(bad, key.public_key, tx_bytes, NETWORK) is None
        assert signing.verify(good, other.public_key, tx_bytes, NETWORK) is None
        assert signing.verify(good, key.public_key, tx_bytes, "ae_mainnet") is None
        assert signing.verify(good, key.public_key, _offchain(8).serialize(), NETWORK) is None
    signing.clear_verify_cache()
    assert signing.verify(good, key.public_key, tx_bytes, NETWORK) == "hashed"


@pytest.mark.parametrize("own", ["hashed", "raw"])
def test_a_signer_does_not_sign_again_under_its_other_preimage(own: str) -> None:
    key = Keypair.generate()
    signer = Signer(key, NETWORK, own)  # type: ignore[arg-type]
    other = "raw" if own == "hashed" else "hashed"
    unsigned = txs.SignedTx.wrap(_offchain(3))
    by_other_rule = unsigned.with_signature(
        signing.sign(unsigned.tx_bytes, key, NETWORK, other)  # type: ignore[arg-type]
    )
    assert signer.has_signed(by_other_rule)
    assert signer.sign(by_other_rule) is by_other_rule
    peer = Keypair.generate()
    by_peer = unsigned.with_signature(signing.sign(unsigned.tx_bytes, peer, NETWORK))
    assert not signer.has_signed(by_peer)
    both = signer.sign(by_peer)
    assert len(both.signatures) == 2 and signer.has_signed(both)


def test_a_co_signed_state_is_checked_without_failed_verifications(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The client's check of a co-signed state tries each party's known signature first:
    the same answers, and no Ed25519 check spent on the other party's signature."""
    from nacl.signing import VerifyKey

    from chan_nb.client.ledger import signed_by

    one, two, stranger = Keypair.generate(), Keypair.generate(), Keypair.generate()
    unsigned = txs.SignedTx.wrap(_offchain(5))
    by_one = signing.sign(unsigned.tx_bytes, one, NETWORK, "hashed")
    by_two = signing.sign(unsigned.tx_bytes, two, NETWORK, "raw")
    both = unsigned.with_signature(by_one).with_signature(by_two)
    checks: list[bytes] = []
    real = VerifyKey.verify

    def counted(self: VerifyKey, *args: object, **kwargs: object) -> bytes:
        checks.append(bytes(self))
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(VerifyKey, "verify", counted)
    for known in (False, True):  # cold, then after the node's checks (as in a session)
        signing.clear_verify_cache()
        if known:
            assert signing.verify(by_one, one.public_key, unsigned.tx_bytes, NETWORK)
            assert signing.verify(by_two, two.public_key, unsigned.tx_bytes, NETWORK)
        checks.clear()
        for _ in range(2):
            assert signed_by(both, one.address, NETWORK)
            assert signed_by(both, two.address, NETWORK)
            assert not signed_by(both, stranger.address, NETWORK)
            assert not signed_by(unsigned, one.address, NETWORK)
            assert not signed_by(unsigned.with_signature(by_two), one.address, NETWORK)
        if known:  # the parties' answers come from the checks already made
            assert [k for k in checks if k != stranger.public_key] == [one.public_key] * 2


def test_the_state_hash_of_ak_balances_is_remembered_with_the_same_answer() -> None:
    from chan_nb.codec import clear_caches, state, trees

    one, two = Keypair.generate(), Keypair.generate()
    for amounts in [(10, 20), (0, 5), (10**30, 1)]:
        balances = dict(zip((one.address, two.address), amounts, strict=True))
        fresh = trees.state_hash_of_balances(
            {encoding.decode(k, "ak"): v for k, v in balances.items()}
        )
        for _ in range(2):  # computed, then remembered (in either key order)
            assert state.state_hash_of_addresses(balances) == fresh
            assert state.state_hash_of_addresses(dict(reversed(balances.items()))) == fresh
    for _ in range(2):  # a bad key is refused every time, never remembered
        with pytest.raises(DecodeError):
            state.state_hash_of_addresses({"ak_nope": 1})
    clear_caches()
    assert state._state_hash_of_addresses.cache_info().currsize == 0


def test_the_client_frame_decoder_answers_as_json_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Client frames go through one kept decoder: the same requests as ``json.loads`` with
    the same options (a decoder per call), or the frame dropped by both."""
    texts = [
        '{"jsonrpc":"2.0","method":"channels.update.new","params":{"amount":1},"id":3}',
        '[{"jsonrpc":"2.0","method":"a"},{"jsonrpc":"2.0","method":"b","id":1}, 7]',
        '{"jsonrpc":"2.0","method":"x","params":{"n":1e99999}}',  # no float holds it
        '{"jsonrpc":"2.0","method":"x","params":NaN}',
        '\ufeff{"jsonrpc":"2.0","method":"x"}',
        "{",
        "",
    ]
    texts += [t.encode("utf-8") for t in texts]  # type: ignore[misc]
    kept = [frames.parse_client_text(text) for text in texts]
    options = {"parse_float": frames._finite, "parse_constant": frames._no_constant}
    per_call = SimpleNamespace(decode=lambda text: json.loads(text, **options))
    monkeypatch.setattr(frames, "_CLIENT_JSON", per_call)
    assert kept == [frames.parse_client_text(text) for text in texts]
    assert [k is None for k in kept[:7]] == [False, False, True, True, True, True, True]


# -- API strings and txs ----------------------------------------------------------------------

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="


def _accepted_by_full_reencode(body: str) -> bool:
    """The old rule: base64 that decodes, re-encodes to itself and has a good checksum."""
    try:
        data = base64.b64decode(body.encode("ascii"), validate=True)
    except (binascii.Error, ValueError):
        return False
    if base64.b64encode(data).decode("ascii") != body or len(data) < 4:
        return False
    return encoding.checksum(data[:-4]) == data[-4:]


@given(st.binary(max_size=40), st.lists(st.tuples(st.integers(1, 6), st.sampled_from(B64))))
def test_the_last_group_canonical_check_equals_a_full_reencode(
    payload: bytes, edits: list[tuple[int, str]]
) -> None:
    body = list(encoding.encode("cb", payload)[3:])
    for back, char in edits:  # stray pad bits, bad padding, changed characters at the end
        if back <= len(body):
            body[-back] = char
    text = "cb_" + "".join(body)
    try:
        encoding.split(text)
        accepted = True
    except DecodeError:
        accepted = False
    assert accepted == _accepted_by_full_reencode("".join(body))


def test_tx_strings_are_decoded_once_and_errors_are_not_remembered() -> None:
    text = txs.SignedTx.wrap(_offchain(5)).to_api()
    first = txs.decode_api(text)
    assert txs.decode_api(text) is first  # the same frozen object
    assert txs.decode_signed(text) is first
    broken = text[:-6] + ("AAAA" if text[-6:-2] != "AAAA" else "BBBB") + text[-2:]
    for _ in range(2):
        with pytest.raises(DecodeError):
            txs.decode_api(broken)
    with pytest.raises(DecodeError, match="expected signed_tx"):
        txs.decode_signed(_offchain(5).to_api())


def test_serialization_is_kept_per_object_and_matches_the_fields() -> None:
    tx = _offchain(9)
    assert tx.serialize() is tx.serialize()
    assert tx.to_api() is tx.to_api()
    later = dataclasses.replace(tx, round=10)
    assert later.serialize() != tx.serialize()
    assert txs.decode(later.serialize()) == later
    fresh = txs.decode(tx.serialize())  # decoded objects compute their own bytes again
    assert "_serialized" not in fresh.__dict__
    assert fresh.serialize() == tx.serialize()


# -- WebSocket fast paths ---------------------------------------------------------------------


def _ping(rpc_id: int) -> str:
    return json.dumps(frames.request(methods.SYSTEM, {"action": "ping"}, rpc_id))


async def _pong_ids(ws: object, count: int) -> list[int]:
    ids = []
    while len(ids) < count:
        frame = json.loads(await asyncio.wait_for(ws.recv(), 5))  # type: ignore[attr-defined]
        if frame.get("result", {}).get("tag") == "pong":
            ids.append(frame["id"])
    return ids


async def test_fragmented_binary_and_invalid_frames_are_handled_in_order() -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    query = urlencode(connect_params(ikey, rkey, "initiator"))
    async with EmbeddedNode(port=0) as node, connect(f"{node.url}?{query}") as ws:
        await ws.send(_ping(1))  # handed to the node where it is parsed
        text = _ping(2)
        await ws.send([text[:10], text[10:30], text[30:]])  # fragmented: websockets' path
        await ws.send(_ping(3))
        await ws.send(_ping(4).encode())  # a binary frame: the node's handler ignores it
        await ws.send(_ping(5))
        assert await _pong_ids(ws, 4) == [1, 2, 3, 5]
    async with EmbeddedNode(port=0) as node, connect(f"{node.url}?{query}") as ws:
        await ws.send(_ping(5))
        # invalid UTF-8 in a text frame: the node leaves it to websockets, which closes 1007
        ws.protocol.send_frame(Frame(Opcode.TEXT, b"\xff\xfe"))
        ws.send_data()
        assert await _pong_ids(ws, 1) == [5]
        await asyncio.wait_for(ws.wait_closed(), 5)
        assert ws.close_code == 1007


async def test_frames_written_without_waiting_fall_back_under_back_pressure() -> None:
    """A peer that stops reading fills the buffer: the rest waits its turn, in order."""
    received: list[str] = []
    done, release = asyncio.Event(), asyncio.Event()
    total = 400

    async def handler(ws: object) -> None:
        await release.wait()  # not reading: the client's buffers fill up
        async for message in ws:  # type: ignore[attr-defined]
            received.append(message)
            if len(received) == total:
                done.set()

    async with serve(handler, "127.0.0.1", 0, compression=None, max_size=None) as server:
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        ws = await ws_write.connect(f"ws://127.0.0.1:{port}", ping_interval=None)
        try:
            fast = slow = 0
            pending = []
            for n in range(total):
                text = f"{n:05d}" + "x" * 50_000
                if ws_write.write_now(ws, text):
                    fast += 1
                else:
                    slow += 1
                    pending.append(asyncio.ensure_future(ws.send(text)))
                    await asyncio.sleep(0)
            release.set()
            await asyncio.gather(*pending)
            await asyncio.wait_for(done.wait(), 20)
        finally:
            await ws.close()
    assert fast > 0 and slow > 0  # both paths were taken
    assert [int(m[:5]) for m in received] == list(range(total))


def test_write_now_declines_what_is_not_a_client_link() -> None:
    assert ws_write.write_now(object(), "x") is False


def test_a_signature_seen_to_verify_for_the_peer_is_not_taken_for_ours() -> None:
    key, peer = Keypair.generate(), Keypair.generate()
    signer = Signer(key, NETWORK, "hashed")
    unsigned = txs.SignedTx.wrap(_offchain(11))
    peer_sig = signing.sign(unsigned.tx_bytes, peer, NETWORK)
    by_peer = unsigned.with_signature(peer_sig)
    signing.clear_verify_cache()
    assert signing.verified_signer(peer_sig) is None
    assert signing.verify(peer_sig, peer.public_key, unsigned.tx_bytes, NETWORK) == "hashed"
    assert signing.verified_signer(peer_sig) == peer.public_key
    both = signer.sign(by_peer)  # known to be the peer's: ours is added
    assert len(both.signatures) == 2
    # our own signature under the other rule is still found, whatever is known
    ours_raw = signing.sign(unsigned.tx_bytes, key, NETWORK, "raw")
    assert signing.verify(ours_raw, key.public_key, unsigned.tx_bytes, NETWORK) == "raw"
    assert signing.verified_signer(ours_raw) == key.public_key
    twice = unsigned.with_signature(peer_sig).with_signature(ours_raw)
    assert signer.sign(twice) is twice


async def test_a_frame_the_node_fails_on_closes_that_socket_1011_only(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    ikey, rkey = Keypair.generate(), Keypair.generate()
    query = urlencode(connect_params(ikey, rkey, "initiator"))
    async with EmbeddedNode(port=0) as node:
        receive = node.core.receive

        def failing(conn_id: int, text: str | bytes, now: float) -> object:
            if "boom" in str(text):
                raise RuntimeError("a bug in the node")
            return receive(conn_id, text, now)

        monkeypatch.setattr(node.core, "receive", failing)
        async with connect(f"{node.url}?{query}") as bad, connect(f"{node.url}?{query}") as good:
            await bad.send(_ping(1))
            assert await _pong_ids(bad, 1) == [1]
            await bad.send('{"boom": 1}')
            await bad.send(_ping(2))  # never reaches the node
            after = []
            with pytest.raises(ConnectionClosed):
                while True:
                    after.append(json.loads(await asyncio.wait_for(bad.recv(), 5)))
            assert not [f for f in after if f.get("id") == 2]
            assert bad.close_code == 1011
            await good.send(_ping(3))
            assert await _pong_ids(good, 1) == [3]
    assert "embedded node failed on a frame" in caplog.text
