"""Small pure pieces of the client: URLs, events, the recorder, the sync helper."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from urllib.parse import parse_qsl, urlsplit

import pytest

from chan_nb.client import events as ev
from chan_nb.client.params import (
    ChannelParams,
    Existing,
    channel_url,
    existing_url,
    open_url,
    url_query,
)
from chan_nb.client.recorder import Recorder
from chan_nb.codec.keys import Keypair
from chan_nb.errors import DecodeError
from chan_nb.recording import Direction

INI = Keypair.from_seed(bytes(range(32))).address
RES = Keypair.from_seed(bytes(range(1, 33))).address


def terms(**changes: object) -> ChannelParams:
    base = ChannelParams(INI, RES, 70, 40, push_amount=1, channel_reserve=2, port=14035)
    return base.with_(**changes)


# -- URLs --------------------------------------------------------------------------------------


def test_open_urls_hold_every_parameter_sorted() -> None:
    url = open_url("ws://localhost:3014", terms(timeouts={"accept": 500}), "initiator")
    assert url.startswith("ws://localhost:3014/channel?")
    keys = [k for k, _ in parse_qsl(urlsplit(url).query)]
    assert keys == sorted(keys)
    query = url_query(url)
    assert query["host"] == "localhost" and query["timeout_accept"] == "500"
    assert query["keep_running"] == "false" and query["protocol"] == "json-rpc"
    assert "host" not in url_query(open_url("ws://x/channel", terms(), "responder"))


def test_open_params_round_trip_through_the_query() -> None:
    params = terms(minimum_depth=0, fee=5, report={"debug": True}, extra={"slogan2": "x"})
    query = params.query("initiator")
    assert ChannelParams.from_query(query) == params
    assert params.initial_balances() == {INI: 69, RES: 41}


def test_from_query_names_the_bad_field() -> None:
    with pytest.raises(DecodeError, match="initiator_amount='8x' is not an integer"):
        ChannelParams.from_query({**terms().query("initiator"), "initiator_amount": "8x"})
    with pytest.raises(DecodeError, match="missing open parameter 'responder_id'"):
        ChannelParams.from_query({"initiator_id": INI, "initiator_amount": "1"})


def test_channel_url_normalises_what_people_type() -> None:
    assert channel_url("localhost:3014") == "ws://localhost:3014/channel"
    assert channel_url("http://node:3014/") == "ws://node:3014/channel"
    assert channel_url("https://node/channel") == "wss://node/channel"


def test_existing_urls_encode_fsm_ids_and_may_leave_them_out() -> None:
    fsm = "ba_cQiEQGZ/G5WoXg5o0uLYscwXGrxa+WPteqFwxZ7xsmEctG4/"
    channel = "ch_29rmbxczEmFWBx2JFjD2S8YkhPULNwdUFe6NoZuM3HSA1fEKPC"
    url = existing_url("ws://n:1", Existing(channel, fsm, "responder", 14035))
    assert "existing_fsm_id=ba_cQiEQGZ%2FG5WoXg5o0uLYscwXGrxa%2BWPteqFwxZ7xsmEctG4%2F" in url
    assert url_query(url)["existing_fsm_id"] == fsm
    bare = url_query(existing_url("ws://n:1", Existing(channel, None, "initiator", 1, "h")))
    assert "existing_fsm_id" not in bare and bare["host"] == "h"


# -- events ------------------------------------------------------------------------------------


def _note(method: str, data: object, channel: str | None = "ch_x") -> dict[str, object]:
    return {"jsonrpc": "2.0", "method": method, "params": {"channel_id": channel, "data": data}}


def test_every_notification_has_its_event_type() -> None:
    info = ev.parse_event(_note("channels.info", {"event": "fsm_up", "fsm_id": "ba_1"}, None))
    assert isinstance(info, ev.Info) and (info.event, info.fsm_id, info.channel_id) == (
        "fsm_up",
        "ba_1",
        None,
    )
    sign = ev.parse_event(_note("channels.sign.update_ack", {"signed_tx": "tx_1", "updates": []}))
    assert isinstance(sign, ev.SignRequest) and sign.reply_method == "channels.update_ack"
    assert sign.abortable and sign.name == "sign.update_ack"
    create = ev.parse_event(_note("channels.sign.initiator_sign", {"signed_tx": "tx_1"}))
    assert isinstance(create, ev.SignRequest) and not create.abortable
    chain = ev.parse_event(_note("channels.on_chain_tx", {"info": "channel_changed", "tx": "t"}))
    assert isinstance(chain, ev.OnChainTx) and chain.name == "on_chain_tx.channel_changed"
    conflict = ev.parse_event(
        _note("channels.conflict", {"error_code": 2, "error_msg": "conflict", "round": 1})
    )
    assert isinstance(conflict, ev.Conflict) and conflict.round == 1
    message = ev.parse_event(
        _note("channels.message", {"message": {"from": INI, "to": RES, "info": "hi"}})
    )
    assert isinstance(message, ev.Message) and (message.sender, message.info) == (INI, "hi")
    error = ev.parse_event(_note("channels.error", {"message": "bad_signature"}))
    assert isinstance(error, ev.ChannelErrorEvent) and error.reason == "bad_signature"
    assert isinstance(ev.parse_event(_note("channels.system.pong", {})), ev.Pong)
    reply = ev.parse_event(_note("channels.get.balances.reply", [{"account": INI, "balance": 1}]))
    assert isinstance(reply, ev.ReadReply) and reply.data[0]["balance"] == 1
    assert isinstance(ev.parse_event(_note("channels.debug", {})), ev.OtherNotification)
    assert isinstance(ev.parse_event([1, 2]), ev.Unparsed)


def test_error_frames_keep_codes_and_the_echoed_request() -> None:
    frame = {
        "jsonrpc": "2.0",
        "id": None,
        "channel_id": None,
        "error": {
            "code": 3,
            "message": "Rejected",
            "data": [{"code": 2000, "message": "Missing field: existing_fsm_id"}],
            "request": {},
        },
    }
    error = ev.parse_event(frame)
    assert isinstance(error, ev.ErrorReply) and error.at_connect
    assert (error.code, error.data_code) == (3, 2000)
    frame["error"] = {"code": -32601, "message": "Method not found", "request": {"x": 1}}
    other = ev.parse_event(frame)
    assert isinstance(other, ev.ErrorReply) and not other.at_connect
    assert other.data_code is None and other.data == []


def test_matcher_understands_names_methods_classes_and_predicates() -> None:
    opened = ev.parse_event(_note("channels.info", {"event": "open"}))
    update = ev.parse_event(_note("channels.update", {"state": "tx_nope"}))
    assert ev.matcher("open")(opened) and not ev.matcher("open")(update)
    assert ev.matcher("channels.update")(update) and not ev.matcher("update")(update)
    assert ev.matcher(ev.StateUpdate)(update)
    assert ev.matcher(lambda e: e is opened)(opened)
    assert isinstance(update, ev.StateUpdate) and update.round is None  # undecodable state


# -- recorder ----------------------------------------------------------------------------------


def test_recorder_numbers_records_and_connections() -> None:
    recorder = Recorder("t")
    seen: list[int] = []
    recorder.listeners.append(lambda frame: seen.append(frame.seq))
    assert recorder.opened("initiator", "ws://n/channel?role=initiator") == 1
    recorder.sent("initiator", '{"jsonrpc":"2.0","method":"channels.leave","params":{}}', 1)
    assert recorder.opened("responder", "ws://n/channel?role=responder") == 1
    recorder.received("responder", '{"jsonrpc":"2.0","result":"ok","id":0}', 1)
    recorder.closed("initiator", 1)
    assert recorder.opened("initiator", "ws://n/channel?role=initiator") == 2
    log = recorder.log
    assert log is recorder.log  # cached until something new is recorded
    recorder.note("initiator", "a note", 2)
    assert recorder.log is not log and len(recorder) == 7
    assert seen == [1, 2, 3, 4, 5, 6, 7]
    directions = [f.direction for f in recorder.frames]
    assert directions[:3] == [Direction.OPEN, Direction.SENT, Direction.OPEN]
    assert [f.conn for f in recorder.frames] == [1, 1, 1, 1, 1, 2, 2]
    assert recorder.frames[1].method == "channels.leave"
    assert list(recorder.df.index) == [1, 2, 3, 4, 5, 6, 7]


# -- the sync helper ---------------------------------------------------------------------------

SYNC_SCRIPT = textwrap.dedent(
    """
    import asyncio
    original_run = asyncio.run
    import chan_nb.client
    from chan_nb.client import run

    assert asyncio.run is original_run, "importing chan_nb.client patched asyncio"

    async def make():
        return asyncio.get_running_loop(), asyncio.Queue()

    loop, queue = run(make())
    async def put():
        queue.put_nowait(7)
        return asyncio.get_running_loop()
    assert run(put()) is loop  # one long-lived loop: objects survive between calls

    async def get():
        return await queue.get()
    assert run(get(), timeout=5) == 7

    async def inner():
        return 41 + 1

    async def outer():
        return run(inner())  # from inside a running loop (a notebook cell)

    assert asyncio.run(outer()) == 42
    print("ok")
    """
)


def test_run_works_with_and_without_a_running_loop() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SYNC_SCRIPT], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_recorder_parses_lazily_but_keeps_order_and_listeners_see_frames_at_once() -> None:
    from chan_nb.client import Recorder

    recorder = Recorder("lazy")
    conn = recorder.opened("initiator", "ws://127.0.0.1:1/channel?role=initiator")
    recorder.sent("initiator", '{"jsonrpc":"2.0","method":"channels.leave","params":{}}', conn)
    seen: list[object] = []
    recorder.listeners.append(seen.append)
    recorder.received("initiator", '{"jsonrpc":"2.0","id":0,"result":"ok","version":1}', conn)
    assert len(seen) == 1 and seen[0].rpc_id == 0  # type: ignore[attr-defined]
    recorder.closed("initiator", conn)
    assert len(recorder) == 4
    frames = recorder.frames
    assert [f.seq for f in frames] == [1, 2, 3, 4]
    assert [str(f.direction) for f in frames] == ["open", "sent", "received", "close"]
    assert frames[1].method == "channels.leave" and frames[2] is seen[0]
    assert recorder.log.df.index.tolist() == [1, 2, 3, 4]


async def test_open_returns_at_once_when_already_open_and_refuses_to_reopen_a_cut_channel() -> None:
    import asyncio

    from chan_nb.client import ConnectionLost, open_pair
    from chan_nb.node import EmbeddedNode

    async with EmbeddedNode() as node:
        initiator, responder = await open_pair(node, timeout=10)
        # the channel opened before this call: open() must not wait for a second open
        state = await asyncio.wait_for(initiator.open(timeout=10), 1)
        assert initiator.round == 1 and state is not None
        await responder.disconnect()
        try:
            await responder.open(timeout=5)
        except ConnectionLost as exc:
            assert "reconnect()" in str(exc)
        else:
            raise AssertionError("open() on a cut channel started a new one")
        await responder.reconnect(timeout=10)
        assert responder.round == 1
        await initiator.close()
        await responder.close()
