"""What goes in and out of a channel FSM: typed client calls, results, peer messages, outputs.

The FSM (:mod:`chan_nb.node.fsm`) consumes :data:`Call` values from its client
(built from JSON-RPC by :mod:`chan_nb.node.rpc`) and :class:`PeerMsg` values
from the peer FSM, and emits :data:`Output` values that the core
(:mod:`chan_nb.node.core`) turns into frames, peer messages, chain work and
bookkeeping. Keeping the vocabulary here lets each of those modules read on its own.

Internal: the node FSM's vocabulary; not public API (may change without notice).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from chan_nb.codec.txs import SignedTx
from chan_nb.codec.updates import Update
from chan_nb.protocol.codes import Reason

Json = Any


# -- calls (typed client requests) ---------------------------------------------------------------


@dataclass(frozen=True)
class Transfer:
    from_id: bytes
    to_id: bytes
    amount: int
    meta: tuple[str, ...] = ()


@dataclass(frozen=True)
class Deposit:
    amount: int
    fee: int | None = None
    gas_price: int | None = None
    nonce: int | None = None
    meta: tuple[str, ...] = ()


@dataclass(frozen=True)
class Withdraw:
    amount: int
    fee: int | None = None
    gas_price: int | None = None
    nonce: int | None = None
    meta: tuple[str, ...] = ()


@dataclass(frozen=True)
class Shutdown:
    fee: int | None = None
    gas_price: int | None = None
    nonce: int | None = None


@dataclass(frozen=True)
class Leave:
    pass


@dataclass(frozen=True)
class Message:
    to_id: bytes
    info: str


@dataclass(frozen=True)
class GetBalances:
    accounts: tuple[bytes, ...]


@dataclass(frozen=True)
class GetOffchainState:
    pass


@dataclass(frozen=True)
class GetPoi:
    accounts: tuple[bytes, ...]
    contracts: tuple[bytes, ...]


@dataclass(frozen=True)
class SignedReply:
    """A ``signed_tx`` signing reply (a cast: the client gets ``ok`` whatever happens)."""

    tag: str
    signed: SignedTx


@dataclass(frozen=True)
class AbortReply:
    """An ``{"error": code}`` signing reply (a call: ok, 1018, or −32603)."""

    tag: str
    code: int


@dataclass(frozen=True)
class Stop:
    pass


@dataclass(frozen=True)
class AssumeMinDepth:
    tx_hash: str


@dataclass(frozen=True)
class Solo:
    """A dispute request: ``channels.close_solo``, ``slash``, ``settle`` or ``snapshot_solo``.

    ``action`` is the method without its ``channels.`` prefix.
    """

    action: str
    fee: int | None = None
    gas_price: int | None = None
    nonce: int | None = None


@dataclass(frozen=True)
class NewContract:
    """``channels.update.new_contract`` (vm/abi as given; checked by the FSM's round)."""

    vm_version: int
    abi_version: int
    deposit: int
    code: bytes
    call_data: bytes
    block_hash: bytes | None = None
    meta: tuple[str, ...] = ()


@dataclass(frozen=True)
class CallContract:
    """``channels.update.call_contract``, or with ``dry_run`` ``channels.dry_run.call_contract``."""

    contract: bytes
    abi_version: int
    amount: int
    call_data: bytes
    block_hash: bytes | None = None
    meta: tuple[str, ...] = ()
    dry_run: bool = False


@dataclass(frozen=True)
class ForceProgress:
    """``channels.force_progress``: a contract call forced on chain (fate.md §6.9)."""

    contract: bytes
    abi_version: int
    amount: int
    call_data: bytes
    gas_price: int
    gas: int
    nonce: int | None = None


@dataclass(frozen=True)
class GetContract:
    pubkey: bytes


@dataclass(frozen=True)
class GetContractCall:
    contract: bytes
    caller: bytes
    round: int


@dataclass(frozen=True)
class CleanContractCalls:
    pass


Call = (
    Transfer
    | Deposit
    | Withdraw
    | Shutdown
    | Leave
    | Message
    | GetBalances
    | GetOffchainState
    | GetPoi
    | SignedReply
    | AbortReply
    | Stop
    | AssumeMinDepth
    | Solo
    | NewContract
    | CallContract
    | GetContract
    | GetContractCall
    | CleanContractCalls
    | ForceProgress
)
ROUND_CALLS: Final = (Transfer, Deposit, Withdraw, Shutdown, Leave, NewContract, CallContract)
#: contract reads: served from the latest co-signed state in any ready state
CONTRACT_READS: Final = (GetContract, GetContractCall, CleanContractCalls)


class Postpone(Enum):
    """A call the FSM will serve once it leaves the current transition state."""

    TOKEN = "postpone"


POSTPONE: Final = Postpone.TOKEN
OK: Final = "ok"


@dataclass(frozen=True)
class Reply:
    """A call answered with a payload (the ``result`` of a read)."""

    value: Json


@dataclass(frozen=True)
class Fail:
    """A call refused with a reason (an error frame)."""

    reason: Reason


CallResult = Reply | Fail | Postpone | str  # str: OK

# -- messages between the two FSMs -----------------------------------------------------------------


@dataclass(frozen=True)
class PeerMsg:
    """A message on the (simulated) noise link between the two FSMs (OFF-CHAIN.md)."""

    kind: str
    signed: SignedTx | None = None
    updates: tuple[Update, ...] = ()
    error_code: int = 0
    data: Any = None


# -- outputs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Notify:
    """A notification for this FSM's client (a frame, once the handler adds the envelope)."""

    method: str
    data: Json
    channel_id: str | None


@dataclass(frozen=True)
class SendPeer:
    msg: PeerMsg


@dataclass(frozen=True)
class PostTx:
    signed: SignedTx


@dataclass(frozen=True)
class WatchTx:
    """Tell me when ``tx_hash`` is included and when it is ``depth`` blocks deep."""

    tx_hash: str
    depth: int


@dataclass(frozen=True)
class Listen:
    """I can be reached by an initiator for a (re)establish."""


@dataclass(frozen=True)
class SaveState:
    """Persist my latest co-signed state in the state cache (keyed by fsm id)."""


@dataclass(frozen=True)
class Terminated:
    reason: str


@dataclass(frozen=True)
class ChannelIdKnown:
    """The on-chain channel id is now known (the core indexes running FSMs by it)."""

    channel_id: bytes


@dataclass(frozen=True)
class WantBlocks:
    """The FSM waits for the chain to move (a settle held until the channel unlocks)."""


Output = (
    Notify
    | SendPeer
    | PostTx
    | WatchTx
    | Listen
    | SaveState
    | Terminated
    | ChannelIdKnown
    | WantBlocks
)
