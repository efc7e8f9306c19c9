"""A small chain: accounts, a mempool, blocks and on-chain channel objects.

Pure: nothing here runs on its own. :meth:`Chain.mine` makes one block from the
mempool; the caller decides when (a timer in the server, or a test). Each
transaction is checked like the node checks it — signatures of the required
signers under the network id, account nonces, balances, the channel's
state — and a transaction that fails is dropped (it never confirms, just as
an invalid tx never makes it into a block). Confirmation depth of an included
tx is ``height - inclusion height``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

from chan_nb import vm
from chan_nb.codec import signing, trees
from chan_nb.codec.hashing import blake2b_256
from chan_nb.codec.txs import (
    ChannelCloseMutualTx,
    ChannelCloseSoloTx,
    ChannelCreateTx,
    ChannelDepositTx,
    ChannelForceProgressTx,
    ChannelOffchainTx,
    ChannelSettleTx,
    ChannelSlashTx,
    ChannelSnapshotSoloTx,
    ChannelWithdrawTx,
    SignedTx,
    SpendTx,
    Tx,
)
from chan_nb.errors import ChanNbError, DecodeError
from chan_nb.node import contracts as node_contracts
from chan_nb.node import force_progress as fp
from chan_nb.node.contracts import PinnedBlock

#: How many nonces ahead of an account the mempool accepts a locally pushed tx
#: (the node's ``mempool.nonce_offset``).
NONCE_OFFSET: Final = 5

#: The embedded chain's key blocks: genesis time and spacing (ms), and who mines them.
GENESIS_TIME_MS: Final = 1_700_000_000_000
KEY_BLOCK_MS: Final = 180_000
BENEFICIARY: Final = blake2b_256(b"chan_nb embedded node beneficiary")

#: Dispute txs (disputes-and-current-node.md §1.3): who watches a channel reacts to them.
DISPUTE_TXS: Final = (
    ChannelCloseSoloTx,
    ChannelSlashTx,
    ChannelSettleTx,
    ChannelSnapshotSoloTx,
    ChannelForceProgressTx,
)
SoloTx = (
    ChannelCloseSoloTx
    | ChannelSlashTx
    | ChannelSettleTx
    | ChannelSnapshotSoloTx
    | ChannelForceProgressTx
)


class TxRejected(ChanNbError):
    """A transaction is not valid on this chain (the message says why)."""


class NotYet(TxRejected):
    """Not valid in this block but maybe in a later one: the tx stays in the mempool
    (a settle before the lock expired: the node's ``channel_not_closed``)."""


@dataclass
class Account:
    balance: int
    nonce: int = 0


@dataclass
class ChannelObject:
    """The on-chain view of a channel (what reestablish and the chain checks need)."""

    channel_id: bytes
    initiator: bytes
    responder: bytes
    amount: int  # coins locked in the channel (the node's channel_amount)
    channel_reserve: int
    lock_period: int
    round: int
    state_hash: bytes
    closed: bool = False
    #: the create amounts, overwritten from the PoI by close_solo and slash; a settle
    #: must name exactly these (§1.1)
    initiator_amount: int = 0
    responder_amount: int = 0
    solo_round: int = 0
    locked_until: int = 0  # 0: active; else the height a settle may be included from
    #: the tx that last changed the object (what a watcher reports)
    last_tx: SignedTx | None = None

    @property
    def active(self) -> bool:
        return self.locked_until == 0

    def solo_closed(self, height: int) -> bool:
        """Whether a settle may be included at ``height``."""
        return not self.active and self.locked_until <= height

    def locked(self, top: int) -> bool:
        """The FSM's (one block more careful) test: still locked at top height ``top``."""
        return not self.active and self.locked_until >= top


@dataclass(frozen=True)
class Inclusion:
    """A tx that made it into a block."""

    tx_hash: str
    signed: SignedTx
    height: int


@dataclass
class Chain:
    """Accounts, mempool and the channel objects, advanced one block at a time."""

    network_id: str
    height: int = 0
    accounts: dict[bytes, Account] = field(default_factory=dict)
    channels: dict[bytes, ChannelObject] = field(default_factory=dict)
    mempool: list[SignedTx] = field(default_factory=list)
    included: dict[str, Inclusion] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)  # th_ -> why it was dropped
    #: block hash -> the environment a contract pinned to it sees, for blocks this chain
    #: did not make (a replay pins the recorded node's blocks, :meth:`pin_block`)
    pinned: dict[bytes, PinnedBlock] = field(default_factory=dict)
    #: AENS names (name -> pointer key -> (kind, pubkey)), read by contracts (AENS.resolve)
    names: dict[bytes, dict[bytes, tuple[vm.PointerKind, bytes]]] = field(default_factory=dict)
    #: which node's VM rules a force-progress call runs under (the node's era)
    contract_profile: vm.Profile = vm.IRIS

    # -- what a contract sees ------------------------------------------------------------
    def env(self, block_hash: bytes | None = None) -> PinnedBlock:
        """The environment of a pinned block: a pinned one by hash, else the top (fate.md §5).

        The top's balances and key-block hashes are live views, read only when a contract
        asks (``Chain.balance``, ``Chain.block_hash``); a pinned block is a snapshot.
        """
        pinned = self.pinned.get(block_hash) if block_hash is not None else None
        if pinned is not None:
            return pinned
        return PinnedBlock(
            height=self.height,
            timestamp=GENESIS_TIME_MS + self.height * KEY_BLOCK_MS + 1,
            beneficiary=BENEFICIARY,
            network_id=self.network_id,
            key_block_hashes=_KeyBlockHashes(self, self.height),
            accounts=_Balances(self.accounts),
            names={name: dict(pointers) for name, pointers in self.names.items()},
        )

    def key_block_hash(self, height: int) -> bytes:
        """The (made-up, stable) hash of this chain's key block at ``height``."""
        return blake2b_256(b"chan_nb key block" + height.to_bytes(8, "big"))

    def pin_block(self, block_hash: bytes, env: PinnedBlock | None = None) -> PinnedBlock:
        """Make a block this chain did not mine known to contracts (a recorded pin): with
        ``env``, or a snapshot of the top (names included) as it is now."""
        if env is None:
            top = self.env()
            env = replace(
                top,
                accounts={pk: acc.balance for pk, acc in self.accounts.items()},
                key_block_hashes=dict(top.key_block_hashes),
            )
        self.pinned[block_hash] = env
        return env

    def set_name(self, name: str, pointers: dict[str, tuple[vm.PointerKind, bytes]]) -> None:
        """Claim or update an AENS name with these pointers (as the node's HTTP API would)."""
        self.names[name.lower().encode("utf-8")] = {
            key.encode("utf-8"): value for key, value in pointers.items()
        }

    # -- accounts ------------------------------------------------------------------------
    def fund(self, pubkey: bytes, amount: int) -> Account:
        """Credit ``amount`` to an account, creating it if needed."""
        if amount < 0:
            raise ValueError("cannot fund a negative amount")
        account = self.accounts.setdefault(pubkey, Account(0))
        account.balance += amount
        return account

    def account(self, pubkey: bytes) -> Account | None:
        return self.accounts.get(pubkey)

    def next_nonce(self, pubkey: bytes) -> int:
        """The nonce the account's next transaction must carry (mempool included)."""
        account = self.accounts.get(pubkey)
        base = account.nonce if account else 0
        pending = sum(1 for s in self.mempool if _payer(s.tx) == pubkey)
        return base + pending + 1

    def channel(self, channel_id: bytes) -> ChannelObject | None:
        return self.channels.get(channel_id)

    # -- transactions --------------------------------------------------------------------
    def post(self, signed: SignedTx) -> str:
        """Put a tx into the mempool; its ``th_`` hash."""
        tx_hash = signed.hash
        if tx_hash not in self.included and all(s.hash != tx_hash for s in self.mempool):
            self.mempool.append(signed)
        return tx_hash

    def depth(self, tx_hash: str) -> int | None:
        """Blocks on top of the one that included the tx (None when not included)."""
        inclusion = self.included.get(tx_hash)
        return None if inclusion is None else self.height - inclusion.height

    @property
    def busy(self) -> bool:
        return bool(self.mempool)

    def mine(self) -> list[Inclusion]:
        """Make one block: apply every valid mempool tx in order."""
        self.height += 1
        block: list[Inclusion] = []
        pending, self.mempool = self.mempool, []
        for signed in pending:
            tx_hash = signed.hash
            try:
                self._apply(signed)
            except NotYet:
                self.mempool.append(signed)
                continue
            except TxRejected as exc:
                self.rejected[tx_hash] = str(exc)
                continue
            inclusion = Inclusion(tx_hash, signed, self.height)
            self.included[tx_hash] = inclusion
            block.append(inclusion)
        return block

    # -- validation and effects ------------------------------------------------------------
    def _apply(self, signed: SignedTx) -> None:
        tx = signed.tx
        if isinstance(tx, ChannelCreateTx):
            self._create(signed, tx)
        elif isinstance(tx, ChannelDepositTx):
            self._deposit(signed, tx)
        elif isinstance(tx, ChannelWithdrawTx):
            self._withdraw(signed, tx)
        elif isinstance(tx, ChannelCloseMutualTx):
            self._close_mutual(signed, tx)
        elif isinstance(tx, SpendTx):
            self._spend(signed, tx)
        elif isinstance(tx, ChannelCloseSoloTx | ChannelSlashTx):
            self._close_solo_or_slash(signed, tx)
        elif isinstance(tx, ChannelSettleTx):
            self._settle(signed, tx)
        elif isinstance(tx, ChannelSnapshotSoloTx):
            self._snapshot(signed, tx)
        elif isinstance(tx, ChannelForceProgressTx):
            self._force_progress(signed, tx)
        else:
            raise TxRejected(f"{tx.TYPE} is not supported by the embedded chain")

    def _check_ttl(self, ttl: int) -> None:
        if ttl and ttl < self.height:
            raise TxRejected(f"ttl {ttl} expired at height {self.height}")

    def _check_signers(self, signed: SignedTx, signers: tuple[bytes, ...]) -> None:
        for pubkey in signers:
            ok = any(
                signing.verify(sig, pubkey, signed.tx_bytes, self.network_id) is not None
                for sig in signed.signatures
            )
            if not ok:
                raise TxRejected("missing or bad signature")

    def _payer_account(self, pubkey: bytes, nonce: int) -> Account:
        account = self.accounts.get(pubkey)
        if account is None:
            raise TxRejected("account not found")
        if nonce != account.nonce + 1:
            raise TxRejected(f"nonce {nonce}, expected {account.nonce + 1}")
        return account

    def _open_channel(self, channel_id: bytes) -> ChannelObject:
        channel = self.channels.get(channel_id)
        if channel is None or channel.closed:
            raise TxRejected("channel does not exist or is closed")
        return channel

    def _active_channel(self, channel_id: bytes) -> ChannelObject:
        channel = self._open_channel(channel_id)
        if not channel.active:
            raise TxRejected("channel is solo-closing (not active)")
        return channel

    def _create(self, signed: SignedTx, tx: ChannelCreateTx) -> None:
        initiator, responder = tx.initiator_id.value, tx.responder_id.value
        self._check_ttl(tx.ttl)
        self._check_signers(signed, (initiator, responder))
        payer = self._payer_account(initiator, tx.nonce)
        other = self.accounts.get(responder)
        if other is None:
            raise TxRejected("responder account not found")
        if payer.balance < tx.initiator_amount + tx.fee:
            raise TxRejected("initiator cannot pay amount and fee")
        if other.balance < tx.responder_amount:
            raise TxRejected("responder cannot pay its amount")
        channel_id = tx.channel_pubkey()
        if channel_id in self.channels:
            raise TxRejected("channel already exists")
        payer.balance -= tx.initiator_amount + tx.fee
        payer.nonce += 1
        other.balance -= tx.responder_amount
        self.channels[channel_id] = ChannelObject(
            channel_id,
            initiator,
            responder,
            tx.initiator_amount + tx.responder_amount,
            tx.channel_reserve,
            tx.lock_period,
            1,
            tx.state_hash,
            initiator_amount=tx.initiator_amount,
            responder_amount=tx.responder_amount,
            last_tx=signed,
        )

    def _deposit(self, signed: SignedTx, tx: ChannelDepositTx) -> None:
        channel, payer = self._co_signed_move(signed, tx, tx.from_id.value, "depositor")
        if payer.balance < tx.amount + tx.fee:
            raise TxRejected("depositor cannot pay amount and fee")
        self._check_newer(channel, tx.round)
        payer.balance -= tx.amount + tx.fee
        payer.nonce += 1
        channel.amount += tx.amount
        channel.round, channel.state_hash = tx.round, tx.state_hash
        channel.solo_round, channel.last_tx = 0, signed

    def _withdraw(self, signed: SignedTx, tx: ChannelWithdrawTx) -> None:
        channel, payer = self._co_signed_move(signed, tx, tx.to_id.value, "withdrawer")
        if channel.amount < tx.amount:
            raise TxRejected("channel holds less than the withdrawal")
        if payer.balance + tx.amount < tx.fee:
            raise TxRejected("withdrawer cannot pay the fee")
        self._check_newer(channel, tx.round)
        payer.balance += tx.amount - tx.fee
        payer.nonce += 1
        channel.amount -= tx.amount
        channel.round, channel.state_hash = tx.round, tx.state_hash
        channel.solo_round, channel.last_tx = 0, signed

    def _co_signed_move(
        self, signed: SignedTx, tx: ChannelDepositTx | ChannelWithdrawTx, who: bytes, what: str
    ) -> tuple[ChannelObject, Account]:
        """Checks deposit and withdraw share: active channel, ttl, both signatures, a
        participant moving coins, and that participant's account at the tx nonce."""
        channel = self._active_channel(tx.channel_id.value)
        self._check_ttl(tx.ttl)
        self._check_signers(signed, (channel.initiator, channel.responder))
        if who not in (channel.initiator, channel.responder):
            raise TxRejected(f"{what} is not a participant")
        return channel, self._payer_account(who, tx.nonce)

    @staticmethod
    def _check_newer(channel: ChannelObject, round_: int) -> None:
        """The round rule of co-signed payloads (§1.2): above the on-chain round, or
        above ``solo_round - 1`` while a forced state is on chain."""
        least = channel.round if channel.solo_round == 0 else channel.solo_round - 1
        if round_ == least:
            raise TxRejected(f"same_round: round {round_} is already on chain")
        if round_ < least:
            raise TxRejected(f"old_round: round {round_} is older than {least}")

    # -- disputes (disputes-and-current-node.md §1.3) -------------------------------------
    def _solo_payer(self, signed: SignedTx, tx: SoloTx, channel: ChannelObject) -> Account:
        """Checks every solo tx shares: ttl, a participant posting, its signature, nonce
        and enough coins for the fee."""
        self._check_ttl(tx.ttl)
        poster = tx.from_id.value
        if poster not in (channel.initiator, channel.responder):
            raise TxRejected("account_not_peer: the poster is not a participant")
        self._check_signers(signed, (poster,))
        payer = self._payer_account(poster, tx.nonce)
        if payer.balance < tx.fee:
            raise TxRejected("insufficient_funds: the poster cannot pay the fee")
        return payer

    def _payload_state(self, tx: SoloTx, channel: ChannelObject) -> tuple[int, bytes] | None:
        """Round and state hash of a solo tx's co-signed payload (None: empty payload)."""
        if isinstance(tx, ChannelSettleTx):
            return None
        try:
            payload = tx.payload_tx()
        except DecodeError:
            raise TxRejected("bad_offchain_state_type: the payload does not decode") from None
        if payload is None:
            return None
        inner = payload.tx
        if not isinstance(inner, ChannelOffchainTx):
            raise TxRejected("bad_offchain_state_type: the payload is not an offchain tx")
        if inner.channel_id.value != channel.channel_id:
            raise TxRejected("bad_state_channel_pubkey: the payload is another channel's")
        self._check_signers(payload, (channel.initiator, channel.responder))
        self._check_newer(channel, inner.round)
        return inner.round, inner.state_hash

    def _poi_amounts(
        self, poi_bytes: bytes, state_hash: bytes, channel: ChannelObject
    ) -> tuple[int, int]:
        try:
            poi = trees.Poi.decode(poi_bytes)
            poi.check()
        except DecodeError:
            raise TxRejected("bad_poi: the proof does not decode") from None
        if poi.state_hash() != state_hash:
            raise TxRejected("invalid_poi_hash: the proof is of another state")
        initiator, responder = poi.balance_of(channel.initiator), poi.balance_of(channel.responder)
        if initiator is None or responder is None:
            raise TxRejected("poi_missing_account: the proof lacks a participant")
        if initiator + responder > channel.amount:
            raise TxRejected("poi_amounts_change_channel_funds")
        return initiator, responder

    def _close_solo_or_slash(
        self, signed: SignedTx, tx: ChannelCloseSoloTx | ChannelSlashTx
    ) -> None:
        slash = isinstance(tx, ChannelSlashTx)
        channel = self._open_channel(tx.channel_id.value)
        if slash and channel.active:
            raise TxRejected("channel_not_closing: a slash needs a solo-closing channel")
        if not slash and not channel.active:
            raise TxRejected("channel_not_active: the channel is already closing")
        payer = self._solo_payer(signed, tx, channel)
        state = self._payload_state(tx, channel)
        if state is None and slash:
            raise TxRejected("slash_must_have_payload")
        round_, state_hash = state if state is not None else (channel.round, channel.state_hash)
        initiator, responder = self._poi_amounts(tx.poi, state_hash, channel)
        payer.balance -= tx.fee
        payer.nonce += 1
        channel.round, channel.state_hash = round_, state_hash
        channel.initiator_amount, channel.responder_amount = initiator, responder
        channel.locked_until = self.height + channel.lock_period
        channel.last_tx = signed

    def _settle(self, signed: SignedTx, tx: ChannelSettleTx) -> None:
        channel = self._open_channel(tx.channel_id.value)
        if channel.active:
            raise TxRejected("channel_not_closed: the channel is active")
        payer = self._solo_payer(signed, tx, channel)
        if not channel.solo_closed(self.height):
            raise NotYet(f"channel_not_closed: locked until height {channel.locked_until}")
        if (tx.initiator_amount_final, tx.responder_amount_final) != (
            channel.initiator_amount,
            channel.responder_amount,
        ):
            raise TxRejected("wrong_amt: the final amounts are not the closing state's")
        if tx.initiator_amount_final + tx.responder_amount_final > channel.amount:
            raise TxRejected("insufficient_channel_funds")
        payer.balance -= tx.fee
        payer.nonce += 1
        self.fund(channel.initiator, tx.initiator_amount_final)
        self.fund(channel.responder, tx.responder_amount_final)
        channel.closed = True
        channel.amount = 0
        channel.last_tx = signed

    def _snapshot(self, signed: SignedTx, tx: ChannelSnapshotSoloTx) -> None:
        channel = self._active_channel(tx.channel_id.value)
        payer = self._solo_payer(signed, tx, channel)
        state = self._payload_state(tx, channel)
        if state is None:
            raise TxRejected("snapshot_must_have_payload")
        payer.balance -= tx.fee
        payer.nonce += 1
        channel.round, channel.state_hash = state
        channel.solo_round = 0
        channel.last_tx = signed

    def fp_context(self, channel: ChannelObject, round_: int) -> node_contracts.RoundContext:
        """The round a force-progress call runs in: the channel's parties, the top block."""
        return node_contracts.RoundContext(
            (channel.initiator, channel.responder),
            channel.channel_reserve,
            round_,
            self.env(),
            self.contract_profile,
            node_contracts.default_vm(),
        )

    def _force_progress(self, signed: SignedTx, tx: ChannelForceProgressTx) -> None:
        """``check_force_progress/3`` and ``process_force_progress/7`` (fate.md §6.9)."""
        channel = self._open_channel(tx.channel_id.value)
        update = fp.update_of(tx)
        if update is None:
            raise TxRejected("not_a_call: a force progress carries one contract call")
        if update.caller != tx.from_id:
            raise TxRejected("not_caller: the poster is not the update's caller")
        payer = self._solo_payer(signed, tx, channel)
        try:
            based = fp.payload_state(tx)
        except DecodeError:
            raise TxRejected("bad_offchain_state_type: the payload does not decode") from None
        if based is not None:
            payload = tx.payload_tx()
            assert payload is not None
            self._check_signers(payload, (channel.initiator, channel.responder))
            base_round, base_hash = based
        else:
            base_round, base_hash = channel.round, channel.state_hash
        if base_round != tx.round - 1:
            raise TxRejected("wrong_round: the payload's round must be the tx round - 1")
        if tx.round <= channel.round:
            raise TxRejected("old_round: the round is not above the channel's")
        try:
            base = trees.StateTrees.decode(tx.offchain_trees)
        except DecodeError:
            raise TxRejected("bad_offchain_trees: the trees do not decode") from None
        if base.state_hash() != base_hash:
            raise TxRejected("invalid_state_hash: the trees are not the payload's state")
        contract = node_contracts.split_trees(base)[1].contract(update.contract.value)
        if contract is None:
            raise TxRejected("contract_missing: no such contract in the trees")
        if contract.ct_version & 0xFFFF != update.abi_version:
            raise TxRejected("wrong_abi_version")
        if payer.balance < tx.fee + update.gas * update.gas_price:
            raise TxRejected("insufficient_funds: the poster cannot pay fee and gas")
        result = fp.result_state(tx, lambda r: self.fp_context(channel, r))
        gas_used = update.gas
        if result is not None:
            calls = result[1].call_objects()
            gas_used = calls[0].gas_used if calls else update.gas
        payer.balance -= tx.fee + gas_used * update.gas_price
        payer.nonce += 1
        channel.last_tx = signed
        if result is None or node_contracts.channel_state_hash(*result) != tx.state_hash:
            return  # included, paid for, but the channel is unchanged
        balances = result[0]
        amounts = (balances.get(channel.initiator, 0), balances.get(channel.responder, 0))
        if not channel.active and sum(amounts) > channel.amount:
            return
        channel.round, channel.state_hash = tx.round, tx.state_hash
        channel.initiator_amount, channel.responder_amount = amounts
        if not channel.active:
            channel.locked_until = self.height + channel.lock_period

    # -- the mempool's own checks ----------------------------------------------------------
    def check_push(self, signed: SignedTx) -> None:
        """What the mempool checks when a tx is pushed (§1.3 "Mempool vs block"): a
        payload valid at this protocol, the poster's signature, the nonce window, the fee,
        the ttl. Everything else is checked at inclusion."""
        tx = signed.tx
        if not isinstance(tx, DISPUTE_TXS):
            return
        self._check_ttl(tx.ttl)
        poster = tx.from_id.value
        self._check_signers(signed, (poster,))
        account = self.accounts.get(poster)
        if account is None:
            raise TxRejected("account not found")
        if not account.nonce < tx.nonce <= account.nonce + NONCE_OFFSET:
            raise TxRejected(f"nonce {tx.nonce} outside the mempool's window")
        if account.balance < tx.fee:
            raise TxRejected("the poster cannot pay the fee")
        if isinstance(tx, ChannelSettleTx):
            return
        try:
            payload = tx.payload_tx()
        except DecodeError:
            raise TxRejected("invalid_at_protocol: the payload does not decode") from None
        if payload is not None and not isinstance(payload.tx, ChannelOffchainTx):
            raise TxRejected("invalid_at_protocol: the payload is not an offchain tx")

    def _close_mutual(self, signed: SignedTx, tx: ChannelCloseMutualTx) -> None:
        # from Lima on also while solo-closing: a mutual close ends a dispute
        channel = self._open_channel(tx.channel_id.value)
        self._check_ttl(tx.ttl)
        self._check_signers(signed, (channel.initiator, channel.responder))
        closer = tx.from_id.value
        if closer not in (channel.initiator, channel.responder):
            raise TxRejected("closer is not a participant")
        payer = self._payer_account(closer, tx.nonce)
        # check_are_funds_in_channel: at most the channel's coins; what off-chain contracts
        # hold is not paid out (it stays locked)
        if tx.initiator_amount_final + tx.responder_amount_final + tx.fee > channel.amount:
            raise TxRejected("final amounts and fee exceed the channel's coins")
        payer.nonce += 1
        self.fund(channel.initiator, tx.initiator_amount_final)
        self.fund(channel.responder, tx.responder_amount_final)
        channel.closed = True
        channel.amount = 0
        channel.last_tx = signed

    def _spend(self, signed: SignedTx, tx: SpendTx) -> None:
        sender = tx.sender_id.value
        self._check_ttl(tx.ttl)
        self._check_signers(signed, (sender,))
        payer = self._payer_account(sender, tx.nonce)
        if payer.balance < tx.amount + tx.fee:
            raise TxRejected("sender cannot pay amount and fee")
        payer.balance -= tx.amount + tx.fee
        payer.nonce += 1
        self.fund(tx.recipient_id.value, tx.amount)


class _Balances(Mapping[bytes, int]):
    """The on-chain balances, as a live read-only view."""

    def __init__(self, accounts: dict[bytes, Account]) -> None:
        self._accounts = accounts

    def __getitem__(self, pubkey: bytes) -> int:
        return self._accounts[pubkey].balance

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._accounts)

    def __len__(self) -> int:
        return len(self._accounts)


class _KeyBlockHashes(Mapping[int, bytes]):
    """The key-block hashes a contract at ``top`` may ask for (the last 256 and the top)."""

    def __init__(self, chain: Chain, top: int) -> None:
        self._chain, self._top = chain, top

    def _heights(self) -> range:
        return range(max(0, self._top - 255), self._top + 1)

    def __getitem__(self, height: int) -> bytes:
        if height not in self._heights():
            raise KeyError(height)
        return self._chain.key_block_hash(height)

    def __iter__(self) -> Iterator[int]:
        return iter(self._heights())

    def __len__(self) -> int:
        return len(self._heights())


def _payer(tx: Tx) -> bytes | None:
    """Whose nonce a tx uses."""
    if isinstance(tx, ChannelCreateTx):
        return tx.initiator_id.value
    if isinstance(tx, ChannelDepositTx | ChannelCloseMutualTx):
        return tx.from_id.value
    if isinstance(tx, ChannelWithdrawTx):
        return tx.to_id.value
    if isinstance(tx, SpendTx):
        return tx.sender_id.value
    if isinstance(tx, DISPUTE_TXS):
        return tx.from_id.value
    return None
