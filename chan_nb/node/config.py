"""Node-wide settings of the embedded node (chain speed, network id, compatibility).

Per-channel settings (amounts, timeouts, minimum depth …) come from each
client's connect parameters (:mod:`chan_nb.node.params`); what is here is what
the operator of a real node would configure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal

#: Default network id: the one every recorded session was signed under (the node's
#: test configuration ``make ct-iris``), so recorded flows verify unchanged. Clients
#: sign with it; pass another with ``--network-id`` / ``EmbeddedNode(network_id=…)``.
DEFAULT_NETWORK_ID: Final = "local_iris_testnet"

#: The node's minimum gas price (aec_governance): fees are gas × this.
MIN_GAS_PRICE: Final = 1_000_000_000

#: What an automatically created account holds: plenty for any test channel.
DEFAULT_AUTO_FUND: Final = 10**24

#: "current": the v7 node; "recorded": the March-2020 build most recordings come from;
#: "older": the 2019 build of the ``set_fee_*`` recordings (disputes-and-current-node.md §2.3)
Era = Literal["current", "recorded", "older"]


@dataclass(frozen=True)
class NodeConfig:
    """Settings of one embedded node.

    * ``create_tx_version`` — 2 as a current (Iris+) node; 1 emulates the node the
      recordings were made with (the JS SDK cannot decode version 1).
    * ``era`` — ``"recorded"`` reproduces the March-2020 node's visible quirks
      (websocket-api.md Appendix A: ``fsm_up`` on reestablish has a null
      ``channel_id``; a kept-running responder gets no ``channels.update`` after its
      peer reestablishes). Defaults to ``"recorded"`` when ``create_tx_version`` is 1.
      ``"older"`` is the recorded build plus the 2019 build's funding frames: no
      ``fsm_id`` and a null ``channel_id`` until the first ``on_chain_tx``.
    * ``block_interval`` — seconds between blocks while the chain has work (a
      mempool tx or a depth being waited for); ``None`` mines only on demand
      (:meth:`chan_nb.node.core.NodeCore.mine`), which deterministic tests use.
    * ``minimum_depth`` — overrides every channel's confirmation depth when set.
    * ``auto_fund`` — accounts are created with ``auto_fund_amount`` the first time
      a client names them (clients use fresh keys). Keys that are not valid
      Ed25519 points cannot belong to anyone and stay unknown (→ error 1011).
    * ``peer_loss_delay`` — how long an FSM takes to notice its peer's FSM died
      (the node notices a dropped noise connection a little later too).
    * ``close_delay`` — the node closes a socket this long after ``died`` or a
      connect-time error frame (a ``stop`` arriving in between still gets ``ok``).
    * ``responder_ports`` — the node's ``channels.listeners`` with
      ``ad_hoc_listen_ports`` off: a responder asking to listen on another port
      is refused with −32603 (``responder_port_not_allowed``). ``None`` (the
      node's default, ad hoc ports on) allows any port.
    * ``max_channels`` — the node's channel-count limit: a new FSM beyond it is
      refused with −32603 (``channel_count_limit_exceeded``). ``None``: no limit.
    """

    network_id: str = DEFAULT_NETWORK_ID
    create_tx_version: int = 2
    era: Era | None = None
    block_interval: float | None = 0.005
    minimum_depth: int | None = None
    auto_fund: bool = True
    auto_fund_amount: int = DEFAULT_AUTO_FUND
    min_gas_price: int = MIN_GAS_PRICE
    peer_loss_delay: float = 0.05
    close_delay: float = 0.002
    funded: dict[str, int] = field(default_factory=dict)  # ak_… -> balance at start
    responder_ports: frozenset[int] | None = None
    max_channels: int | None = None

    def __post_init__(self) -> None:
        if self.create_tx_version not in (1, 2):
            raise ValueError(f"create_tx_version must be 1 or 2, got {self.create_tx_version}")
        if self.block_interval is not None and self.block_interval < 0:
            raise ValueError("block_interval must be >= 0 or None")
        if self.minimum_depth is not None and self.minimum_depth < 0:
            raise ValueError("minimum_depth must be >= 0")
        if not self.network_id:
            raise ValueError("network_id must not be empty")

    @property
    def effective_era(self) -> Era:
        if self.era is not None:
            return self.era
        return "recorded" if self.create_tx_version == 1 else "current"

    @property
    def recorded_quirks(self) -> bool:
        """Whether the 2020 build's visible quirks apply (the 2019 build has them too)."""
        return self.effective_era != "current"
