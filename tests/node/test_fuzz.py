"""Property-based fuzzing of the embedded node's endpoint (the pure core, and real sockets).

Every example gets a fresh :class:`NodeCore` with two open channels, A and B, and sends
generated input to A's two connections (or opens new connections with generated
queries): malformed JSON, wrong types, missing and unknown params, huge and negative
numbers, unknown methods, oversized frames, batches, signing replies signed by the wrong
key or for the wrong network id, replays of old states, overdrafts. After each example:

* the node never raised, and logged no crash (an FSM or request failure it caught);
* every frame it sent is a well-formed JSON-RPC frame of the channel API, and every
  error carries a code from the node's table (websocket-api.md §0.2, §1.6);
* where the reference says exactly what the node answers, it answered that;
* channel A's co-signed state and on-chain amount are what they were (nothing a lone
  client sends moves coins), and channel B is untouched and still makes transfers.

Each test counts its examples and checks the count, so a CI run provably generates at
least :data:`MIN_CASES` cases (RELIABILITY.md lists the counts).
"""

from __future__ import annotations

import json
import logging
import os
import string
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chan_nb.codec import encoding, signing, txs
from chan_nb.codec.keys import Keypair
from chan_nb.node import NodeConfig, NodeCore
from chan_nb.node.core import Send
from chan_nb.protocol import codes, frames, methods
from tests.node.harness import Harness, OpenChannel, open_channel, sign_tx_text

Json = Any

#: examples per test (the sum is what one CI run generates)
CASES = {"junk": 350, "requests": 400, "signing": 150, "connect": 150}
MIN_CASES = 1000
HUGE = [2**64, 2**256, 10**40, -(2**63), -1, 0, 2**63 - 1]
#: seconds of virtual time after each example: A's 2 s timers fire, B's idle timer does not
SETTLE = 30.0
#: keys that are nobody in the channels (fixed, so that examples shrink reproducibly)
STRANGERS = [Keypair.generate() for _ in range(3)]

#: what the examples did, by category (``CHAN_NB_FUZZ_REPORT=1 pytest -s`` prints it)
TALLY: Counter[str] = Counter()

FUZZ = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


# -- the node under test ------------------------------------------------------------------------


class _Crashes(logging.Handler):
    """Collects what the node logs at ERROR: a caught crash is still a crash."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture(scope="module")
def crashes() -> Iterator[_Crashes]:
    handler = _Crashes()
    logger = logging.getLogger("chan_nb.node")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        report_tally()


def report_tally() -> None:
    """Print what the examples did (with ``CHAN_NB_FUZZ_REPORT=1``, for RELIABILITY.md)."""
    if os.environ.get("CHAN_NB_FUZZ_REPORT"):
        for key, value in sorted(TALLY.items()):
            print(f"fuzz {key}: {value}")


@dataclass
class World:
    """A node with two open channels, and what must not change in it."""

    h: Harness
    a: OpenChannel
    b: OpenChannel
    sent: list[str]  # every frame text the node sent while fuzzing
    replays: dict[str, str]  # older co-signed states of A, for replay attacks

    @classmethod
    def fresh(cls) -> World:
        h = Harness(NodeCore(NodeConfig(block_interval=None)))
        # A's timers are short so a round left unsigned rolls back within SETTLE seconds;
        # B keeps the defaults (its idle timer, 600 s, never runs out during an example)
        a = open_channel(h, timeout_sign=2000, timeout_accept=2000)
        world = cls(h, a, open_channel(h), [], {})
        h.take(world.a.i), h.take(world.a.r), h.take(world.b.i), h.take(world.b.r)
        return world

    def ready(self, conn: int) -> bool:
        """Whether the node answers ``conn`` now (not closed, refused or blocked)."""
        handler = self.h.core.handlers.get(conn)
        return (
            handler is not None
            and not handler.closed
            and not handler.rejected
            and handler.blocked is None
        )

    def state(self, ch: OpenChannel) -> tuple[object, ...]:
        """Latest co-signed round and balances per role (FSM, else state cache), on-chain amount."""
        core = self.h.core
        raw = encoding.decode(ch.channel_id, "ch")
        views = []
        for conn in (ch.i, ch.r):
            fsm = core.fsm_of(conn)
            cosigned = fsm.cosigned if fsm is not None and fsm.alive else None
            if cosigned is None:
                cached = [s for (cid, _), s in core.state_cache.items() if cid == raw]
                cosigned = cached[0].cosigned if cached else None
            assert cosigned is not None
            views.append((cosigned.round, dict(cosigned.balances)))
        chain = core.chain.channel(raw)
        assert chain is not None
        return (*views, chain.amount, chain.closed)

    def feed(self, conn: int, text: str | bytes) -> list[str]:
        """Send one client frame; the texts the node sent back on that connection."""
        TALLY["frames sent to the node"] += 1
        actions = self.h.core.receive(conn, text, self.h.now)
        replies = self._take(actions, conn)
        for reply in replies:
            for frame in _items(reply):
                if "error" in frame:
                    data = [d["code"] for d in frame["error"].get("data", [])]
                    TALLY[f"answer: error {frame['error']['code']} {data or ''}".strip()] += 1
                elif "result" in frame:
                    TALLY["answer: result"] += 1
                else:
                    TALLY[f"answer: {frame.get('method')}"] += 1
        if not replies:
            TALLY["answer: none"] += 1
        return replies

    def _take(self, actions: list[Send | Any], conn: int) -> list[str]:
        out = [a.text for a in actions if isinstance(a, Send)]
        self.sent.extend(out)
        self.h._run(actions)
        return [a.text for a in actions if isinstance(a, Send) and a.conn_id == conn]


def _items(text: str) -> list[Json]:
    decoded = json.loads(text)
    return decoded if isinstance(decoded, list) else [decoded]


def check_node_frame(text: str) -> None:
    """A node frame: JSON-RPC 2.0, version 1, one of the API's shapes, codes from the table."""
    decoded = json.loads(text)
    items = decoded if isinstance(decoded, list) else [decoded]
    for frame in items:
        assert isinstance(frame, dict), text
        assert frame.get("jsonrpc") == "2.0" and frame.get("version") == 1, text
        if "error" in frame:
            err = frame["error"]
            assert err["code"] in codes.RPC_MESSAGES, text
            assert err["message"] == codes.RPC_MESSAGES[err["code"]], text
            for entry in err.get("data", []):
                assert codes.DATA_MESSAGES[entry["code"]] == entry["message"], text
            assert "id" in frame and "request" in err, text
        elif "result" in frame:
            assert "id" in frame, text
        else:
            assert isinstance(frame.get("method"), str), text
            assert set(frame["params"]) == {"channel_id", "data"}, text


def _after(
    world: World, before: tuple[tuple[object, ...], tuple[object, ...]], crashes: _Crashes
) -> None:
    """The invariants every example must leave behind."""
    assert not crashes.records, [r.getMessage() for r in crashes.records]
    for text in world.sent:
        check_node_frame(text)
    # let A's timers run out: rolled-back rounds must still leave the state as it was
    world.h.sleep(SETTLE)
    assert world.state(world.a) == before[0], "channel A's co-signed state changed"
    assert world.state(world.b) == before[1], "channel B changed"
    b = world.b
    fsm_i, fsm_r = world.h.core.fsm_of(b.i), world.h.core.fsm_of(b.r)
    assert fsm_i is not None and fsm_r is not None and fsm_i.alive and fsm_r.alive
    assert fsm_i.cosigned is not None
    start = fsm_i.cosigned.round
    b.transfer(b.i, 3)
    assert fsm_i.cosigned.round == start + 1, "channel B cannot make a transfer any more"


def _run(world: World, crashes: _Crashes, body: Callable[[World], None]) -> None:
    crashes.records.clear()
    before = (world.state(world.a), world.state(world.b))
    body(world)
    _after(world, before, crashes)


# -- strategies -----------------------------------------------------------------------------------

_ALL_METHODS = sorted(
    {
        getattr(methods, name)
        for name in dir(methods)
        if name.isupper()
        and isinstance(getattr(methods, name), str)
        and getattr(methods, name).startswith("channels.")
    }
    | set(methods.SIGN_BY_REPLY)
    | set(methods.IGNORED_SIGN_REPLIES)
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(HUGE)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bad_strings = st.one_of(
    st.text(string.ascii_letters + string.digits + "_+/=", max_size=60),
    st.sampled_from(["ak_", "ak_1", "tx_", "ba_AAAA", "th_x", "ct_", "", "ak_" + "1" * 50]),
    st.sampled_from([k.address for k in STRANGERS]),
    st.sampled_from([k.address[:-1] + ("1" if k.address[-1] != "1" else "2") for k in STRANGERS]),
)
request_ids = st.one_of(
    st.just(None),
    st.integers(),
    st.sampled_from(HUGE),
    st.text(max_size=10),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2),
)


def _templates(world: World) -> dict[str, dict[str, Json]]:
    """Valid params of each action on channel A (the mutations start from these)."""
    a = world.a
    i, r = a.ikey.address, a.rkey.address
    return {
        methods.UPDATE_NEW: {"from": i, "to": r, "amount": 1},
        methods.DEPOSIT: {"amount": 10},
        methods.WITHDRAW: {"amount": 10},
        methods.MESSAGE: {"to": r, "info": "hello"},
        methods.GET_BALANCES: {"accounts": [i, r]},
        methods.GET_OFFCHAIN_STATE: {},
        methods.GET_POI: {"accounts": [i, r]},
        methods.SHUTDOWN: {},
        methods.LEAVE: {},
        methods.SYSTEM: {"action": "ping"},
        methods.ASSUME_MINIMUM_DEPTH: {"tx_hash": "th_" + "1" * 40},
        methods.GET_CONTRACT: {"pubkey": "ct_x"},
        methods.HISTORY_FETCH: {},
        methods.CLOSE_SOLO: {},
        methods.NEW_CONTRACT: {
            "vm_version": 5,
            "abi_version": 3,
            "deposit": 1,
            "code": "cb_",
            "call_data": "cb_",
        },
    }


#: integers beyond what the node takes in a connect query (issue 13: these leaked)
OVERSIZED = st.sampled_from(["9" * 5000, str(10**400), "-" + "9" * 4301, str(2**32)])
NASTY = st.sampled_from([*HUGE, "1", "-1", 1.5, True, None, [], {}]) | bad_strings


@st.composite
def mutated_params(draw: st.DrawFn, template: dict[str, Json]) -> Json:
    """The template with 0–3 mutations: a key dropped, a value swapped, an unknown key."""
    if draw(st.integers(0, 9)) == 0:
        return draw(json_values)  # not even an object
    params = dict(template)
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["drop", "swap", "nasty", "unknown"]))
        if kind == "unknown" or not params:
            params[draw(st.text(max_size=10))] = draw(json_values)
            continue
        key = draw(st.sampled_from(sorted(params)))
        if kind == "drop":
            del params[key]
        elif kind == "swap":
            params[key] = draw(json_values)
        else:
            params[key] = draw(NASTY)
    return params


@st.composite
def request_text(draw: st.DrawFn, world: World) -> str:
    templates = _templates(world)
    pick = draw(st.integers(0, 9))
    if pick < 6:  # mostly the actions and reads the node serves, from valid params
        method = draw(st.sampled_from(sorted(templates)))
    else:
        method = draw(st.sampled_from(_ALL_METHODS) if pick < 9 else st.text(max_size=25))
    template = templates.get(method, {})
    message: dict[str, Json] = {
        "jsonrpc": draw(st.sampled_from(["2.0"] * 8 + ["1.0", "2", 2.0])),
        "method": method,
        "params": draw(mutated_params(template)),
    }
    rpc_id = draw(request_ids)
    if rpc_id is not None or draw(st.booleans()):
        message["id"] = rpc_id
    if draw(st.integers(0, 15)) == 0:
        message["padding"] = "x" * draw(st.sampled_from([70_000, 1_000_000]))  # oversized
    return json.dumps(message)


junk_text = st.one_of(
    st.text(max_size=200),
    st.binary(max_size=200),
    json_values.map(json.dumps),
    st.sampled_from(
        [
            "{",
            "[",
            "[]",
            "[{}]",
            "null",
            '{"jsonrpc":"2.0"}',
            '{"method":1}',
            "\x00",
            "\ud800".encode("utf-8", "surrogatepass").decode("utf-8", "replace"),
            # what Python's parser cannot take (issue 13): dropped as invalid JSON
            "[" * 100_000 + "]" * 100_000,
            '{"jsonrpc":"2.0","method":"channels.system","params":'
            + '{"a":' * 20_000
            + "1"
            + "}" * 20_000
            + "}",
            '{"jsonrpc":"2.0","id":' + "7" * 5000 + ',"method":"channels.system"}',
            '{"jsonrpc":"2.0","method":"channels.update.new","params":{"amount":1e999}}',
            '{"jsonrpc":"2.0","method":"channels.update.new","params":{"amount":NaN}}',
        ]
    ),
    st.just(
        "["
        + ",".join(['{"jsonrpc":"2.0","method":"channels.system","params":{"action":"ping"}}'] * 50)
        + "]"
    ),
)


# -- the tests ------------------------------------------------------------------------------------


class _Count:
    """Examples a test ran (and the tally's count of them)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.n = 0

    def __call__(self) -> None:
        self.n += 1
        TALLY[f"examples: {self.name}"] += 1


def _count(name: str) -> _Count:
    return _Count(name)


def test_junk_frames_are_ignored_or_answered_and_change_nothing(crashes: _Crashes) -> None:
    count = _count("junk")

    @settings(FUZZ, max_examples=CASES["junk"])
    @given(st.lists(st.tuples(st.booleans(), junk_text), min_size=1, max_size=6))
    def run(frames_in: list[tuple[bool, str | bytes]]) -> None:
        count()
        world = World.fresh()

        def body(w: World) -> None:
            for to_initiator, text in frames_in:
                w.feed(w.a.i if to_initiator else w.a.r, text)

        _run(world, crashes, body)

    run()
    assert count.n >= CASES["junk"]


def test_mutated_requests_get_the_nodes_answers_and_change_nothing(crashes: _Crashes) -> None:
    count = _count("requests")

    @settings(FUZZ, max_examples=CASES["requests"])
    @given(st.data())
    def run(data: st.DataObject) -> None:
        count()
        world = World.fresh()

        def body(w: World) -> None:
            for _ in range(data.draw(st.integers(1, 5))):
                conn = data.draw(st.sampled_from([w.a.i, w.a.r]))
                text = data.draw(request_text(w))
                ready = w.ready(conn)
                replies = w.feed(conn, text)
                if ready:
                    message = _strict_json(text)
                    if message is None:  # Infinity, NaN: not JSON, dropped (§2.1)
                        assert not replies, replies
                    else:
                        _expect_exact(message, replies)
                if data.draw(st.integers(0, 4)) == 0:
                    w.h.sleep(data.draw(st.sampled_from([0.5, 5.0])))  # timers fire
                if data.draw(st.integers(0, 4)) == 0:
                    w.h.mine(data.draw(st.integers(1, 3)))

        _run(world, crashes, body)

    run()
    assert count.n >= CASES["requests"]


def _not_json(constant: str) -> None:
    raise ValueError(constant)


def _strict_json(text: str) -> Json:
    """``text`` decoded as JSON proper (without Python's NaN/Infinity), else None."""
    try:
        return json.loads(text, parse_constant=_not_json)
    except ValueError:
        return None


def _expect_exact(message: dict[str, Json], replies: list[str]) -> None:
    """Where the reference fixes the answer (websocket-api.md §1.6, §2.1), check it."""
    frames_out = [json.loads(t) for t in replies]
    params = message.get("params")
    if message.get("jsonrpc") != "2.0":
        assert not frames_out, f"a request with a bad jsonrpc was answered: {frames_out}"
        return
    method = message["method"]
    errors = [f for f in frames_out if "error" in f]
    if method not in _ALL_METHODS:
        assert [e["error"]["code"] for e in errors] == [-32601], frames_out
        assert errors[0]["id"] == message.get("id")
        return
    if method == methods.UPDATE_NEW and isinstance(params, dict):
        amount = params.get("amount")
        if {"from", "to", "amount"} <= set(params) and not isinstance(amount, int):
            # a non-integer amount (a bool counts as one) is 1008 — unless an account is broken
            codes_seen = [tuple(d["code"] for d in e["error"].get("data", [])) for e in errors]
            assert codes_seen in ([(1008,)], [(1005,)]), frames_out
        elif isinstance(amount, int) and not isinstance(amount, bool) and amount < 0:
            assert errors, frames_out


@st.composite
def bad_signing(draw: st.DrawFn) -> str:
    return draw(
        st.sampled_from(
            [
                "wrong_key",
                "wrong_network",
                "no_signature",
                "tampered",
                "replay_create",
                "replay_round",
                "garbage_sig",
                "peer_signs_twice",
            ]
        )
    )


def _bad_reply(world: World, request: Json, how: str, network: str) -> str:
    """A signing reply to ``request`` that the node must refuse."""
    a = world.a
    tag = request["method"][len(methods.SIGN_PREFIX) :]
    reply_method = methods.SIGN_BY_REQUEST[tag].reply_method
    tx_text = request["params"]["data"]["signed_tx"]
    signed = txs.decode_signed(encoding.decode(tx_text, "tx"))
    key = a.ikey if request["_conn"] == a.i else a.rkey
    if how == "wrong_key":
        out = sign_tx_text(tx_text, [STRANGERS[0]], network)
    elif how == "wrong_network":
        out = sign_tx_text(tx_text, [key], network + "_other")
    elif how == "no_signature":
        out = signed.to_api()
    elif how == "garbage_sig":
        out = signed.with_signature(bytes(64)).to_api()
    elif how == "peer_signs_twice":  # the peer's key twice instead of ours
        peer = a.rkey if key is a.ikey else a.ikey
        out = sign_tx_text(tx_text, [peer], network)
    elif how == "tampered":
        inner = signed.innermost
        assert isinstance(inner, txs.ChannelOffchainTx)
        forged = txs.ChannelOffchainTx(inner.channel_id, inner.round + 5, inner.state_hash)
        unsigned = txs.SignedTx.wrap(forged)
        out = unsigned.with_signature(signing.sign(unsigned.tx_bytes, key, network, "raw")).to_api()
    else:  # replay_create / replay_round: a co-signed older state (round 1 / the latest)
        out = world.replays[how]
    return json.dumps(frames.request(reply_method, {"signed_tx": out}, 1))


def test_bad_signatures_replays_and_overdrafts_are_refused(crashes: _Crashes) -> None:
    count = _count("signing")

    @settings(FUZZ, max_examples=CASES["signing"])
    @given(
        how=bad_signing(),
        starter_is_initiator=st.booleans(),
        amount=st.one_of(
            st.integers(1, 1000), st.sampled_from([70_000_000_000_000, 2**70, 10**40])
        ),
        acknowledger_misbehaves=st.booleans(),
    )
    def run(
        how: str, starter_is_initiator: bool, amount: int, acknowledger_misbehaves: bool
    ) -> None:
        count()
        world = World.fresh()
        a = world.a
        # one honest round first, so that co-signed states exist to replay
        world.replays["replay_create"] = _cosigned(world, a.i)
        a.transfer(a.i, 1)
        world.replays["replay_round"] = _cosigned(world, a.i)
        a.h.take(a.i), a.h.take(a.r)
        network = world.h.core.config.network_id

        def body(w: World) -> None:
            starter = a.i if starter_is_initiator else a.r
            other = a.other(starter)
            payer, payee = a.key_of(starter), a.key_of(other)
            request = frames.request(
                methods.UPDATE_NEW, {"from": payer.address, "to": payee.address, "amount": amount}
            )
            replies = [json.loads(t) for t in w.feed(starter, json.dumps(request))]
            fsm = w.h.core.fsm_of(starter)
            assert fsm is not None and fsm.cosigned is not None
            balance = fsm.cosigned.balances[encoding.decode(payer.address, "ak")]
            if balance - amount < 2:  # channel_reserve 2: an overdraft is 1001, nothing to sign
                event("overdraft")
                TALLY["refused: overdraft (1001)"] += 1
                assert [d["code"] for r in replies for d in r["error"]["data"]] == [1001], replies
                return
            sign_request = replies[-1]
            assert sign_request["method"] == "channels.sign.update", replies
            sign_request["_conn"] = starter
            side = "acknowledger" if acknowledger_misbehaves else "starter"
            event(f"{how} by the {side}")
            TALLY[f"refused: {how} by the {side}"] += 1
            if acknowledger_misbehaves:
                a.sign_last(starter)
                ack = a.h.last_sign_request(other)
                ack["_conn"] = other
                w.feed(other, _bad_reply(w, ack, how, network))
                assert _conflict_or_error(w, other), f"{how}: the acknowledger was not refused"
            else:
                w.feed(starter, _bad_reply(w, sign_request, how, network))
                assert _conflict_or_error(w, starter), f"{how}: the starter was not refused"

        _run(world, crashes, body)

    run()
    assert count.n >= CASES["signing"]
    tried = {key.split()[1] for key in TALLY if key.startswith("refused: ") and " by the " in key}
    assert tried == {
        "wrong_key",
        "wrong_network",
        "no_signature",
        "tampered",
        "replay_create",
        "replay_round",
        "garbage_sig",
        "peer_signs_twice",
    }, tried
    assert TALLY["refused: overdraft (1001)"] > 0


def _cosigned(world: World, conn: int) -> str:
    fsm = world.h.core.fsm_of(conn)
    assert fsm is not None and fsm.cosigned is not None
    return fsm.cosigned.signed.to_api()


def _conflict_or_error(world: World, conn: int) -> bool:
    """The client on ``conn`` was told its reply failed (channels.error / conflict / error)."""
    seen = world.h.take(conn)
    kinds = {f.get("method") for f in seen} | {"error" for f in seen if "error" in f}
    return bool(kinds & {methods.ERROR, methods.CONFLICT, "error"})


@st.composite
def connect_queries(draw: st.DrawFn, world: World) -> str:
    a = world.a
    base = {
        "protocol": "json-rpc",
        "role": draw(st.sampled_from(["initiator", "responder", "other", ""])),
        "initiator_id": a.ikey.address,
        "responder_id": a.rkey.address,
        "initiator_amount": "100",
        "responder_amount": "100",
        "push_amount": "0",
        "channel_reserve": "1",
        "lock_period": "1",
        "port": "9999",
        "host": "localhost",
        "timeout_idle": "600000",
        "nonce": "1",
        "existing_channel_id": a.channel_id,
        "existing_fsm_id": a.fsm_ids["initiator"][:-2] + "AA",
    }
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from(sorted(base)))
        if draw(st.booleans()):
            del base[key]
        else:
            base[key] = draw(st.sampled_from([str(h) for h in HUGE]) | bad_strings | OVERSIZED)
    if draw(st.booleans()):
        base.pop("existing_channel_id", None)
        base.pop("existing_fsm_id", None)
    from urllib.parse import urlencode

    query = urlencode(base)
    if draw(st.integers(0, 5)) == 0:
        query = draw(st.text(max_size=80))
    return draw(st.sampled_from(["/channel?", "/channel?", "/other?"])) + query


def _connect_outcome(world: World, conn: int, frames_out: list[str]) -> str:
    if frames_out and "error" in frames_out[0]:
        return "refused with an error frame"
    if conn in world.h.closed:
        return "closed silently"
    return "accepted (fsm_up)" if frames_out else "accepted, waiting"


def test_generated_connect_queries_never_hurt_existing_channels(crashes: _Crashes) -> None:
    count = _count("connect")

    @settings(FUZZ, max_examples=CASES["connect"])
    @given(st.data())
    def run(data: st.DataObject) -> None:
        count()
        world = World.fresh()

        def body(w: World) -> None:
            for _ in range(data.draw(st.integers(1, 3))):
                path = data.draw(connect_queries(w))
                conn = w.h._next
                w.h._next += 1
                opened = w._take(w.h.core.connect(conn, path, w.h.now), conn)
                TALLY[f"connect: {_connect_outcome(w, conn, opened)}"] += 1
                w.feed(conn, data.draw(request_text(w)))
                if data.draw(st.booleans()):
                    w._take(w.h.core.disconnect(conn, w.h.now), conn)

        _run(world, crashes, body)

    run()
    assert count.n >= CASES["connect"]


def test_the_case_counts_add_up() -> None:
    assert sum(CASES.values()) >= MIN_CASES
