"""Audit a recorded session: decode every tx, verify signatures, recompute hashes.

Pure: it takes frames (anything with the :class:`AuditFrame` attributes, as
:mod:`chan_nb.recording` produces) and returns an :class:`AuditReport` with one
:class:`Finding` per check, located by frame. Nothing here reads files.

Checks, per file:
- every ``tx_`` string decodes (and re-encodes to the same bytes);
- every signature of every signed_tx layer verifies for one of the session's
  parties under the session's network id (detected from known candidates);
- channel ids recomputed from create txs match the ids the session uses;
- state hashes: create txs from their amounts and ``push_amount``; balance
  replies, ``ss_`` trees and ``pi_`` proofs hash to a state of the session;
  proposals with transfer/deposit/withdraw/meta updates, replayed on the
  previous round's balances, give the state hash they carry;
- rounds of the co-signed states a client receives never go back;
- contracts: every contract update's code and call data and every call result
  decodes; contract rounds are recomputed where the recording holds what a VM
  would compute (:mod:`chan_nb.audit_contracts`; ``report.contract_rounds`` says
  for each round whether it was, or why not).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from chan_nb import audit_contracts
from chan_nb.codec import encoding, signing, trees, updates
from chan_nb.codec import state as codec_state
from chan_nb.codec.hashing import channel_pubkey, channel_pubkey_ga
from chan_nb.codec.txs import (
    ChannelCloseSoloTx,
    ChannelCreateTx,
    ChannelDepositTx,
    ChannelForceProgressTx,
    ChannelOffchainTx,
    ChannelSlashTx,
    ChannelWithdrawTx,
    GaMetaTx,
    SignedTx,
    Tx,
    decode_api,
    signature_layers,
)
from chan_nb.errors import DecodeError
from chan_nb.protocol.frames import strings_in

Check = Literal["decode", "signature", "channel_id", "state_hash", "round"]


class AuditFrame(Protocol):
    """What the audit reads of a recorded frame."""

    @property
    def seq(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def direction(self) -> str: ...
    @property
    def message(self) -> Any: ...
    @property
    def params(self) -> Mapping[str, str] | None: ...
    @property
    def line(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class Finding:
    """One check on one frame: ``ok`` False means something is wrong."""

    seq: int
    line: int | None
    role: str
    check: Check
    ok: bool
    detail: str

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else f"frame {self.seq}"
        return f"{where} ({self.role}): {self.check} {'ok' if self.ok else 'BAD'}: {self.detail}"


@dataclass
class AuditReport:
    """Counts and per-frame findings of one session's audit."""

    source: str
    network_id: str | None = None
    txs: int = 0
    findings: list[Finding] = field(default_factory=list)
    #: contract code objects, call data and return values decoded (a failure is a finding)
    contract_items: int = 0
    #: one verdict per round with a contract update (recomputed, differs, or why not)
    contract_rounds: list[audit_contracts.ContractRound] = field(default_factory=list)

    def count(self, check: Check, ok: bool) -> int:
        return sum(1 for f in self.findings if f.check == check and f.ok is ok)

    @property
    def signatures_ok(self) -> int:
        return self.count("signature", True)

    @property
    def signatures_bad(self) -> int:
        return self.count("signature", False)

    @property
    def state_hashes_ok(self) -> int:
        return self.count("state_hash", True)

    @property
    def state_hashes_bad(self) -> int:
        return self.count("state_hash", False)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if not f.ok]

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        """One line for the CLI: the file, its counts, and the verdict."""
        status = "ok" if self.ok else f"BAD ({len(self.problems)} problems)"
        text = (
            f"{self.source}: {status}; network {self.network_id or '?'}; {self.txs} txs, "
            f"{self.signatures_ok} signatures ok, {self.signatures_bad} bad, "
            f"{self.state_hashes_ok} state hashes ok, {self.state_hashes_bad} bad, "
            f"{self.count('channel_id', True)} channel ids ok"
        )
        if self.contract_rounds:
            counts = audit_contracts.count_outcomes(self.contract_rounds)
            text += (
                f"; contract rounds: {counts['ok']} recomputed, {counts['bad']} differ, "
                f"{counts['cannot']} not recomputable without a VM"
            )
        return text

    def contract_records(self) -> list[dict[str, Any]]:
        """One dict per contract round: its verdict and why (for a DataFrame)."""
        return [
            {
                "channel_id": encoding.encode("ch", v.channel),
                "round": v.round,
                "outcome": v.outcome,
                "detail": v.detail,
                "seq": v.seq,
                "line": v.line,
                "role": v.role,
            }
            for v in self.contract_rounds
        ]

    def __repr__(self) -> str:
        return f"<AuditReport {self.line()}>"

    def _repr_html_(self) -> str:
        from html import escape

        from chan_nb.display import BAD, GOOD, badge, card, rows_table

        status = badge("ok", GOOD) if self.ok else badge(f"{len(self.problems)} problems", BAD)
        rows = [
            ("network", escape(self.network_id or "?")),
            ("txs", str(self.txs)),
            ("signatures", f"{self.signatures_ok} ok, {self.signatures_bad} bad"),
            ("state hashes", f"{self.state_hashes_ok} ok, {self.state_hashes_bad} bad"),
            ("channel ids", f"{self.count('channel_id', True)} ok"),
        ]
        shown = self.problems[:20]
        extra = ""
        if shown:
            cells = [
                [str(f.seq), "" if f.line is None else str(f.line), f.role, f.check, f.detail]
                for f in shown
            ]
            extra = rows_table(["seq", "line", "role", "check", "problem"], cells)
            if len(self.problems) > len(shown):
                extra += f"<div>… {len(self.problems) - len(shown)} more (.problems)</div>"
        return card(f"audit of {self.source}", rows, status=status, extra=extra)

    def to_records(self) -> list[dict[str, Any]]:
        """One dict per finding (for a DataFrame)."""
        return [
            {
                "seq": f.seq,
                "line": f.line,
                "role": f.role,
                "check": f.check,
                "ok": f.ok,
                "detail": f.detail,
            }
            for f in self.findings
        ]


# -- collecting what the session contains -------------------------------------


def _tx_strings(value: Any) -> Iterator[str]:
    """Every ``tx_`` string anywhere in a JSON value."""
    return (s for s in strings_in(value) if s.startswith("tx_"))


_CONTRACT_OPS = frozenset({"OffChainNewContract", "OffChainCallContract"})


@dataclass
class _Session:
    """What the audit learns while walking a session's frames."""

    parties: dict[bytes, str] = field(default_factory=dict)  # pubkey -> ak_
    push_amounts: set[int] = field(default_factory=set)
    channel_ids_used: set[str] = field(default_factory=set)
    decoded: dict[str, Tx | None] = field(default_factory=dict)  # tx_ string -> decoded
    state_hashes: set[bytes] = field(default_factory=set)
    # (channel pubkey, round) -> list of balance maps known for that state
    states: dict[tuple[bytes, int], list[dict[bytes, int]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    has_contracts: bool = False
    # set once the session has shown a co-signed state: from then on every
    # balances reply must match a state of the session (before, the channel's
    # state may come from an earlier recording, e.g. a group's init file)
    cosigned_seen: bool = False
    # state hash -> (channel pubkey, round) of the txs that carry it
    rounds_of_hash: dict[bytes, set[tuple[bytes, int]]] = field(
        default_factory=lambda: defaultdict(set)
    )
    contract_evidence: audit_contracts.Evidence = field(default_factory=audit_contracts.Evidence)

    def learn_balances(self, state_hash: bytes, balances: dict[bytes, int]) -> None:
        """Balances behind a known state hash become a base for replaying later rounds."""
        for key in self.rounds_of_hash.get(state_hash, ()):
            if balances not in self.states[key]:
                self.states[key].append(balances)


def _add_party(session: _Session, address: object) -> None:
    if isinstance(address, str) and address.startswith("ak_"):
        # a deliberately broken id (a bad-parameter test) signs nothing: skip it
        with suppress(DecodeError):
            session.parties[encoding.decode(address, "ak")] = address


def _learn(session: _Session, frames: Sequence[AuditFrame]) -> None:
    """First pass: parties, push amounts, channel ids, decoded txs, state hashes."""
    for frame in frames:
        params = frame.params
        if params:
            for key in ("initiator_id", "responder_id"):
                _add_party(session, params.get(key))
            push = params.get("push_amount")
            if push is not None and push.lstrip("-").isdigit():
                session.push_amounts.add(int(push))
        message = frame.message
        if message is None:
            continue
        texts: list[str] = []
        for text in strings_in(message):
            if text.startswith("ch_"):
                session.channel_ids_used.add(text)
            elif text.startswith("ak_"):
                _add_party(session, text)  # any account the session names may sign
            elif text.startswith("tx_"):
                texts.append(text)
            elif text in _CONTRACT_OPS:
                session.has_contracts = True
        for text in texts:
            if text in session.decoded:
                continue
            try:
                tx = decode_api(text)
            except DecodeError:
                session.decoded[text] = None
                continue
            session.decoded[text] = tx
            for layer in _layers(tx):
                inner = layer.inner
                if isinstance(inner, ChannelCreateTx):
                    _add_party(session, inner.initiator_id.api)
                    _add_party(session, inner.responder_id.api)
                if isinstance(inner, GaMetaTx):
                    _add_party(session, inner.ga_id.api)
                state_hash = getattr(inner, "state_hash", None)
                if isinstance(state_hash, bytes):
                    session.state_hashes.add(state_hash)
                    channel = getattr(inner, "channel_id", None)
                    rnd = getattr(inner, "round", None)
                    if channel is not None and isinstance(rnd, int):
                        session.rounds_of_hash[state_hash].add((channel.value, rnd))


def _layers(tx: Tx) -> list[Any]:
    if isinstance(tx, SignedTx):
        return list(signature_layers(tx))
    return []


def _detect_network_id(session: _Session, candidates: Iterable[str]) -> str | None:
    keys = list(session.parties)
    for tx in session.decoded.values():
        if tx is None:
            continue
        for layer in _layers(tx):
            for sig in layer.signatures:
                found = signing.detect_network_id(sig, keys, layer.tx_bytes, candidates)
                if found is not None:
                    return found
    return None


# -- the audit ----------------------------------------------------------------


def audit_frames(
    frames: Sequence[AuditFrame],
    network_id: str | None = None,
    source: str = "session",
    candidates: Iterable[str] = signing.KNOWN_NETWORK_IDS,
) -> AuditReport:
    """Audit one recorded session (see the module docstring for the checks)."""
    session = _Session()
    _learn(session, frames)
    report = AuditReport(source=source)
    report.network_id = network_id or _detect_network_id(session, candidates)
    seen_tx: set[str] = set()
    seen_create: set[bytes] = set()
    verified: dict[tuple[bytes, bytes], bool] = {}
    last_round: dict[tuple[str, str], int] = {}
    for frame in frames:
        message = frame.message
        if message is None:
            continue
        for text in _tx_strings(message):
            if text in seen_tx:
                continue
            seen_tx.add(text)
            report.txs += 1
            tx = session.decoded[text]
            if tx is None:
                try:
                    decode_api(text)
                except DecodeError as exc:
                    _add(report, frame, "decode", False, f"{_short(text)} does not decode: {exc}")
                continue
            _check_signatures(report, frame, session, tx, verified)
            if isinstance(tx, SignedTx) and len(tx.signatures) >= 2:
                session.cosigned_seen = True
            if isinstance(tx, SignedTx) and isinstance(tx.innermost, ChannelCreateTx):
                inner_bytes = tx.innermost.serialize()
                if inner_bytes not in seen_create:  # judged once, whatever its signatures
                    seen_create.add(inner_bytes)
                    _check_create(report, frame, session, tx)
            _check_embedded_pois(report, frame, session, tx)
        _check_message_states(report, frame, session)
        _check_round(report, frame, session, last_round)
        if session.has_contracts:
            _collect_contract_evidence(report, frame, session)
    if session.has_contracts:
        _check_contract_rounds(report, session)
    return report


def _add(report: AuditReport, frame: AuditFrame, check: Check, ok: bool, detail: str) -> None:
    report.findings.append(Finding(frame.seq, frame.line, frame.role, check, ok, detail))


def _short(text: str) -> str:
    return text if len(text) <= 20 else text[:20] + "…"


def _check_signatures(
    report: AuditReport,
    frame: AuditFrame,
    session: _Session,
    tx: Tx,
    verified: dict[tuple[bytes, bytes], bool],
) -> None:
    network_id = report.network_id
    for layer in _layers(tx):
        for sig in layer.signatures:
            key = (sig, layer.tx_bytes)
            if key in verified:
                continue  # the same signature on the same bytes, already judged
            found = (
                signing.find_signer(sig, session.parties, layer.tx_bytes, network_id)
                if network_id
                else None
            )
            verified[key] = found is not None
            if found is not None:
                pubkey, how = found
                signer = session.parties[pubkey]
                detail = f"{layer.inner.TYPE} at {layer.path} signed by {signer} ({how})"
                _add(report, frame, "signature", True, detail)
            else:
                detail = (
                    f"{layer.inner.TYPE} at {layer.path}: signature "
                    f"{encoding.encode('sg', sig)[:16]}… verifies for no party "
                    f"under network id {network_id or '(none detected)'}"
                )
                _add(report, frame, "signature", False, detail)


def _initiator_auth_ids(tx: Tx, initiator: bytes) -> list[bytes]:
    """GA auth ids of meta txs by the initiator, innermost last."""
    out: list[bytes] = []
    for layer in _layers(tx):
        inner = layer.inner
        if isinstance(inner, GaMetaTx) and inner.ga_id.value == initiator:
            out.append(inner.auth_id())
    return out


def _check_create(report: AuditReport, frame: AuditFrame, session: _Session, tx: Tx) -> None:
    if not isinstance(tx, SignedTx):
        return
    create = tx.innermost
    if not isinstance(create, ChannelCreateTx):
        return
    # state hash of the initial state: initiator_amount - push, responder_amount + push
    matched = None
    for push in sorted(session.push_amounts) or [0]:
        balances = {
            create.initiator_id.value: create.initiator_amount - push,
            create.responder_id.value: create.responder_amount + push,
        }
        if min(balances.values()) >= 0 and trees.state_hash_of_balances(balances) == (
            create.state_hash
        ):
            matched = (push, balances)
            break
    if matched is None:
        _add(
            report,
            frame,
            "state_hash",
            False,
            f"create tx state hash matches no push_amount in {sorted(session.push_amounts)}",
        )
    else:
        push, balances = matched
        _add(report, frame, "state_hash", True, f"create tx initial state (push {push})")
    # channel id: nonce rule, or GA auth id when the initiator is a GA (nonce 0)
    candidates = [
        channel_pubkey(create.initiator_id.value, create.nonce, create.responder_id.value)
    ]
    for auth_id in reversed(_initiator_auth_ids(tx, create.initiator_id.value)):
        candidates.insert(
            0, channel_pubkey_ga(create.initiator_id.value, auth_id, create.responder_id.value)
        )
    ids = [encoding.encode("ch", c) for c in candidates]
    hit = next((i for i in ids if i in session.channel_ids_used), None)
    if matched is not None:
        for c in candidates:
            session.states[(c, 1)].append(matched[1])
    if hit is not None:
        _add(report, frame, "channel_id", True, f"create tx derives {hit}")
    elif create.nonce != 0 and not session.channel_ids_used:
        # the session names no channel at all: a create the chain refused (a
        # wrong nonce, say) — nothing to compare with, so nothing to report.
        pass
    elif create.nonce != 0:
        _add(
            report,
            frame,
            "channel_id",
            False,
            f"create tx derives {ids[-1]}, which the session never uses",
        )


def _check_embedded_pois(report: AuditReport, frame: AuditFrame, session: _Session, tx: Tx) -> None:
    if not isinstance(tx, SignedTx):
        return
    inner = tx.innermost
    if isinstance(inner, ChannelCloseSoloTx | ChannelSlashTx):
        _check_poi_bytes(report, frame, session, inner.poi, f"{inner.TYPE} poi")
    if isinstance(inner, ChannelForceProgressTx):
        _check_trees_bytes(report, frame, session, inner.offchain_trees, "force progress trees")
        if session.has_contracts:
            with suppress(DecodeError):
                session.contract_evidence.add_trees(trees.StateTrees.decode(inner.offchain_trees))


def _check_poi_bytes(
    report: AuditReport, frame: AuditFrame, session: _Session, data: bytes, what: str
) -> None:
    try:
        digest = trees.Poi.decode(data).state_hash()
    except DecodeError as exc:
        _add(report, frame, "decode", False, f"{what} does not decode: {exc}")
        return
    ok = digest in session.state_hashes
    _add(
        report,
        frame,
        "state_hash",
        ok,
        f"{what} {'hashes to' if ok else 'matches no'} recorded state",
    )


def _check_trees_bytes(
    report: AuditReport, frame: AuditFrame, session: _Session, data: bytes, what: str
) -> None:
    try:
        digest = trees.StateTrees.decode(data).state_hash()
    except DecodeError as exc:
        _add(report, frame, "decode", False, f"{what} do not decode: {exc}")
        return
    ok = digest in session.state_hashes
    _add(
        report, frame, "state_hash", ok, f"{what} {'hash to' if ok else 'match no'} recorded state"
    )


def _result_of(message: Any, method: str) -> Any:
    """Payload of a read reply: ``result`` of an id'd reply or ``data`` of a ``.reply``."""
    if not isinstance(message, dict):
        return None
    if message.get("method") == f"{method}.reply":
        params = message.get("params")
        return params.get("data") if isinstance(params, dict) else None
    return message.get("result")


def _check_message_states(report: AuditReport, frame: AuditFrame, session: _Session) -> None:
    message = frame.message
    if not isinstance(message, dict) or frame.direction != "received":
        return
    result = _result_of(message, "channels.get.balances")
    if (
        isinstance(result, list)
        and result
        and all(isinstance(r, dict) and set(r) == {"account", "balance"} for r in result)
    ):
        _check_balances(report, frame, session, result)
        return
    if isinstance(result, dict) and "trees" in result and "signed_tx" in result:
        _check_offchain_state(report, frame, session, result)
        return
    if isinstance(result, dict) and set(result) == {"poi"} and isinstance(result["poi"], str):
        try:
            data = encoding.decode(result["poi"], "pi")
        except DecodeError as exc:
            _add(report, frame, "decode", False, f"get.poi reply: {exc}")
            return
        _check_poi_bytes(report, frame, session, data, "get.poi proof")
        return
    method = message.get("method")
    if method in ("channels.update", "channels.leave"):
        session.cosigned_seen = True
    elif isinstance(method, str) and method.startswith("channels.sign."):
        _check_proposal(report, frame, session, message)


def _check_balances(
    report: AuditReport, frame: AuditFrame, session: _Session, rows: list[dict[str, Any]]
) -> None:
    try:
        balances = {encoding.decode(r["account"], "ak"): int(r["balance"]) for r in rows}
    except (DecodeError, TypeError, ValueError) as exc:
        _add(report, frame, "decode", False, f"balances reply: {exc}")
        return
    if len(balances) != 2 or session.has_contracts:
        return  # a partial or contract-holding state cannot be rebuilt from balances alone
    digest = trees.state_hash_of_balances(balances)
    ok = digest in session.state_hashes
    if ok:
        session.learn_balances(digest, balances)
    elif not session.cosigned_seen:
        return  # the state predates this recording: nothing to compare with
    _add(
        report,
        frame,
        "state_hash",
        ok,
        "balances reply " + ("hashes to a recorded state" if ok else "matches no recorded state"),
    )


def _check_offchain_state(
    report: AuditReport, frame: AuditFrame, session: _Session, result: dict[str, Any]
) -> None:
    try:
        state_trees = trees.StateTrees.decode(encoding.decode(result["trees"], "ss"))
        signed_text = result["signed_tx"]
        signed = decode_api(signed_text) if signed_text else None
    except DecodeError as exc:
        _add(report, frame, "decode", False, f"offchain_state reply: {exc}")
        return
    if not isinstance(signed, SignedTx):
        return
    expected = getattr(signed.innermost, "state_hash", None)
    digest = state_trees.state_hash()
    ok = digest == expected
    if ok and not session.has_contracts:
        session.learn_balances(digest, state_trees.balances())
    _add(
        report,
        frame,
        "state_hash",
        ok,
        "offchain_state trees " + ("hash to" if ok else "do not hash to") + " its signed_tx",
    )


_REPLAYABLE = (
    updates.OffChainTransfer,
    updates.OffChainDeposit,
    updates.OffChainWithdrawal,
    updates.OffChainMeta,
)


def _apply(balances: dict[bytes, int], ups: list[updates.Update]) -> dict[bytes, int] | None:
    try:
        return codec_state.apply_updates(balances, ups, codec_state.by_pubkey)
    except codec_state.InvalidUpdate:
        return None


def _check_proposal(
    report: AuditReport, frame: AuditFrame, session: _Session, message: dict[str, Any]
) -> None:
    """Replay a sign request's updates on the previous round and compare hashes."""
    data = (message.get("params") or {}).get("data") or {}
    text = data.get("signed_tx")
    raw_updates = data.get("updates")
    if not isinstance(text, str) or not isinstance(raw_updates, list) or not raw_updates:
        return
    tx = session.decoded.get(text)
    if not isinstance(tx, SignedTx):
        return
    inner = tx.innermost
    if not isinstance(inner, ChannelOffchainTx | ChannelDepositTx | ChannelWithdrawTx):
        return
    try:
        ups = [updates.from_dict(u) for u in raw_updates]
    except DecodeError as exc:
        _add(report, frame, "decode", False, f"updates of {message.get('method')}: {exc}")
        return
    if not all(isinstance(u, _REPLAYABLE) for u in ups):
        return  # contract updates need a VM
    bases = session.states.get((inner.channel_id.value, inner.round - 1), [])
    if not bases:
        return  # the previous state's balances are not known from this session
    results = [r for r in (_apply(b, ups) for b in bases) if r is not None]
    hit = next((r for r in results if trees.state_hash_of_balances(r) == inner.state_hash), None)
    if hit is None:
        _add(
            report,
            frame,
            "state_hash",
            False,
            f"round {inner.round} proposal: replaying {len(ups)} updates on round "
            f"{inner.round - 1} does not give its state hash",
        )
        return
    key = (inner.channel_id.value, inner.round)
    if hit not in session.states[key]:
        session.states[key].append(hit)
    _add(report, frame, "state_hash", True, f"round {inner.round} replayed from its updates")


def _check_round(
    report: AuditReport,
    frame: AuditFrame,
    session: _Session,
    last_round: dict[tuple[str, str], int],
) -> None:
    """Co-signed states delivered to one client never go to an older round."""
    message = frame.message
    if not isinstance(message, dict) or message.get("method") not in (
        "channels.update",
        "channels.leave",
    ):
        return
    if frame.direction != "received":
        return
    params = message.get("params") or {}
    state = (params.get("data") or {}).get("state")
    tx = session.decoded.get(state) if isinstance(state, str) else None
    if not isinstance(tx, SignedTx):
        return
    inner = tx.innermost
    rnd = 1 if isinstance(inner, ChannelCreateTx) else getattr(inner, "round", None)
    if not isinstance(rnd, int):
        return
    key = (str(params.get("channel_id")), frame.role)
    previous = last_round.get(key)
    last_round[key] = max(rnd, previous or rnd)
    if previous is not None and rnd < previous:
        _add(report, frame, "round", False, f"state round {rnd} after round {previous}")


# -- contract rounds (the work is in chan_nb.audit_contracts) ---------------------------------


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise DecodeError(f"expected a cb_ string, got {type(value).__name__}")
    return value


def _check_contract_update_decodes(
    report: AuditReport, frame: AuditFrame, update: dict[str, Any]
) -> None:
    """The code and call data of a contract update the node accepted must decode."""
    from chan_nb.codec.fate import CodeObject, decode_call

    op = update.get("op")
    if op not in _CONTRACT_OPS:
        return
    aevm = update.get("abi_version") == 1
    try:
        if op == "OffChainNewContract":
            code = CodeObject.deserialize(encoding.decode(_text(update.get("code")), "cb"))
            if code.is_fate:
                code.fate()
            report.contract_items += 1
        raw = encoding.decode(_text(update.get("call_data")), "cb")
        if not aevm:
            decode_call(raw)
        elif not raw or len(raw) % 32:
            raise DecodeError(f"AEVM call data is whole 32-byte words, got {len(raw)} bytes")
        report.contract_items += 1
    except DecodeError as exc:
        _add(report, frame, "decode", False, f"{op} update: {exc}")


def _check_call_result_decodes(
    report: AuditReport, frame: AuditFrame, call: dict[str, Any]
) -> None:
    """A call object a node sent decodes, its return value as its return type says."""
    from chan_nb.codec.contracts import CallObject
    from chan_nb.codec.fate import decode_result

    try:
        result = CallObject.from_dict(call)
    except DecodeError as exc:
        _add(report, frame, "decode", False, f"call object: {exc}")
        return
    raw = result.return_value
    try:
        decode_result(result.return_type_name, raw)  # type: ignore[arg-type]
    except DecodeError as exc:
        if not raw or len(raw) % 32:  # else: an AEVM contract's result (32-byte words)
            _add(report, frame, "decode", False, f"call result: {exc}")
            return
    report.contract_items += 1


def _collect_contract_evidence(report: AuditReport, frame: AuditFrame, session: _Session) -> None:
    """Proposals, call results, proofs and trees a contract round's state hash needs."""
    message = frame.message
    if not isinstance(message, dict):
        return
    evidence = session.contract_evidence
    method = message.get("method")
    raw_params = message.get("params")
    params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
    raw_data = params.get("data")
    data: dict[str, Any] = raw_data if isinstance(raw_data, dict) else {}
    if isinstance(method, str) and method.startswith("channels.sign."):
        text, raw_updates = data.get("signed_tx"), data.get("updates")
        tx = session.decoded.get(text) if isinstance(text, str) else None
        if isinstance(raw_updates, list):
            for raw_update in raw_updates:
                if isinstance(raw_update, dict):
                    _check_contract_update_decodes(report, frame, raw_update)
        if isinstance(tx, SignedTx) and isinstance(raw_updates, list) and raw_updates:
            inner = tx.innermost
            if isinstance(inner, ChannelOffchainTx | ChannelDepositTx | ChannelWithdrawTx):
                rnd = audit_contracts.from_proposal(
                    inner.channel_id.value,
                    inner.round,
                    inner.state_hash,
                    raw_updates,
                    (frame.seq, frame.line, frame.role),
                )
                if rnd is not None:
                    evidence.add_round(rnd)
        return
    if method in ("channels.update", "channels.leave"):
        state = data.get("state")
        tx = session.decoded.get(state) if isinstance(state, str) else None
        if isinstance(tx, SignedTx):
            digest = getattr(tx.innermost, "state_hash", None)
            if isinstance(digest, bytes):
                evidence.cosigned.add(digest)
        return
    if frame.direction != "received":
        return
    call = _result_of(message, "channels.get.contract_call")
    if not isinstance(call, dict):
        call = _result_of(message, "channels.dry_run.call_contract")
    if isinstance(call, dict) and "gas_used" in call:
        _check_call_result_decodes(report, frame, call)
        if message.get("method") != "channels.dry_run.call_contract.reply":
            evidence.add_call_reply(call)  # a dry run's result is for a round never made
        return
    result = _result_of(message, "channels.get.poi")
    if isinstance(result, dict) and isinstance(result.get("poi"), str):
        with suppress(DecodeError):
            evidence.add_poi(trees.Poi.from_api(result["poi"]))
        return
    result = _result_of(message, "channels.get.offchain_state")
    if isinstance(result, dict) and isinstance(result.get("trees"), str):
        with suppress(DecodeError):
            evidence.add_trees(trees.StateTrees.from_api(result["trees"]))


def _check_contract_rounds(report: AuditReport, session: _Session) -> None:
    evidence = session.contract_evidence
    evidence.base_balances = {key: list(v) for key, v in session.states.items()}
    report.contract_rounds = audit_contract_rounds = audit_contracts.audit_contract_rounds(evidence)
    for verdict in audit_contract_rounds:
        if verdict.outcome == "cannot":
            continue
        report.findings.append(
            Finding(
                verdict.seq,
                verdict.line,
                verdict.role,
                "state_hash",
                verdict.outcome == "ok",
                verdict.detail,
            )
        )
