"""The VM against the six FATE recordings (../shared; skipped when absent).

Every ``get.contract_call`` and ``dry_run.call_contract`` reply is recomputed by the VM
(recorded-2020 profile) from the recorded updates and dry-run requests alone — the VM's
call objects, not the recorded ones, make the states — and compared field by field
(gas used, return type and value, caller, round, log). ``sc_ws_basic_contracts.md``
starts from a known state (the channel opened with 70e12 / 40e12 and push 1), so its 70
signed state hashes (rounds 2–71) are recomputed too.

The other files start from states the recordings do not show (rounds 72–115 are not
recorded): their participants are seeded with ample balances, which no reply depends on.
The name-service files' on-chain name follows the test scenario of the node's
``aehttp_sc_SUITE`` (a fresh name, first unregistered, then claimed with the pointers
the suite gives it).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from chan_nb import vm
from chan_nb.codec import contracts as ct
from chan_nb.codec import encoding, trees, txs, updates
from chan_nb.codec.fate import decode, decode_call
from chan_nb.codec.ids import Id
from chan_nb.errors import DecodeError
from tests.conftest import shared_path

pytestmark = pytest.mark.shared

INITIATOR = encoding.decode("ak_x2mdjJG7A7ocKf9T5qiDT1AGzE2RdKeKmH1wntYeDDY113eha", "ak")
RESPONDER = encoding.decode("ak_2hPyRka8YsBFw7gfhj84Ut11d8mtFdgXGFAksjGgjkcn5pVXpF", "ak")
ROLES = {"initiator": INITIATOR, "responder": RESPONDER}
#: the channel of contracts/init_per_group.md after its create tx (push 1 to the responder)
OPENED = {INITIATOR: 70_000_000_000_000 - 1, RESPONDER: 40_000_000_000_000 + 1}
SEEDED = {INITIATOR: 10**18, RESPONDER: 10**18}
RESERVE = 2

FILES = (
    "sc_ws_basic_contracts.md",
    "sc_ws_nameservice_contract.md",
    "sc_ws_environment_contract.md",
    "sc_ws_remote_call_contract.md",
    "sc_ws_remote_call_contract_refering_onchain_data.md",
    "sc_ws_wrong_call_data.md",
)


@dataclass
class ScenarioNames:
    """The on-chain names of the suite: each fresh name is claimed after its first tests.

    ``first_tests`` is how many co-signed calls ask for a name before the suite claims
    it (nameservice: 2 × can_resolve "oracle"; refering: 2 × can_resolve + 2 ×
    remote_resolve), ``pointers`` what the claim sets.
    """

    first_tests: int
    pointers: dict[bytes, tuple[vm.PointerKind, bytes]]
    asked: dict[bytes, int] = field(default_factory=dict)

    def note_call(self, name: bytes) -> None:
        self.asked[name] = self.asked.get(name, 0) + 1

    def account_balance(self, pubkey: bytes) -> int | None:
        return None

    def resolve_name(self, name: bytes, key: bytes) -> tuple[vm.PointerKind, bytes] | None:
        if self.asked.get(name, 0) < self.first_tests:
            return None
        return self.pointers.get(key)

    def is_oracle(self, pubkey: bytes) -> bool:
        return False

    def is_contract(self, pubkey: bytes) -> bool:
        return False

    def is_payable(self, pubkey: bytes) -> bool:
        return True


def _word(n: int) -> bytes:
    return n.to_bytes(32, "big")


def _names(file: str) -> ScenarioNames | None:
    if file == "sc_ws_nameservice_contract.md":
        return ScenarioNames(
            2,
            {
                b"account_pubkey": ("account", _word(1)),
                b"oracle": ("oracle", _word(2)),
                b"unexpected_key": ("account", _word(3)),
            },
        )
    if file == "sc_ws_remote_call_contract_refering_onchain_data.md":
        return ScenarioNames(4, {b"account_pubkey": ("account", _word(1))})
    return None


def _name_asked(call_data: bytes) -> bytes | None:
    call = decode_call(call_data)
    for arg in call.args:  # the first string argument is the name (can_resolve, remote_resolve)
        if isinstance(arg, str | bytes):
            return arg.encode() if isinstance(arg, str) else arg
    return None


@dataclass
class Replay:
    """What the VM computed while walking one recording."""

    rounds: dict[int, tuple[bytes, bytes]] = field(default_factory=dict)  # recorded, ours
    calls: dict[bytes, ct.CallObject] = field(default_factory=dict)  # call key -> ours
    compared: list[tuple[str, dict[str, Any], dict[str, Any]]] = field(default_factory=list)


def _messages(path: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    from chan_nb.recording import load

    for frame in load(path, strict=False).frames:
        if isinstance(frame.message, dict):
            yield frame.role or "", frame.direction or "", frame.message


def _dry_run_request(role: str, params: dict[str, Any]) -> updates.OffChainCallContract | None:
    try:
        amount, abi = params["amount"], params["abi_version"]
        if not (isinstance(amount, int) and isinstance(abi, int)):
            return None
        return updates.OffChainCallContract(
            Id.account(ROLES[role]),
            Id.from_api(params["contract_id"]),
            abi,
            amount,
            1_000_000,
            1,
            encoding.decode(params["call_data"], "cb"),
            (),
        )
    except (DecodeError, KeyError):
        return None


@cache
def replay(file: str) -> Replay:
    path = shared_path("recordings", "json-rpc", "contracts", file)
    names = _names(file)
    onchain: vm.OnChain = names if names is not None else vm.StaticOnChain()
    ctx = vm.ChannelContext(vm.RECORDED_ENV, onchain, vm.RECORDED_2020, RESERVE)
    base = OPENED if file == "sc_ws_basic_contracts.md" else SEEDED
    state = trees.StateTrees.from_balances(base)
    latest = 0
    out = Replay()
    dry_requests: dict[str, dict[str, Any]] = {}
    for role, direction, message in _messages(path):
        method = str(message.get("method", ""))
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        data = params.get("data") if isinstance(params.get("data"), dict) else {}
        if method.startswith("channels.sign.") and "updates" in data:
            tx = txs.decode_signed(data["signed_tx"]).innermost
            if tx.round in out.rounds:
                continue
            ups = [updates.from_dict(u) for u in data["updates"]]
            result = vm.apply_round(state, ups, tx.round, ctx)
            for up in ups:
                if names is not None and isinstance(up, updates.OffChainCallContract):
                    asked = _name_asked(up.call_data)
                    if asked is not None:
                        names.note_call(asked)
            out.rounds[tx.round] = (tx.state_hash, result.state_hash)
            out.calls.update({c.key: c for c in result.calls})
            state, latest = result.trees, tx.round
        elif method == "channels.dry_run.call_contract" and direction == "sent":
            request = _dry_run_request(role, params)
            if request is not None:  # else a malformed request the node refuses
                dry_requests[role] = request
        elif method == "channels.dry_run.call_contract.reply":
            ours = vm.dry_run(state, dry_requests.pop(role), latest, ctx)
            out.compared.append(("dry_run", data, ours.to_dict()))
        elif method == "channels.get.contract_call.reply":
            recorded = ct.CallObject.from_dict(data)
            mine = out.calls.get(recorded.key)
            out.compared.append(("get", data, mine.to_dict() if mine is not None else {}))
    return out


@pytest.mark.parametrize("file", FILES)
def test_every_recorded_call_result_is_reproduced(file: str) -> None:
    result = replay(file)
    assert result.compared, "the recording has call results"
    for kind, recorded, ours in result.compared:
        assert ours == recorded, (kind, recorded, ours)


def test_reply_counts_and_figures() -> None:
    """The replies cover every figure fate.md §8.2 lists (so a skipped file would show)."""
    counts = {f: len(replay(f).compared) for f in FILES}
    assert counts["sc_ws_basic_contracts.md"] >= 60, counts
    assert all(n >= 4 for n in counts.values()), counts
    gas = {r["gas_used"] for f in FILES for _, r, _ in replay(f).compared}
    assert {11, 21, 61, 122, 132, 165, 276, 1_000_000} <= gas


def test_basic_contracts_state_hashes_from_the_vm() -> None:
    """All 70 signed state hashes, from the VM's own call objects and stores."""
    rounds = replay("sc_ws_basic_contracts.md").rounds
    assert sorted(rounds) == list(range(2, 72))
    wrong = [r for r, (recorded, ours) in rounds.items() if recorded != ours]
    assert not wrong, wrong


def test_wrong_call_data_is_an_error_with_the_raw_text() -> None:
    seen = [r for _, r, _ in replay("sc_ws_wrong_call_data.md").compared]
    assert seen and all(r["return_type"] == "error" for r in seen)
    assert {r["gas_used"] for r in seen} == {1_000_000}
    texts = {encoding.decode(r["return_value"], "cb") for r in seen}
    assert texts == {b"Trying to call undefined function: <<75,5,14,169>>"}


def test_environment_figures() -> None:
    values = {
        decode(encoding.decode(r["return_value"], "cb"))
        for _, r, _ in replay("sc_ws_environment_contract.md").compared
    }
    assert {1903, 1585147276254} <= values
    beneficiary = vm.RECORDED_ENV.beneficiary
    assert any(getattr(v, "pubkey", None) == beneficiary for v in values)


def test_nameservice_results_follow_the_name() -> None:
    results = [
        decode(encoding.decode(r["return_value"], "cb"))
        for _, r, _ in replay("sc_ws_nameservice_contract.md").compared
    ]
    assert True in results and False in results
    assert {r["gas_used"] for _, r, _ in replay("sc_ws_nameservice_contract.md").compared} == {122}


def test_a_wrong_name_model_is_caught() -> None:
    """The comparison can fail: with the name never claimed, 'true' replies differ."""
    path = shared_path("recordings", "json-rpc", "contracts", "sc_ws_nameservice_contract.md")
    ctx = vm.ChannelContext(vm.RECORDED_ENV, vm.StaticOnChain(), vm.RECORDED_2020, RESERVE)
    state = trees.StateTrees.from_balances(SEEDED)
    differ = 0
    done: set[int] = set()
    calls: dict[bytes, ct.CallObject] = {}
    for _, _, message in _messages(path):
        method = str(message.get("method", ""))
        data = (message.get("params") or {}).get("data") or {}
        if method.startswith("channels.sign.") and "updates" in data:
            tx = txs.decode_signed(data["signed_tx"]).innermost
            if tx.round not in done:
                done.add(tx.round)
                ups = [updates.from_dict(u) for u in data["updates"]]
                res = vm.apply_round(state, ups, tx.round, ctx)
                state = res.trees
                calls.update({c.key: c for c in res.calls})
        elif method == "channels.get.contract_call.reply":
            recorded = ct.CallObject.from_dict(data)
            differ += calls[recorded.key] != recorded
    assert differ > 0
