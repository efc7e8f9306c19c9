"""Recompute the state hash of contract rounds: by running the VM, else from what a recording shows.

From a state it knows (the channel's first round, or any round recomputed below) the
audit runs each following round through the FATE VM (:mod:`chan_nb.vm`, the recorded
2020 node's rules, then Iris's): when the VM's trees hash to the signed state hash the
round is *recomputed by the VM*, and a ``get.contract_call`` reply that differs from the
call the VM put in that state is a wrong reply. Where the VM cannot go (AEVM code, a
case it does not model, a state it cannot know) the evidence path below remains.

A contract round's state is the accounts (participants and contract accounts), the
contracts tree (each contract's object, store mark and store) and that round's calls.
Without a VM two things cannot be computed, only read from the recording:

- the *call objects* (gas used, return value, events): from ``get.contract_call``
  replies for that caller, contract and round (``init`` calls are never asked for);
- the *store* after ``init`` or after a call that may write it, and the *balances*
  after a call that may move coins from the contract (SPEND, remote calls, creates):
  from ``get.poi`` proofs (each proved part checked against its hash) or
  ``get.offchain_state`` trees of any round in which they are unchanged.

What a call may change is read off its code (:func:`chan_nb.codec.fate.bytecode.effects`);
a call the node reports as failed changes nothing but the caller's amount (the recorded
node keeps it in the contract). Everything else — transfers, deposits, withdrawals,
contract creation (owner, code as the node stores it, deposit, the contract account),
call amounts, contract and call ids — is computed. A round is *recomputed* when every
part of its state is known and the trees hash to the state hash the round's tx carries;
otherwise it is reported with the reason it cannot be.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from chan_nb.codec import contracts as ct
from chan_nb.codec import encoding, trees, updates
from chan_nb.codec.fate import CodeObject, FateCode, decode_call
from chan_nb.codec.fate.bytecode import effects
from chan_nb.codec.mpt import MerklePatriciaTree
from chan_nb.codec.state import InvalidUpdate
from chan_nb.errors import DecodeError
from chan_nb.vm import (
    IRIS,
    RECORDED_2020,
    ChainEnv,
    ChannelContext,
    OnChain,
    Profile,
    StaticOnChain,
    UpdateRefused,
    VmNotImplemented,
    apply_round,
)

RoundOutcome = Literal["ok", "bad", "cannot"]


@dataclass(frozen=True, slots=True)
class ContractRound:
    """The verdict on one round with a contract update."""

    channel: bytes
    round: int
    outcome: RoundOutcome
    detail: str
    seq: int
    line: int | None
    role: str


@dataclass
class Round:
    """A proposed round as the recording shows it."""

    channel: bytes
    round: int
    state_hash: bytes
    updates: list[updates.Update]
    seq: int
    line: int | None
    role: str


@dataclass
class _Revealed:
    """Tree contents a proof or a full tree showed at one round (already hash-checked)."""

    accounts: dict[bytes, bytes] = field(default_factory=dict)
    accounts_complete: bool = False
    contracts: dict[bytes, bytes] = field(default_factory=dict)
    contracts_complete: bool = False


@dataclass
class Evidence:
    """What the recording shows about contract state, gathered by the audit's walk."""

    proposals: dict[tuple[bytes, int], list[Round]] = field(
        default_factory=lambda: defaultdict(list)
    )
    cosigned: set[bytes] = field(default_factory=set)  # state hashes both parties signed
    calls: dict[bytes, ct.CallObject] = field(default_factory=dict)  # calls-tree key -> call
    revealed: dict[bytes, list[_Revealed]] = field(default_factory=lambda: defaultdict(list))
    base_balances: dict[tuple[bytes, int], list[dict[bytes, int]]] = field(default_factory=dict)

    def add_round(self, rnd: Round) -> None:
        self.proposals[(rnd.channel, rnd.round)].append(rnd)

    def rounds(self) -> dict[tuple[bytes, int], Round]:
        """One proposal per round: the co-signed one (a round may be proposed and refused)."""
        out: dict[tuple[bytes, int], Round] = {}
        for key, proposals in self.proposals.items():
            signed = [p for p in proposals if p.state_hash in self.cosigned]
            out[key] = (signed or proposals)[-1]
        return out

    def add_call_reply(self, data: Any) -> None:
        """A ``get.contract_call`` reply: the call object of one caller, contract, round."""
        try:
            call = ct.CallObject.from_dict(data)
        except (DecodeError, TypeError, ValueError):
            return
        self.calls.setdefault(call.key, call)

    def add_poi(self, poi: trees.Poi) -> None:
        self.revealed[poi.state_hash()].append(_revealed_of_poi(poi))

    def add_trees(self, state: trees.StateTrees) -> None:
        self.revealed[state.state_hash()].append(
            _Revealed(dict(state.accounts), True, dict(state.contracts), True)
        )


def _revealed_of_poi(poi: trees.Poi) -> _Revealed:
    out = _Revealed()
    names: tuple[trees.TreeName, ...] = ("accounts", "contracts")
    for name in names:
        part = poi.part(name)
        if part is None:
            setattr(out, f"{name}_complete", True)  # an empty tree: nothing is there
            continue
        entries = dict(part.entries())
        setattr(out, name, entries)
        setattr(out, f"{name}_complete", MerklePatriciaTree(entries).root_hash == part.root_hash)
    return out


# -- what a round does ----------------------------------------------------------------------


@dataclass
class _Step:
    """The known effects of one round, and what it leaves unknown."""

    deltas: dict[bytes, int] = field(default_factory=dict)
    created: dict[bytes, bytes] = field(default_factory=dict)  # contract pubkey -> object
    new_accounts: set[bytes] = field(default_factory=set)
    store_resets: set[bytes] = field(default_factory=set)  # stores changed in unknown ways
    all_stores_reset: bool = False
    balances_reset: bool = False  # balances changed in unknown ways
    calls: list[tuple[bytes, str]] = field(default_factory=list)  # call keys, what they are
    why: list[str] = field(default_factory=list)


def _add(deltas: dict[bytes, int], key: bytes, amount: int) -> None:
    deltas[key] = deltas.get(key, 0) + amount


def _step(rnd: Round, codes: dict[bytes, CodeObject], evidence: Evidence) -> _Step:
    step = _Step()
    for up in rnd.updates:
        if isinstance(up, updates.OffChainTransfer):
            _add(step.deltas, up.from_id.value, -up.amount)
            _add(step.deltas, up.to_id.value, up.amount)
        elif isinstance(up, updates.OffChainDeposit):
            _add(step.deltas, up.from_id.value, up.amount)
        elif isinstance(up, updates.OffChainWithdrawal):
            _add(step.deltas, up.to_id.value, -up.amount)
        elif isinstance(up, updates.OffChainNewContract):
            pubkey = ct.contract_pubkey(up.owner.value, rnd.round)
            try:
                code = CodeObject.deserialize(up.code)
                codes[pubkey] = code
                stored = code.for_channel()
            except DecodeError as exc:
                step.why.append(f"new contract code does not decode: {exc}")
                stored = b""
            except ValueError:  # AEVM: the node stores what init returns
                stored = b""
            # an empty object stands for "not known" (see _verdict)
            step.created[pubkey] = (
                ct.ContractObject(up.owner, up.ct_version, stored, up.deposit).serialize()
                if stored
                else b""
            )
            step.new_accounts.add(pubkey)
            _add(step.deltas, up.owner.value, -up.deposit)
            _add(step.deltas, pubkey, up.deposit)
            step.store_resets.add(pubkey)  # init writes the store: needs the VM or a proof
            step.calls.append((ct.call_key(pubkey, up.owner.value, rnd.round), "init"))
        elif isinstance(up, updates.OffChainCallContract):
            contract = up.contract.value
            key = ct.call_key(contract, up.caller.value, rnd.round)
            _add(step.deltas, up.caller.value, -up.amount)
            _add(step.deltas, contract, up.amount)
            call = evidence.calls.get(key)
            name = _call_name(up.call_data, codes.get(contract))
            step.calls.append((key, name))
            if call is not None and call.return_type != 0:
                continue  # a failed call changes nothing else
            called = codes.get(contract)
            found = _effects_of(up.call_data, called)
            if found is None:
                step.all_stores_reset = step.balances_reset = True
                step.why.append(
                    f"{name} is to an AEVM contract (its effects need an AEVM)"
                    if called is not None
                    else f"{name} calls a contract whose code this recording does not show"
                )
                continue
            if "store" in found:
                step.store_resets.add(contract)
            if found & {"remote", "create", "dynamic"}:
                step.all_stores_reset = True
            if found & {"spend", "remote", "create", "dynamic"}:
                step.balances_reset = True
    return step


def _call_name(call_data: bytes, code: CodeObject | None) -> str:
    fate: FateCode | None = None
    if code is not None and code.is_fate:
        try:
            fate = code.fate()
        except DecodeError:
            fate = None
    try:
        call = decode_call(call_data, fate)
    except DecodeError:
        return "an AEVM call" if code is not None and not code.is_fate else "a call"
    return str(call)


def _effects_of(call_data: bytes, code: CodeObject | None) -> frozenset[str] | None:
    """What the called function may change (None: cannot tell without a VM)."""
    if code is None or not code.is_fate:
        return None  # unknown or AEVM code
    try:
        fate = code.fate()
        call = decode_call(call_data)
    except DecodeError:
        return frozenset()  # the node fails such a call ("bad_call_data"): no effects
    table = effects(fate)
    return table.get(call.function_id, frozenset())  # an undefined function fails


# -- putting states together ----------------------------------------------------------------


#: how well a round's balances are known: read or derived exactly from a complete proof or
#: the create tx; anchored on a partial proof, the accounts it does not show carried over a
#: call that may have moved coins; carried over such a call with nothing to anchor them
FIRM, ANCHORED, GUESSED, UNKNOWN = 3, 2, 1, 0


@dataclass
class _Known:
    """Best knowledge of one channel's state after some round."""

    balances: dict[bytes, int] | None = None  # every account with its balance
    quality: int = UNKNOWN
    revealed_balances: dict[bytes, int] = field(default_factory=dict)  # a partial proof's
    objects: dict[bytes, bytes] = field(default_factory=dict)  # contract pubkey -> object
    objects_complete: bool = False
    stores: dict[bytes, dict[bytes, bytes] | None] = field(default_factory=dict)

    def offer(self, balances: dict[bytes, int], quality: int) -> None:
        """Take balances derived from a neighbouring round if they are better known."""
        if self.revealed_balances:
            overlaid = {**balances, **self.revealed_balances}
            if overlaid != balances:
                quality = ANCHORED if quality < FIRM else quality
                if quality == FIRM:  # a firm derivation that a proof contradicts
                    quality = ANCHORED
                balances = overlaid
            elif quality < ANCHORED:
                quality = ANCHORED
        if quality > self.quality:
            self.balances, self.quality = balances, quality


def _learn_reveal(known: _Known, rev: _Revealed) -> None:
    """Merge what a proof showed at this round into the knowledge of the round."""
    shown: dict[bytes, int] = {}
    for pk, raw in rev.accounts.items():
        try:
            shown[pk] = trees.Account.decode(raw).balance
        except DecodeError:
            continue
    if rev.accounts_complete and len(shown) == len(rev.accounts):
        known.balances, known.quality = shown, FIRM
    else:
        known.revealed_balances.update(shown)
    for pubkey, (obj, store) in ct.split_contracts_tree(rev.contracts).items():
        known.objects[pubkey] = obj
        known.stores[pubkey] = store
    if rev.contracts_complete:
        known.objects_complete = True


def audit_contract_rounds(
    evidence: Evidence, env: ChainEnv | None = None, onchain: OnChain | None = None
) -> list[ContractRound]:
    """One verdict per round with a contract update, channel by channel, in round order.

    ``env`` and ``onchain`` are the pinned block and on-chain state the VM runs contract
    code against (by default an empty chain at height 1); a round whose contract reads
    them differently simply does not reproduce and keeps the evidence verdict.
    """
    out: list[ContractRound] = []
    by_channel: dict[bytes, list[Round]] = defaultdict(list)
    for (channel, _), rnd in sorted(evidence.rounds().items(), key=lambda kv: kv[0]):
        by_channel[channel].append(rnd)
    chain = env or ChainEnv(1, 0, bytes(32))
    names = onchain or StaticOnChain()
    for channel, rounds in by_channel.items():
        if any(_has_contract_update(r) for r in rounds):
            out.extend(_audit_channel(channel, rounds, evidence, chain, names))
    return out


def _has_contract_update(rnd: Round) -> bool:
    return any(
        isinstance(u, updates.OffChainNewContract | updates.OffChainCallContract)
        for u in rnd.updates
    )


def _audit_channel(
    channel: bytes, rounds: list[Round], evidence: Evidence, env: ChainEnv, onchain: OnChain
) -> list[ContractRound]:
    codes: dict[bytes, CodeObject] = {}
    for revs in evidence.revealed.values():  # code of contracts created before the recording
        for rev in revs:
            for pk, (obj, _) in ct.split_contracts_tree(rev.contracts).items():
                try:
                    codes.setdefault(
                        pk, CodeObject.deserialize(ct.ContractObject.deserialize(obj).code)
                    )
                except DecodeError:
                    continue
    steps = {r.round: _step(r, codes, evidence) for r in rounds}
    # knowledge after each round: first from proofs at that round, then forward, then back
    known: dict[int, _Known] = {}
    for rnd in rounds:
        k = _Known()
        for rev in evidence.revealed.get(rnd.state_hash, []):
            _learn_reveal(k, rev)
        known[rnd.round] = k
    first = rounds[0].round
    base = evidence.base_balances.get((channel, first - 1))
    start = _Known()
    if base:
        start.balances, start.quality = dict(base[0]), FIRM
    start.objects_complete = first == 2  # the channel's first off-chain round: no contracts yet
    for _ in range(2):  # forward then backward, twice: knowledge flows both ways
        previous, previous_round = start, first - 1
        for rnd in rounds:
            if rnd.round == previous_round + 1:  # a gap: rounds not in this recording
                _forward(previous, known[rnd.round], steps[rnd.round])
            previous, previous_round = known[rnd.round], rnd.round
        for later, earlier in zip(reversed(rounds), list(reversed(rounds))[1:], strict=False):
            if later.round == earlier.round + 1:
                _backward(known[later.round], known[earlier.round], steps[later.round])
    verdicts: dict[int, ContractRound] = {}
    states: dict[int, trees.StateTrees] = {}
    opening = _opening_balances(base, known.get(2), steps.get(2)) if first == 2 else None
    if opening is not None:  # round 1 holds no contracts: its balances are its state
        states[1] = trees.StateTrees.from_balances(opening)
    for rnd in rounds:
        verdict, state = _verdict(rnd, known[rnd.round], steps[rnd.round], evidence)
        if state is not None:
            states[rnd.round] = state
        if _has_contract_update(rnd):
            verdicts[rnd.round] = verdict
    verdicts.update(_vm_verdicts(rounds, states, steps, evidence, env, onchain))
    return [verdicts[r.round] for r in rounds if r.round in verdicts]


def _opening_balances(
    base: list[dict[bytes, int]] | None, second: _Known | None, step: _Step | None
) -> dict[bytes, int] | None:
    """Round 1's balances: from the create tx, or round 2's firm balances undone."""
    if base:
        return dict(base[0])
    if second is None or step is None or second.balances is None or second.quality != FIRM:
        return None
    balances = dict(second.balances)
    for pk, delta in step.deltas.items():
        balances[pk] = balances.get(pk, 0) - delta
    for pk in step.new_accounts:
        balances.pop(pk, None)
    if any(b < 0 for b in balances.values()):
        return None
    return balances


#: the node rules tried, in order: the recordings' node first
VM_PROFILES: tuple[Profile, ...] = (RECORDED_2020, IRIS)
_VM_CANNOT = (VmNotImplemented, UpdateRefused, InvalidUpdate, DecodeError, ValueError, KeyError)


def _vm_verdicts(
    rounds: list[Round],
    known: dict[int, trees.StateTrees],
    steps: dict[int, _Step],
    evidence: Evidence,
    env: ChainEnv,
    onchain: OnChain,
) -> dict[int, ContractRound]:
    """Rounds the VM recomputes from a known earlier state, round after round."""
    out: dict[int, ContractRound] = {}
    state: trees.StateTrees | None = None
    previous: int | None = None
    for rnd in rounds:
        if previous is None or rnd.round != previous + 1 or state is None:
            state = known.get(rnd.round - 1)
        previous = rnd.round
        if state is None:
            continue
        found = _vm_round(state, rnd, env, onchain)
        if found is None:
            state = known.get(rnd.round)
            continue
        state, profile, calls = found
        if _has_contract_update(rnd):
            what = ", ".join(name for _, name in steps[rnd.round].calls)
            out[rnd.round] = _vm_verdict(rnd, what, profile, calls, evidence)
    return out


def _vm_round(
    state: trees.StateTrees, rnd: Round, env: ChainEnv, onchain: OnChain
) -> tuple[trees.StateTrees, Profile, tuple[ct.CallObject, ...]] | None:
    """The trees after ``rnd`` by the first profile that reproduces its signed hash."""
    for profile in VM_PROFILES:
        try:
            result = apply_round(
                state, rnd.updates, rnd.round, ChannelContext(env, onchain, profile)
            )
        except _VM_CANNOT:
            return None
        if result.state_hash == rnd.state_hash:
            return result.trees, profile, result.calls
    return None


def _vm_verdict(
    rnd: Round, what: str, profile: Profile, calls: tuple[ct.CallObject, ...], evidence: Evidence
) -> ContractRound:
    names = what or "contract update"
    wrong = [c for c in calls if c.key in evidence.calls and evidence.calls[c.key] != c]
    if wrong:
        detail = (
            f"round {rnd.round} ({names}) recomputed by the VM ({profile.name}), but the node's "
            f"get.contract_call reply differs from the call in the signed state "
            f"(gas_used {evidence.calls[wrong[0].key].gas_used}, the VM's {wrong[0].gas_used})"
        )
        return ContractRound(rnd.channel, rnd.round, "bad", detail, rnd.seq, rnd.line, rnd.role)
    detail = f"round {rnd.round} ({names}) recomputed by the VM ({profile.name})"
    return ContractRound(rnd.channel, rnd.round, "ok", detail, rnd.seq, rnd.line, rnd.role)


def _forward(before: _Known, after: _Known, step: _Step) -> None:
    """Fill what the round after ``before`` must hold, from its known effects."""
    if before.balances is not None:
        balances = dict(before.balances)
        for pk in step.new_accounts:
            balances.setdefault(pk, 0)
        for pk, delta in step.deltas.items():
            balances[pk] = balances.get(pk, 0) + delta
        quality = min(before.quality, GUESSED) if step.balances_reset else before.quality
        after.offer(balances, quality)
    if not after.objects_complete and before.objects_complete:
        after.objects = {**before.objects, **step.created, **after.objects}
        after.objects_complete = True
    else:
        for pk, obj in step.created.items():
            after.objects.setdefault(pk, obj)
    for pk in set(before.stores) | set(after.objects):
        if after.stores.get(pk) is not None:
            continue
        if pk in step.store_resets or step.all_stores_reset or pk in step.created:
            after.stores.setdefault(pk, None)
        elif before.stores.get(pk) is not None:
            after.stores[pk] = before.stores[pk]


def _backward(after: _Known, before: _Known, step: _Step) -> None:
    """Fill the round before from the round after, undoing the later round's known effects."""
    if after.balances is not None:
        balances = dict(after.balances)
        for pk, delta in step.deltas.items():
            balances[pk] = balances.get(pk, 0) - delta
        for pk in step.new_accounts:
            balances.pop(pk, None)
        quality = min(after.quality, GUESSED) if step.balances_reset else after.quality
        before.offer(balances, quality)
    if not before.objects_complete and after.objects_complete:
        before.objects = {
            pk: obj for pk, obj in after.objects.items() if pk not in step.created
        } | before.objects
        before.objects_complete = True
    if step.all_stores_reset:
        return
    for pk, store in after.stores.items():
        if store is None or pk in step.store_resets or pk in step.created:
            continue
        if before.stores.get(pk) is None:
            before.stores[pk] = store


def _verdict(
    rnd: Round, known: _Known, step: _Step, evidence: Evidence
) -> tuple[ContractRound, trees.StateTrees | None]:
    """The evidence verdict, and the round's trees when they hash to its state hash."""

    def result(
        outcome: RoundOutcome, detail: str, state: trees.StateTrees | None = None
    ) -> tuple[ContractRound, trees.StateTrees | None]:
        verdict = ContractRound(
            rnd.channel, rnd.round, outcome, detail, rnd.seq, rnd.line, rnd.role
        )
        return verdict, state

    missing: list[str] = []
    calls: dict[bytes, bytes] = {}
    for key, name in step.calls:
        call = evidence.calls.get(key)
        if call is None:
            missing.append(f"the result of {name} (no get.contract_call reply for this round)")
        else:
            calls[key] = call.serialize()
    if known.balances is None:
        missing.append("the balances (none of this channel's states is known)")
    if not known.objects_complete:
        missing.append("which contracts exist (earlier rounds are not in this recording)")
    unknown_objects = [pk for pk, obj in known.objects.items() if not obj]
    if unknown_objects:
        names = ", ".join(encoding.encode("ct", pk)[:12] + "…" for pk in unknown_objects)
        missing.append(f"the code stored for {names} (an AEVM contract's init returns it)")
    unknown_stores = [pk for pk in known.objects if known.stores.get(pk) is None]
    if unknown_stores:
        names = ", ".join(encoding.encode("ct", pk)[:12] + "…" for pk in unknown_stores)
        missing.append(f"the store of {names} (written by init or a call: needs the VM)")
    missing.extend(step.why)
    if missing:
        return result("cannot", "; ".join(missing))
    assert known.balances is not None
    contract_entries: dict[bytes, bytes] = {}
    for pk, obj in known.objects.items():
        store = known.stores.get(pk)
        assert store is not None
        contract_entries.update(ct.contract_entries(pk, obj, store))
    if any(b < 0 for b in known.balances.values()):
        return result("cannot", "the balances known do not fit this round (negative)")
    state = trees.StateTrees(
        accounts={pk: trees.Account(0, b).serialize() for pk, b in known.balances.items()},
        contracts=contract_entries,
        calls=calls,
    )
    what = ", ".join(name for _, name in step.calls) or "contract update"
    if state.state_hash() == rnd.state_hash:
        return result("ok", f"round {rnd.round} ({what}) recomputed from the recording", state)
    if known.quality == FIRM:
        return result("bad", f"round {rnd.round} ({what}): the recomputed state hash differs")
    return result(
        "cannot",
        f"round {rnd.round} ({what}): the balances after a call that may move coins "
        "(needs the VM) are not shown by any proof",
    )


def count_outcomes(verdicts: Iterable[ContractRound]) -> dict[str, int]:
    """Counts by outcome."""
    counts = {"ok": 0, "bad": 0, "cannot": 0}
    for v in verdicts:
        counts[v.outcome] += 1
    return counts


def from_proposal(
    channel: bytes,
    rnd: int,
    state_hash: bytes,
    raw_updates: Sequence[Mapping[str, Any]],
    where: tuple[int, int | None, str],
) -> Round | None:
    """A :class:`Round` from a sign request's updates (None if they do not decode)."""
    try:
        ups = [updates.from_dict(u) for u in raw_updates]
    except DecodeError:
        return None
    seq, line, role = where
    return Round(channel, rnd, state_hash, ups, seq, line, role)


__all__ = [
    "ContractRound",
    "Evidence",
    "Round",
    "audit_contract_rounds",
    "count_outcomes",
    "from_proposal",
]
