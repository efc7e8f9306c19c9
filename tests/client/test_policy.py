"""The signing policy's checks, on the real signing requests of recorded sessions."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from chan_nb.client import events as ev
from chan_nb.client import policy as pol
from chan_nb.client.core import ClientProtocol
from chan_nb.client.params import ChannelParams, as_role
from chan_nb.client.signer import Signer
from chan_nb.codec import txs
from chan_nb.codec.keys import Keypair
from chan_nb.codec.signing import verify
from chan_nb.recording import Direction, load
from tests.conftest import SAMPLE_SESSION, shared_path

NETWORK = "local_iris_testnet"
SEED_I = "ak_Soj4M7ojYxbWvNf8vNYSZZ9TnMWL7r4sF2wUmktKdc8qqC1w2"
SEED_R = "ak_zz66HmMbYFXsfeo6f576yHyCk39sMKSFtbaxP9SyebwfczbYR"


def request_at(
    path: Path, seq: int, params: ChannelParams | None = None
) -> tuple[ev.SignRequest, ClientProtocol]:
    """The signing request received at record ``seq``, and its role's core just before it."""
    frames = load(path).frames
    target = next(f for f in frames if f.seq == seq)
    core = ClientProtocol(as_role(target.role), params=params)
    for frame in frames:
        if frame.role != target.role:
            continue
        if frame.seq == seq:
            event = ev.parse_event(json.loads(frame.raw))
            assert isinstance(event, ev.SignRequest)
            return event, core
        if frame.direction is Direction.OPEN:
            core.opened(frame.raw)
        elif frame.direction is Direction.CLOSE:
            core.closed()
        elif frame.direction is Direction.SENT:
            core.sent(frame.raw)
        elif frame.direction is Direction.RECEIVED:
            core.receive(frame.raw)
    raise AssertionError(f"no record {seq}")


def context(core: ClientProtocol, **changes: object) -> pol.Context:
    assert core.params is not None
    base = pol.Context(
        role=core.role,
        own=core.params.party(core.role),
        network_id=NETWORK,
        params=core.params,
        channel_id=core.channel_id,
        round=core.round,
        balances=core.balances,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_create_tx_matches_the_open_params() -> None:
    request, core = request_at(SAMPLE_SESSION, 11)
    assert request.tag == "initiator_sign"
    assert pol.check(request, context(core)) == ()


def test_create_tx_with_other_terms_is_refused() -> None:
    request, core = request_at(SAMPLE_SESSION, 11)
    assert core.params is not None
    greedy = core.params.with_(responder_amount=1)
    problems = pol.check(request, context(core, params=greedy))
    assert problems == (
        "create tx responder_amount is 40000000000000, the channel was opened with 1",
    )
    pushed = core.params.with_(push_amount=5)
    problems = pol.check(request, context(core, params=pushed))
    assert problems == ("create tx state hash does not match the opening balances",)


def test_responder_sign_needs_the_initiators_signature() -> None:
    request, core = request_at(SAMPLE_SESSION, 15)
    assert request.tag == "responder_sign"
    assert pol.check(request, context(core)) == ()
    problems = pol.check(request, context(core, network_id="ae_mainnet"))
    assert len(problems) == 1 and "has not signed" in problems[0]


def test_own_update_must_be_what_was_asked() -> None:
    request, core = request_at(SAMPLE_SESSION, 45)
    asked = pol.Expectation.transfer(SEED_I, SEED_R, 1)
    assert pol.check(request, context(core, expected={"update": asked})) == ()
    more = pol.Expectation.transfer(SEED_I, SEED_R, 2)
    problems = pol.check(request, context(core, expected={"update": more}))
    assert len(problems) == 1 and "not the requested" in problems[0]
    assert pol.check(request, context(core)) == ("nothing was asked that needs update",)


def test_round_state_hash_and_channel_are_checked() -> None:
    request, core = request_at(SAMPLE_SESSION, 45)
    asked = {"update": pol.Expectation.transfer(SEED_I, SEED_R, 1)}
    stale = pol.check(request, context(core, expected=asked, round=5))
    assert stale == ("round 2 does not follow our round 5",)
    assert core.balances is not None
    richer = {SEED_I: core.balances[SEED_I] + 10, SEED_R: core.balances[SEED_R]}
    wrong_hash = pol.check(request, context(core, expected=asked, balances=richer))
    assert wrong_hash == ("state hash does not match the balances the updates lead to",)
    other = "ch_2CkmCydprT9Mu3kmFqStb6Vbaaw8aNkKJzJAqgqMsm5HpwkjiZ"
    moved = pol.check(request, context(core, expected=asked, channel_id=other))
    assert len(moved) == 1 and "is not this channel" in moved[0]


def test_unknown_balances_are_refused() -> None:
    request, core = request_at(SAMPLE_SESSION, 45)
    asked = {"update": pol.Expectation.transfer(SEED_I, SEED_R, 1)}
    assert pol.check(request, context(core, expected=asked, balances=None)) == (
        "our balances are unknown, so the state hash cannot be checked",
    )


def test_shutdown_amounts_must_add_up() -> None:
    request, core = request_at(SAMPLE_SESSION, 72)  # initiator acknowledges the close
    assert request.tag == "shutdown_sign_ack"
    assert pol.check(request, context(core)) == ()
    assert core.balances is not None
    inflated = {k: v + 1 for k, v in core.balances.items()}
    problems = pol.check(request, context(core, balances=inflated))
    assert len(problems) == 1 and "final amounts and fee sum to" in problems[0]


def test_wrong_transaction_type_is_refused() -> None:
    request, core = request_at(SAMPLE_SESSION, 45)
    swapped = replace(request, tag="shutdown_sign")
    problems = pol.check(swapped, context(core))
    assert problems == (
        "shutdown_sign must carry a channel_close_mutual_tx, got channel_offchain_tx",
    )


def test_undecodable_request_is_refused() -> None:
    request, core = request_at(SAMPLE_SESSION, 45)
    broken = replace(request, signed_tx="tx_garbage")
    (problem,) = pol.check(broken, context(core))
    assert problem.startswith("undecodable request")


@pytest.mark.shared
def test_deposit_requests_of_both_sides() -> None:
    path = shared_path("recordings", "json-rpc", "continuous", "sc_ws_deposit.md")
    terms = ChannelParams.from_query(
        {
            "initiator_id": "ak_mLjWgLbapr5CiVD2Q248aS2TQj9itXnoPv5tteXvZaJ8tdD2C",
            "responder_id": "ak_26jAbCjYM16ppbhFG6PCQhv6HkwRAri7QNJfoEtb1R8amLscpt",
            "initiator_amount": "70000000000000",
            "responder_amount": "40000000000000",
        }
    )
    # the log starts in an open channel at round 1 whose balances it never shows: every
    # check but the state hash passes, and that one cannot be made, so it is refused
    known = {"round": 1, "balances": None}
    unknown = ("our balances are unknown, so the state hash cannot be checked",)
    own, own_core = request_at(path, 12, terms)
    assert own.tag == "deposit_tx"
    asked = {"deposit_tx": pol.Expectation.deposit(terms.initiator_id, 2)}
    assert pol.check(own, context(own_core, expected=asked, **known)) == unknown
    assert pol.check(own, context(own_core, expected=asked)) == (
        "round 2 proposed while our round is unknown",
    )
    wrong = {"deposit_tx": pol.Expectation.deposit(terms.initiator_id, 3)}
    (problem,) = pol.check(own, context(own_core, expected=wrong, **known))
    assert "are not the requested" in problem
    ack, ack_core = request_at(path, 16, terms)
    assert ack.tag == "deposit_ack"
    assert pol.check(ack, context(ack_core, **known)) == unknown
    # an acknowledger only co-signs deposits the peer makes, not ones made in its name
    problems = pol.check(ack, context(ack_core, own=terms.initiator_id, **known))
    assert problems == (
        f"channel_deposit_tx names {terms.initiator_id}, expected {terms.initiator_id}"
        " (the proposer)",
    )


def test_decide_uses_the_accept_hook_for_peer_proposals() -> None:
    request, core = request_at(SAMPLE_SESSION, 72)
    always = pol.decide(pol.SigningPolicy(), request, context(core))
    assert always.sign and always.problems == ()
    picky = pol.SigningPolicy(accept=lambda r: False)
    refused = pol.decide(picky, request, context(core))
    assert not refused.sign and refused.problems == ("declined by the accept hook",)


def test_policy_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match=r"1\.\.65535"):
        pol.SigningPolicy(abort_code=0)
    with pytest.raises(ValueError, match="mode"):
        pol.SigningPolicy(mode="sometimes")  # type: ignore[arg-type]


def test_signer_adds_one_sorted_signature_in_either_preimage() -> None:
    key = Keypair.generate()
    request, _ = request_at(SAMPLE_SESSION, 45)
    unsigned = request.decoded()
    for preimage in ("hashed", "raw"):
        signer = Signer(key, NETWORK, preimage)  # type: ignore[arg-type]
        signed = signer.sign(unsigned)
        assert len(signed.signatures) == len(unsigned.signatures) + 1
        assert list(signed.signatures) == sorted(signed.signatures)
        mine = [s for s in signed.signatures if s not in unsigned.signatures]
        assert verify(mine[0], key.public_key, signed.tx_bytes, NETWORK) == preimage
        assert signer.has_signed(signed)
        assert signer.sign(signed) == signed  # signing twice adds nothing
        assert txs.decode_signed(signer.sign_api(unsigned.to_api())) == signed
