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

from dataclasses import dataclass, field

from chan_nb.codec import signing
from chan_nb.codec.txs import (
    ChannelCloseMutualTx,
    ChannelCreateTx,
    ChannelDepositTx,
    ChannelWithdrawTx,
    SignedTx,
    SpendTx,
    Tx,
)
from chan_nb.errors import ChanNbError


class TxRejected(ChanNbError):
    """A transaction is not valid on this chain (the message says why)."""


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
    amount: int  # coins locked in the channel
    channel_reserve: int
    lock_period: int
    round: int
    state_hash: bytes
    closed: bool = False


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

    def _co_signed_move(
        self, signed: SignedTx, tx: ChannelDepositTx | ChannelWithdrawTx, who: bytes, what: str
    ) -> tuple[ChannelObject, Account]:
        """Checks deposit and withdraw share: open channel, ttl, both signatures, a
        participant moving coins, and that participant's account at the tx nonce."""
        channel = self._open_channel(tx.channel_id.value)
        self._check_ttl(tx.ttl)
        self._check_signers(signed, (channel.initiator, channel.responder))
        if who not in (channel.initiator, channel.responder):
            raise TxRejected(f"{what} is not a participant")
        return channel, self._payer_account(who, tx.nonce)

    @staticmethod
    def _check_newer(channel: ChannelObject, round_: int) -> None:
        if round_ <= channel.round:
            raise TxRejected(f"round {round_} is not newer than {channel.round}")

    def _close_mutual(self, signed: SignedTx, tx: ChannelCloseMutualTx) -> None:
        channel = self._open_channel(tx.channel_id.value)
        self._check_ttl(tx.ttl)
        self._check_signers(signed, (channel.initiator, channel.responder))
        closer = tx.from_id.value
        if closer not in (channel.initiator, channel.responder):
            raise TxRejected("closer is not a participant")
        payer = self._payer_account(closer, tx.nonce)
        if tx.initiator_amount_final + tx.responder_amount_final + tx.fee != channel.amount:
            raise TxRejected("final amounts and fee do not add up to the channel's coins")
        payer.nonce += 1
        self.fund(channel.initiator, tx.initiator_amount_final)
        self.fund(channel.responder, tx.responder_amount_final)
        channel.closed = True
        channel.amount = 0

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
    return None
