"""Channel sessions for notebooks: awaitables over the node's channel WebSocket API.

``open_pair(node)`` opens a channel between two local sessions; each
:class:`Session` then offers ``transfer``, ``message``, ``balances_of``,
``offchain_state``, ``poi``, ``disconnect``/``reconnect``, ``leave``/``reestablish``,
``deposit``/``withdraw``, ``shutdown``, the contract calls (``create_contract``,
``call_contract``, ``dry_run``, ``call_result``, ``contract_state``,
``force_progress``: each round run by the session's own FATE VM before it signs) and
``wait_for``, records every frame into a
:class:`Recorder` (the recordings' frame schema) and answers signing requests through
a checked signing policy. The protocol logic underneath is pure
(:mod:`chan_nb.client.core`). :func:`run` runs a coroutine from synchronous code.
"""

from __future__ import annotations

from chan_nb.client.contracts import ContractCall, ContractCreated, ContractState
from chan_nb.client.core import ClientProtocol, Status
from chan_nb.client.errors import (
    ChannelClosed,
    ChannelConflict,
    ChannelErrorReport,
    ClientError,
    ConnectionLost,
    NodeError,
    PolicyViolation,
    Timeout,
    UntrustedState,
    UpdateAborted,
)
from chan_nb.client.events import Event, Refused, Untrusted
from chan_nb.client.pair import new_pair, open_pair, pair_params
from chan_nb.client.params import ChannelParams
from chan_nb.client.policy import Change, Expectation, SigningPolicy
from chan_nb.client.recorder import Recorder
from chan_nb.client.session import (
    LATEST,
    Balances,
    IdStyle,
    OffchainState,
    PendingSignature,
    Session,
)
from chan_nb.client.signer import Signer
from chan_nb.client.sync import run
from chan_nb.client.transport import FrameTooLarge, MemoryTransport, Transport, WebSocketTransport

__all__ = [
    "LATEST",
    "Balances",
    "Change",
    "ChannelClosed",
    "ChannelConflict",
    "ChannelErrorReport",
    "ChannelParams",
    "ClientError",
    "ClientProtocol",
    "ConnectionLost",
    "ContractCall",
    "ContractCreated",
    "ContractState",
    "Event",
    "Expectation",
    "FrameTooLarge",
    "IdStyle",
    "MemoryTransport",
    "NodeError",
    "OffchainState",
    "PendingSignature",
    "PolicyViolation",
    "Recorder",
    "Refused",
    "Session",
    "Signer",
    "SigningPolicy",
    "Status",
    "Timeout",
    "Transport",
    "Untrusted",
    "UntrustedState",
    "UpdateAborted",
    "WebSocketTransport",
    "new_pair",
    "open_pair",
    "pair_params",
    "run",
]
