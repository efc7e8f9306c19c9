"""No private key material in any recording, DataFrame, log line, exception message or widget.

A channel's whole life is driven through the notebook panel and the sessions under it —
open, transfers, a message, a conflict while a side is away, reconnect, errors of every
kind, leave, reestablish, deposit, withdraw, mutual close — with two known keys, while
everything logged at DEBUG is captured. Then every text that left the library is
searched for each participant's secret (the 32-byte seed and the 64-byte secret key) in
every form it could take: raw bytes, hex (both cases), base64 (standard and URL-safe),
base58, the API's ``sk_`` string, Python's ``bytes`` repr and the list of its numbers —
and for any 8-byte piece of it in hex, so that a truncated print is caught too.
"""

from __future__ import annotations

import base64
import json
import logging
import pickle
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import base58
import ipywidgets as w
import pytest

from chan_nb.client import ClientError, Session, Signer
from chan_nb.codec import encoding
from chan_nb.codec.keys import Keypair
from chan_nb.errors import ChanNbError
from chan_nb.widgets import ChannelPanel

pytestmark = pytest.mark.slow

FORMATS = (".jsonl", ".md", ".txt", ".csv", ".parquet")


def secret_forms(key: Keypair) -> dict[str, bytes]:
    """Every way the key's secret could be written, as bytes to search for."""
    seed = key.secret_seed()
    forms: dict[str, bytes] = {}
    for name, secret in (("seed", seed), ("secret key", seed + key.public_key)):
        forms[f"{name} raw"] = secret
        forms[f"{name} hex"] = secret.hex().encode()
        forms[f"{name} HEX"] = secret.hex().upper().encode()
        forms[f"{name} base64"] = base64.b64encode(secret).rstrip(b"=")
        forms[f"{name} base64url"] = base64.urlsafe_b64encode(secret).rstrip(b"=")
        forms[f"{name} base58"] = base58.b58encode(secret)
        forms[f"{name} repr"] = repr(secret)[2:-1].encode()
        forms[f"{name} ints"] = str(list(secret))[1:-1].encode()
    forms["sk_"] = encoding.encode("sk", seed).encode()
    for start in range(0, len(seed) - 8 + 1, 4):  # pieces: a truncated print
        forms[f"seed[{start}:{start + 8}] hex"] = seed[start : start + 8].hex().encode()
    return forms


def assert_no_secret(where: str, data: bytes | str, keys: list[Keypair]) -> None:
    blob = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    lowered = blob.lower()
    for key in keys:
        for form, needle in secret_forms(key).items():
            haystack = lowered if form.endswith("hex") or form.endswith("HEX") else blob
            probe = needle.lower() if form.endswith(("hex", "HEX")) else needle
            if probe in haystack:  # no `assert x not in y`: pytest would print the secret
                raise AssertionError(f"{key.address}'s {form} appears in {where}")


def widget_states(root: w.Widget) -> Iterator[dict[str, Any]]:
    """The synced state of a widget and all its children (what the browser receives)."""
    yield root.get_state()
    for child in getattr(root, "children", ()):
        yield from widget_states(child)


@pytest.fixture
def keys() -> list[Keypair]:
    return [Keypair.generate(), Keypair.generate()]


async def _drive(panel: ChannelPanel) -> list[BaseException]:
    """A channel's whole life through the panel; the exceptions the sessions raised."""
    errors: list[BaseException] = []
    i, r = panel.sessions["initiator"], panel.sessions["responder"]

    async def expect_error(coro: Any) -> None:
        try:
            await coro
        except ChanNbError as exc:
            errors.append(exc)
        else:  # pragma: no cover - the scenario is built to fail
            raise AssertionError("the call was expected to fail")

    panel.open_button.click()
    await panel.idle()
    assert i.round == 1, panel.runner.notices
    panel.amount.value = "25"
    panel.transfer_button.click()
    panel.message_text.value = "a message"
    await panel.idle()
    panel.message_button.click()
    await panel.idle()
    panel.amount.value = "not a number"  # the panel's own input error
    panel.transfer_button.click()
    await panel.idle()
    await expect_error(i.transfer(r.address, 10**30))  # node error 1001
    await expect_error(i.transfer("ak_broken", 1))  # node error 1005
    await expect_error(i.call("channels.no_such_method", {}))  # -32601
    panel.who.value = "responder"
    panel.disconnect_button.click()
    await panel.idle()
    await expect_error(i.transfer(r.address, 1))  # conflict: the responder is away
    await expect_error(r.transfer(i.address, 1))  # not connected
    panel.reconnect_button.click()
    await panel.idle()
    await expect_error(r.reconnect(fsm_id="ba_AAAA"))  # already connected
    await expect_error(i.ping(timeout=0.0))  # a timeout
    await i.deposit(1000, timeout=10)
    await r.withdraw(10, timeout=10)
    panel.leave_button.click()
    await panel.idle()
    panel.reestablish_button.click()
    await panel.idle()
    panel.shutdown_button.click()
    await panel.idle()
    for bad in ("zz", "00" * 31, "11" * 64):
        try:
            Keypair.from_hex(bad)
        except ChanNbError as exc:
            errors.append(exc)
    return errors


async def test_no_secret_leaves_the_library(
    keys: list[Keypair], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    ikey, rkey = keys
    panel = await ChannelPanel.create(initiator_key=ikey, responder_key=rkey, timeout=10.0)
    try:
        errors = await _drive(panel)
        i, r = panel.sessions["initiator"], panel.sessions["responder"]
        assert i.status.value in ("closed", "died"), i.status
        texts: dict[str, bytes | str] = {}
        # recordings: the frames, and every file format they are saved in
        frames = i.recorder.frames
        assert len(frames) > 100
        texts["recorded frames"] = "\n".join(f"{f!r} {f.raw} {f.url}" for f in frames)
        for suffix in FORMATS:
            path = i.recorder.save(tmp_path / f"session{suffix}")
            texts[f"recording {suffix}"] = path.read_bytes()
        # DataFrames: the recording's table, every cell
        table = i.recorder.log.table()
        texts["DataFrame"] = table.to_csv(index=False) + repr(table) + repr(i.recorder.df)
        # log lines (everything at DEBUG, any logger), with their tracebacks
        assert caplog.records, "nothing was logged: the capture is not working"
        texts["log lines"] = "\n".join(caplog.handler.format(record) for record in caplog.records)
        # exception messages: the typed errors raised, with their tracebacks
        assert len(errors) >= 7 and all(isinstance(e, ChanNbError) for e in errors)
        assert any(isinstance(e, ClientError) for e in errors)
        texts["exceptions"] = "\n".join(
            "".join(traceback.format_exception(e)) + repr(e) for e in errors
        )
        texts["panel notices"] = "\n".join(str(n) for n in panel.runner.notices)
        # widgets: the state every widget syncs to the browser, and their HTML
        states = list(widget_states(panel.widget))
        assert len(states) > 10
        texts["widget state"] = json.dumps(states, default=str)
        texts["panel repr"] = repr(panel) + str(panel._repr_mimebundle_())
        # reprs of what holds the keys
        texts["reprs"] = " ".join(
            repr(x) for x in (i, r, i.signer, r.signer, ikey, rkey, *i.events, *r.events)
        )
        for where, data in texts.items():
            assert_no_secret(where, data, keys)
    finally:
        await panel.close()


def test_keys_refuse_to_be_serialized_and_their_reprs_are_public() -> None:
    key = Keypair.generate()
    with pytest.raises(TypeError) as caught:
        pickle.dumps(key)
    signer = Signer(key, "ae_uat")
    session_repr = repr(signer) + str(key) + repr(key)
    assert key.address in session_repr
    assert_no_secret("reprs", session_repr + str(caught.value), [key])


def test_the_search_finds_every_form_it_looks_for() -> None:
    """The check itself can fail: each form of a secret is found when present."""
    key = Keypair.generate()
    for needle in secret_forms(key).values():
        with pytest.raises(AssertionError, match="appears in a test text"):
            assert_no_secret("a test text", b"prefix " + needle + b" suffix", [key])
    with pytest.raises(AssertionError):
        assert_no_secret("upper-case hex", key.secret_seed().hex().upper(), [key])


def test_a_session_never_holds_the_seed_in_plain_attributes(keys: list[Keypair]) -> None:
    """What a notebook may print (``vars()`` of a session) shows no secret."""
    from chan_nb.client import pair_params

    ikey, rkey = keys
    session = Session(
        "initiator", pair_params(ikey, rkey), ikey, url="ws://x/channel", network_id="n"
    )
    shown = json.dumps({k: repr(v) for k, v in vars(session).items()})
    assert_no_secret("vars(session)", shown, keys)
