"""Force progress: a contract call one party makes on chain when the other stops co-signing.

fate.md §6.9, disputes-and-current-node.md §1.3, §1.4, §1.6.5. The FSM builds a
``channel_force_progress_tx`` (:func:`build`): the call as an ``OffChainCallContract``
with the request's gas and gas price, round = latest co-signed round + 1, the latest
co-signed state as payload (empty when that round is already on chain), the latest
state's full trees (``offchain_trees``) and the state hash after the call. The chain
checks and applies it (:func:`apply_on_chain`); each FSM then classifies what it sees
(:func:`classify`): based on its latest state → ``consumed_forced_progress``; based on
an older one → ``can_snapshot`` / ``can_slash``; on a state it does not have → nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from chan_nb.codec import trees
from chan_nb.codec import updates as upd
from chan_nb.codec.gas import gas_of
from chan_nb.codec.ids import Id
from chan_nb.codec.txs import ChannelForceProgressTx, ChannelOffchainTx, SignedTx
from chan_nb.errors import DecodeError
from chan_nb.node import contracts as node_contracts
from chan_nb.node import fees
from chan_nb.node.contracts import ContractsState

#: gas of a force-progress request that gives none (``channels.force_progress``)
DEFAULT_GAS: Final = 1_000_000

FpVerdict = Literal["consumed", "can_snapshot", "unknown"]


def tx_gas(tx: ChannelForceProgressTx) -> int:
    """What the fee pays for: base gas (``FORCE_PROGRESS_BASE_GAS``) plus 20 per byte."""
    return gas_of(tx)


@dataclass(frozen=True)
class Built:
    """A force-progress tx and the state it leads to."""

    tx: ChannelForceProgressTx
    update: upd.OffChainCallContract
    balances: dict[bytes, int]
    contracts: ContractsState


def build(
    *,
    channel: bytes,
    me: bytes,
    latest_signed: SignedTx,
    latest_round: int,
    latest_balances: Mapping[bytes, int],
    latest_contracts: ContractsState,
    on_chain_round: int,
    update: upd.OffChainCallContract,
    ctx: node_contracts.RoundContext,
    ttl: int,
    nonce: int,
    gas_price: int,
) -> Built:
    """The FSM's force-progress tx (``aesc_fsm:mk_force_progress_tx/2``); raises
    :class:`~chan_nb.node.contracts.ContractRejected` when the call cannot be made."""
    balances, contracts = node_contracts.apply_contract_round(
        latest_balances, latest_contracts, (update,), ctx
    )
    state_hash = node_contracts.channel_state_hash(balances, contracts)
    payload = b"" if latest_round == on_chain_round else latest_signed.serialize()
    offchain = node_contracts.state_trees(latest_balances, latest_contracts).serialize()

    def make(fee: int) -> ChannelForceProgressTx:
        return ChannelForceProgressTx(
            Id.channel(channel),
            Id.account(me),
            payload,
            latest_round + 1,
            update.serialize(),
            state_hash,
            offchain,
            ttl,
            fee,
            nonce,
        )

    return Built(make(fees.min_fee(make, gas_price, tx_gas)), update, balances, contracts)


def update_of(tx: ChannelForceProgressTx) -> upd.OffChainCallContract | None:
    """The call a force-progress tx carries (None when it is not one call)."""
    try:
        update = upd.decode(tx.update)
    except DecodeError:
        return None
    return update if isinstance(update, upd.OffChainCallContract) else None


def payload_state(tx: ChannelForceProgressTx) -> tuple[int, bytes] | None:
    """(round, state hash) of the payload (None: an empty payload)."""
    payload = tx.payload_tx()
    if payload is None:
        return None
    inner = payload.tx
    if not isinstance(inner, ChannelOffchainTx):
        raise DecodeError("the payload is not an off-chain tx")
    return inner.round, inner.state_hash


def result_state(
    tx: ChannelForceProgressTx, ctx_of: Callable[[int], node_contracts.RoundContext]
) -> tuple[dict[bytes, int], ContractsState] | None:
    """The state the tx's call leads to from its ``offchain_trees`` (None: the call fails)."""
    update = update_of(tx)
    if update is None:
        return None
    try:
        base = trees.StateTrees.decode(tx.offchain_trees)
    except DecodeError:
        return None
    balances, contracts = node_contracts.split_trees(base)
    try:
        return node_contracts.apply_contract_round(balances, contracts, (update,), ctx_of(tx.round))
    except node_contracts.ContractRejected:
        return None
    except ValueError:
        return None


def classify(tx: ChannelForceProgressTx, latest_round: int, latest_hash: bytes) -> FpVerdict:
    """What an FSM whose latest state is (round, hash) makes of an included FP."""
    try:
        based = payload_state(tx)
        if based is None:  # on the on-chain state: what its trees hash to
            based = (tx.round - 1, trees.StateTrees.decode(tx.offchain_trees).state_hash())
    except DecodeError:
        return "unknown"
    if tx.round == latest_round + 1 and based == (latest_round, latest_hash):
        return "consumed"
    if tx.round <= latest_round:
        return "can_snapshot"  # the FSM says can_slash instead while the channel is closing
    return "unknown"
